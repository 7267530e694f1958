#!/usr/bin/env bash
# Tern.Chat on several nodes, measured: for 1, 2 and 3 nodes (a fresh scripts/cluster.sh each: throwaway PostgreSQL,
# the nodes, nginx) the same clients in one room, spread over the nodes, with bench/Tern.ChatLoad; then, on 3 nodes,
# one node SIGKILLed mid-run while its clients reconnect through nginx and catch up. Prints a markdown table of
# medians; --write-docs puts it into docs/benchmarks.md ("Tern.Chat on several nodes").
#
# Usage: bench/cluster-bench.sh [--reps 3] [--duration 10] [--warmup 2] [--clients 30] [--senders 6] [--window 2]
#                               [--nodes "1 2 3"] [--kill-reps 3] [--synchronous-commit on|off] [--write-docs]
#
# Runs as root or as a user who can run scripts/cluster.sh (PostgreSQL's server programs and nginx installed).
set -euo pipefail
cd "$(dirname "$0")/.."
INVOCATION="bench/cluster-bench.sh $*"

REPS=3 DURATION=10 WARMUP=2 CLIENTS=30 SENDERS=6 WINDOW=2 NODE_COUNTS="1 2 3" KILL_REPS=3 SYNC_COMMIT=on WRITE_DOCS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --senders) SENDERS="$2"; shift 2 ;;
        --window) WINDOW="$2"; shift 2 ;;
        --nodes) NODE_COUNTS="$2"; shift 2 ;;
        --kill-reps) KILL_REPS="$2"; shift 2 ;;
        --synchronous-commit) SYNC_COMMIT="$2"; shift 2 ;;
        --write-docs) WRITE_DOCS=1; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "Unknown option '$1'; see $0 --help" >&2; exit 2 ;;
    esac
done

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

OUT="bench/results/cluster-$(date -u +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RAW="$OUT/raw.tsv"
: >"$RAW"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date +%s)

log "building bench/Tern.ChatLoad"
dotnet build bench/Tern.ChatLoad -c Release -nologo -v q >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
LOAD_DLL="$PWD/bench/Tern.ChatLoad/bin/Release/net10.0/Tern.ChatLoad.dll"
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# The per-account and per-connection limits would measure themselves: lifted on every node (each run is one
# address, 127.0.0.1, and a handful of accounts sending as fast as acknowledgements allow). cluster.sh lifts the
# sign-up and per-address limits already and keeps these.
export TERN_CHAT_HUB__RATELIMITCOUNT=1000000
export TERN_CHAT_HUB__REQUESTLIMITCOUNT=1000000
export TERN_CHAT_HUB__ADDRESSRATELIMITCOUNT=1000000
export TERN_CHAT_HUB__ROOMCREATIONLIMIT=1000

