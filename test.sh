#!/usr/bin/env bash
# Runs every test Tern has, installing what the tests need on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test Tern.slnx -c Release --logger "console;verbosity=normal" 2>&1 | tee /tmp/tern-test.log | grep -E "^(  Passed|  Failed|  Skipped|Failed|Passed|Total|error|Test Run|Results File)|\[FAIL\]|Error Message" || true
exit "${PIPESTATUS[0]}"
