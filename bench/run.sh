#!/usr/bin/env bash
# Runs the benchmark matrix of issue 4 for Tern and its peers in one run and prints a markdown table of the
# medians with Tern/peer ratios.
#
# Each measurement starts a fresh server pinned to one core and the load generator (bench/Tern.Load, C) pinned
# to another; servers alternate within every repetition (the order rotates between repetitions) so that drift
# on a shared machine spreads over all of them. Only ratios from one run on a quiet machine mean anything.
#
# Servers: tern (samples/Tern.Echo), kestrel, node-ws, uws-js (uWebSockets.js) and raw-tcp (plain TCP, no WebSocket:
# the ceiling, driven by tern-load --raw); bench/README.md says what each is and measures.
#
# Usage: bench/run.sh [--quick] [--reps N] [--duration S] [--warmup S]
#                     [--servers "tern kestrel node-ws uws-js raw-tcp"]
#                     [--scenarios "echo32x1 echo32x16 echo64k broadcast connect hold" | --scenarios secure]
#                     [--hold-conns N] [--server-core C] [--load-core C] [--no-build] [--out DIR] [--write-docs]
# Scenarios come in two tables: the plain one (the default) and "secure": wss32 wss64k deflate300 deflate16k hold-ws
# hold-wss hold-deflate (wss and permessage-deflate, with a throwaway self-signed certificate made for the run).
# --write-docs replaces, in docs/benchmarks.md, the results section of each table whose scenarios this run covered
# completely with this run's table, command and machine; the other section stays as it was.
set -euo pipefail
INVOCATION=bench/run.sh
for argument in "$@"; do
    case $argument in
    *[[:space:]]*) INVOCATION+=" \"$argument\"" ;;
    *) INVOCATION+=" $argument" ;;
    esac
done
cd "$(dirname "$0")/.."
ROOT=$PWD

REPS=3
DURATION=10
WARMUP=2
SETTLE=2
HOLD_CONNS=10000
SERVERS="tern kestrel node-ws uws-js raw-tcp"
PLAIN_SCENARIOS="echo32x1 echo32x16 echo64k broadcast connect hold"
SECURE_SCENARIOS="wss32 wss64k deflate300 deflate16k hold-ws hold-wss hold-deflate"
SCENARIOS=$PLAIN_SCENARIOS
# Servers with a size threshold for compression (Tern, Node ws) get one below both JSON payloads, so that every
# server compresses every echo of the deflate scenarios (Kestrel and uWebSockets.js compress every message).
DEFLATE_MIN_SIZE=256
TLS_LOAD_FLAGS="--tls --tls-suites TLS_AES_128_GCM_SHA256"
SERVER_CORE=0
LOAD_CORE=1
BUILD=1
OUT=""
WRITE_DOCS=0
DOCS=$ROOT/docs/benchmarks.md

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
    --write-docs) WRITE_DOCS=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done

case $SCENARIOS in
plain) SCENARIOS=$PLAIN_SCENARIOS ;;
secure) SCENARIOS=$SECURE_SCENARIOS ;;
esac

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
        node-ws | uws-js) (cd "bench/peers/$server" && npm ci --no-audit --no-fund >"$OUT/build-$server.log" 2>&1) ||
            { log "npm ci failed: see $OUT/build-$server.log"; exit 1; } ;;
        raw-tcp) make -s -C bench/peers/raw-tcp >"$OUT/build-raw-tcp.log" 2>&1 ||
            { log "the raw TCP server did not build: see $OUT/build-raw-tcp.log"; exit 1; } ;;
        *) log "unknown server $server (tern kestrel node-ws uws-js raw-tcp)"; exit 1 ;;
        esac
    done
fi
[ -x "$LOAD" ] || { log "no $LOAD: run without --no-build"; exit 1; }

uses_tls() { case $1 in wss* | hold-wss) return 0 ;; *) return 1 ;; esac; }
uses_deflate() { case $1 in deflate* | hold-deflate) return 0 ;; *) return 1 ;; esac; }

