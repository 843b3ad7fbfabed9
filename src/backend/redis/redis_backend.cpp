#include <ante/backend/redis/redis_backend.hpp>
#include <ante/backend/redis/redis_job_queue.hpp>
#include <ante/backend/redis/redis_status_store.hpp>

#include <spdlog/spdlog.h>

namespace ante {

std::shared_ptr<RedisClient> use_redis(GatewayOptions& options, boost::asio::any_io_executor executor,
                                       RedisBackendOptions redis) {
    auto client = std::make_shared<RedisClient>(std::move(executor), std::move(redis.server));
    options.queue = std::make_shared<RedisJobQueue>(
        client,
        RedisJobQueueOptions{.prefix = redis.prefix, .capacity = options.async.queue_capacity,
                             .max_bytes = options.async.queue_bytes, .dead_capacity = options.async.dead_letters},
        options.clock);
    options.store = std::make_shared<RedisStatusStore>(
        client,
        RedisStatusStoreOptions{.prefix = redis.prefix, .retention = options.job_retention,
                                .capacity = options.job_records, .max_keys = options.idempotency_keys},
        options.clock);
    return client;
}

boost::asio::awaitable<std::string> eviction_policy(RedisClient& redis) {
    std::vector<std::string> ask{"CONFIG", "GET", "maxmemory-policy"};
    RedisReply reply = co_await redis.command(std::move(ask));
    co_return reply.is_error() || reply.elements.size() < 2 ? std::string() : reply.elements[1].text;
}

boost::asio::awaitable<void> warn_unless_noeviction(std::shared_ptr<RedisClient> redis) {
    const std::string where = redis->options().host + ":" + std::to_string(redis->options().port);
    try {
        const std::string policy = co_await eviction_policy(*redis);
        if (policy.empty())
            spdlog::warn("Redis at {}: cannot read maxmemory-policy; make sure it is noeviction", where);
        else if (policy != "noeviction")
            spdlog::warn("Redis at {} has maxmemory-policy {}: under memory pressure it evicts keys, and queued "
                         "jobs and their records would vanish. Set maxmemory-policy noeviction (docs/operations.md)",
                         where, policy);
    } catch (const std::exception& e) {
        spdlog::warn("Redis at {}: cannot check maxmemory-policy: {}", where, e.what());
    }
}

}  // namespace ante
