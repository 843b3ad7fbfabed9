#pragma once
/// \file
/// The job queue in Redis, shared by every gateway and worker process: sorted sets and Lua
/// scripts, as BullMQ does (a ready set in arrival order, a delayed set scored by due time, a
/// lease set scored by lease deadline, dead letters in burial order). Each operation is one
/// script, so it is atomic across processes; the lease token is the fence.

#include <ante/backend/job_queue.hpp>
#include <ante/backend/redis/redis_client.hpp>
#include <ante/core/clock.hpp>

#include <atomic>
#include <memory>
#include <mutex>

namespace ante {

struct RedisJobQueueOptions {
    std::string prefix = "ante";                     ///< keys are "{prefix}:q:…" (one hash slot)
    std::size_t capacity = 10'000;                   ///< jobs held (ready, delayed and leased)
    std::size_t max_bytes = std::size_t{256} << 20;  ///< their requests' bytes (and, apart, the dead letters')
    std::size_t dead_capacity = 10'000;              ///< dead letters kept; past it the oldest go
    /// An idle worker asks Redis again this often: jobs queued by other processes reach it
    /// within this time (this process's own are handed over at once).
    std::chrono::milliseconds poll_interval{100};
};

class RedisJobQueue final : public JobQueue {
public:
    RedisJobQueue(std::shared_ptr<RedisClient> redis, RedisJobQueueOptions options = {},
                  std::shared_ptr<const Clock> clock = Clock::real());
    ~RedisJobQueue() override;

    boost::asio::awaitable<Errc> enqueue(Job job, std::chrono::milliseconds delay = {}) override;
    boost::asio::awaitable<std::optional<Lease>> lease(std::chrono::milliseconds visibility) override;
    boost::asio::awaitable<bool> extend(const Lease& lease, std::chrono::milliseconds visibility) override;
    boost::asio::awaitable<bool> ack(const Lease& lease) override;
    boost::asio::awaitable<bool> release(const Lease& lease, std::chrono::milliseconds delay, bool refund) override;
    boost::asio::awaitable<bool> bury(const Lease& lease, std::string reason, std::string last_error) override;
    boost::asio::awaitable<bool> remove(std::string id) override;
    boost::asio::awaitable<std::size_t> promote_due() override;
    /// As of this process's last operation on the queue (Redis is not asked: this must not block).
    std::optional<SystemTime> next_due() override;
    boost::asio::awaitable<std::vector<DeadLetter>> dead_letters(DeadLetterSelector which) override;
    boost::asio::awaitable<std::vector<Job>> redrive(DeadLetterSelector which) override;
    boost::asio::awaitable<std::size_t> purge(DeadLetterSelector which) override;
    void close() override;
    /// Stops this process handing out jobs; they stay in Redis for the other workers.
    std::size_t abandon() override;
    /// As of this process's last operation on the queue.
    [[nodiscard]] QueueStats stats() const override;
    /// Walks the queue in Redis (one script): for scrapes, not for every request.
    boost::asio::awaitable<std::map<std::string, RouteBacklog>> backlog() override;

private:
    struct Wakeup;
    /// Runs `script` with the prefix and the clock's time first among its arguments, and keeps
    /// the queue figures every script answers with (the reply's last element).
    boost::asio::awaitable<RedisReply> run(const RedisScript& script, std::vector<std::string> args);
    void note_stats(const RedisReply& figures);
    void wake_waiters();

    std::shared_ptr<RedisClient> redis_;
    RedisJobQueueOptions options_;
    std::shared_ptr<const Clock> clock_;
    std::string prefix_;
    std::shared_ptr<Wakeup> wakeup_;
    std::atomic<bool> closed_{false}, abandoned_{false};
    mutable std::mutex stats_mutex_;
    QueueStats stats_;
    std::optional<SystemTime> next_due_;
    long long stats_seq_ = -1;  // the newest figures win when replies arrive out of order
};

}  // namespace ante
