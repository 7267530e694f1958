#!/usr/bin/env bash
# Runs the benchmark matrix of issue 4 for Tern and its peers in one run and prints a markdown table of the
# medians with Tern/peer ratios.
#
# Each measurement starts a fresh server pinned to one core and the load generator (bench/Tern.Load, C) pinned
# to another; servers alternate within every repetition (the order rotates between repetitions) so that drift
# on a shared machine spreads over all of them. Only ratios from one run on a quiet machine mean anything.
#
# Usage: bench/run.sh [--quick] [--reps N] [--duration S] [--warmup S] [--servers "tern kestrel node-ws"]
#                     [--scenarios "echo32x1 echo32x16 echo64k broadcast connect hold"] [--hold-conns N]
#                     [--server-core C] [--load-core C] [--no-build] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=3
DURATION=10
WARMUP=2
SETTLE=2
HOLD_CONNS=10000
SERVERS="tern kestrel node-ws"
SCENARIOS="echo32x1 echo32x16 echo64k broadcast connect hold"
SERVER_CORE=0
LOAD_CORE=1
BUILD=1
OUT=""

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) REPS=1 DURATION=2 WARMUP=1 SETTLE=1 ;;
    --reps) REPS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --hold-conns) HOLD_CONNS=$2; shift ;;
    --server-core) SERVER_CORE=$2; shift ;;
    --load-core) LOAD_CORE=$2; shift ;;
    --no-build) BUILD=0 ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done

OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: >"$RAW"
LOAD=$ROOT/bench/Tern.Load/bin/tern-load

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---------- build ----------
if [ "$BUILD" = 1 ]; then
    log "building (Release)"
    make -s -C bench/Tern.Load >/dev/null
    for server in $SERVERS; do
        case $server in
        tern) dotnet build samples/Tern.Echo -c Release -v q -nologo >"$OUT/build-tern.log" 2>&1 ||
            { log "Tern.Echo did not build: see $OUT/build-tern.log"; exit 1; } ;;
        kestrel) dotnet build bench/peers/kestrel -c Release -v q -nologo >"$OUT/build-kestrel.log" 2>&1 ||
            { log "the Kestrel peer did not build: see $OUT/build-kestrel.log"; exit 1; } ;;
        node-ws) (cd bench/peers/node-ws && npm ci --no-audit --no-fund >"$OUT/build-node-ws.log" 2>&1) ||
            { log "npm ci failed: see $OUT/build-node-ws.log"; exit 1; } ;;
        esac
    done
fi
[ -x "$LOAD" ] || { log "no $LOAD: run without --no-build"; exit 1; }

# Room for 10,000+ connections on each side (root may raise the hard limit too).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

server_name() {
    case $1 in
    tern) echo "Tern" ;;
    kestrel) echo "Kestrel + System.Net.WebSockets" ;;
    node-ws) echo "Node ws $(node -p "require('$ROOT/bench/peers/node-ws/node_modules/ws/package.json').version" 2>/dev/null)" ;;
    esac
}

server_command() { # server port
    case $1 in
    # --quiet: Tern.Echo logs every connection at Information; the peers log nothing either.
    tern) echo "dotnet $ROOT/samples/Tern.Echo/bin/Release/net10.0/Tern.Echo.dll --port $2 --max-message 67108864 --quiet" ;;
    kestrel) echo "dotnet $ROOT/bench/peers/kestrel/bin/Release/net10.0/Tern.Bench.Kestrel.dll --port $2" ;;
    node-ws) echo "node $ROOT/bench/peers/node-ws/server.js --port $2" ;;
    esac
}

group_digits() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

# ---------- the matrix: name | column heading | load generator arguments | RESULT key ----------
scenario_title() {
    case $1 in
    echo32x1) echo "echo 32 B, 100 conns × 1 in flight (msg/s)" ;;
    echo32x16) echo "echo 32 B, 100 × 16 (msg/s)" ;;
    echo64k) echo "echo 64 KiB binary, 10 conns (MB/s)" ;;
    broadcast) echo "broadcast 64 B, 1 → 1,000 (deliveries/s)" ;;
    connect) echo "connect+handshake+close (per s)" ;;
    hold) echo "$(group_digits "$HOLD_CONNS") idle conns (KiB each, lower is better)" ;;
    esac
}

