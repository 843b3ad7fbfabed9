#!/usr/bin/env bash
# Jobs per second through the Redis backend next to Redis's own XADD rate, both measured here and
# now against one redis-server on a free loopback port, and next to the in-process backend.
#   bench/backend/run.sh            (builds the release preset first)
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target async_backend_bench >/dev/null

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize no >"$dir/log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

echo "== raw Redis: XADD, 8 clients, one command at a time, then pipelined 16 deep =="
redis-benchmark -p "$port" -q -n 200000 -c 8 -P 1 XADD bench:stream '*' f v
redis-benchmark -p "$port" -q -n 200000 -c 8 -P 16 XADD bench:stream '*' f v
echo "== antechamber: async jobs submit -> complete (items_per_second) =="
ANTE_REDIS_PORT=$port build/release/bench/async_backend_bench --benchmark_min_time=2
