#!/usr/bin/env bash
# Tern.Chat on several nodes behind nginx, on this machine, with one command: builds Tern.Chat, starts a throwaway
# PostgreSQL, three nodes on loopback ports and nginx in front of them (scripts/nginx.conf.template), and prints the
# address to open in a browser. Ctrl-C stops everything and deletes the data. docs/scale-out.md explains the setup.
#
# Usage: scripts/cluster.sh [--nodes N] [--port PORT]      (defaults: 3 nodes, nginx on 127.0.0.1:8080)
#
# Installs PostgreSQL's server programs and nginx with apt-get when they are missing (as root, like test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=3
port=8080
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "Unknown option '$1'; see $0 --help" >&2; exit 2 ;;
    esac
done

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Needs ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}' first." >&2
        exit 1
    fi
    echo "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "Building Tern.Chat..."
if ! build_output=$(dotnet build src/Tern.Chat/Tern.Chat.csproj -c Release -nologo 2>&1); then
    echo "$build_output" >&2
    exit 1
fi
chat_dll="$PWD/src/Tern.Chat/bin/Release/net10.0/Tern.Chat.dll"

dir=$(mktemp -d /tmp/tern-cluster.XXXXXX)
node_pids=()
nginx_pid=""
pg_started=""

# PostgreSQL refuses to run as root: as root it runs as Debian's postgres user, which must be able to reach its
# directory.
as_postgres=()
mkdir "$dir/pg" "$dir/nginx"
if [ "$(id -u)" -eq 0 ]; then
    chmod 711 "$dir"
    chown postgres "$dir/pg"
    as_postgres=(runuser -u postgres --)
fi

stop_all() {
    trap - EXIT INT TERM
    echo
    echo "Stopping..."
    [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null || true
    for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    # A node stops cleanly within a few seconds (1001 to its clients); one that does not gets SIGKILL.
    for _ in $(seq 100); do
        alive=0
        for pid in "${node_pids[@]}" $nginx_pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${node_pids[@]}" $nginx_pid; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$pg_started" ]; then
        "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    echo "Stopped; nothing left running."
}
trap stop_all EXIT
trap 'exit 130' INT TERM

echo "Starting PostgreSQL in $dir/pg..."
"${as_postgres[@]}" "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U tern -E UTF8 --no-locale >"$dir/pg/initdb.log" 2>&1 \
    || { cat "$dir/pg/initdb.log" >&2; exit 1; }
# Only a Unix socket in the private directory: no TCP port to pick or to clash with another PostgreSQL.
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -o "-k $dir/pg -c listen_addresses=''" -l "$dir/pg/log" -w start >/dev/null \
    || { cat "$dir/pg/log" >&2; exit 1; }
pg_started=1
"$pg_bin/createdb" -h "$dir/pg" -U tern chat
postgres="Host=$dir/pg;Username=tern;Database=chat"

# nginx is trusted for X-Forwarded-For, as in production; sockets per address are counted before any header is read,
# so that limit is off (docs/scale-out.md, "Client addresses behind the proxy"). Every browser trying the cluster is on
# this machine, one address, so the per-address throttles are raised too. A figure already in the environment wins
# (bench/cluster-bench.sh lifts them further).
export TERN_CHAT_TRUSTEDPROXIES=${TERN_CHAT_TRUSTEDPROXIES:-127.0.0.1}
export TERN_CHAT_MAXCONNECTIONSPERADDRESS=${TERN_CHAT_MAXCONNECTIONSPERADDRESS:-0}
export TERN_CHAT_ACCOUNTS__SIGNUPLIMIT=${TERN_CHAT_ACCOUNTS__SIGNUPLIMIT:-1000}
export TERN_CHAT_ACCOUNTS__ADDRESSATTEMPTLIMIT=${TERN_CHAT_ACCOUNTS__ADDRESSATTEMPTLIMIT:-1000}
export TERN_CHAT_HUB__ADDRESSRATELIMITCOUNT=${TERN_CHAT_HUB__ADDRESSRATELIMITCOUNT:-10000}
export TERN_CHAT_HUB__ADDRESSROOMCREATIONLIMIT=${TERN_CHAT_HUB__ADDRESSROOMCREATIONLIMIT:-1000}

echo "Starting $nodes Tern.Chat nodes..."
for i in $(seq "$nodes"); do
    dotnet "$chat_dll" --port 0 --host 127.0.0.1 --postgres "$postgres" >"$dir/node$i.log" 2>&1 &
    node_pids+=($!)
done
node_ports=()
for i in $(seq "$nodes"); do
    for _ in $(seq 600); do
        grep -q "is live at" "$dir/node$i.log" && break
        kill -0 "${node_pids[$((i - 1))]}" 2>/dev/null || { echo "Node $i failed to start:" >&2; cat "$dir/node$i.log" >&2; exit 1; }
        sleep 0.1
    done
    node_port=$(sed -n 's|.*is live at http://[^:]*:\([0-9]*\)/.*|\1|p' "$dir/node$i.log" | head -n 1)
    [ -n "$node_port" ] || { echo "Node $i did not start in time:" >&2; cat "$dir/node$i.log" >&2; exit 1; }
    node_ports+=("$node_port")
done

servers=""
for node_port in "${node_ports[@]}"; do
    servers+="        server 127.0.0.1:$node_port max_fails=1 fail_timeout=5s;"$'\n'
done
sed -e "s|@DIR@|$dir/nginx|g" -e "s|@PORT@|$port|g" scripts/nginx.conf.template \
    | awk -v servers="$servers" '{ if ($0 == "@SERVERS@") printf "%s", servers; else print }' >"$dir/nginx/nginx.conf"
nginx_args=(-c "$dir/nginx/nginx.conf" -p "$dir/nginx" -e "$dir/nginx/error.log")
[ "$(id -u)" -eq 0 ] && nginx_args+=(-g "user root;")
"$nginx_bin" "${nginx_args[@]}" &
nginx_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$nginx_pid" 2>/dev/null || { echo "nginx failed to start (is port $port free? try --port):" >&2; cat "$dir/nginx/error.log" >&2; exit 1; }
    sleep 0.1
done

echo
echo "Tern.Chat on $nodes nodes behind nginx: open http://127.0.0.1:$port/"
for i in $(seq "$nodes"); do
    echo "  node$i: http://127.0.0.1:${node_ports[$((i - 1))]}/ (pid ${node_pids[$((i - 1))]}, log $dir/node$i.log)"
done
echo "  nginx: pid $nginx_pid, configuration $dir/nginx/nginx.conf"
echo "  PostgreSQL: \"$postgres\""
echo "Try 'kill -9 <a node's pid>': its browsers reconnect through nginx to another node and miss nothing."
echo "Press Ctrl-C to stop everything."
wait "$nginx_pid"
