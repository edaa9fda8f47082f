#!/usr/bin/env bash
# Installs and starts what the test suites need; idempotent and quick when already done.
# Used by scripts/test.sh (the README's test command) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== setup: %s\n' "$*"; }

# --- Debian packages: Chromium for the browser tests, CJK fonts so screenshots show the title,
# the PostgreSQL client, nginx, a C toolchain.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || need_apt+=(fonts-noto-color-emoji)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
# The cluster suites start private redis-server processes (Redis restarted mid-traffic).
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The server's allocator (tikv-jemalloc-sys) compiles jemalloc's C: a C compiler and make.
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
# The auth tests make RSA key pairs with openssl at test time (no private key is committed).
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# nginx in front of a cluster (deploy/nginx.conf); the browser cluster test runs its own copy.
[ -x /usr/sbin/nginx ] || need_apt+=(nginx)
# The TLS interop test makes its certificate with the openssl CLI.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- PostgreSQL: the store tests run against it as well as SQLite.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  log "starting PostgreSQL"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1 || {
  log "creating database test"
  psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
}

# --- Redis: the cluster suites (issue 8) use 127.0.0.1:6379, started here only if nothing answers
# there (a running one is never restarted; tests that restart Redis start their own).
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null

# --- npm packages (lockfiles committed; `npm ci` is reproducible and needs no browser download).
for dir in interop/node interop/js-client interop/browser bench/node-baseline; do
  if [ -f "$dir/package-lock.json" ]; then
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      log "npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
done

# --- Python packages for the python-socketio suite.
if [ -f interop/python/requirements.txt ]; then
  if ! python3 -c 'import socketio, pytest, requests, websocket' >/dev/null 2>&1; then
    log "pip install -r interop/python/requirements.txt"
    python3 -m pip install -q --disable-pip-version-check -r interop/python/requirements.txt
  fi
fi
