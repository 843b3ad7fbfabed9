// Layout ({p} is the prefix, in braces so every key hashes to one slot):
//   {p}:q:job:<id>  hash  r route, c correlation id, q request, e enqueued (ns), x expires (ns or ''),
//                         a attempts, t lease token, s state (ready|delayed|leased|dead),
//                         dr/dl/dt: dead reason, last error, dead at (ns)
//   {p}:q:ready     zset  visible jobs, by arrival (a sequence number): leased from the front
//   {p}:q:delayed   zset  jobs waiting out a delay, by due time (ms)
//   {p}:q:leased    zset  jobs held by workers, by lease deadline (ms): past it, the job is visible again
//   {p}:q:dead      zset  dead letters, by burial order
//   {p}:q:counts    hash  bytes, dead_bytes, lapsed, dead_dropped, and the sequences
//                         (arrivals, burials, tokens, seq of the figures)
// Queued jobs carry no expiry: a job leaves only by ack, bury, remove or purge, and the bounds
// (capacity, bytes, dead letters) keep memory bounded.

#include "redis_job_queue_scripts.hpp"

#include <string>

namespace ante::redis_queue {

namespace {

constexpr const char* prelude = R"(
local P, now, now_ns = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local READY, DELAYED, LEASED, DEAD, COUNTS = P..'ready', P..'delayed', P..'leased', P..'dead', P..'counts'
local function job_key(id) return P..'job:'..id end
local function count(field) return tonumber(redis.call('HGET', COUNTS, field) or 0) end
local function figures()
  local first = redis.call('ZRANGE', READY, 0, 0)
  local oldest = ''
  if #first > 0 then oldest = redis.call('HGET', job_key(first[1]), 'e') or '' end
  local due = -1
  local d = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
  local l = redis.call('ZRANGE', LEASED, 0, 0, 'WITHSCORES')
  if #d > 0 then due = tonumber(d[2]) end
  if #l > 0 and (due < 0 or tonumber(l[2]) < due) then due = tonumber(l[2]) end
  return {redis.call('HINCRBY', COUNTS, 'seq', 1), redis.call('ZCARD', READY), redis.call('ZCARD', DELAYED),
          redis.call('ZCARD', LEASED), redis.call('ZCARD', DEAD), count('lapsed'), count('dead_dropped'), oldest, due}
end
local function answer(result) return {result, figures()} end
local function live() return redis.call('ZCARD', READY) + redis.call('ZCARD', DELAYED) + redis.call('ZCARD', LEASED) end
local function size(id) return redis.call('HSTRLEN', job_key(id), 'q') end
local function make_ready(id)
  redis.call('ZADD', READY, redis.call('HINCRBY', COUNTS, 'arrivals', 1), id)
  redis.call('HSET', job_key(id), 's', 'ready', 't', 0)
end
-- The lease is the current one and has not lapsed (even if no scan has noticed yet).
local function held(id, token)
  local deadline = redis.call('ZSCORE', LEASED, id)
  if not deadline or tonumber(deadline) <= now then return false end
  return redis.call('HGET', job_key(id), 't') == token
end
-- Ends the lease when it is held: the job is then the caller's to place.
local function take_lease(id, token)
  if not held(id, token) then return false end
  redis.call('ZREM', LEASED, id)
  return true
end
-- Visible now, or after `delay` ms.
local function schedule(id, delay)
  if delay > 0 then
    redis.call('ZADD', DELAYED, now + delay, id)
    redis.call('HSET', job_key(id), 's', 'delayed', 't', 0)
  else
    make_ready(id)
  end
end
local function promote()
  local n = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 1000)) do
    redis.call('ZREM', DELAYED, id)
    make_ready(id)
    n = n + 1
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASED, '-inf', now, 'LIMIT', 0, 1000)) do
    redis.call('ZREM', LEASED, id)
    make_ready(id)
    redis.call('HINCRBY', COUNTS, 'lapsed', 1)
    n = n + 1
  end
  return n
end
-- The dead letters an operation applies to: one by id, a route's, or all; oldest first.
local function chosen(id, route, limit)
  local ids = {}
  if id ~= '' then
    if redis.call('ZSCORE', DEAD, id) then ids = {id} end
  else
    ids = redis.call('ZRANGE', DEAD, 0, -1)
  end
  local out = {}
  for _, dead in ipairs(ids) do
    if #out >= limit then break end
    if route == '' or id ~= '' or redis.call('HGET', job_key(dead), 'r') == route then out[#out + 1] = dead end
  end
  return out
end
)";

RedisScript script(const char* body) { return RedisScript{std::string(prelude) + body}; }

}  // namespace