scenario_args() {
    case $1 in
    echo32x1) echo "--mode echo --conns 100 --inflight 1 --size 32 --warmup $WARMUP" ;;
    echo32x16) echo "--mode echo --conns 100 --inflight 16 --size 32 --warmup $WARMUP" ;;
    echo64k) echo "--mode echo --conns 10 --inflight 1 --size 64K --binary --warmup $WARMUP" ;;
    broadcast) echo "--mode broadcast --conns 1000 --inflight 16 --size 64 --warmup $WARMUP" ;;
    connect) echo "--mode connect --conns 50 --warmup $WARMUP" ;;
    hold) echo "--mode hold --conns $HOLD_CONNS --ping-interval 5 --settle $SETTLE" ;;
    esac
}

scenario_key() {
    case $1 in
    echo64k) echo mbps ;;
    hold) echo kib_per_conn ;;
    *) echo rate ;;
    esac
}

result_field() { # RESULT-line key
    sed -n 's/^RESULT //p' | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# ---------- one measurement ----------
PORT=19100
STARTED_PID=""

stop_server() {
    [ -n "$STARTED_PID" ] || return 0
    kill -TERM "$STARTED_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$STARTED_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$STARTED_PID" 2>/dev/null || true
    wait "$STARTED_PID" 2>/dev/null || true
    STARTED_PID=""
}
trap stop_server EXIT

measure() { # scenario server rep
    local scenario=$1 server=$2 rep=$3
    PORT=$((PORT + 1))
    local tag="$scenario-$server-$rep"
    # taskset execs the server, so $! is the server's own pid (for /proc/<pid>/stat and status).
    # shellcheck disable=SC2046
    taskset -c "$SERVER_CORE" $(server_command "$server" "$PORT") >"$OUT/server-$tag.log" 2>&1 &
    STARTED_PID=$!
    local up=0
    for _ in $(seq 300); do
        kill -0 "$STARTED_PID" 2>/dev/null || break
        if [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; then up=1; break; fi
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        log "$tag: the server did not start listening on $PORT (see $OUT/server-$tag.log)"
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\n' "$scenario" "$server" "$rep" >>"$RAW"
        stop_server
        return
    fi
    sleep 1 # let start-up work (JIT, GC) finish before measuring
    local status=0
    # shellcheck disable=SC2046
    taskset -c "$LOAD_CORE" "$LOAD" $(scenario_args "$scenario") --port "$PORT" --duration "$DURATION" \
        --server-pid "$STARTED_PID" >"$OUT/load-$tag.log" 2>&1 || status=$?
    stop_server
    local line
    line=$(grep '^RESULT ' "$OUT/load-$tag.log" || true)
    if [ -z "$line" ]; then
        log "$tag: no result (exit $status, see $OUT/load-$tag.log)"
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\n' "$scenario" "$server" "$rep" >>"$RAW"
        return
    fi
    local value p99 load_cpu server_cpu errors
    value=$(echo "$line" | result_field "$(scenario_key "$scenario")")
    p99=$(echo "$line" | result_field p99_us)
    load_cpu=$(echo "$line" | result_field load_cpu_pct)
    server_cpu=$(echo "$line" | result_field server_cpu_pct)
    errors=$(echo "$line" | result_field errors)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$server" "$rep" "$value" "$p99" "$load_cpu" \
        "$server_cpu" "$errors" >>"$RAW"
    log "$tag: $(scenario_key "$scenario")=$value p99=${p99}us load=${load_cpu}% server=${server_cpu}% errors=$errors"
    sleep 1 # let sockets wind down between servers
}

# ---------- run ----------
read -r -a server_list <<<"$SERVERS"
log "results in $OUT"
for scenario in $SCENARIOS; do
    for rep in $(seq "$REPS"); do
        # Rotate the order each repetition: no server always runs first or last.
        count=${#server_list[@]}
        for i in $(seq 0 $((count - 1))); do
            server=${server_list[$(((i + rep - 1) % count))]}
            measure "$scenario" "$server" "$rep"
        done
    done
done

# ---------- report ----------
report() {
    local titles="" names=""
    for scenario in $SCENARIOS; do titles+="$(scenario_title "$scenario")"$'\t'; done
    for server in $SERVERS; do names+="$server=$(server_name "$server")"$'\t'; done
    awk -F'\t' -v scenarios="$SCENARIOS" -v servers="$SERVERS" -v titles="$titles" -v names="$names" '
    function median(list,    n, values, i, j, t) {
        n = split(list, values, " ")
        if (n == 0) return "NA"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && values[j - 1] + 0 > values[j] + 0; j--) {
            t = values[j]; values[j] = values[j - 1]; values[j - 1] = t
        }
        return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
    }
    function grouped(n,    s, out) {
        s = sprintf("%d", n + 0.5); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        return s out
    }
    function show(value, key) {
        if (value == "NA") return "n/a"
        if (key == "hold") return sprintf("%.2f", value)
        return grouped(value)
    }
    {
        if ($4 != "NA") { values[$1, $2] = values[$1, $2] " " $4; p99[$1, $2] = p99[$1, $2] " " $5
                          lcpu[$1, $2] = lcpu[$1, $2] " " $6; scpu[$1, $2] = scpu[$1, $2] " " $7 }
        if ($8 != "NA" && $8 > 0) errors[$1, $2] += $8
    }
    END {
        ns = split(scenarios, sc, " "); nv = split(servers, sv, " "); split(titles, title, "\t")
        nn = split(names, pairs, "\t")
        for (i = 1; i <= nn; i++) { split(pairs[i], kv, "="); name[kv[1]] = kv[2] }
        header = "| server |"; rule = "|---|"
        for (i = 1; i <= ns; i++) { header = header " " title[i] " |"; rule = rule "---|" }
        print header; print rule
        for (v = 1; v <= nv; v++) {
            row = "| " name[sv[v]] " |"
            for (i = 1; i <= ns; i++) {
                m[sc[i], sv[v]] = median(values[sc[i], sv[v]])
                cell = show(m[sc[i], sv[v]], sc[i])
                if (errors[sc[i], sv[v]] > 0) cell = cell " (" errors[sc[i], sv[v]] " errors)"
                row = row " " cell " |"
            }
            print row
        }
        for (v = 1; v <= nv; v++) {
            if (sv[v] == "tern") continue
            row = "| Tern / " name[sv[v]] " |"
            for (i = 1; i <= ns; i++) {
                a = m[sc[i], "tern"]; b = m[sc[i], sv[v]]
                row = row " " ((a == "NA" || b == "NA" || a == "" || b + 0 == 0) ? "n/a" : sprintf("%.2f", a / b)) " |"
            }
            print row
        }
        print ""
        print "Medians of the repetitions. CPU, median % of one core, server / load generator, and p99 latency:"
        print ""
        header = "| server |"; rule = "|---|"
        for (i = 1; i <= ns; i++) { header = header " " sc[i] " |"; rule = rule "---|" }
        print header; print rule
        for (v = 1; v <= nv; v++) {
            row = "| " name[sv[v]] " |"
            for (i = 1; i <= ns; i++) {
                s = median(scpu[sc[i], sv[v]]); l = median(lcpu[sc[i], sv[v]]); p = median(p99[sc[i], sv[v]])
                if (s == "NA") { row = row " n/a |"; continue }
                row = row sprintf(" %.0f %% / %.0f %%, p99 %.2f ms |", s, l, p / 1000)
            }
            print row
        }
    }' "$RAW"
}

{
    echo "## Tern benchmark run $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    report
    echo
    echo "Command: \`bench/run.sh --reps $REPS --duration $DURATION --warmup $WARMUP --servers \"$SERVERS\"\`" \
        "(commit $(git describe --always --dirty 2>/dev/null || echo unknown))."
    echo "Server pinned to core $SERVER_CORE, load generator (bench/Tern.Load, C, one thread) to core $LOAD_CORE;" \
        "$REPS repetition(s) of ${DURATION} s after ${WARMUP} s warm-up, a fresh server process for each."
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
        "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r);" \
        ".NET $(dotnet --version 2>/dev/null), Node $(node --version 2>/dev/null)." \
        "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$OUT/table.md"
log "table in $OUT/table.md, raw numbers in $RAW"
