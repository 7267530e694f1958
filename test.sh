#!/usr/bin/env bash
# Runs every Tern test. On a fresh machine it first installs what the tests need:
# Node.js (interop with the `ws` package), the pinned npm packages, Chromium (browser tests), and gcc/make with
# OpenSSL's and zlib's headers (a smoke run of the C load generator in bench/Tern.Load, which speaks wss and
# permessage-deflate), PostgreSQL's server programs (the PostgreSQL store tests start a throwaway cluster) and nginx
# (the multi-node tests put it in front of several Tern.Chat nodes).
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    for attempt in 1 2; do
        if apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=600 "$@"; then
            return 0
        fi
        echo "apt-get install $* failed (attempt $attempt); retrying" >&2
        sleep 5
    done
    return 1
}

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
[ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

for dir in tests/interop/node; do
    if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
done

log=$(mktemp)
# Failures are collected rather than fatal from here on, so the summary line is always printed.
set +e

# Build everything first: `dotnet test` alone builds only the test projects and what they reference, and the
# conformance run below starts samples/Tern.Echo from its build output.
dotnet build Tern.slnx -c Release > "$log" 2>&1
status=$?
grep -E "error|Build succeeded" "$log"

# The default console logger prints each failure in full and one summary line per test project.
if [ "$status" -eq 0 ]; then
    dotnet test Tern.slnx -c Release --no-build 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
fi

# The conformance cases once more, against samples/Tern.Echo started in its own process as a user would start it.
if [ "$status" -eq 0 ]; then
    TERN_CONFORMANCE_ECHO_SAMPLE=1 dotnet test tests/Tern.Tests -c Release --no-build \
        --filter "FullyQualifiedName~Tern.Tests.Conformance.Case&FullyQualifiedName!~CaseHHandshake" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
fi

# One closing line for CI, summed over the test projects: "N passed, N failed, N skipped".
awk '/(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
        gsub(",", ""); for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
if [ "$status" -ne 0 ]; then
    echo "Tests failed (exit $status); full log: $log" >&2
fi
exit "$status"
