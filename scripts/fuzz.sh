#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS_PER_TARGET (default 10), each on its corpus
# fuzz/corpus/<target> (hand-written seeds are committed; inputs libFuzzer finds are kept there
# but ignored by git). Installs cargo-fuzz if missing; needs the nightly toolchain. Exits
# non-zero if any target crashes or fails to build; the crashing input is in
# fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run <target> <file>).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
# The fuzz crate builds with sanitizers: keep its artifacts apart from the main workspace's.
target_dir=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-/var/tmp/chatroom-target}-fuzz}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 1
fi

targets=$(cargo +nightly fuzz list --fuzz-dir fuzz) || exit 1
failed=()
for t in $targets; do
  echo "== fuzz $t (${secs}s)"
  mkdir -p "fuzz/corpus/$t"
  if ! cargo +nightly fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$t" "fuzz/corpus/$t" \
      -- -max_total_time="$secs" -print_final_stats=1; then
    failed+=("$t")
  fi
done
echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz: all targets ran ${secs}s without a crash: $targets" | tr '\n' ' '; echo
