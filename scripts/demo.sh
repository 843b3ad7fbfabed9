#!/usr/bin/env bash
# The demo: builds everything, starts the example upstream and the standalone gateway, sends
# real HTTP traffic to a sync route and an async route, prints what happened, stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
bin=build/release/examples

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits for a program's "listening on 127.0.0.1:PORT ..." line and prints the whole line.
await_listening() {
  for _ in $(seq 200); do
    if grep -q '^listening on' "$1" 2>/dev/null; then grep -m1 '^listening on' "$1"; return; fi
    sleep 0.05
  done
  echo "no 'listening on' line in $1:" >&2; cat "$1" >&2; exit 1
}

# p50 / p90 / max of the numbers (seconds) on stdin, printed in milliseconds.
latency_summary() {
  sort -n | awk '{ v[NR] = $1 * 1000 } END {
    if (NR == 0) { print "n/a"; exit }
    printf "p50 %.1f ms, p90 %.1f ms, max %.1f ms", v[int((NR + 1) * 0.5)], v[int((NR * 9 + 9) / 10)], v[NR] }'
}

count_statuses() { sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'; }

echo "== starting the example upstream (20 ms latency, 10% injected failures) and the gateway =="
"$bin/example_upstream" --port 0 --latency-ms 20 --fail-rate 0.1 --seed 7 >"$work/upstream.log" 2>&1 &
pids+=($!)
upstream_port=$(await_listening "$work/upstream.log" | sed 's/.*://')
sed "s/127\.0\.0\.1:9000/127.0.0.1:$upstream_port/; s/\"port\": 8080/\"port\": 0/; s/\"port\": 9901/\"port\": 0/" \
  examples/standalone/gateway.json >"$work/gateway.json"
"$bin/standalone_gateway" --config "$work/gateway.json" >"$work/gateway.out" 2>"$work/gateway.log" &
pids+=($!)
line=$(await_listening "$work/gateway.out")
port=$(echo "$line" | awk '{ split($3, a, ":"); print a[2] }')
admin=$(echo "$line" | awk '{ split($5, a, ":"); print a[2] }')
gw="http://127.0.0.1:$port"
echo "upstream on :$upstream_port, gateway on :$port, admin on :$admin"
echo "admin /healthz -> $(curl -s "http://127.0.0.1:$admin/healthz")"

upstream_count() { curl -s "http://127.0.0.1:$upstream_port/stats" | grep -o '[0-9]*'; }

echo
echo "== sync route: 50 x GET /api/items/N, proxied; the caller waits; injected 500s are retried =="
before=$(upstream_count)
for i in $(seq 50); do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$gw/api/items/$i"
done >"$work/sync.txt"
echo "statuses: $(cut -d' ' -f1 "$work/sync.txt" | count_statuses)"
echo "latency:  $(cut -d' ' -f2 "$work/sync.txt" | latency_summary)"
echo "upstream: $(( $(upstream_count) - before )) requests served for these 50 calls (the extra ones are retries)"

echo
echo "== circuit breaker: GET /status/500 until the breaker 'status' opens, then its fallback answers =="
before=$(upstream_count)
for i in $(seq 6); do
  code=$(curl -s -o "$work/breaker.txt" -w '%{http_code}' "$gw/status/500")
  grep -q fallback "$work/breaker.txt" && code="$code(fallback)"
  printf '%s ' "$code"
done
echo " <- 6 x /status/500: 5 failures open the breaker; then the fallback answers"
for i in $(seq 3); do curl -s -w ' ' "$gw/status/200" | tr -d '\n'; done
echo " <- 3 x /status/200 while open"
echo "upstream: $(( $(upstream_count) - before )) requests reached it (none while the breaker was open)"
sleep 2.1
echo "after the 2 s wait, a probe: $(curl -s -o /dev/null -w '%{http_code}' "$gw/status/200") (closed again)"

echo
echo "== async route: 10 x POST /orders -> 202 at once, then poll the status URL to the result =="
for i in $(seq 10); do
  curl -s -D "$work/h$i" -o /dev/null -w '%{http_code} %{time_total}\n' -X POST "$gw/orders" \
    -H 'Content-Type: application/json' -d "{\"order\": $i}"
done >"$work/submit.txt"
echo "submits:  $(cut -d' ' -f1 "$work/submit.txt" | count_statuses), latency $(cut -d' ' -f2 "$work/submit.txt" | latency_summary)"
start=$(date +%s%N)
: >"$work/final.txt"
for i in $(seq 10); do
  location=$(grep -i '^location:' "$work/h$i" | tr -d '\r' | awk '{ print $2 }')
  for _ in $(seq 300); do
    code=$(curl -s -o "$work/status$i.json" -w '%{http_code}' "$gw$location")
    [ "$code" = 303 ] && break
    grep -q '"status":"\(failed\|dead_lettered\|cancelled\|expired\)"' "$work/status$i.json" && break
    sleep 0.02
  done
  status=$(grep -o '"status":"[a-z_]*"' "$work/status$i.json" | cut -d'"' -f4)
  attempts=$(grep -o '"attempts":[0-9]*' "$work/status$i.json" | cut -d: -f2)
  result=$(curl -s -o /dev/null -w '%{http_code}' "$gw$location/result")
  echo "$status/result-$result/attempts-$attempts" >>"$work/final.txt"
  [ "$i" = 1 ] && echo "first job: GET $location -> $code, $(cat "$work/status$i.json")"
done
echo "outcomes: $(count_statuses <"$work/final.txt")"
echo "          (all final $(( ($(date +%s%N) - start) / 1000000 )) ms after the last submit; a job whose attempt met an injected 500 was redelivered)"

echo
echo "== async guarantees: Idempotency-Key, cancel, dead letters and redrive =="
idem() { curl -s -D - -o /dev/null -X POST "$gw/orders" -H 'Idempotency-Key: "demo-1"' -d "$1" | tr -d '\r'; }
first=$(idem '{"order": 1}' | grep -i '^location:' | awk '{ print $2 }')
again=$(idem '{"order": 1}')
echo "same key twice:     $(echo "$again" | head -1 | cut -d' ' -f2), Location $( [ "$(echo "$again" | grep -i '^location:' | awk '{ print $2 }')" = "$first" ] && echo same || echo DIFFERENT), $(echo "$again" | grep -i '^idempotent-replayed:' | tr -d '\n') (one job)"
echo "same key, new body: $(idem '{"order": 2}' | head -1 | cut -d' ' -f2) (the key belongs to the first request)"
# More slow jobs than the 8 workers scaling allows, so the next job has to wait in the queue.
for i in $(seq 12); do curl -s -o /dev/null -X POST "$gw/delay/600"; done
waiting=$(curl -s -D - -o /dev/null -X POST "$gw/delay/0" | tr -d '\r' | grep -i '^location:' | awk '{ print $2 }')
echo "DELETE a queued job: $(curl -s -X DELETE -w ' %{http_code}' "$gw$waiting" | grep -o '"status":"[a-z]*"\| [0-9]*$' | tr -d '\n') (it never runs)"
doomed=$(curl -s -D - -o /dev/null -X POST "$gw/status/502" | tr -d '\r' | grep -i '^location:' | awk '{ print $2 }')
for _ in $(seq 300); do
  curl -s "$gw$doomed" | grep -q '"status":"dead_lettered"' && break
  sleep 0.02
done
echo "POST /status/502:   $(curl -s "$gw$doomed" | grep -o '"status":"[a-z_]*"\|"attempts":[0-9]*' | tr '\n' ' ')(2 attempts, then the dead letters)"
echo "admin GET /dead-letters -> $(curl -s "http://127.0.0.1:$admin/dead-letters" | grep -o '"count":[0-9]*\|"reason":"[^"]*"' | tr '\n' ' ')"
echo "admin POST /dead-letters/${doomed##*/}/redrive -> $(curl -s -X POST "http://127.0.0.1:$admin/dead-letters/${doomed##*/}/redrive")"

echo
echo "== async completion: an event stream, a signed webhook, the backlog =="
job=$(curl -s -D - -o /dev/null -X POST "$gw/delay/300" | tr -d '\r' | grep -i '^location:' | awk '{ print $2 }')
echo "GET $job/events (Server-Sent Events until the job is final):"
curl -s -N "$gw$job/events" | grep '^data:' | grep -o '"status":"[a-z_]*"' | sed 's/^/  event: /'
hooked=$(curl -s -D - -o /dev/null -X POST "$gw/delay/0" -H "Callback-URL: http://127.0.0.1:$upstream_port/hooks/demo" |
  tr -d '\r' | grep -i '^location:' | awk '{ print $2 }')
webhook_report() {  # the ante.webhook route's entry of the admin's backlog report
  curl -s "http://127.0.0.1:$admin/async/routes" | grep -o '{"completed":{[^}]*}[^}]*}' | grep '"route":"ante.webhook"'
}
for _ in $(seq 300); do
  webhook_report | grep -q '"succeeded":1' && break
  sleep 0.02
done
echo "POST with Callback-URL -> $hooked; the upstream got its final status, signed (webhook-signature):"
echo "  admin GET /async/routes -> route ante.webhook $(webhook_report | grep -o '"succeeded":[0-9]*')"
echo "Callback-URL outside the allowlist -> $(curl -s -o /dev/null -w '%{http_code}' -X POST "$gw/delay/0" -H 'Callback-URL: http://169.254.169.254/latest')"
echo "admin GET /async/workers -> $(curl -s "http://127.0.0.1:$admin/async/workers" | grep -o '"workers":[0-9]*') (scales 2..8 with the backlog)"

echo
echo "== what bad or unknown requests get (RFC 9457 problem+json bodies) =="
show() { printf '%-44s -> %s\n' "$1" "$(eval "$2")"; }
show "GET /nowhere" "curl -s -o /dev/null -w '%{http_code} %{content_type}' $gw/nowhere"
show "DELETE /hello" "curl -s -o /dev/null -w '%{http_code} %{content_type} Allow: %header{allow}' -X DELETE $gw/hello 2>/dev/null || curl -s -o /dev/null -w '%{http_code}' -X DELETE $gw/hello"
show "POST /orders with a 2 MiB body" "head -c 2097152 /dev/zero | curl -s -o /dev/null -w '%{http_code} %{content_type}' -X POST --data-binary @- $gw/orders"
show "GET /jobs/<unknown id>" "curl -s -o /dev/null -w '%{http_code} %{content_type}' $gw/jobs/00000000000000000000000000000000"
show "GET /api/../stats (a dot segment)" "curl -s --path-as-is -o /dev/null -w '%{http_code} %{content_type}' $gw/api/../stats"
show "POST /orders, Idempotency-Key: \"\" (empty)" "curl -s -o /dev/null -w '%{http_code} %{content_type}' -X POST -H 'Idempotency-Key: \"\"' $gw/orders"
show "GET /hello (static, inline)" "curl -s $gw/hello"

echo
echo "== the gateway's last log lines (correlation ID in brackets) =="
tail -n 4 "$work/gateway.log"
echo
echo "stopping the gateway (SIGTERM: drains, then exits) and the upstream"
