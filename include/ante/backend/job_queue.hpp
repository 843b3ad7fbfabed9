#pragma once
/// \file
/// The job queue seam (docs/design.md seam 5). The in-memory queue is the default; other backends
/// implement the same interface and pass the same conformance suite (tests/conformance).

#include <ante/core/error.hpp>
#include <ante/dispatch/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ante {

/// One delivery of a job to a worker. The queue counted the attempt in `job.attempt` when it
/// handed the job out; `token` changes with every delivery, so a worker whose lease lapsed (and
/// whose job went to another worker) is refused when it acks, extends or releases.
struct Lease {
    Job job;
    std::uint64_t token = 0;
};

/// A job in the dead letters, and why it is there.
struct DeadLetter {
    Job job;             ///< as it was when it died (its `attempt` = attempts made)
    std::string reason;  ///< e.g. "attempts exhausted", "no such route"
    std::string last_error;
    SystemTime dead_at{};
};

/// Which dead letters an operation applies to: one job by id, every job of a route, or all.
struct DeadLetterSelector {
    std::string id;     ///< when set, only this job
    std::string route;  ///< when set (and no id), only this route's jobs
    std::size_t limit = SIZE_MAX;
};

/// What a queue holds, for backlog figures.
struct QueueStats {
    std::size_t ready = 0;    ///< visible, waiting for a worker
    std::size_t delayed = 0;  ///< waiting out a backoff (or a start time)
    std::size_t leased = 0;   ///< held by workers
    std::size_t dead = 0;     ///< in the dead letters
    std::uint64_t lapsed = 0;        ///< leases that ran out and made their job visible again
    std::uint64_t dead_dropped = 0;  ///< dead letters dropped at the cap (oldest first)
    std::optional<SystemTime> oldest_ready;  ///< when the longest-waiting visible job was enqueued
};

/// One route's jobs in a queue, for backlog figures.
struct RouteBacklog {
    std::size_t ready = 0;
    std::size_t delayed = 0;
    std::size_t leased = 0;
    std::size_t dead = 0;
    std::optional<SystemTime> oldest_ready;  ///< when its longest-waiting visible job was enqueued
};

/// A bounded queue of jobs with leases (visibility timeouts), delayed delivery and dead letters.
/// Delivery is at least once: a job leaves the queue only when a worker acks it or buries it.
class JobQueue {
public:
    virtual ~JobQueue() = default;

    /// Adds `job`, visible after `delay`. `Errc::queue_full` at capacity, `Errc::shutting_down`
    /// once abandoned.
    virtual boost::asio::awaitable<Errc> enqueue(Job job, std::chrono::milliseconds delay = {}) = 0;
    /// The next visible job, leased for `visibility`, waiting for one if needed (counts the
    /// attempt in the job's data). Nothing once the queue is closed and holds no visible job.
    virtual boost::asio::awaitable<std::optional<Lease>> lease(std::chrono::milliseconds visibility) = 0;
    /// Moves the lease's expiry to now + `visibility` (shorter or longer). False when the lease
    /// is no longer held: it lapsed, or the job went to another worker.
    virtual boost::asio::awaitable<bool> extend(const Lease& lease, std::chrono::milliseconds visibility) = 0;
    /// Done with the job: it leaves the queue. False when the lease is no longer held.
    virtual boost::asio::awaitable<bool> ack(const Lease& lease) = 0;
    /// Gives the job back, visible again after `delay`. With `refund`, the attempt it was leased
    /// for is not counted (the worker handed it back unrun, e.g. at shutdown).
    virtual boost::asio::awaitable<bool> release(const Lease& lease, std::chrono::milliseconds delay,
                                                 bool refund = false) = 0;
    /// Moves the job to the dead letters with its reason.
    virtual boost::asio::awaitable<bool> bury(const Lease& lease, std::string reason, std::string last_error) = 0;
    /// Removes a job that is not leased (a cancelled one), wherever it waits. False otherwise.
    virtual boost::asio::awaitable<bool> remove(std::string id) = 0;

    /// Makes due delayed jobs and jobs of lapsed leases visible; returns how many. Workers'
    /// dispatchers call it when `next_due` comes (a durable backend's scan for abandoned work).
    virtual boost::asio::awaitable<std::size_t> promote_due() = 0;
    /// When the next delayed job or lease falls due, if any.
    [[nodiscard]] virtual std::optional<SystemTime> next_due() = 0;

    /// The dead letters chosen by `which`, oldest first.
    virtual boost::asio::awaitable<std::vector<DeadLetter>> dead_letters(DeadLetterSelector which) = 0;
    /// Puts the chosen dead letters back in the queue for a new series of attempts (their
    /// attempt count starts again at 0). Returns the jobs redriven.
    virtual boost::asio::awaitable<std::vector<Job>> redrive(DeadLetterSelector which) = 0;
    /// Deletes the chosen dead letters; returns how many.
    virtual boost::asio::awaitable<std::size_t> purge(DeadLetterSelector which) = 0;

    /// Stops waiting: `lease` drains the visible jobs, then answers nothing. `enqueue` still
    /// takes jobs, so a draining job's follow-up work (its webhook) is queued and drained too;
    /// the dispatcher refuses new submits itself.
    virtual void close() = 0;
    /// Stops handing out jobs at once (the drain time is over), wakes every waiting `lease` and
    /// refuses new jobs. Returns how many jobs were still queued: kept by a durable backend,
    /// lost with the in-memory one.
    virtual std::size_t abandon() = 0;
    [[nodiscard]] virtual QueueStats stats() const = 0;
    /// The backlog of every route that has jobs or dead letters here, by route name. May walk
    /// the whole queue: for scrapes and admin pages, not for every request. (An awaitable, as a
    /// shared backend must ask its server; `stats` may answer from the last operation's figures.)
    virtual boost::asio::awaitable<std::map<std::string, RouteBacklog>> backlog() = 0;
};

}  // namespace ante
