# Shared by the bench/ scripts: locate binaries, start and stop the servers (and clusters).
# Sourced, not run. Servers listen on 127.0.0.1 with port 0; their URL is read from the one line
# each prints on stdout (`listening on http://<ip>:<port>`).

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$BENCH_ROOT/target}
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chatroom-bench.XXXXXX")
SRV_PID=
SRV_URL=

# Start the server of $1 (ours|node|mini-hyper|mini-raw) in the background; sets SRV_PID and SRV_URL.
start_server() {
  local which=$1 out=$BENCH_TMP/$1.out err=$BENCH_TMP/$1.err
  : >"$out"
  case $which in
    ours)
      rm -f "$BENCH_TMP"/bench.db*
      # A load generator is one address opening thousands of connections: a trusted client
      # (--limits off lifts every per-client and per-IP limit, the message rate included).
      "$CHATROOM_BIN" --host 127.0.0.1 --port 0 --limits off \
        --db "sqlite://$BENCH_TMP/bench.db" >"$out" 2>"$err" &
      ;;
    node)
      (cd "$BENCH_ROOT/bench/node-baseline" && HOST=127.0.0.1 PORT=0 exec node bin/www) >"$out" 2>"$err" &
      ;;
    mini-hyper|mini-raw)
      # Issue 10's engine experiment (crates/chatroom-bench/src/mini_engine.rs), from the
      # private copy of chatroom-bench the calling script made.
      "$BENCH_TMP/chatroom-bench" mini-engine --host 127.0.0.1 --port 0 --http "${which#mini-}" \
        >"$out" 2>"$err" &
      ;;
    *) echo "unknown server $which" >&2; return 1 ;;
  esac
  SRV_PID=$!
  local i
  for i in $(seq 1 200); do
    SRV_URL=$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -1 || true)
    [ -n "$SRV_URL" ] && return 0
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "$which server exited at start:" >&2; cat "$err" >&2; return 1
    fi
    sleep 0.05
  done
  echo "$which server printed no listening line in 10 s" >&2
  return 1
}

# SIGTERM the server started last and wait (at most 10 s) for it to exit.
stop_server() {
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SRV_PID" 2>/dev/null || true
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=
}

bench_cleanup() {
  stop_server
  stop_cluster
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

# --- A cluster on this machine (bench/smoke.sh, bench/cluster.sh): N nodes of $CHATROOM_BIN on
# free loopback ports, one fresh PostgreSQL schema and one Redis prefix for all of them (so runs in
# parallel do not meet). Sets CLUSTER_URLS (comma-separated) and CLUSTER_PIDS (comma-separated).
# PostgreSQL: $BENCH_PG (default postgres://postgres@127.0.0.1:5432/test); Redis: $BENCH_REDIS
# (default redis://127.0.0.1:6379).
BENCH_PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
BENCH_REDIS=${BENCH_REDIS:-redis://127.0.0.1:6379}
CLUSTER_URLS=
CLUSTER_PIDS=
CLUSTER_SCHEMA=
cluster_pids=()

# psql on the database of $BENCH_PG.
bench_psql() {
  PGOPTIONS=--client-min-messages=warning psql "$BENCH_PG" -v ON_ERROR_STOP=1 -qc "$1" >/dev/null
}

# start_cluster N NAME [--redis|--no-redis]: N nodes in schema NAME_<pid> with Redis prefix
# NAME_<pid> (`--no-redis`: plain PostgreSQL nodes, the single-node baseline).
start_cluster() {
  local n=$1 name=$2 mode=${3:---redis} i
  CLUSTER_SCHEMA=${name}_$$
  CLUSTER_URLS=; CLUSTER_PIDS=; cluster_pids=()
  bench_psql "drop schema if exists $CLUSTER_SCHEMA cascade" || { echo "PostgreSQL at $BENCH_PG does not answer" >&2; return 1; }
  for i in $(seq 1 "$n"); do
    local out=$BENCH_TMP/node$i.out err=$BENCH_TMP/node$i.err url=
    local args=(--host 127.0.0.1 --port 0 --limits off --db "$BENCH_PG?schema=$CLUSTER_SCHEMA")
    [ "$mode" = --redis ] && args+=(--redis "$BENCH_REDIS" --redis-prefix "$CLUSTER_SCHEMA" --node-name "node$i")
    : >"$out"
    # One after another: the first creates the schema and runs the migrations.
    "$CHATROOM_BIN" "${args[@]}" >"$out" 2>"$err" &
    cluster_pids+=($!)
    for _ in $(seq 1 600); do
      url=$(grep -o 'http://[0-9.:]*' "$out" 2>/dev/null | head -1 || true)
      [ -n "$url" ] && break
      if ! kill -0 "${cluster_pids[-1]}" 2>/dev/null; then
        echo "node $i exited at start:" >&2; tail -5 "$err" >&2; return 1
      fi
      sleep 0.05
    done
    [ -n "$url" ] || { echo "node $i printed no listening line in 30 s" >&2; return 1; }
    CLUSTER_URLS=${CLUSTER_URLS:+$CLUSTER_URLS,}$url
    CLUSTER_PIDS=${CLUSTER_PIDS:+$CLUSTER_PIDS,}${cluster_pids[-1]}
  done
}

# SIGTERM every node (at most 10 s), then drop the schema.
stop_cluster() {
  local pid
  for pid in "${cluster_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${cluster_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cluster_pids=()
  [ -n "$CLUSTER_SCHEMA" ] && bench_psql "drop schema if exists $CLUSTER_SCHEMA cascade" || true
  CLUSTER_SCHEMA=
}
