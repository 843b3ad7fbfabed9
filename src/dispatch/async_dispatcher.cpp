#include <ante/core/correlation_id.hpp>
#include <ante/core/problem.hpp>
#include <ante/dispatch/async_dispatcher.hpp>
#include <ante/dispatch/sync_dispatcher.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <nlohmann/json.hpp>
#include <thread>
#include <spdlog/spdlog.h>

namespace ante {

namespace asio = boost::asio;

namespace {
// A job also tries again after the worker's own policies refused an attempt (a full bulkhead,
// an open breaker): the job was accepted, and the refusal passes.
bool worth_another_attempt(const RetryOptions& options, const Response& response) noexcept {
    return retryable_answer(options, response) || response.error == Errc::bulkhead_full ||
           response.error == Errc::circuit_open;
}
}  // namespace

AsyncDispatcher::AsyncDispatcher(asio::any_io_executor executor, AsyncDispatcherOptions options,
                                 std::shared_ptr<JobQueue> queue, std::shared_ptr<StatusStore> store,
                                 RouteResolver resolve, std::shared_ptr<const Clock> clock)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      queue_(std::move(queue)),
      store_(std::move(store)),
      resolve_(std::move(resolve)),
      clock_(std::move(clock)),
      blocking_pool_(options_.workers) {}

AsyncDispatcher::~AsyncDispatcher() {
    queue_->abandon();
    cancel_backoffs();
    // Workers resume on the io_context and touch this object until they see the closed queue.
    // Wait for them while the io_context still runs (a stopped one never resumes them), and
    // only then stop the pool their blocking handlers run on.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((live_workers_.load() > 0 || delayed_.load() > 0) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    blocking_pool_.join();
}

void AsyncDispatcher::start() {
    for (std::size_t i = 0; i < options_.workers; ++i) {
        live_workers_.fetch_add(1);
        asio::co_spawn(asio::make_strand(executor_), work(), asio::detached);
    }
}

asio::awaitable<void> AsyncDispatcher::work() {
    for (;;) {
        auto job = co_await queue_->take();
        if (!job) break;
        co_await run(std::move(*job));
    }
    live_workers_.fetch_sub(1);
}

asio::awaitable<Response> AsyncDispatcher::submit(const Route& route, Request request, Context ctx) {
    const SystemTime now = clock_->system_now();
    Job job{.id = generate_id(), .route = route.name, .correlation_id = ctx.correlation_id,
            .request = serialize(request), .attempt = 0, .enqueued_at = now};
    JobRecord record{.id = job.id, .route = route.name, .status = JobStatus::queued, .attempts = 0,
                     .created = now, .updated = now, .error = {}, .result = {}};
    const std::string id = job.id;
    Errc refused = co_await store_->create(record);
    if (refused == Errc::ok) {
        refused = co_await queue_->enqueue(std::move(job));
        if (refused != Errc::ok) co_await store_->erase(id);  // never leave a record for a job that is not queued
    }
    if (refused != Errc::ok) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        Response r = problem(refused, "the job was not accepted; nothing was queued", ctx.correlation_id);
        r.headers.set("Retry-After", std::to_string(options_.retry_after.count()));
        co_return r;
    }
    submitted_.fetch_add(1, std::memory_order_relaxed);
    const std::string status_url = options_.jobs_path + "/" + id;
    Response r = Response::json(202, {{"id", id}, {"status", "queued"}, {"status_url", status_url}});
    r.headers.set("Location", status_url);
    r.headers.set("Retry-After", std::to_string(options_.retry_after.count()));
    co_return r;
}