CLUSTER_PID="" CLUSTER_OUT="" CLUSTER_LABEL=""
stop_cluster() {
    [ -n "$CLUSTER_PID" ] || return 0
    # cluster.sh stops its nodes, nginx and PostgreSQL and deletes its directory on TERM.
    kill -TERM "$CLUSTER_PID" 2>/dev/null || true
    wait "$CLUSTER_PID" 2>/dev/null || true
    CLUSTER_PID=""
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

# Starts scripts/cluster.sh with N nodes in the background and waits for its summary: NODE_URLS, NODE_PIDS, NGINX_URL.
start_cluster() { # nodes label
    CLUSTER_LABEL=$2
    CLUSTER_OUT="$OUT/cluster-$2.log"
    scripts/cluster.sh --nodes "$1" --port "$(free_port)" >"$CLUSTER_OUT" 2>&1 &
    CLUSTER_PID=$!
    for _ in $(seq 1800); do
        grep -qs "Press Ctrl-C" "$CLUSTER_OUT" && break
        kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$CLUSTER_OUT" >&2; log "scripts/cluster.sh failed"; exit 1; }
        sleep 0.1
    done
    grep -q "Press Ctrl-C" "$CLUSTER_OUT" || { cat "$CLUSTER_OUT" >&2; log "scripts/cluster.sh did not start in 3 min"; exit 1; }
    NODE_URLS=$(sed -n 's|^  node[0-9]*: \(http://[^ ]*\) .*|\1|p' "$CLUSTER_OUT" | paste -sd, -)
    NODE_PIDS=$(sed -n 's|^  node[0-9]*: .*(pid \([0-9]*\),.*|\1|p' "$CLUSTER_OUT" | paste -sd' ' -)
    NGINX_URL=$(sed -n 's|.*open \(http://[^ ]*\)$|\1|p' "$CLUSTER_OUT")
    if [ "$SYNC_COMMIT" != on ]; then
        local socket_dir
        socket_dir=$(sed -n 's|.*PostgreSQL: "Host=\([^;]*\);.*|\1|p' "$CLUSTER_OUT")
        "$PG_BIN/psql" -q -h "$socket_dir" -U tern -d chat \
            -c "ALTER SYSTEM SET synchronous_commit = '$SYNC_COMMIT'" -c "SELECT pg_reload_conf()" >/dev/null
    fi
}

# What PostgreSQL's busy client backends wait for, sampled 5 times a second through the middle of the window (after the
# tool's set-up; it starts about when the window does, give or take the sign-ups): the reading of the table.
sample_waits() { # label
    local socket_dir
    socket_dir=$(sed -n 's|.*PostgreSQL: "Host=\([^;]*\);.*|\1|p' "$CLUSTER_OUT")
    sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 3 }')"
    for _ in $(seq "$(awk -v d="$DURATION" 'BEGIN { print int(d * 5 / 2) }')"); do
        # One line per busy backend, or "none" when no transaction was open at that moment.
        "$PG_BIN/psql" -At -h "$socket_dir" -U tern -d chat -c "SELECT coalesce(wait_event_type, 'CPU') || ':' ||
            coalesce(wait_event, '-') || ':' || state FROM pg_stat_activity WHERE backend_type = 'client backend'
            AND pid <> pg_backend_pid() AND state <> 'idle' UNION ALL SELECT 'none:-:-' WHERE NOT EXISTS (SELECT 1
            FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle')" \
            2>/dev/null || true
        sleep 0.2
    done >>"$OUT/waits-$1.txt"
}

# The samples in groups: the room's row lock, the commit's WAL flush, a transaction waiting for its node, running, other.
wait_shares() { # label
    [ -s "$OUT/waits-$1.txt" ] || { echo "n/a"; return; }
    awk -F: '{
            total++
            if ($1 == "Lock" && ($2 == "tuple" || $2 == "transactionid")) row++
            else if ($2 ~ /^WAL/) wal++
            else if ($1 == "Client" && $3 == "idle in transaction") node++
            else if ($1 == "CPU") cpu++
            else if ($1 == "none") none++
            else other++
        }
        END { printf "%d %% waiting for the room'"'"'s row lock, %d %% flushing WAL at commit, %d %% in a transaction waiting for its node, %d %% running, %d %% other; no transaction open in %d %% (%d samples)",
            100 * row / total, 100 * wal / total, 100 * node / total, 100 * cpu / total, 100 * other / total, 100 * none / total, total }' "$OUT/waits-$1.txt"
}

load() { # label, rep, then Tern.ChatLoad's options
    local label=$1 rep=$2 file
    shift 2
    file="$OUT/load-$label-$rep.log"
    local status=0
    sample_waits "$label" &
    local sampler=$!
    dotnet "$LOAD_DLL" --clients "$CLIENTS" --senders "$SENDERS" --window "$WINDOW" --warmup "$WARMUP" \
        --duration "$DURATION" --sessions "$OUT/sessions-$CLUSTER_LABEL.txt" "$@" >"$file" 2>&1 || status=$?
    wait "$sampler" 2>/dev/null || true
    local result
    result=$(sed -n 's/^RESULT //p' "$file")
    if [ -z "$result" ]; then
        cat "$file" >&2
        log "$label rep $rep: no result (exit $status)"
        exit 1
    fi
    [ "$status" -eq 0 ] || log "$label rep $rep: checks failed (exit $status), see $file"
    printf '%s\t%s\t%s\n' "$label" "$rep" "$result" >>"$RAW"
    log "$label rep $rep: $result"
}

for nodes in $NODE_COUNTS; do
    log "$nodes node(s): starting the cluster"
    start_cluster "$nodes" "nodes$nodes"
    for rep in $(seq "$REPS"); do
        load "nodes$nodes" "$rep" --urls "$NODE_URLS" --prefix "n$nodes-"
    done
    stop_cluster
done

# The kill: clients connect to the three nodes directly (so a third of them are on the killed one) and reconnect
# through nginx, as browsers would; a fresh cluster for each repetition.
for rep in $(seq "$KILL_REPS"); do
    log "kill, repetition $rep: starting 3 nodes"
    start_cluster 3 "kill$rep"
    victim=$(echo "$NODE_PIDS" | awk '{ print $NF }')
    load kill "$rep" --urls "$NODE_URLS" --reconnect-urls "$NGINX_URL" --kill-pid "$victim" \
        --kill-after "$(awk -v d="$DURATION" 'BEGIN { print d / 2 }')" --prefix k-
    stop_cluster
done

# ---------- the table ----------
values_of() { # label key: its value in each repetition, one a line
    awk -F'\t' -v label="$1" -v key="$2" '$1 == label {
        n = split($3, pairs, " ")
        for (i = 1; i <= n; i++) { split(pairs[i], kv, "="); if (kv[1] == key) print kv[2] + 0 }
    }' "$RAW"
}
median_of() { # label key
    values_of "$1" "$2" | sort -g | awk '{ v[n++] = $1 }
        END {
            if (n == 0) { print "n/a"; exit }
            m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
            print (m == int(m) ? m : sprintf("%.1f", m))
        }'
}
sum_of() { values_of "$1" "$2" | awk '{ total += $1 } END { print total + 0 }'; }
max_of() { values_of "$1" "$2" | sort -g | tail -n 1 | grep . || echo "n/a"; }
checks() { # label: lost / duplicated (live or stored) / out of order, summed over the repetitions
    echo "$(sum_of "$1" lost) / $(( $(sum_of "$1" live_dup) + $(sum_of "$1" stored_dup) )) / $(sum_of "$1" out_of_order)"
}

