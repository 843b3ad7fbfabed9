#pragma once
/// \file
/// The embedded job queue: fast, bounded, not durable (a process crash loses its jobs).

#include <ante/backend/job_queue.hpp>

#include <deque>
#include <functional>
#include <mutex>

namespace ante {

/// A bounded in-process FIFO. Waiting workers are woken one per job, never by polling.
class MemoryJobQueue final : public JobQueue {
public:
    /// At most `capacity` jobs and `max_bytes` of serialized requests wait at once.
    explicit MemoryJobQueue(std::size_t capacity, std::size_t max_bytes = std::size_t{256} << 20)
        : capacity_(capacity), max_bytes_(max_bytes) {}

    boost::asio::awaitable<Errc> enqueue(Job job) override;
    boost::asio::awaitable<std::optional<Job>> take() override;
    void close() override;
    std::size_t abandon() override;
    [[nodiscard]] std::size_t size() const override;

private:
    using Waiter = std::function<void(std::optional<Job>)>;
    void wake_all_waiters();

    const std::size_t capacity_;
    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    std::deque<Job> jobs_;
    std::size_t bytes_ = 0;  // of the queued jobs' requests
    std::deque<Waiter> waiters_;
    bool closed_ = false;
    bool abandoned_ = false;
};

}  // namespace ante
