#pragma once
// The Lua scripts of the Redis job queue, one per operation. Each takes the key prefix, the
// time in milliseconds and in nanoseconds (from the queue's injected clock, so tests drive
// leases and delays) as ARGV[1..3], its own arguments after them, and answers
// {result, figures}: the figures are the queue's counts after the operation.

#include <ante/backend/redis/redis_client.hpp>

namespace ante::redis_queue {

const RedisScript& enqueue();       // id, route, cid, request, enqueued ns, expires ns|'', delay ms, capacity, max bytes
const RedisScript& lease();         // visibility ms -> {id, route, cid, request, enqueued, expires, attempt, token} | ''
const RedisScript& extend();        // id, token, visibility ms -> 0|1
const RedisScript& ack();           // id, token -> 0|1
const RedisScript& release();       // id, token, delay ms, refund 0|1 -> 0|1
const RedisScript& bury();          // id, token, reason, last error, dead capacity, max bytes -> 0|1
const RedisScript& remove();        // id -> 0|1
const RedisScript& promote_due();   // -> how many became visible
const RedisScript& dead_letters();  // id|'', route|'', limit -> {{id, route, cid, request, enq, exp, attempt, reason, error, dead ns}…}
const RedisScript& redrive();       // id|'', route|'', limit, capacity, max bytes -> {{id, route, cid, request, enq, exp}…}
const RedisScript& purge();         // id|'', route|'', limit -> how many
const RedisScript& backlog();       // -> {{route, ready, delayed, leased, dead, oldest ready ns|''}…}

}  // namespace ante::redis_queue