# A throwaway self-signed certificate for the wss scenarios (ECDSA P-256, as most sites now serve), made for this run.
CERT=$OUT/cert.pem
KEY=$OUT/key.pem
for scenario in $SCENARIOS; do
    if uses_tls "$scenario" && [ ! -f "$CERT" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$KEY" -out "$CERT" >"$OUT/cert.log" 2>&1 ||
            { log "openssl could not make a certificate: see $OUT/cert.log"; exit 1; }
    fi
done

# Room for 10,000+ connections on each side (root may raise the hard limit too).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"

package_version() { # peer directory, package name
    node -p "require('$ROOT/bench/peers/$1/node_modules/$2/package.json').version" 2>/dev/null || echo "?"
}

server_name() {
    case $1 in
    tern) echo "Tern" ;;
    kestrel) echo "Kestrel + System.Net.WebSockets" ;;
    node-ws) echo "Node ws $(package_version node-ws ws)" ;;
    uws-js) echo "uWebSockets.js (uWS C++ core, JS handlers)" ;;
    raw-tcp) echo "raw TCP echo, no WebSocket (ceiling)" ;;
    esac
}

server_command() { # server port scenario
    case $1 in
    # --quiet: Tern.Echo logs every connection at Information; the peers log nothing either.
    tern) echo "dotnet $ROOT/samples/Tern.Echo/bin/Release/net10.0/Tern.Echo.dll --port $2 --max-message 67108864 --quiet$(server_scenario_flags "$1" "$3")" ;;
    kestrel) echo "dotnet $ROOT/bench/peers/kestrel/bin/Release/net10.0/Tern.Bench.Kestrel.dll --port $2$(server_scenario_flags "$1" "$3")" ;;
    node-ws) echo "node $ROOT/bench/peers/node-ws/server.js --port $2$(server_scenario_flags "$1" "$3")" ;;
    uws-js) echo "node $ROOT/bench/peers/uws-js/server.mjs --port $2$(server_scenario_flags "$1" "$3")" ;;
    # Raw TCP has no paths: the server is started in the mode the scenario needs.
    raw-tcp) echo "$ROOT/bench/peers/raw-tcp/bin/raw-tcp-server --port $2 --mode $([ "$3" = broadcast ] && echo broadcast || echo echo)" ;;
    esac
}

# wss: the run's certificate; deflate: permessage-deflate with no context takeover either way, each server's own
# way (bench/README.md), and a threshold below the payloads where the server has one.
server_scenario_flags() { # server scenario
    local flags=""
    uses_tls "$2" && flags+=" --cert $CERT --key $KEY"
    if uses_deflate "$2"; then
        flags+=" --deflate"
        case $1 in
        tern) flags+=" --deflate-min-size $DEFLATE_MIN_SIZE" ;;
        node-ws) flags+=" --deflate-threshold $DEFLATE_MIN_SIZE" ;;
        esac
    fi
    echo "$flags"
}

server_supports() { # server scenario: raw TCP has neither TLS nor permessage-deflate
    [ "$1" != raw-tcp ] || ! { uses_tls "$2" || uses_deflate "$2"; }
}

server_load_flags() { # what the load generator needs to talk to the server
    case $1 in
    raw-tcp) echo "--raw" ;; # plain TCP: see bench/README.md for what each mode then measures
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
    wss32) echo "wss echo 32 B, 100 conns × 1 in flight (msg/s)" ;;
    wss64k) echo "wss echo 64 KiB binary, 10 conns (MB/s)" ;;
    deflate300) echo "deflate echo ~300 B chat JSON, 100 conns × 1 (msg/s)" ;;
    deflate16k) echo "deflate echo ~16 KiB chat JSON, 10 conns (msg/s)" ;;
    hold-ws) echo "$(group_digits "$HOLD_CONNS") idle ws conns after one echo (KiB each)" ;;
    hold-wss) echo "$(group_digits "$HOLD_CONNS") idle wss conns after one echo (KiB each)" ;;
    hold-deflate) echo "$(group_digits "$HOLD_CONNS") idle ws+deflate conns after one compressed echo (KiB each)" ;;
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
    # One TLS 1.3 suite offered, so that every server uses the same cipher: from Chrome's usual offer .NET and Node
    # choose AES-256-GCM and uWebSockets.js the client's first, AES-128-GCM.
    wss32) echo "--mode echo --conns 100 --inflight 1 --size 32 $TLS_LOAD_FLAGS --warmup $WARMUP" ;;
    wss64k) echo "--mode echo --conns 10 --inflight 1 --size 64K --binary $TLS_LOAD_FLAGS --warmup $WARMUP" ;;
    # --verify: every echo is inflated and compared byte for byte with what was sent.
    deflate300) echo "--mode echo --conns 100 --inflight 1 --payload chat300 --deflate --verify --warmup $WARMUP" ;;
    deflate16k) echo "--mode echo --conns 10 --inflight 1 --payload chat16k --deflate --verify --warmup $WARMUP" ;;
    # Each connection echoes one chat message before it idles (--greet), so that TLS and compression have been used,
    # not only negotiated: a server that keeps a zlib stream per connection after a message shows it here.
    hold-ws) echo "--mode hold --conns $HOLD_CONNS --ping-interval 5 --settle $SETTLE --greet --payload chat300" ;;
    hold-wss) echo "--mode hold --conns $HOLD_CONNS --ping-interval 5 --settle $SETTLE --greet --payload chat300 $TLS_LOAD_FLAGS" ;;
    hold-deflate) echo "--mode hold --conns $HOLD_CONNS --ping-interval 5 --settle $SETTLE --greet --payload chat300 --deflate" ;;
    esac
}

