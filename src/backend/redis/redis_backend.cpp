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

boost::asio::awaitable<void> warn_unless_noeviction(std::shared_ptr<RedisClient> redis) {
    const std::string where = redis->options().host + ":" + std::to_string(redis->options().port);
    try {
        std::vector<std::string> ask{"CONFIG", "GET", "maxmemory-policy"};
        RedisReply reply = co_await redis->command(std::move(ask));
        if (reply.is_error() || reply.elements.size() < 2) {
            spdlog::warn("Redis at {}: cannot read maxmemory-policy ({}); make sure it is noeviction", where,
                         reply.is_error() ? reply.text : "no answer");
        } else if (reply.elements[1].text != "noeviction") {
            spdlog::warn("Redis at {} has maxmemory-policy {}: under memory pressure it evicts keys, and queued "
                         "jobs and their records would vanish. Set maxmemory-policy noeviction (docs/operations.md)",
                         where, reply.elements[1].text);
        }
    } catch (const std::exception& e) {
        spdlog::warn("Redis at {}: cannot check maxmemory-policy: {}", where, e.what());
    }
}

}  // namespace ante