describe_machine() {
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical core(s)," \
        "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo);" \
        "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), Linux $(uname -r)"
    echo "- .NET SDK $(dotnet --version 2>/dev/null || echo ?); $("$PG_BIN/postgres" --version 2>/dev/null || echo "PostgreSQL ?")" \
        "(initdb defaults: fsync on; synchronous_commit $SYNC_COMMIT); $(/usr/sbin/nginx -v 2>&1 | sed 's|nginx version: ||')"
    echo "- Load average (1, 5, 15 min): $LOAD_AT_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" \
        "(the machine is shared: nodes, PostgreSQL, nginx and the load tool all run on it)"
}

table() {
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git describe --always --dirty 2>/dev/null || echo unknown)," \
        "$(( ($(date +%s) - STARTED) / 60 )) min."
    echo
    echo "| nodes | clients | room msg/s acknowledged | deliveries/s | latency p50 / p99 / max (ms) | drain (ms) | lost / duplicated / out of order |"
    echo "|---|---|---|---|---|---|---|"
    for nodes in $NODE_COUNTS; do
        echo "| $nodes | $CLIENTS ($SENDERS sending) | $(median_of "nodes$nodes" posted) | $(median_of "nodes$nodes" delivered)" \
            "| $(median_of "nodes$nodes" p50_ms) / $(median_of "nodes$nodes" p99_ms) / $(median_of "nodes$nodes" max_ms)" \
            "| $(median_of "nodes$nodes" drain_ms) | $(checks "nodes$nodes") |"
    done
    echo
    echo "What PostgreSQL's client backends with a transaction open were doing, sampled about 5 times a second in each window" \
        "(one sample per backend; \"no transaction open\": samples where none was):"
    echo
    for nodes in $NODE_COUNTS; do
        echo "- $nodes node(s): $(wait_shares "nodes$nodes")"
    done
    if [ "$KILL_REPS" -gt 0 ]; then
        echo
        echo "| 3 nodes, one SIGKILLed | clients dropped | reconnected (median / longest, ms) | caught up (median / longest, ms) | longest catch-up of all runs (ms) | room msg/s acknowledged | lost / duplicated / out of order |"
        echo "|---|---|---|---|---|---|---|"
        echo "| medians of $KILL_REPS run(s) | $(median_of kill killed_clients) of $CLIENTS" \
            "| $(median_of kill reconnect_p50_ms) / $(median_of kill reconnect_max_ms)" \
            "| $(median_of kill catchup_p50_ms) / $(median_of kill catchup_max_ms) | $(max_of kill catchup_max_ms)" \
            "| $(median_of kill posted) | $(checks kill) |"
        echo
        echo "Around the reconnects, over the $KILL_REPS run(s): $(sum_of kill overlaps) receipts came both live and in a resume page," \
            "$(sum_of kill redelivered) live on both a client's old and new socket (both merged by id, as the page does);" \
            "$(sum_of kill failed_reconnects) reconnection attempt(s) failed and were retried."
    fi
    echo
    echo "Command: \`$INVOCATION\` ($REPS repetition(s) of ${DURATION} s after ${WARMUP} s warm-up per node count, a fresh" \
        "cluster per node count and per kill; $CLIENTS clients, $SENDERS of them sending, closed loop with a window of $WINDOW" \
        "each; the cells are medians, the checks sums over the repetitions)."
    echo
    echo "Machine:"
    echo
    describe_machine
}

table | tee "$OUT/table.md"
log "table in $OUT/table.md, raw numbers in $RAW, logs in $OUT"

if [ "$WRITE_DOCS" = 1 ]; then
    DOCS=docs/benchmarks.md
    begin="<!-- cluster:begin (bench/cluster-bench.sh --write-docs replaces everything up to cluster:end) -->"
    end="<!-- cluster:end -->"
    if ! grep -qF "$begin" "$DOCS" || ! grep -qF "$end" "$DOCS"; then
        log "$DOCS has no cluster markers; not written"
        exit 1
    fi
    awk -v begin="$begin" -v end="$end" -v table="$OUT/table.md" '
        $0 == begin { print; print ""; while ((getline line < table) > 0) print line; print ""; skipping = 1; next }
        $0 == end { skipping = 0 }
        !skipping { print }' "$DOCS" >"$DOCS.new" && mv "$DOCS.new" "$DOCS"
    log "the 'Tern.Chat on several nodes' section of $DOCS written"
fi
