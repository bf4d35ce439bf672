#!/usr/bin/env bash
# Runs `cargo test` RUNS times in a row (default 10) after one build, each while another
# process keeps one core busy (LOAD=0 for none), and prints each run's wall time and
# result, then the slowest and the failures. The suite's promise: every run passes, and
# a run takes under a minute on the 2-core machine.
# Usage: scripts/suite-under-load.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cargo build --release --locked --quiet
cargo test --locked --no-run --quiet
export VOICECAST_TEST_BINARY="$PWD/target/release/voicecast"
busy=""
if [[ "${LOAD:-1}" != 0 ]]; then
  # One core kept busy for as long as the runs last.
  (while :; do :; done) &
  busy=$!
  trap 'kill "$busy"' EXIT
fi
failed=0
slowest=0
for run in $(seq 1 "$runs"); do
  log=$(mktemp)
  start=$(date +%s%N)
  if cargo test --locked --quiet >"$log" 2>&1; then result=passed; else result=FAILED; failed=$((failed + 1)); fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  (( ms > slowest )) && slowest=$ms
  printf 'run %2d: %s in %d.%01d s\n' "$run" "$result" $((ms / 1000)) $((ms % 1000 / 100))
  [[ $result == passed ]] || grep -E "panicked|FAILED" "$log" | head -5
  rm -f "$log"
done
printf '%d of %d runs failed; the slowest took %d.%01d s (load: %s)\n' \
  "$failed" "$runs" $((slowest / 1000)) $((slowest % 1000 / 100)) "${LOAD:-1} busy core"
[[ $failed == 0 ]]