const RedisScript& enqueue() {
    static const RedisScript s = script(R"(
local id, request, delay = ARGV[4], ARGV[7], tonumber(ARGV[10])
if live() >= tonumber(ARGV[11]) or count('bytes') + #request > tonumber(ARGV[12]) then return answer('full') end
if redis.call('EXISTS', job_key(id)) == 1 then return answer('conflict') end
redis.call('HSET', job_key(id), 'r', ARGV[5], 'c', ARGV[6], 'q', request, 'e', ARGV[8], 'x', ARGV[9], 'a', 0, 't', 0)
redis.call('HINCRBY', COUNTS, 'bytes', #request)
schedule(id, delay)
return answer('ok')
)");
    return s;
}

const RedisScript& lease() {
    static const RedisScript s = script(R"(
promote()
local first = redis.call('ZRANGE', READY, 0, 0)
if #first == 0 then return answer('') end
local id = first[1]
redis.call('ZREM', READY, id)
local token = redis.call('HINCRBY', COUNTS, 'tokens', 1)
local attempt = redis.call('HINCRBY', job_key(id), 'a', 1)
redis.call('HSET', job_key(id), 't', token, 's', 'leased')
redis.call('ZADD', LEASED, now + tonumber(ARGV[4]), id)
local h = redis.call('HMGET', job_key(id), 'r', 'c', 'q', 'e', 'x')
return answer({id, h[1], h[2], h[3], h[4], h[5], attempt, token})
)");
    return s;
}

const RedisScript& extend() {
    static const RedisScript s = script(R"(
if not held(ARGV[4], ARGV[5]) then return answer(0) end
redis.call('ZADD', LEASED, now + tonumber(ARGV[6]), ARGV[4])
return answer(1)
)");
    return s;
}

const RedisScript& ack() {
    static const RedisScript s = script(R"(
local id = ARGV[4]
if not take_lease(id, ARGV[5]) then return answer(0) end
redis.call('HINCRBY', COUNTS, 'bytes', -size(id))
redis.call('DEL', job_key(id))
return answer(1)
)");
    return s;
}

const RedisScript& release() {
    static const RedisScript s = script(R"(
local id = ARGV[4]
if not take_lease(id, ARGV[5]) then return answer(0) end
if ARGV[7] == '1' then redis.call('HINCRBY', job_key(id), 'a', -1) end
schedule(id, tonumber(ARGV[6]))
return answer(1)
)");
    return s;
}

const RedisScript& bury() {
    static const RedisScript s = script(R"(
local id = ARGV[4]
if not take_lease(id, ARGV[5]) then return answer(0) end
local n = size(id)
redis.call('HINCRBY', COUNTS, 'bytes', -n)
redis.call('HINCRBY', COUNTS, 'dead_bytes', n)
redis.call('HSET', job_key(id), 's', 'dead', 't', 0, 'dr', ARGV[6], 'dl', ARGV[7], 'dt', now_ns)
redis.call('ZADD', DEAD, redis.call('HINCRBY', COUNTS, 'burials', 1), id)
-- Bounded in count and in bytes (as the live jobs are), oldest first.
while redis.call('ZCARD', DEAD) > tonumber(ARGV[8]) or count('dead_bytes') > tonumber(ARGV[9]) do
  local oldest = redis.call('ZRANGE', DEAD, 0, 0)[1]
  redis.call('HINCRBY', COUNTS, 'dead_bytes', -size(oldest))
  redis.call('DEL', job_key(oldest))
  redis.call('ZREM', DEAD, oldest)
  redis.call('HINCRBY', COUNTS, 'dead_dropped', 1)
end
return answer(1)
)");
    return s;
}

const RedisScript& remove() {
    static const RedisScript s = script(R"(
local id = ARGV[4]
local state = redis.call('HGET', job_key(id), 's')
if state == 'ready' then redis.call('ZREM', READY, id)
elseif state == 'delayed' then redis.call('ZREM', DELAYED, id)
else return answer(0) end
redis.call('HINCRBY', COUNTS, 'bytes', -size(id))
redis.call('DEL', job_key(id))
return answer(1)
)");
    return s;
}

const RedisScript& promote_due() {
    static const RedisScript s = script("return answer(promote())\n");
    return s;
}

const RedisScript& dead_letters() {
    static const RedisScript s = script(R"(
local out = {}
for _, id in ipairs(chosen(ARGV[4], ARGV[5], tonumber(ARGV[6]))) do
  out[#out + 1] = redis.call('HMGET', job_key(id), 'r', 'c', 'q', 'e', 'x', 'a', 'dr', 'dl', 'dt')
  table.insert(out[#out], 1, id)
end
return answer(out)
)");
    return s;
}

const RedisScript& redrive() {
    static const RedisScript s = script(R"(
local out = {}
for _, id in ipairs(chosen(ARGV[4], ARGV[5], tonumber(ARGV[6]))) do
  local n = size(id)
  if live() < tonumber(ARGV[7]) and count('bytes') + n <= tonumber(ARGV[8]) then
    redis.call('ZREM', DEAD, id)
    redis.call('HINCRBY', COUNTS, 'dead_bytes', -n)
    redis.call('HINCRBY', COUNTS, 'bytes', n)
    redis.call('HDEL', job_key(id), 'dr', 'dl', 'dt')
    redis.call('HSET', job_key(id), 'a', 0)  -- a new series of attempts; the history stays in the record
    make_ready(id)
    out[#out + 1] = redis.call('HMGET', job_key(id), 'r', 'c', 'q', 'e', 'x')
    table.insert(out[#out], 1, id)
  end
end
return answer(out)
)");
    return s;
}

const RedisScript& purge() {
    static const RedisScript s = script(R"(
local ids = chosen(ARGV[4], ARGV[5], tonumber(ARGV[6]))
for _, id in ipairs(ids) do
  redis.call('HINCRBY', COUNTS, 'dead_bytes', -size(id))
  redis.call('DEL', job_key(id))
  redis.call('ZREM', DEAD, id)
end
return answer(#ids)
)");
    return s;
}

const RedisScript& backlog() {
    static const RedisScript s = script(R"(
local routes, order = {}, {}
local function tally(set, field)
  for _, id in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    local h = redis.call('HMGET', job_key(id), 'r', 'e')
    local r = routes[h[1]]
    if not r then
      r = {h[1], 0, 0, 0, 0, ''}
      routes[h[1]] = r
      order[#order + 1] = r
    end
    r[field] = r[field] + 1
    if field == 2 and r[6] == '' then r[6] = h[2] end  -- the ready set is in arrival order
  end
end
tally(READY, 2)
tally(DELAYED, 3)
tally(LEASED, 4)
tally(DEAD, 5)
return answer(order)
)");
    return s;
}

}  // namespace ante::redis_queue
