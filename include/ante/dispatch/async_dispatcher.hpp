#pragma once
/// \file
/// Async dispatch: 202 Accepted at once, the job runs on a worker under a lease, the client polls
/// its status. Delivery is at least once; every accepted job ends in exactly one final state.

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
#include <unordered_map>

namespace ante {

struct AsyncDispatcherOptions {
    std::size_t workers = 4;               ///< jobs run at once
    std::size_t queue_capacity = 10'000;   ///< jobs held; past it, submit answers 503
    std::size_t queue_bytes = std::size_t{256} << 20;  ///< their requests' bytes; past it, 503 too
    std::size_t dead_letters = 10'000;     ///< dead letters kept (in-memory queue); the oldest go first
    std::chrono::seconds retry_after{1};   ///< the poll interval suggested with 202 and 503
    std::string jobs_path = "/jobs";       ///< where status resources live
    /// A worker leases a job for this long and renews the lease at half-time while the attempt
    /// runs; a job whose worker stopped becomes visible again when it lapses (SQS: 30 s).
    std::chrono::milliseconds visibility{30'000};
    /// A renewed lease never outlives its attempt's deadline by more than this, so a hung
    /// attempt cannot hold its job forever.
    std::chrono::milliseconds lease_grace{1'000};
    /// Longest wait between scans for due jobs (backoffs ending, lapsed leases).
    std::chrono::milliseconds poll_interval{100};
    /// How long a submit waits for a concurrent submit with the same Idempotency-Key to finish.
    std::chrono::milliseconds idempotency_wait{5'000};
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

    /// Starts the worker coroutines and the scan for due jobs.
    void start();
    /// Queues `request` for `route`: 202 + Location + Retry-After, or 503 (never 202) when the
    /// queue or the store is full or closed. Honours `Idempotency-Key` as the route says.
    boost::asio::awaitable<Response> submit(const Route& route, Request request, Context ctx);
    /// `GET {jobs_path}/{id}`: the status document; 303 to the result once one is stored.
    boost::asio::awaitable<Response> status(std::string id, std::string correlation_id);
    /// `GET {jobs_path}/{id}/result`: the job's stored response.
    boost::asio::awaitable<Response> result(std::string id, std::string correlation_id);
    /// `DELETE {jobs_path}/{id}`: a queued job is cancelled and never runs (200); a running one
    /// is asked to stop, its handler sees the cancellation (202); a finished one answers 409.
    boost::asio::awaitable<Response> cancel(std::string id, std::string correlation_id);

    /// The dead letters chosen by `which`, oldest first.
    boost::asio::awaitable<std::vector<DeadLetter>> dead_letters(DeadLetterSelector which);
    /// Sends the chosen dead letters back for a new series of attempts; their records say
    /// `queued` again and keep their history. Returns how many.
    boost::asio::awaitable<std::size_t> redrive(DeadLetterSelector which);
    /// Deletes the chosen dead letters (their records stay until their retention ends).
    boost::asio::awaitable<std::size_t> purge(DeadLetterSelector which);

    /// Closes the queue to new jobs and lets the workers drain the visible ones for up to
    /// `grace`; jobs still running then are cancelled and handed back to the queue unrun
    /// (kept by a durable backend; lost with the in-memory one, which logs their number).
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

    /// Makes due jobs visible now (the periodic scan does it too); returns how many.
    boost::asio::awaitable<std::size_t> promote_due();

    [[nodiscard]] const AsyncDispatcherOptions& options() const noexcept { return options_; }
    [[nodiscard]] JobQueue& queue() noexcept { return *queue_; }
    [[nodiscard]] StatusStore& store() noexcept { return *store_; }

    struct Stats {
        std::uint64_t submitted = 0;
        std::uint64_t rejected = 0;   ///< submits answered 503
        std::uint64_t replayed = 0;   ///< submits answered with an earlier job (Idempotency-Key)
        std::uint64_t succeeded = 0;
        std::uint64_t failed = 0;
        std::uint64_t dead_lettered = 0;
        std::uint64_t expired = 0;
        std::uint64_t cancelled = 0;
        std::uint64_t stale_results = 0;  ///< results refused because the worker had lost its lease
        std::size_t queued = 0;
        std::size_t running = 0;
        std::uint64_t timeouts = 0;
        std::uint64_t handler_exceptions = 0;
        std::uint64_t redelivered = 0;  ///< failed attempts sent back to the queue
        std::size_t delayed = 0;        ///< jobs waiting out their backoff before the next attempt
    };
    [[nodiscard]] Stats stats() const noexcept;

private:
    // One attempt in progress: how to cancel it or hand it back. `wake` is cancelled to
    // interrupt the lease keeper, on the worker's strand only (see `interrupt`).
    struct RunningJob {
        explicit RunningJob(boost::asio::any_io_executor ex) : wake(std::move(ex), SteadyTime::max()) {}
        boost::asio::steady_timer wake;
        std::atomic<bool> cancel{false};
        std::atomic<bool> hand_back{false};
    };
    enum class Interrupt { lease_lost, cancelled, handed_back };
    static void interrupt(const std::shared_ptr<RunningJob>& job);

    boost::asio::awaitable<void> work();
    boost::asio::awaitable<void> scan_due();
    void wake_scan();
    boost::asio::awaitable<void> run(Lease lease);
    boost::asio::awaitable<Response> attempt(const Route& route, Request request, Context& ctx);
    boost::asio::awaitable<Interrupt> keep_lease(Lease lease, SteadyTime deadline, std::shared_ptr<RunningJob> job);
    boost::asio::awaitable<void> finish_attempt(Lease& lease, const Route& route, Response response);
    boost::asio::awaitable<void> bury(Lease& lease, std::string reason, std::string error,
                                      std::optional<Response> last = std::nullopt);
    /// Applies `change` to the job's record if this lease's attempt still owns it; false when
    /// another worker took the job over or it was finished meanwhile (the fence).
    boost::asio::awaitable<bool> write_record(const Lease& lease, const std::function<void(JobRecord&)>& change);
    boost::asio::awaitable<std::optional<Response>> replay_submit(const Route& route, const Request& request,
                                                                  const Context& ctx, std::string& scope,
                                                                  std::uint64_t& token);
    Response accepted(const std::string& id, bool replayed) const;

    boost::asio::any_io_executor executor_;
    AsyncDispatcherOptions options_;
    std::shared_ptr<JobQueue> queue_;
    std::shared_ptr<StatusStore> store_;
    RouteResolver resolve_;
    std::shared_ptr<const Clock> clock_;
    boost::asio::thread_pool blocking_pool_;
    RunnerCounters counters_;
    std::atomic<std::size_t> live_workers_{0};
    std::atomic<bool> scanning_{false};
    std::shared_ptr<boost::asio::steady_timer> scan_timer_;  // on its own strand; set by start()
    std::atomic<bool> closing_{false};       // stops the scan for due jobs
    std::atomic<bool> stop_leasing_{false};  // the grace is over: workers take no more jobs
    std::atomic<std::uint64_t> submitted_{0}, rejected_{0}, replayed_{0}, succeeded_{0}, failed_{0},
        dead_lettered_{0}, expired_{0}, cancelled_{0}, stale_results_{0}, redelivered_{0};
    mutable std::mutex running_mutex_;
    std::unordered_map<std::string, std::shared_ptr<RunningJob>> running_;  // by job id
};

}  // namespace ante
