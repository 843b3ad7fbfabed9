#pragma once
/// \file
/// Async dispatch: 202 Accepted at once, the job runs on a worker under a lease, the client polls
/// its status. Delivery is at least once; every accepted job ends in exactly one final state.

#include <ante/backend/job_queue.hpp>
#include <ante/backend/status_store.hpp>
#include <ante/dispatch/handler_runner.hpp>
#include <ante/dispatch/status_watch.hpp>
#include <ante/dispatch/webhook.hpp>
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
#include <deque>
#include <map>
#include <unordered_map>
#include <vector>

namespace ante {

/// The name of the internal route that delivers webhooks (its jobs are deliveries).
inline constexpr std::string_view kWebhookRoute = "ante.webhook";

/// Worker scaling that follows the backlog (KEDA's and Kubernetes' HPA rule): the wanted count
/// is the jobs running plus one worker per `backlog_per_worker` visible jobs, between `min` and
/// `max`. Scaling up is at once; scaling down goes only to the highest count wanted over the
/// last `scale_down_after` (HPA's stabilization window), so a dip in the backlog is ridden out.
struct WorkerScaling {
    bool enabled = false;
    std::size_t min = 1;
    std::size_t max = 16;
    std::size_t backlog_per_worker = 10;
    std::chrono::milliseconds scale_down_after{30'000};
};

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
    /// Callback URLs and how their deliveries are signed and retried.
    WebhookOptions webhooks;
    /// Optional scaling of `workers` with the backlog.
    WorkerScaling scaling;
    /// An event stream with nothing to say sends a comment this often, so proxies keep it open
    /// and a vanished client is noticed.
    std::chrono::milliseconds events_heartbeat{15'000};
};

/// The most workers a dispatcher runs (a runaway autoscaler or admin call stops here).
inline constexpr std::size_t kMaxWorkers = 1024;

/// One async route's backlog and outcomes.
struct AsyncRouteReport {
    std::string route;
    RouteBacklog backlog;            ///< from the queue: every process sharing it sees the same
    std::chrono::milliseconds lag{0};  ///< how long its oldest visible job has waited
    // Counted by this dispatcher since it started:
    std::uint64_t redelivered = 0;  ///< failed attempts sent back for another
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;
    std::uint64_t dead_lettered = 0;
    std::uint64_t expired = 0;
    std::uint64_t cancelled = 0;
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
    /// `GET {jobs_path}/{id}/events`: Server-Sent Events, one `status` event per change of the
    /// status document, the last one when the job is final; then the stream ends. A client that
    /// reconnects with `Last-Event-ID` gets only what changed after it.
    boost::asio::awaitable<Response> events(std::string id, std::string last_event_id, std::string correlation_id);
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

    /// Sets how many workers run, from 0 (paused) to kMaxWorkers; returns the count set. New
    /// workers start at once; a worker past the count stops after its current job (an idle one
    /// hands its next job back unrun). With scaling on, this is the count it goes on from.
    std::size_t set_workers(std::size_t count);
    /// The workers wanted now (those still finishing a job past a lower count are not counted).
    [[nodiscard]] std::size_t workers() const noexcept { return target_workers_.load(); }

    /// Lists `route` in `route_reports` even before it has jobs (the gateway does it for each
    /// async route).
    void track_route(std::string_view route) { (void)counters_of(route); }
    /// Each async route's backlog (asked of the queue) and outcomes, by route name.
    boost::asio::awaitable<std::vector<AsyncRouteReport>> route_reports();
    /// The reports as the last `route_reports` found them (for a synchronous metrics scrape,
    /// which the admin listener refreshes first).
    [[nodiscard]] std::vector<AsyncRouteReport> last_route_reports() const;

    [[nodiscard]] const AsyncDispatcherOptions& options() const noexcept { return options_; }
    [[nodiscard]] JobQueue& queue() noexcept { return *queue_; }
    [[nodiscard]] StatusStore& store() noexcept { return *store_; }
    /// Wakes event streams when this dispatcher changes a job's record.
    [[nodiscard]] StatusWatch& watch() noexcept { return watch_; }

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
        std::uint64_t webhooks_refused = 0;  ///< deliveries the queue or the store refused (logged)
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

    // What one route's jobs came to; made on first use, never removed, so references stay valid.
    struct RouteCounters {
        std::atomic<std::uint64_t> redelivered{0}, succeeded{0}, failed{0}, dead_lettered{0}, expired{0}, cancelled{0};
    };
    RouteCounters& counters_of(std::string_view route);
    void count(std::string_view route, JobStatus outcome);
    static void interrupt(const std::shared_ptr<RunningJob>& job);

    void spawn_workers(std::size_t count);
    bool retire_worker();  // true when this worker is past the wanted count and should stop
    void autoscale();
    boost::asio::awaitable<void> work();
    /// Creates the record, then queues the job; erases the record when the job is not queued.
    /// Throws BackendUnavailable (after that cleanup).
    boost::asio::awaitable<Errc> store_and_queue(JobRecord record, Job job);
    enum class RecordMove { moved, no_record, other_state };
    /// Moves a dead letter's record between dead_lettered and queued (a redrive, or its undoing).
    boost::asio::awaitable<RecordMove> set_dead_record(const std::string& id, JobStatus to, const std::string& note);
    enum class Leased { nothing, handed_back, ran };
    /// One turn of a worker: leases a job and runs it (or hands it back when past the count).
    boost::asio::awaitable<Leased> lease_and_run();
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
    /// After every successful write: wakes the job's watchers and, once it is final, queues its webhook.
    boost::asio::awaitable<void> after_write(const JobRecord& record);
    boost::asio::awaitable<void> send_webhook(const JobRecord& record);
    std::optional<Response> refuse_callback(const Request& request, const Context& ctx) const;
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
    std::mutex scaling_mutex_;  // one set_workers at a time
    RunnerCounters counters_;
    std::atomic<std::size_t> live_workers_{0};
    std::atomic<bool> scanning_{false};
    std::shared_ptr<boost::asio::steady_timer> scan_timer_;  // on its own strand; set by start()
    std::atomic<bool> draining_{false};      // shutting down: submits are refused
    bool scan_failing_ = false;              // the scan's last promote failed (logged once per outage)
    std::atomic<bool> closing_{false};       // stops the scan for due jobs
    std::atomic<bool> stop_leasing_{false};  // the grace is over: workers take no more jobs
    std::atomic<std::uint64_t> submitted_{0}, rejected_{0}, replayed_{0}, stale_results_{0}, webhooks_refused_{0};
    mutable std::mutex route_counters_mutex_;
    std::vector<AsyncRouteReport> last_reports_;  // under route_counters_mutex_
    std::map<std::string, std::unique_ptr<RouteCounters>, std::less<>> route_counters_;
    StatusWatch watch_;
    std::atomic<std::size_t> target_workers_{0};
    // The worker counts wanted over the scale-down window, highest first; touched by the scan only.
    std::deque<std::pair<SteadyTime, std::size_t>> recent_wanted_;
    mutable std::mutex running_mutex_;
    std::unordered_map<std::string, std::shared_ptr<RunningJob>> running_;  // by job id
};

}  // namespace ante