scenario_key() {
    case $1 in
    echo64k | wss64k) echo mbps ;;
    hold*) echo kib_per_conn ;;
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
    if ! server_supports "$server" "$scenario"; then
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$scenario" "$server" "$rep" >>"$RAW"
        return
    fi
    # taskset execs the server, so $! is the server's own pid (for /proc/<pid>/stat and status).
    # shellcheck disable=SC2046
    taskset -c "$SERVER_CORE" $(server_command "$server" "$PORT" "$scenario") >"$OUT/server-$tag.log" 2>&1 &
    STARTED_PID=$!
    local up=0
    for _ in $(seq 300); do
        kill -0 "$STARTED_PID" 2>/dev/null || break
        if [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; then up=1; break; fi
        sleep 0.1
    done
    if [ "$up" != 1 ]; then
        log "$tag: the server did not start listening on $PORT (see $OUT/server-$tag.log)"
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$scenario" "$server" "$rep" >>"$RAW"
        stop_server
        return
    fi
    sleep 1 # let start-up work (JIT, GC) finish before measuring
    local status=0
    # shellcheck disable=SC2046
    taskset -c "$LOAD_CORE" "$LOAD" $(scenario_args "$scenario") $(server_load_flags "$server") --port "$PORT" \
        --duration "$DURATION" \
        --server-pid "$STARTED_PID" >"$OUT/load-$tag.log" 2>&1 || status=$?
    stop_server
    local line
    line=$(grep '^RESULT ' "$OUT/load-$tag.log" || true)
    if [ -z "$line" ]; then
        log "$tag: no result (exit $status, see $OUT/load-$tag.log)"
        printf '%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n' "$scenario" "$server" "$rep" >>"$RAW"
        return
    fi
    local value p99 load_cpu server_cpu errors compressed uncompressed wire
    value=$(echo "$line" | result_field "$(scenario_key "$scenario")")
    p99=$(echo "$line" | result_field p99_us)
    load_cpu=$(echo "$line" | result_field load_cpu_pct)
    server_cpu=$(echo "$line" | result_field server_cpu_pct)
    errors=$(echo "$line" | result_field errors)
    # What the server compressed: the share of echoes that came back compressed, and their size as sent.
    compressed=$(echo "$line" | result_field compressed_received)
    uncompressed=$(echo "$line" | result_field uncompressed_received)
    wire=$(echo "$line" | result_field wire_pct)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scenario" "$server" "$rep" "$value" "$p99" "$load_cpu" \
        "$server_cpu" "$errors" "$(awk -v c="${compressed:-0}" -v u="${uncompressed:-0}" \
        'BEGIN { print (c + u > 0 ? 100 * c / (c + u) : "NA") }')" "${wire:-NA}" >>"$RAW"
    log "$tag: $(scenario_key "$scenario")=$value p99=${p99}us load=${load_cpu}% server=${server_cpu}% errors=$errors"
    sleep 1 # let sockets wind down between servers
}

# ---------- run ----------
# Seconds one measurement takes besides its measured window: server start-up (a .NET server takes the longest),
# the second of settling before the load, connecting, warm-up, closing, and the second between servers.
# Calibrated on the 2-core machine; hold also opens and closes --hold-conns connections (TLS handshakes take longer)
# and waits to settle. Scenarios a server cannot run cost nothing.
estimate_seconds() {
    local total=0 scenario server open_rate
    for scenario in $SCENARIOS; do
        for server in $SERVERS; do
            server_supports "$server" "$scenario" || continue
            case $scenario in
            hold*)
                open_rate=2500
                uses_tls "$scenario" && open_rate=1000
                total=$(awk -v t="$total" -v d="$DURATION" -v s="$SETTLE" -v n="$HOLD_CONNS" -v o="$open_rate" \
                    'BEGIN { print t + d + 1.5 * s + 4 + n / o }') ;;
            *) total=$(awk -v t="$total" -v d="$DURATION" -v w="$WARMUP" 'BEGIN { print t + d + w + 4 }') ;;
            esac
        done
    done
    awk -v t="$total" -v r="$REPS" 'BEGIN { printf "%d", t * r }'
}

