#pragma once
/// \file
/// Async dispatch: 202 Accepted at once, the job runs on a worker, the client polls its status.

#include <ante/backend/job_queue.hpp>
#include <ante/backend/status_store.hpp>
#include <ante/dispatch/handler_runner.hpp>
#include <ante/route.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ante {

struct AsyncDispatcherOptions {
    std::size_t workers = 4;               ///< jobs run at once
    std::size_t queue_capacity = 10'000;   ///< jobs waiting; past it, submit answers 503
    std::size_t queue_bytes = std::size_t{256} << 20;  ///< their requests' bytes; past it, 503 too
    std::chrono::seconds retry_after{1};   ///< the poll interval suggested with 202 and 503
    std::string jobs_path = "/jobs";       ///< where status resources live
};

/// Finds a route by name, with its path parameters re-read from the job's request path.
/// Returns nullptr when no such route exists (or its pattern no longer matches).
using RouteResolver = std::function<const Route*(std::string_view name, std::string_view path, PathParams& params)>;

/// Records a submitted request as a job, answers 202 with its status URL, and runs jobs on
/// worker coroutines (blocking handlers on the dispatcher's own thread pool).
class AsyncDispatcher {
public:
    AsyncDispatcher(boost::asio::any_io_executor executor, AsyncDispatcherOptions options,
                    std::shared_ptr<JobQueue> queue, std::shared_ptr<StatusStore> store, RouteResolver resolve,
                    std::shared_ptr<const Clock> clock = Clock::real());
    AsyncDispatcher(const AsyncDispatcher&) = delete;
    AsyncDispatcher& operator=(const AsyncDispatcher&) = delete;
    ~AsyncDispatcher();

    /// Starts the worker coroutines.
    void start();
    /// Queues `request` for `route`: 202 + Location + Retry-After, or 503 (never 202) when the
    /// queue or the store is full or closed.
    boost::asio::awaitable<Response> submit(const Route& route, Request request, Context ctx);
    /// `GET {jobs_path}/{id}`: the status document; 303 to the result once one is stored.
    boost::asio::awaitable<Response> status(std::string id, std::string correlation_id);
    /// `GET {jobs_path}/{id}/result`: the job's stored response.
    boost::asio::awaitable<Response> result(std::string id, std::string correlation_id);
    /// Closes the queue to new jobs and lets the workers drain the accepted ones for up to
    /// `grace`; what is still queued then is not run (and is logged).
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

    [[nodiscard]] const AsyncDispatcherOptions& options() const noexcept { return options_; }

    struct Stats {
        std::uint64_t submitted = 0;
        std::uint64_t rejected = 0;   ///< submits answered 503
        std::uint64_t succeeded = 0;
        std::uint64_t failed = 0;
        std::size_t queued = 0;
        std::size_t running = 0;
        std::uint64_t timeouts = 0;
        std::uint64_t handler_exceptions = 0;
        std::uint64_t redelivered = 0;  ///< failed attempts sent back to the queue
        std::size_t delayed = 0;        ///< jobs waiting out their backoff before the next attempt
    };
    [[nodiscard]] Stats stats() const noexcept;

private:
    boost::asio::awaitable<void> work();
    boost::asio::awaitable<void> run(Job job);
    boost::asio::awaitable<Response> attempt(const Route& route, Request request, Context& ctx);
    boost::asio::awaitable<void> schedule_redelivery(Job job, JobRecord record, Response failed,
                                                     std::shared_ptr<const RetryOptions> redelivery);
    boost::asio::awaitable<void> redeliver(Job job, std::chrono::milliseconds wait);
    void cancel_backoffs();

    boost::asio::any_io_executor executor_;
    AsyncDispatcherOptions options_;
    std::shared_ptr<JobQueue> queue_;
    std::shared_ptr<StatusStore> store_;
    RouteResolver resolve_;
    std::shared_ptr<const Clock> clock_;
    boost::asio::thread_pool blocking_pool_;
    RunnerCounters counters_;
    std::atomic<std::size_t> live_workers_{0};
    std::atomic<std::size_t> running_{0};
    std::atomic<std::uint64_t> submitted_{0}, rejected_{0}, succeeded_{0}, failed_{0}, redelivered_{0};
    // Jobs in backoff: each waits on its own timer, which shutdown cancels.
    std::atomic<std::size_t> delayed_{0};
    std::mutex backoff_mutex_;
    bool closing_ = false;  // guarded by backoff_mutex_
    std::vector<std::weak_ptr<boost::asio::steady_timer>> backoff_timers_;
};

}  // namespace ante
