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
    explicit MemoryJobQueue(std::size_t capacity) : capacity_(capacity) {}

    boost::asio::awaitable<Errc> enqueue(Job job) override;
    boost::asio::awaitable<std::optional<Job>> take() override;
    void close() override;
    [[nodiscard]] std::size_t size() const override;

private:
    using Waiter = std::function<void(std::optional<Job>)>;
    const std::size_t capacity_;
    mutable std::mutex mutex_;
    std::deque<Job> jobs_;
    std::deque<Waiter> waiters_;
    bool closed_ = false;
};

}  // namespace ante
