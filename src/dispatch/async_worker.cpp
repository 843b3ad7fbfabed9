// The worker side of the AsyncDispatcher: lease a job, run one attempt under a renewed lease,
// then record exactly one outcome (fenced by the record's version) and settle the lease.

#include <ante/core/problem.hpp>
#include <ante/dispatch/async_dispatcher.hpp>
#include <ante/dispatch/sync_dispatcher.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coroutine_steps.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace ante {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

void AsyncDispatcher::interrupt(const std::shared_ptr<RunningJob>& job) {
    asio::post(job->wake.get_executor(), [job] { job->wake.cancel(); });
}

namespace {
// A job also tries again after the worker's own policies refused an attempt (a full bulkhead,
// an open breaker): the job was accepted, and the refusal passes.
bool worth_another_attempt(const RetryOptions& options, const Response& response) noexcept {
    return !response.permanent && (retryable_answer(options, response) || response.error == Errc::bulkhead_full ||
                                   response.error == Errc::circuit_open);
}

int max_attempts(const Route& route) noexcept { return route.redelivery ? route.redelivery->max_attempts : 1; }

// "the handler answered 502", with the detail of a problem+json answer when there is one
// (the gateway's own failures say what went wrong there).
std::string failure_of(const Response& response) {
    std::string text = "the handler answered " + std::to_string(response.status);
    if (response.headers.get("Content-Type") != "application/problem+json") return text;
    const auto doc = nlohmann::json::parse(response.body, nullptr, false);
    if (doc.is_object() && doc.contains("detail") && doc["detail"].is_string())
        text += " (" + doc["detail"].get<std::string>() + ")";
    return text;
}

std::string attempt_error(int attempt, const std::string& error) {
    return "attempt " + std::to_string(attempt) + ": " + error;
}
}  // namespace

void AsyncDispatcher::start() {
    const auto& scaling = options_.scaling;
    set_workers(scaling.enabled ? std::clamp(options_.workers, scaling.min, scaling.max) : options_.workers);
    scanning_ = true;
    scan_timer_ = std::make_shared<asio::steady_timer>(asio::make_strand(executor_));
    asio::co_spawn(scan_timer_->get_executor(), scan_due(), asio::detached);
}

std::size_t AsyncDispatcher::set_workers(std::size_t count) {
    count = std::min(count, kMaxWorkers);
    std::lock_guard lock(scaling_mutex_);
    const std::size_t before = target_workers_.exchange(count);
    // Workers past a lower count are still live until they notice; only the shortfall is new.
    if (const std::size_t live = live_workers_.load(); count > live && !stop_leasing_.load()) spawn_workers(count - live);
    if (before != count) spdlog::info("async dispatcher: {} worker(s), was {}", count, before);
    return count;
}

void AsyncDispatcher::spawn_workers(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        live_workers_.fetch_add(1);
        asio::co_spawn(asio::make_strand(executor_), work(), asio::detached);
    }
}

bool AsyncDispatcher::retire_worker() {
    std::size_t live = live_workers_.load();
    while (live > target_workers_.load())
        if (live_workers_.compare_exchange_weak(live, live - 1)) return true;
    return false;
}

void AsyncDispatcher::autoscale() {
    const WorkerScaling& s = options_.scaling;
    std::size_t running = 0;
    {
        std::lock_guard lock(running_mutex_);
        running = running_.size();
    }
    const std::size_t per_worker = std::max<std::size_t>(1, s.backlog_per_worker);
    const std::size_t waiting = queue_->stats().ready;
    const std::size_t wanted = std::clamp(running + (waiting + per_worker - 1) / per_worker, s.min, s.max);
    // The highest count wanted over the window: a sliding maximum, kept in decreasing order.
    const SteadyTime now = clock_->steady_now();
    while (!recent_wanted_.empty() && recent_wanted_.back().second <= wanted) recent_wanted_.pop_back();
    recent_wanted_.emplace_back(now, wanted);
    while (!recent_wanted_.empty() && recent_wanted_.front().first <= now - s.scale_down_after)
        recent_wanted_.pop_front();
    const std::size_t highest = recent_wanted_.empty() ? wanted : recent_wanted_.front().second;
    const std::size_t current = workers();
    if (wanted > current)
        set_workers(wanted);
    else if (highest < current)
        set_workers(highest);
}