asio::awaitable<void> AsyncDispatcher::run(Job job) {
    auto found = co_await store_->get(job.id);
    if (!found) co_return;  // the record is gone (cannot happen before it is final): nothing to report to
    JobRecord record = std::move(*found);
    record.status = JobStatus::running;
    record.attempts = ++job.attempt;
    record.updated = clock_->system_now();
    co_await store_->update(record);
    running_.fetch_add(1, std::memory_order_relaxed);

    Context ctx;
    ctx.correlation_id = job.correlation_id;
    ctx.route = job.route;
    ctx.attempt = job.attempt;
    std::optional<Response> response;
    const Route* route = nullptr;
    try {
        Request request = deserialize_request(job.request);
        route = resolve_(job.route, request.path(), ctx.params);
        if (!route) {
            record.error = "no route named '" + job.route + "' matches the job";
        } else {
            ctx.deadline = clock_->steady_now() + route->timeout;
            response = co_await attempt(*route, std::move(request), ctx);
        }
    } catch (const std::exception& e) {  // a malformed job fails alone; the worker lives on
        record.error = std::string("the job could not be run: ") + e.what();
    }
    running_.fetch_sub(1, std::memory_order_relaxed);

    const bool ok = response && response->status < 500;
    if (response && !ok) record.error = "the handler answered " + std::to_string(response->status);
    if (!ok && response && route && route->redelivery && job.attempt < route->redelivery->max_attempts &&
        worth_another_attempt(*route->redelivery, *response)) {
        co_await schedule_redelivery(std::move(job), std::move(record), *response, route->redelivery);
        co_return;
    }
    record.status = ok ? JobStatus::succeeded : JobStatus::failed;
    if (ok) record.error.clear();  // an earlier attempt's failure is history, not the outcome
    record.result = std::move(response);
    record.updated = clock_->system_now();
    (ok ? succeeded_ : failed_).fetch_add(1, std::memory_order_relaxed);
    spdlog::info("[{}] job {} on route '{}' {} after {} attempt(s){}", job.correlation_id, job.id, job.route,
                 to_string(record.status), record.attempts, record.error.empty() ? "" : ": " + record.error);
    co_await store_->update(std::move(record));
}

asio::awaitable<void> AsyncDispatcher::schedule_redelivery(Job job, JobRecord record, Response failed,
                                                           std::shared_ptr<const RetryOptions> redelivery) {
    const auto wait = retry_delay(*redelivery, job.attempt, {}, failed, clock_->system_now());
    record.status = JobStatus::queued;
    record.error = "attempt " + std::to_string(job.attempt) + ": " + record.error;
    record.updated = clock_->system_now();
    co_await store_->update(std::move(record));
    redelivered_.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("[{}] job {} on route '{}': attempt {} failed ({}), next in {} ms", job.correlation_id, job.id,
                 job.route, job.attempt, failed.status, wait.count());
    delayed_.fetch_add(1);
    asio::co_spawn(asio::make_strand(executor_), redeliver(std::move(job), wait), asio::detached);
}

asio::awaitable<Response> AsyncDispatcher::attempt(const Route& route, Request request, Context& ctx) {
    if (!route.policies || route.policies->empty())
        co_return co_await run_handler(route.handler, std::move(request), ctx, blocking_pool_, counters_);
    const DynamicPipeline::Terminal terminal = [this, &route](Call& call) -> asio::awaitable<Response> {
        std::optional<Bulkhead::Permit> place;
        if (!take_attempt_place(call, place))
            co_return problem(Errc::bulkhead_full, "no free place for this attempt", call.ctx.correlation_id);
        co_return co_await run_handler(route.handler, call.request, call.ctx, blocking_pool_, counters_,
                                       HeldPermits{.bulkhead = std::move(place)});
    };
    co_return co_await route.policies->execute(request, ctx, terminal);
}

