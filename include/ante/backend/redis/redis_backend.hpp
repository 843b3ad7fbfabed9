#pragma once
/// \file
/// One call to put a gateway's async jobs on Redis: the queue and the status store share one
/// client, sized from the gateway's own limits.

#include <ante/backend/redis/redis_client.hpp>
#include <ante/gateway.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

namespace ante {

struct RedisBackendOptions {
    RedisOptions server;
    /// Keys are "{prefix}:…": gateways and workers that share jobs share the prefix; another
    /// prefix is another, separate set of queues on the same Redis.
    std::string prefix = "ante";
};

/// Sets `options.queue` and `options.store` to Redis ones (capacities, bytes, dead letters,
/// retention and key limits from `options`), driven on `executor`. Returns their client.
std::shared_ptr<RedisClient> use_redis(GatewayOptions& options, boost::asio::any_io_executor executor,
                                       RedisBackendOptions redis);

/// Redis's `maxmemory-policy` ("noeviction" is the only safe one for jobs). Throws
/// BackendUnavailable; an empty text when Redis would not say (CONFIG may be renamed away).
boost::asio::awaitable<std::string> eviction_policy(RedisClient& redis);

/// Logs a warning when Redis may evict keys (a `maxmemory-policy` other than `noeviction`):
/// evicted jobs and records would vanish without a trace. Logs, never throws.
boost::asio::awaitable<void> warn_unless_noeviction(std::shared_ptr<RedisClient> redis);

}  // namespace ante
