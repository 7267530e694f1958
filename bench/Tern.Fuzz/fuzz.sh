#!/usr/bin/env bash
# Coverage-guided fuzzing of one Tern parser with AFL++ and SharpFuzz, for a bounded time.
#   bench/Tern.Fuzz/fuzz.sh <http|frames|utf8> <seconds>
# Installs afl++ (apt-get) and the SharpFuzz command-line tool (local tool manifest) if missing, publishes the
# harness, instruments Tern.dll in the output, runs afl-fuzz (nice'd, one core) and prints the figures.
# Findings go to bench/Tern.Fuzz/findings/<target>/ (kept between runs; delete it to start over from the seeds).
set -euo pipefail
cd "$(dirname "$0")"

target=${1:?usage: fuzz.sh <http|frames|utf8> <seconds>}
seconds=${2:?usage: fuzz.sh <http|frames|utf8> <seconds>}
case "$target" in http|frames|utf8) ;; *) echo "unknown target '$target'" >&2; exit 2 ;; esac

if ! command -v afl-fuzz >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q afl++ || { apt-get update -q && apt-get install -y -q afl++; }
fi

dotnet tool restore >/dev/null

out=obj/fuzz-out
# A fresh folder each time: publish skips an unchanged Tern.dll, and the instrumenter refuses an instrumented one.
rm -rf "$out"
dotnet publish Tern.Fuzz.csproj -c Release -o "$out" --nologo -v quiet
# Only the library under test is instrumented, not the harness or the framework: AFL's coverage map then
# measures Tern's branches alone.
dotnet tool run sharpfuzz "$out/Tern.dll"

findings=findings/$target
mkdir -p "$findings"
input=seeds/$target
if [ -d "$findings/default/queue" ]; then
    input=-  # resume from the queue of the previous run
fi

# The binary is `dotnet`, not an instrumented executable, hence AFL_SKIP_BIN_CHECK. -t 5000: the first run of each
# input pays for JIT. -m none: the runtime reserves far more address space than it uses.
AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    nice -n 10 afl-fuzz -i "$input" -o "$findings" -t 5000 -m none -V "$seconds" -- dotnet "$out/Tern.Fuzz.dll" "$target" \
    > "$findings/afl.log" 2>&1 || { tail -20 "$findings/afl.log"; exit 1; }

stats=$findings/default/fuzzer_stats
for key in execs_done execs_per_sec corpus_count saved_crashes saved_hangs; do
    grep -E "^$key " "$stats" || true
done
crashes=$(find "$findings/default/crashes" -type f -name 'id:*' | wc -l)
echo "crash inputs: $crashes (replay: dotnet $out/Tern.Fuzz.dll $target $findings/default/crashes)"