asio::awaitable<void> AsyncDispatcher::redeliver(Job job, std::chrono::milliseconds wait) {
    // Runs on its own strand: a cancel posted there by shutdown cannot slip in between the
    // registration below and the wait.
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, wait);
    bool closing = false;
    {
        std::lock_guard lock(backoff_mutex_);
        closing = closing_;
        std::erase_if(backoff_timers_, [](const auto& t) { return t.expired(); });
        if (!closing) backoff_timers_.push_back(timer);
    }
    boost::system::error_code ec;
    if (!closing) co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const std::string id = job.id;
    const Errc refused = co_await queue_->enqueue(std::move(job));
    if (refused != Errc::ok) {
        if (auto record = co_await store_->get(id)) {
            record->status = JobStatus::failed;
            record->error += refused == Errc::shutting_down ? "; the gateway shut down before the next attempt"
                                                            : "; the queue had no room for the next attempt";
            record->updated = clock_->system_now();
            co_await store_->update(std::move(*record));
        }
        failed_.fetch_add(1, std::memory_order_relaxed);
    }
    delayed_.fetch_sub(1);
}

void AsyncDispatcher::cancel_backoffs() {
    std::vector<std::shared_ptr<asio::steady_timer>> timers;
    {
        std::lock_guard lock(backoff_mutex_);
        closing_ = true;
        for (auto& weak : backoff_timers_)
            if (auto t = weak.lock()) timers.push_back(std::move(t));
    }
    for (auto& t : timers) asio::post(t->get_executor(), [t] { t->cancel(); });
}

asio::awaitable<Response> AsyncDispatcher::status(std::string id, std::string correlation_id) {
    auto record = co_await store_->get(id);
    if (!record) co_return problem(Errc::not_found, "no job with this id (or its retention passed)", correlation_id);
    Response r = Response::json(200, status_document(*record, options_.jobs_path));
    if (record->result) {
        // 303, not 302: a client must fetch the result with GET, never replay its POST.
        r.status = 303;
        r.headers.set("Location", options_.jobs_path + "/" + id + "/result");
    } else if (!is_final(record->status)) {
        r.headers.set("Retry-After", std::to_string(options_.retry_after.count()));
    }
    co_return r;
}

asio::awaitable<Response> AsyncDispatcher::result(std::string id, std::string correlation_id) {
    auto record = co_await store_->get(id);
    if (!record) co_return problem(Errc::not_found, "no job with this id (or its retention passed)", correlation_id);
    if (!record->result)
        co_return problem(Errc::not_found, "the job has no result yet; poll its status", correlation_id);
    co_return std::move(*record->result);
}

asio::awaitable<void> AsyncDispatcher::shutdown(std::chrono::milliseconds grace) {
    queue_->close();  // no new jobs; the workers drain what was accepted, within the grace
    cancel_backoffs();
    asio::steady_timer tick{co_await asio::this_coro::executor};
    const auto until = std::chrono::steady_clock::now() + grace;
    while ((live_workers_.load() > 0 || delayed_.load() > 0) && std::chrono::steady_clock::now() < until) {
        tick.expires_after(std::chrono::milliseconds(1));
        co_await tick.async_wait(asio::use_awaitable);
    }
    if (const std::size_t left = queue_->abandon(); left > 0)
        spdlog::warn("async dispatcher: {} accepted job(s) still queued after the {} ms grace period were not run "
                     "(kept by a durable backend; lost with the in-memory one)",
                     left, grace.count());
    if (running_.load() > 0)
        spdlog::warn("async dispatcher: {} job(s) still running after the {} ms grace period", running_.load(),
                     grace.count());
}

AsyncDispatcher::Stats AsyncDispatcher::stats() const noexcept {
    return Stats{
        .submitted = submitted_.load(std::memory_order_relaxed),
        .rejected = rejected_.load(std::memory_order_relaxed),
        .succeeded = succeeded_.load(std::memory_order_relaxed),
        .failed = failed_.load(std::memory_order_relaxed),
        .queued = queue_->size(),
        .running = running_.load(std::memory_order_relaxed),
        .timeouts = counters_.timeouts.load(std::memory_order_relaxed),
        .handler_exceptions = counters_.handler_exceptions.load(std::memory_order_relaxed),
        .redelivered = redelivered_.load(std::memory_order_relaxed),
        .delayed = delayed_.load(),
    };
}

}  // namespace ante
