#!/usr/bin/env bash
# The whole test suite: Rust unit/integration tests, then the interop suites with real
# third-party clients (socket.io-client, python-socketio, Chromium) against the real binary,
# then a correctness smoke of the load generator. Every suite runs; the exit code is non-zero
# if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chatroom-target}"

bash scripts/setup.sh || { echo "setup failed"; exit 1; }

echo "== build"
cargo build --workspace --all-targets || exit 1
export CHATROOM_BIN="$CARGO_TARGET_DIR/debug/chatroom"
export CHATROOM_BENCH_BIN="$CARGO_TARGET_DIR/debug/chatroom-bench"

passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  echo; echo "== suite: $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

suite "cargo test" cargo test --workspace
suite "page modules (node, no DOM)" bash -c 'cd crates/chatroom/web && npm test'
[ -d interop/js-client ] && suite "browser client (node)" bash -c 'cd interop/js-client && npm test'
[ -d interop/node ] && suite "socket.io-client interop" bash -c 'cd interop/node && npm test'
[ -d interop/python ] && suite "python-socketio interop" bash -c 'cd interop/python && python3 -m pytest -q'
# Issue 8: three nodes on Redis + PostgreSQL with clients of both libraries spread over them.
[ -d interop/node/cluster ] && suite "cluster: socket.io-client (3 nodes, Redis, PostgreSQL)" bash -c 'cd interop/node && timeout 300 npm run test:cluster'
[ -d interop/python/cluster ] && suite "cluster: python-socketio (3 nodes)" bash -c 'cd interop/python/cluster && timeout 240 python3 -m pytest -q'
[ -d interop/browser ] && suite "chromium" bash -c 'cd interop/browser && npm test'
[ -f bench/smoke.sh ] && suite "load generator smoke" bash bench/smoke.sh
[ -f scripts/fuzz.sh ] && suite "fuzz (every cargo-fuzz target, 5 s each)" bash scripts/fuzz.sh 5
[ -f bench/soak.sh ] && suite "soak (60 s churn: drops, never-readers, hostile clients)" bash bench/soak.sh 60

echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
