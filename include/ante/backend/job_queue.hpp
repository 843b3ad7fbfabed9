#pragma once
/// \file
/// The job queue seam (docs/design.md seam 5). The in-memory queue is the default; other backends
/// implement the same interface.

#include <ante/core/error.hpp>
#include <ante/dispatch/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstddef>
#include <optional>

namespace ante {

/// A bounded FIFO of jobs shared by submitters and workers.
class JobQueue {
public:
    virtual ~JobQueue() = default;
    /// Adds `job`; `Errc::queue_full` at capacity, `Errc::shutting_down` once closed.
    virtual boost::asio::awaitable<Errc> enqueue(Job job) = 0;
    /// The next job, waiting for one if needed; nothing once the queue is closed and drained
    /// (a backend that keeps jobs for other processes may stop handing them out at close).
    virtual boost::asio::awaitable<std::optional<Job>> take() = 0;
    /// Refuses new jobs; `take` drains what is queued, then answers nothing.
    virtual void close() = 0;
    /// Stops handing out jobs at once (the drain time is over) and wakes every waiting `take`.
    /// Returns how many were still queued: kept by a durable backend, lost with the in-memory one.
    virtual std::size_t abandon() = 0;
    /// Jobs waiting to be taken.
    [[nodiscard]] virtual std::size_t size() const = 0;
};

}  // namespace ante