asio::awaitable<void> AsyncDispatcher::work() {
    milliseconds backoff{0};  // grows while the backend fails (a shared queue's server is down)
    while (!stop_leasing_.load()) {
        if (retire_worker()) co_return;  // counted out already: touch nothing after this
        try {
            if (co_await lease_and_run() == Leased::nothing) break;
            if (backoff > milliseconds::zero()) spdlog::info("async worker: the backend answers again");
            backoff = milliseconds::zero();
            continue;
        } catch (const std::exception& e) {  // the lease lapses and the job comes back
            // Logged once per outage at error level; the retries after it at debug.
            const auto level = backoff == milliseconds::zero() ? spdlog::level::err : spdlog::level::debug;
            backoff = std::clamp(backoff * 2, milliseconds(100), milliseconds(2'000));
            spdlog::log(level, "async worker: {}; trying again (backing off up to 2 s)", e.what());
        }
        co_await sleep_for(backoff);
    }
    live_workers_.fetch_sub(1);
}

asio::awaitable<AsyncDispatcher::Leased> AsyncDispatcher::lease_and_run() {
    auto lease = co_await queue_->lease(options_.visibility);
    if (!lease) co_return Leased::nothing;
    // The grace is over, or this worker is past the wanted count: hand the job back unrun.
    if (stop_leasing_.load() || live_workers_.load() > target_workers_.load()) {
        co_await queue_->release(*lease, milliseconds::zero(), true);
        co_return Leased::handed_back;
    }
    co_await run(std::move(*lease));
    co_return Leased::ran;
}

asio::awaitable<void> AsyncDispatcher::scan_due() {
    const auto timer = scan_timer_;
    while (!closing_.load()) {
        bool scanned = true;
        try {
            co_await queue_->promote_due();
            if (scan_failing_) spdlog::info("async dispatcher: scanning for due jobs works again");
            scan_failing_ = false;
        } catch (const std::exception& e) {  // the workers' leases promote too; the next scan tries again
            if (!scan_failing_) spdlog::warn("async dispatcher: scanning for due jobs failed: {}", e.what());
            scan_failing_ = true;
            scanned = false;
        }
        if (options_.scaling.enabled) autoscale();
        auto wait = options_.poll_interval;  // after a failure: not sooner, whatever next_due says
        if (auto due = queue_->next_due(); due && scanned) {
            auto until = std::chrono::duration_cast<milliseconds>(*due - clock_->system_now());
            wait = std::clamp(until, milliseconds(1), options_.poll_interval);
        }
        timer->expires_after(wait);
        boost::system::error_code ec;  // cancelled by wake_scan: something fell due sooner
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    scanning_ = false;
}

void AsyncDispatcher::wake_scan() {
    if (auto timer = scan_timer_) asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

asio::awaitable<std::size_t> AsyncDispatcher::promote_due() { co_return co_await queue_->promote_due(); }

asio::awaitable<bool> AsyncDispatcher::write_record(const Lease& lease, const std::function<void(JobRecord&)>& change) {
    // Retried when another write slipped in (a DELETE asking a running job to stop) but the
    // attempt still owns the record; given up when the record moved on without it.
    for (int tries = 0; tries < 16; ++tries) {
        auto record = co_await store_->get(lease.job.id);
        // A later attempt (this lease lapsed and the job went to another worker) supersedes it.
        if (!record || is_final(record->status) || record->attempts > lease.job.attempt) co_return false;
        change(*record);
        record->updated = clock_->system_now();
        JobRecord proposed = *record;
        if (co_await store_->compare_and_set(std::move(proposed))) {
            ++record->version;
            co_await after_write(*record);
            co_return true;
        }
    }
    co_return false;
}

asio::awaitable<void> AsyncDispatcher::bury(Lease& lease, std::string reason, std::string error,
                                            std::optional<Response> last) {
    const bool recorded = co_await write_record(lease, [&](JobRecord& r) {
        r.status = JobStatus::dead_lettered;
        r.attempts = lease.job.attempt;
        r.error = reason + (error.empty() ? "" : ": " + error);
        r.note(clock_->system_now(), "dead-lettered after attempt " + std::to_string(lease.job.attempt) + ": " + r.error);
        if (last) r.result = std::move(last);
    });
    if (!recorded) {
        stale_results_.fetch_add(1, std::memory_order_relaxed);
        co_return;
    }
    count(lease.job.route, JobStatus::dead_lettered);
    spdlog::warn("[{}] job {} on route '{}' dead-lettered after {} attempt(s): {}{}", lease.job.correlation_id,
                 lease.job.id, lease.job.route, lease.job.attempt, reason, error.empty() ? "" : ": " + error);
    co_await queue_->bury(lease, std::move(reason), std::move(error));
}

asio::awaitable<void> AsyncDispatcher::run(Lease lease) {
    Job& job = lease.job;
    auto found = co_await store_->get(job.id);
    if (!found || is_final(found->status)) {  // cancelled while queued, or finished by an earlier lease
        co_await queue_->ack(lease);
        co_return;
    }
    const std::string previous_error = found->error;
    if (clock_->system_now() >= job.expires_at) {
        if (co_await write_record(lease, [&](JobRecord& r) {
                r.status = JobStatus::expired;
                r.error = "its time to live passed before it could run";
                r.note(clock_->system_now(), r.error);
            }))
            count(job.route, JobStatus::expired);
        co_await queue_->ack(lease);
        co_return;
    }

    Context ctx;
    ctx.correlation_id = job.correlation_id;
    ctx.route = job.route;
    ctx.attempt = job.attempt;
    std::optional<Request> request;
    const Route* route = nullptr;
    std::string unreadable;
    try {
        request = deserialize_request(job.request);
        route = resolve_(job.route, request->path(), ctx.params);
    } catch (const std::exception& e) {
        unreadable = e.what();
    }
    if (!request) {
        co_await bury(lease, "the job could not be read", unreadable);
        co_return;
    }
    if (!route) {
        co_await bury(lease, "no route named '" + job.route + "' matches the job", "");
        co_return;
    }
    if (job.attempt > max_attempts(*route)) {  // earlier leases lapsed: their workers stopped or hung
        // Named: GCC 12 destroys a conditional's temporary twice when it is a coroutine's argument.
        std::string last_error = previous_error.empty() ? "the lease lapsed" : previous_error;
        co_await bury(lease, "attempts exhausted", std::move(last_error));
        co_return;
    }
    if (!co_await write_record(lease, [&](JobRecord& r) {
            r.status = JobStatus::running;
            r.attempts = job.attempt;
        })) {
        co_await queue_->ack(lease);  // finished or cancelled meanwhile
        co_return;
    }

    ctx.deadline = clock_->steady_now() + route->timeout;
    auto running = std::make_shared<RunningJob>(co_await asio::this_coro::executor);
    {
        std::lock_guard lock(running_mutex_);
        running_[job.id] = running;
    }
    auto outcome = co_await (attempt(*route, std::move(*request), ctx) || keep_lease(lease, ctx.deadline, running));
    {
        std::lock_guard lock(running_mutex_);
        // Only this attempt's entry: a later attempt of the same job may have replaced it.
        if (auto it = running_.find(job.id); it != running_.end() && it->second == running) running_.erase(it);
    }
    if (outcome.index() == 0) {
        co_await finish_attempt(lease, *route, std::get<0>(std::move(outcome)));
        co_return;
    }
    switch (std::get<1>(outcome)) {
        case Interrupt::lease_lost:  // another worker has the job now: this attempt's result must not count
            stale_results_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("[{}] job {}: lease lost during attempt {}; its result is discarded", job.correlation_id,
                         job.id, job.attempt);
            break;
        case Interrupt::cancelled:
            if (co_await write_record(lease, [&](JobRecord& r) {
                    r.status = JobStatus::cancelled;
                    r.note(clock_->system_now(), "cancelled during attempt " + std::to_string(job.attempt));
                }))
                count(job.route, JobStatus::cancelled);
            co_await queue_->ack(lease);
            break;
        case Interrupt::handed_back:
            co_await write_record(lease, [&](JobRecord& r) {
                r.status = JobStatus::queued;
                r.attempts = job.attempt - 1;
                r.note(clock_->system_now(), "attempt " + std::to_string(job.attempt) + " handed back at shutdown");
            });
            co_await queue_->release(lease, milliseconds::zero(), true);
            break;
    }
}

asio::awaitable<AsyncDispatcher::Interrupt> AsyncDispatcher::keep_lease(Lease lease, SteadyTime deadline,
                                                                        std::shared_ptr<RunningJob> job) {
    // Renews the lease from outside the handler, so a busy handler keeps it and a hung one
    // loses it soon after its deadline. Also hears cancellation: local, or from another process
    // through the record's cancel flag.
    const auto latest = deadline + options_.lease_grace;
    const auto renew_every = std::min(options_.visibility / 2, milliseconds(1'000));
    for (;;) {
        const auto now = clock_->steady_now();
        const auto left = latest > now ? std::chrono::duration_cast<milliseconds>(latest - now) : milliseconds::zero();
        if (!co_await queue_->extend(lease, std::min(options_.visibility, left))) co_return Interrupt::lease_lost;
        if (job->hand_back) co_return Interrupt::handed_back;
        if (job->cancel) co_return Interrupt::cancelled;
        if (auto record = co_await store_->get(lease.job.id); record && record->cancel_requested)
            co_return Interrupt::cancelled;
        job->wake.expires_after(renew_every);
        boost::system::error_code ec;
        co_await job->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec && !job->cancel && !job->hand_back) co_return Interrupt::cancelled;  // the attempt itself was cancelled
    }
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

asio::awaitable<void> AsyncDispatcher::finish_attempt(Lease& lease, const Route& route, Response response) {
    const Job& job = lease.job;
    const bool ok = response.status < 500 && !response.permanent;
    const std::string error = ok ? "" : failure_of(response);
    const bool retry = !ok && route.redelivery && worth_another_attempt(*route.redelivery, response);
    if (retry && job.attempt >= max_attempts(route)) {
        co_await bury(lease, "attempts exhausted", attempt_error(job.attempt, error), std::move(response));
        co_return;
    }
    if (retry) {
        const auto wait = retry_delay(*route.redelivery, job.attempt, {}, response, clock_->system_now());
        const bool recorded = co_await write_record(lease, [&](JobRecord& r) {
            r.status = JobStatus::queued;
            r.error = attempt_error(job.attempt, error);
            r.note(clock_->system_now(), r.error + "; next attempt in " + std::to_string(wait.count()) + " ms");
        });
        if (!recorded) {
            stale_results_.fetch_add(1, std::memory_order_relaxed);
            co_return;
        }
        count(job.route, JobStatus::queued);
        spdlog::info("[{}] job {} on route '{}': attempt {} failed ({}), next in {} ms", job.correlation_id, job.id,
                     job.route, job.attempt, response.status, wait.count());
        co_await queue_->release(lease, wait);
        if (wait < options_.poll_interval) wake_scan();  // the scan may be asleep for longer
        co_return;
    }
    const JobStatus status = ok ? JobStatus::succeeded : JobStatus::failed;
    // A lapsed lease cannot commit, even before another worker has taken the job.
    bool recorded = co_await queue_->extend(lease, options_.visibility);
    if (recorded) recorded = co_await write_record(lease, [&](JobRecord& r) {
        r.status = status;
        r.error = error;
        r.result = std::move(response);
        r.note(clock_->system_now(), "attempt " + std::to_string(job.attempt) + " " + std::string(to_string(status)) +
                                         (error.empty() ? "" : ": " + error));
    });
    if (!recorded) {  // the lease lapsed and another attempt owns the job: one final state only
        stale_results_.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("[{}] job {}: attempt {} finished after losing its lease; its result is discarded",
                     job.correlation_id, job.id, job.attempt);
        co_return;
    }
    count(job.route, status);
    spdlog::info("[{}] job {} on route '{}' {} after {} attempt(s){}", job.correlation_id, job.id, job.route,
                 to_string(status), job.attempt, error.empty() ? "" : ": " + error);
    co_await queue_->ack(lease);
}

}  // namespace ante