read -r -a server_list <<<"$SERVERS"
ESTIMATE=$(estimate_seconds)
RUN_STARTED=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "results in $OUT"
log "$(wc -w <<<"$SCENARIOS") scenario(s) x $REPS repetition(s) x $(wc -w <<<"$SERVERS") server(s):" \
    "about $((ESTIMATE / 60)) min $((ESTIMATE % 60)) s (estimate); load average now $LOAD_AT_START"
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
report() { # scenarios
    local titles="" names="" scenarios=$1
    for scenario in $scenarios; do titles+="$(scenario_title "$scenario")"$'\t'; done
    for server in $SERVERS; do names+="$server=$(server_name "$server")"$'\t'; done
    awk -F'\t' -v scenarios="$scenarios" -v servers="$SERVERS" -v titles="$titles" -v names="$names" '
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
        if (key ~ /^hold/) return sprintf("%.2f", value)
        return grouped(value)
    }
    {
        if ($4 != "NA") { values[$1, $2] = values[$1, $2] " " $4; p99[$1, $2] = p99[$1, $2] " " $5
                          lcpu[$1, $2] = lcpu[$1, $2] " " $6; scpu[$1, $2] = scpu[$1, $2] " " $7
                          if ($9 != "" && $9 != "NA") { comp[$1, $2] = comp[$1, $2] " " $9; wire[$1, $2] = wire[$1, $2] " " $10 } }
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
        print "Medians of the repetitions. CPU, median % of one core, server / load generator, and p99 latency" \
            (scenarios ~ /deflate[0-9]/ ? " (hold: of the pings); for the deflate echoes also the share of echoes the" \
             " server sent compressed and their compressed size as a share of the JSON:" : " (hold: of the pings):")
        print ""
        header = "| server |"; rule = "|---|"
        for (i = 1; i <= ns; i++) { header = header " " sc[i] " |"; rule = rule "---|" }
        print header; print rule
        for (v = 1; v <= nv; v++) {
            row = "| " name[sv[v]] " |"
            for (i = 1; i <= ns; i++) {
                s = median(scpu[sc[i], sv[v]]); l = median(lcpu[sc[i], sv[v]]); p = median(p99[sc[i], sv[v]])
                if (s == "NA") { row = row " n/a |"; continue }
                cell = sprintf(" %.0f %% / %.0f %%, p99 %.2f ms", s, l, p / 1000)
                if (sc[i] ~ /^deflate[0-9]/ && comp[sc[i], sv[v]] != "")
                    cell = cell sprintf("; %.0f %% compressed, to %.0f %%", median(comp[sc[i], sv[v]]), median(wire[sc[i], sv[v]]))
                row = row cell " |"
            }
            print row
        }
    }' "$RAW"
}

# ---------- the machine, for the record ----------
first_of() { # the first line of a command's output, or "?" when it fails
    local output
    output=$("$@" 2>/dev/null | head -n1) && [ -n "$output" ] && echo "$output" || echo "?"
}

