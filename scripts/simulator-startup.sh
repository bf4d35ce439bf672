#!/usr/bin/env bash
# Measures how long `voicecast simulator` takes from exec to its first answered request,
# over RUNS runs (default 10), and prints each figure in milliseconds, sorted.
# Usage: scripts/simulator-startup.sh [RUNS]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
runs=${1:-10}
port=18777
for _ in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  ./target/release/voicecast simulator --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  until curl -s -o /dev/null -X POST "http://127.0.0.1:$port/openapi/V2.0.6/getTTSTemplateList" -d '{}'; do :; done
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done | sort -n | awk '{ v[NR] = $1; printf "%s ms\n", $1 } END { printf "median %s ms over %d runs\n", v[int((NR + 1) / 2)], NR }'
