#include "backend.hpp"

#include <ante/backend/memory/memory_job_queue.hpp>
#include <ante/backend/memory/memory_status_store.hpp>
#include <ante/backend/redis/redis_job_queue.hpp>
#include <ante/backend/redis/redis_status_store.hpp>
#include <ante/core/correlation_id.hpp>

#include "support/redis_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace ante::test {

namespace {

// The Redis client's sockets run on their own thread, shared by every store and queue of the
// test process; each one gets its own key prefix, so tests never see each other's keys.
class RedisRuntime {
public:
    RedisRuntime() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
    ~RedisRuntime() {
        guard_.reset();
        io_.stop();
        thread_.join();
    }
    std::shared_ptr<RedisClient> client(std::uint16_t port) {
        return std::make_shared<RedisClient>(io_.get_executor(), RedisOptions{.port = port});
    }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

Backend redis_backend(std::uint16_t port) {
    static RedisRuntime runtime;
    return Backend{
        .name = "redis",
        .make_queue =
            [port](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<JobQueue> {
            return std::make_shared<RedisJobQueue>(
                runtime.client(port),
                RedisJobQueueOptions{.prefix = "test-" + generate_id(), .capacity = limits.queue_capacity,
                                     .max_bytes = limits.queue_bytes, .dead_capacity = limits.dead_capacity},
                std::move(clock));
        },
        .make_store =
            [port](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<StatusStore> {
            return std::make_shared<RedisStatusStore>(
                runtime.client(port),
                RedisStatusStoreOptions{.prefix = "test-" + generate_id(), .retention = limits.retention,
                                        .capacity = limits.records, .max_keys = limits.keys},
                std::move(clock));
        },
    };
}

}  // namespace

std::vector<Backend> backends() {
    std::vector<Backend> all{Backend{
        .name = "memory",
        .make_queue =
            [](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<JobQueue> {
            return std::make_shared<MemoryJobQueue>(
                MemoryJobQueueOptions{.capacity = limits.queue_capacity, .max_bytes = limits.queue_bytes,
                                      .dead_capacity = limits.dead_capacity},
                std::move(clock));
        },
        .make_store =
            [](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<StatusStore> {
            return std::make_shared<MemoryStatusStore>(
                MemoryStatusStoreOptions{.retention = limits.retention, .capacity = limits.records,
                                         .max_keys = limits.keys},
                std::move(clock));
        },
    }};
    // A redis-server of the tests' own (or the one ANTE_REDIS_PORT names), when one is installed;
    // the test command installs it, and CI requires it (ANTE_REQUIRE_REDIS).
    if (const char* port = std::getenv("ANTE_REDIS_PORT"); port && *port) {
        all.push_back(redis_backend(static_cast<std::uint16_t>(std::atoi(port))));
    } else if (RedisServer::binary()) {
        static RedisServer server;
        all.push_back(redis_backend(server.port()));
    } else if (std::getenv("ANTE_REQUIRE_REDIS")) {
        throw std::runtime_error("redis-server is not installed, and the Redis backend must be tested");
    } else {
        std::fprintf(stderr, "redis-server is not installed: the Redis backend is not tested\n");
    }
    return all;
}

}  // namespace ante::test