describe_machine() {
    local cpu cores threads governor virt caches os memory runtime aspnet
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
    cores=$(nproc)
    threads=$(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p')
    governor=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo "not exposed")
    virt=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p')
    caches=$(lscpu 2>/dev/null | sed -n 's/^\(L[23]\) cache: *\(.*\)/\1 \2/p' | paste -sd ',' - | sed 's/,/, /g')
    os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
    memory=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
    runtime=$(dotnet --list-runtimes 2>/dev/null | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
    aspnet=$(dotnet --list-runtimes 2>/dev/null | awk '$1 == "Microsoft.AspNetCore.App" { v = $2 } END { print v }')
    echo "- CPU: $cpu; $cores logical core(s) online${threads:+, $threads thread(s) per core}; frequency governor: $governor"
    echo "- Caches: ${caches:-?}; memory: $memory; hypervisor: ${virt:-none reported by lscpu}"
    echo "- OS: ${os:-?}, Linux $(uname -r) ($(uname -m))"
    echo "- .NET: SDK $(first_of dotnet --version), runtime ${runtime:-?}, ASP.NET Core ${aspnet:-?}"
    echo "- Node $(first_of node --version); ws $(package_version node-ws ws); uws-pack $(package_version uws-js uws-pack)" \
        "(uWebSockets.js $(package_version uws-js uws-pack | cut -d. -f1).x binaries); gcc $(first_of gcc -dumpfullversion)"
    echo "- Load average (1, 5, 15 min): $LOAD_AT_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
}

# What the first connection of each server agreed on in the wss and deflate scenarios, from tern-load's log.
describe_negotiated() { # scenarios
    local scenario server file tls extension lines=""
    for server in $SERVERS; do
        tls="" extension=""
        for scenario in $1; do
            file=$OUT/load-$scenario-$server-1.log
            [ -f "$file" ] || continue
            [ -n "$tls" ] || tls=$(sed -n 's/^tls  *\(.*\) (first connection)$/\1/p' "$file" | head -n1)
            [ -n "$extension" ] || extension=$(sed -n 's/^extension  *//p' "$file" | head -n1)
        done
        [ -n "$tls$extension" ] || continue
        lines+="- $(server_name "$server"): ${tls:+$tls}${tls:+${extension:+; }}${extension:+\`$extension\`}"$'\n'
    done
    [ -n "$lines" ] || return 0
    echo
    echo "Negotiated (each server's first connection: TLS version and cipher, Sec-WebSocket-Extensions answer):"
    echo
    printf '%s' "$lines"
}

table_for() { # scenarios
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git describe --always --dirty 2>/dev/null || echo unknown)," \
        "$(( ($(date +%s) - RUN_STARTED) / 60 )) min."
    echo
    report "$1"
    describe_negotiated "$1"
    echo
    echo "Command: \`$INVOCATION\` ($REPS repetition(s) of ${DURATION} s after ${WARMUP} s warm-up; servers" \
        "\`$SERVERS\`; a fresh server process for each measurement, pinned to core $SERVER_CORE; the load generator," \
        "bench/Tern.Load in C on one thread, pinned to core $LOAD_CORE)."
    echo
    echo "Machine:"
    echo
    describe_machine
}

table_for "$SCENARIOS" | tee "$OUT/table.md"
log "table in $OUT/table.md, raw numbers in $RAW"

# ---------- docs/benchmarks.md ----------
if [ "$WRITE_DOCS" = 1 ]; then
    if [ "$REPS" -lt 3 ] || [ "$(awk -v d="$DURATION" 'BEGIN { print (d < 10) }')" = 1 ]; then
        log "note: a shorter run than the 3 x 10 s the docs describe goes into $DOCS; its command line says so"
    fi
    covers() { # group scenarios: did this run measure every one of them?
        local scenario
        for scenario in $1; do
            [[ " $SCENARIOS " == *" $scenario "* ]] || return 1
        done
    }
    write_section() { # section name (results, results-secure) and its scenarios
        local begin="<!-- $1:begin (bench/run.sh --write-docs replaces everything up to $1:end) -->" end="<!-- $1:end -->"
        if ! grep -qF "$begin" "$DOCS" || ! grep -qF "$end" "$DOCS"; then
            log "$DOCS has no $1 markers; not written"
            exit 1
        fi
        table_for "$2" >"$OUT/table-$1.md"
        awk -v begin="$begin" -v end="$end" -v table="$OUT/table-$1.md" '
            $0 == begin { print; print ""; while ((getline line < table) > 0) print line; print ""; skipping = 1; next }
            $0 == end { skipping = 0 }
            !skipping { print }' "$DOCS" >"$DOCS.new" && mv "$DOCS.new" "$DOCS"
        log "$1 section of $DOCS written"
    }
    written=0
    if covers "$PLAIN_SCENARIOS"; then write_section results "$PLAIN_SCENARIOS"; written=1; fi
    if covers "$SECURE_SCENARIOS"; then write_section results-secure "$SECURE_SCENARIOS"; written=1; fi
    if [ "$written" = 0 ]; then
        log "this run covers neither table's scenarios completely (plain: $PLAIN_SCENARIOS; secure:" \
            "$SECURE_SCENARIOS): $DOCS not written"
        exit 1
    fi
fi
