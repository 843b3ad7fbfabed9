// The client side of the AsyncDispatcher: submit (with Idempotency-Key), status, result, cancel,
// dead-letter operations and shutdown. The worker side is in async_worker.cpp.

#include <ante/core/correlation_id.hpp>
#include <ante/core/problem.hpp>
#include <ante/dispatch/async_dispatcher.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coroutine_steps.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <thread>

namespace ante {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
// Long enough for a submit to create its record and queue its job.
constexpr milliseconds submit_claim_lease{10'000};
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
      blocking_pool_(std::max<std::size_t>(1, std::max(options_.workers,
                                                       options_.scaling.enabled ? options_.scaling.max : 0))) {}

AsyncDispatcher::~AsyncDispatcher() {
    closing_ = true;
    stop_leasing_ = true;
    wake_scan();
    queue_->abandon();
    {
        std::lock_guard lock(running_mutex_);
        for (auto& [id, job] : running_) {
            job->hand_back = true;
            interrupt(job);
        }
    }
    // Workers resume on the io_context and touch this object until they see the closed queue.
    // Wait for them while the io_context still runs (a stopped one never resumes them), and
    // only then stop the pool their blocking handlers run on.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((live_workers_.load() > 0 || scanning_.load()) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(milliseconds(1));
    blocking_pool_.join();
}

Response AsyncDispatcher::accepted(const std::string& id, bool replayed) const {
    const std::string status_url = options_.jobs_path + "/" + id;
    Response r = Response::json(202, {{"id", id}, {"status", "queued"}, {"status_url", status_url}});
    r.headers.set("Location", status_url);
    r.headers.set("Retry-After", std::to_string(options_.retry_after.count()));
    if (replayed) r.headers.set("Idempotent-Replayed", "true");
    return r;
}

asio::awaitable<std::optional<Response>> AsyncDispatcher::replay_submit(const Route& route, const Request& request,
                                                                        const Context& ctx, std::string& scope,
                                                                        std::uint64_t& token) {
    auto keyed = keyed_request(route.idempotency, route.name, request, ctx.correlation_id);
    if (auto* answer = std::get_if<Response>(&keyed)) co_return std::move(*answer);
    auto* key = std::get_if<KeyedRequest>(&keyed);
    if (!key) co_return std::nullopt;
    scope = key->scope;
    // The same key with another callback URL is another request, not a replay.
    if (auto callback = request.headers.get(options_.webhooks.header)) key->fingerprint += " " + std::string(*callback);
    const std::string& fingerprint = key->fingerprint;
    // Concurrent submits with one key: the first claims it, the others wait for its job's id.
    const auto give_up = std::chrono::steady_clock::now() + options_.idempotency_wait;
    for (milliseconds pause{1};; pause = std::min(pause * 2, milliseconds(50))) {
        KeyClaim claim = co_await store_->claim_key(scope, fingerprint, submit_claim_lease);
        if (claim.state == KeyState::refused)
            co_return problem(Errc::store_full, "too many idempotency keys are held; try again later",
                              ctx.correlation_id);
        if (claim.state != KeyState::claimed && claim.fingerprint != fingerprint)
            co_return problem(Errc::unprocessable, "this Idempotency-Key was used with a different request",
                              ctx.correlation_id);
        if (claim.state == KeyState::completed) {
            replayed_.fetch_add(1, std::memory_order_relaxed);
            co_return accepted(claim.value, true);
        }
        if (claim.state == KeyState::claimed) {
            token = claim.token;
            co_return std::nullopt;
        }
        if (std::chrono::steady_clock::now() >= give_up)
            co_return problem(Errc::conflict, "a request with this Idempotency-Key is still being accepted",
                              ctx.correlation_id);
        co_await sleep_for(pause);
    }
}

std::optional<Response> AsyncDispatcher::refuse_callback(const Request& request, const Context& ctx) const {
    const auto url = request.headers.get(options_.webhooks.header);
    if (!url) return std::nullopt;
    const auto sent = std::count_if(request.headers.begin(), request.headers.end(), [&](const auto& field) {
        return boost::beast::iequals(field.first, options_.webhooks.header);
    });
    if (sent > 1)  // proxies on the way may keep a different one
        return problem(Errc::bad_request, "send one " + options_.webhooks.header + " header, not several",
                       ctx.correlation_id);
    if (std::string why = callback_refusal(options_.webhooks, *url); !why.empty())
        return problem(Errc::bad_request, options_.webhooks.header + ": " + why, ctx.correlation_id);
    return std::nullopt;
}

asio::awaitable<Response> AsyncDispatcher::submit(const Route& route, Request request, Context ctx) {
    if (auto refused = refuse_callback(request, ctx)) co_return std::move(*refused);
    std::string scope;
    std::uint64_t token = 0;
    if (auto answered = co_await replay_submit(route, request, ctx, scope, token)) co_return std::move(*answered);

    const SystemTime now = clock_->system_now();
    Job job{.id = generate_id(), .route = route.name, .correlation_id = ctx.correlation_id,
            .request = serialize(request), .attempt = 0, .enqueued_at = now};
    if (route.job_ttl > milliseconds::zero()) job.expires_at = now + route.job_ttl;
    JobRecord record{.id = job.id, .route = route.name, .correlation_id = ctx.correlation_id,
                     .status = JobStatus::queued, .attempts = 0, .created = now, .updated = now};
    record.inline_result = route.inline_result;
    record.callback_url = std::string(request.headers.get(options_.webhooks.header).value_or(""));
    const std::string id = job.id;
    Errc refused = Errc::shutting_down;  // while draining
    std::optional<std::string> unreachable;
    if (!draining_.load()) {
        try {
            refused = co_await store_and_queue(std::move(record), std::move(job));
        } catch (const BackendUnavailable& e) {
            unreachable = e.what();
        }
    }
    if (refused != Errc::ok || unreachable) {
        if (token) co_await quietly(store_->release_key(scope, token));  // a retry may claim the key at once
        rejected_.fetch_add(1, std::memory_order_relaxed);
        if (unreachable) co_return backend_unavailable(ctx.correlation_id, *unreachable);
        Response r = problem(refused, "the job was not accepted; nothing was queued", ctx.correlation_id);
        r.headers.set("Retry-After", std::to_string(options_.retry_after.count()));
        co_return r;
    }
    if (token) co_await store_->complete_key(scope, token, id, route.idempotency.keep);
    submitted_.fetch_add(1, std::memory_order_relaxed);
    co_return accepted(id, false);
}

asio::awaitable<Errc> AsyncDispatcher::store_and_queue(JobRecord record, Job job) {
    const std::string id = job.id;
    Errc refused = co_await store_->create(std::move(record));
    if (refused != Errc::ok) co_return refused;
    std::optional<std::string> unreachable;
    try {
        refused = co_await queue_->enqueue(std::move(job));
    } catch (const BackendUnavailable& e) {
        unreachable = e.what();
    }
    // Never a record for a job that is not queued. (A job that did reach the queue, its reply
    // lost, finds no record and is dropped by the worker.)
    if (refused != Errc::ok || unreachable) co_await quietly(store_->erase(id));
    if (unreachable) throw BackendUnavailable(*unreachable);
    co_return refused;
}

asio::awaitable<void> AsyncDispatcher::after_write(const JobRecord& record) {
    watch_.notify(record.id);
    if (is_final(record.status) && !record.callback_url.empty()) co_await send_webhook(record);
}

asio::awaitable<void> AsyncDispatcher::send_webhook(const JobRecord& record) {
    // A delivery is a job of the webhook route: retried with backoff, dead-lettered with its
    // reason, and its own status at {jobs_path}/{delivery id}.
    const SystemTime now = clock_->system_now();
    Request delivery;
    delivery.method = "POST";
    delivery.target = record.callback_url;
    delivery.body = status_text(record, options_.jobs_path);
    delivery.headers.set("Content-Type", "application/json");
    delivery.headers.set("X-Request-Id", record.correlation_id);
    const std::string id = generate_id();
    delivery.headers.set(kWebhookId, id);
    Job job{.id = id, .route = std::string(kWebhookRoute), .correlation_id = record.correlation_id,
            .request = serialize(delivery), .attempt = 0, .enqueued_at = now};
    JobRecord delivery_record{.id = id, .route = std::string(kWebhookRoute), .correlation_id = record.correlation_id,
                              .status = JobStatus::queued, .attempts = 0, .created = now, .updated = now};
    delivery_record.note(now, "delivers the final status of job " + record.id);
    Errc refused = co_await store_->create(std::move(delivery_record));
    if (refused == Errc::ok) {
        refused = co_await queue_->enqueue(std::move(job));
        if (refused != Errc::ok) co_await store_->erase(id);
    }
    if (refused != Errc::ok) {
        webhooks_refused_.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("[{}] job {}: its webhook to {} was not queued: {}", record.correlation_id, record.id,
                      record.callback_url, title(refused));
    }
}

asio::awaitable<Response> AsyncDispatcher::status(std::string id, std::string correlation_id) {
    auto record = co_await store_->get(id);
    if (!record) co_return problem(Errc::not_found, "no job with this id (or its retention passed)", correlation_id);
    Response r = Response::json(200, status_document(*record, options_.jobs_path));
    if (record->result && is_final(record->status) && !record->inline_result) {
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
    if (!is_final(record->status))
        co_return problem(Errc::not_found, "the job has no result yet; poll its status", correlation_id);
    if (!record->result)
        co_return problem(Errc::not_found,
                          "the job ended " + std::string(to_string(record->status)) + " without a result",
                          correlation_id);
    co_return std::move(*record->result);
}

asio::awaitable<Response> AsyncDispatcher::cancel(std::string id, std::string correlation_id) {
    for (int tries = 0; tries < 16; ++tries) {
        auto record = co_await store_->get(id);
        if (!record)
            co_return problem(Errc::not_found, "no job with this id (or its retention passed)", correlation_id);
        if (is_final(record->status))
            co_return problem(Errc::conflict, "the job has already finished: " + std::string(to_string(record->status)),
                              correlation_id);
        const bool was_queued = record->status == JobStatus::queued;
        if (was_queued) {
            record->status = JobStatus::cancelled;
            record->note(clock_->system_now(), "cancelled before it ran");
        } else {
            record->cancel_requested = true;
        }
        record->updated = clock_->system_now();
        JobRecord written = *record;
        if (!co_await store_->compare_and_set(std::move(*record))) continue;  // it moved on: look again
        ++written.version;
        co_await after_write(written);
        if (was_queued) {
            count(written.route, JobStatus::cancelled);
            co_await queue_->remove(id);  // best effort: a worker that leases it finds it cancelled
            co_return Response::json(200, status_document(written, options_.jobs_path));
        }
        {
            std::lock_guard lock(running_mutex_);
            if (auto it = running_.find(id); it != running_.end()) {
                it->second->cancel = true;
                interrupt(it->second);
            }
        }
        co_return Response::json(202, status_document(written, options_.jobs_path));
    }
    co_return problem(Errc::conflict, "the job kept changing; try again", correlation_id);
}

asio::awaitable<std::vector<DeadLetter>> AsyncDispatcher::dead_letters(DeadLetterSelector which) {
    co_return co_await queue_->dead_letters(std::move(which));
}

asio::awaitable<std::size_t> AsyncDispatcher::redrive(DeadLetterSelector which) {
    // The records say queued before the jobs are visible, so no worker finds a dead record.
    // Only a record that still says dead_lettered is redriven: a concurrent redrive (another
    // process's) that came first has moved it on, and its job may have finished since.
    auto chosen = co_await queue_->dead_letters(which);
    std::size_t redriven = 0;
    for (const DeadLetter& dead : chosen) {
        const auto queued = co_await set_dead_record(dead.job.id, JobStatus::queued,
                                                     "redriven from the dead letters: a new series of attempts");
        if (queued == RecordMove::other_state) continue;
        DeadLetterSelector one{.id = dead.job.id, .route = {}, .limit = 1};
        auto jobs = co_await queue_->redrive(std::move(one));
        redriven += jobs.size();
        if (jobs.empty() && queued == RecordMove::moved)  // the queue is full, or another redrive took it
            co_await set_dead_record(dead.job.id, JobStatus::dead_lettered, "the redrive was refused: the queue is full");
    }
    if (redriven) spdlog::info("async dispatcher: {} dead letter(s) redriven", redriven);
    co_return redriven;
}

asio::awaitable<AsyncDispatcher::RecordMove> AsyncDispatcher::set_dead_record(const std::string& id, JobStatus to,
                                                                              const std::string& note) {
    const JobStatus from = to == JobStatus::queued ? JobStatus::dead_lettered : JobStatus::queued;
    for (int tries = 0; tries < 16; ++tries) {
        auto record = co_await store_->get(id);
        if (!record) co_return RecordMove::no_record;  // its retention passed: the job goes without one
        if (record->status != from) co_return RecordMove::other_state;
        record->status = to;
        if (to == JobStatus::queued) {
            record->attempts = 0;
            record->cancel_requested = false;
            record->result.reset();
        }
        record->updated = clock_->system_now();
        record->note(record->updated, note);
        JobRecord proposed = *record;
        if (co_await store_->compare_and_set(std::move(proposed))) {
            ++record->version;
            if (to == JobStatus::queued)
                co_await after_write(*record);
            else
                watch_.notify(record->id);  // back to where it was: no second webhook
            co_return RecordMove::moved;
        }
    }
    co_return RecordMove::other_state;
}

asio::awaitable<std::size_t> AsyncDispatcher::purge(DeadLetterSelector which) {
    co_return co_await queue_->purge(std::move(which));
}

asio::awaitable<void> AsyncDispatcher::shutdown(std::chrono::milliseconds grace) {
    draining_ = true;  // no new submits
    queue_->close();   // the workers drain the visible jobs (and their webhooks), within the grace
    asio::steady_timer tick{co_await asio::this_coro::executor};
    const auto until = std::chrono::steady_clock::now() + grace;
    while (live_workers_.load() > 0 && std::chrono::steady_clock::now() < until) {
        tick.expires_after(milliseconds(1));
        co_await tick.async_wait(asio::use_awaitable);
    }
    std::size_t handed_back = 0;
    stop_leasing_ = true;
    {
        std::lock_guard lock(running_mutex_);
        for (auto& [id, job] : running_) {
            job->hand_back = true;
            interrupt(job);
            ++handed_back;
        }
    }
    // Handing back is quick: the attempts are cancelled and their leases released.
    const auto hand_back_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (live_workers_.load() > 0 && std::chrono::steady_clock::now() < hand_back_until) {
        tick.expires_after(milliseconds(1));
        co_await tick.async_wait(asio::use_awaitable);
    }
    closing_ = true;
    wake_scan();
    while (scanning_.load() && std::chrono::steady_clock::now() < hand_back_until) {
        tick.expires_after(milliseconds(1));
        co_await tick.async_wait(asio::use_awaitable);
    }
    if (handed_back > 0)
        spdlog::warn("async dispatcher: {} job(s) still running after the {} ms grace period were handed back",
                     handed_back, grace.count());
    if (const std::size_t left = queue_->abandon(); left > 0)
        spdlog::warn("async dispatcher: {} accepted job(s) still queued after the {} ms grace period were not run "
                     "(kept by a durable backend; lost with the in-memory one)",
                     left, grace.count());
}

AsyncDispatcher::RouteCounters& AsyncDispatcher::counters_of(std::string_view route) {
    std::lock_guard lock(route_counters_mutex_);
    auto it = route_counters_.find(route);
    if (it == route_counters_.end())
        it = route_counters_.emplace(std::string(route), std::make_unique<RouteCounters>()).first;
    return *it->second;
}

void AsyncDispatcher::count(std::string_view route, JobStatus outcome) {
    RouteCounters& c = counters_of(route);
    auto* counter = [&]() -> std::atomic<std::uint64_t>* {
        switch (outcome) {
            case JobStatus::succeeded: return &c.succeeded;
            case JobStatus::failed: return &c.failed;
            case JobStatus::dead_lettered: return &c.dead_lettered;
            case JobStatus::expired: return &c.expired;
            case JobStatus::cancelled: return &c.cancelled;
            case JobStatus::queued: return &c.redelivered;  // back in the queue for another attempt
            case JobStatus::running: return nullptr;
        }
        return nullptr;
    }();
    if (counter) counter->fetch_add(1, std::memory_order_relaxed);
}

asio::awaitable<std::vector<AsyncRouteReport>> AsyncDispatcher::route_reports() {
    std::map<std::string, AsyncRouteReport, std::less<>> reports;
    auto backlogs = co_await queue_->backlog();
    const SystemTime now = clock_->system_now();
    for (auto& [name, backlog] : backlogs) {
        AsyncRouteReport& r = reports[name];
        r.backlog = backlog;
        if (backlog.oldest_ready && *backlog.oldest_ready < now)
            r.lag = std::chrono::duration_cast<milliseconds>(now - *backlog.oldest_ready);
    }
    std::lock_guard lock(route_counters_mutex_);
    for (const auto& [name, c] : route_counters_) {
        AsyncRouteReport& r = reports[name];
        r.redelivered = c->redelivered.load(std::memory_order_relaxed);
        r.succeeded = c->succeeded.load(std::memory_order_relaxed);
        r.failed = c->failed.load(std::memory_order_relaxed);
        r.dead_lettered = c->dead_lettered.load(std::memory_order_relaxed);
        r.expired = c->expired.load(std::memory_order_relaxed);
        r.cancelled = c->cancelled.load(std::memory_order_relaxed);
    }
    std::vector<AsyncRouteReport> out;
    out.reserve(reports.size());
    for (auto& [name, r] : reports) {
        r.route = name;
        out.push_back(std::move(r));
    }
    last_reports_ = out;
    co_return out;
}

std::vector<AsyncRouteReport> AsyncDispatcher::last_route_reports() const {
    std::lock_guard lock(route_counters_mutex_);
    return last_reports_;
}

AsyncDispatcher::Stats AsyncDispatcher::stats() const noexcept {
    const QueueStats q = queue_->stats();
    Stats s{
        .submitted = submitted_.load(std::memory_order_relaxed),
        .rejected = rejected_.load(std::memory_order_relaxed),
        .replayed = replayed_.load(std::memory_order_relaxed),
        .stale_results = stale_results_.load(std::memory_order_relaxed),
        .queued = q.ready,
        .timeouts = counters_.timeouts.load(std::memory_order_relaxed),
        .handler_exceptions = counters_.handler_exceptions.load(std::memory_order_relaxed),
        .delayed = q.delayed,
        .webhooks_refused = webhooks_refused_.load(std::memory_order_relaxed),
    };
    {
        std::lock_guard lock(running_mutex_);
        s.running = running_.size();
    }
    std::lock_guard lock(route_counters_mutex_);
    for (const auto& [name, c] : route_counters_) {
        s.succeeded += c->succeeded.load(std::memory_order_relaxed);
        s.failed += c->failed.load(std::memory_order_relaxed);
        s.dead_lettered += c->dead_lettered.load(std::memory_order_relaxed);
        s.expired += c->expired.load(std::memory_order_relaxed);
        s.cancelled += c->cancelled.load(std::memory_order_relaxed);
        s.redelivered += c->redelivered.load(std::memory_order_relaxed);
    }
    return s;
}

}  // namespace ante
