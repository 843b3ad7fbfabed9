#include <ante/policy/layers.hpp>

#include <random>

namespace ante {

namespace asio = boost::asio;
using std::chrono::milliseconds;

void set_retry_after(Response& response, milliseconds wait) {
    const auto seconds = std::max<milliseconds::rep>(1, (wait.count() + 999) / 1000);
    response.headers.set("Retry-After", std::to_string(seconds));
}

std::optional<Response> RateLimitPolicy::enter(Call& call, State&) const {
    std::string_view k;
    if (key == Key::client_address) k = call.request.remote_address;
    else if (key == Key::header) k = call.request.headers.get(key_header).value_or(std::string_view{});
    auto decision = limiter->try_acquire(k, call.now());
    if (decision) return std::nullopt;
    Response r = problem(Errc::rate_limited, "the rate limit for this route is reached", call.ctx.correlation_id);
    set_retry_after(r, decision.retry_after);
    publish(events, PolicyEvent::Kind::rejected, "rate_limit", call.ctx.correlation_id, "rate limited");
    return r;
}

namespace {
Response bulkhead_full(const Call& call, const Bulkhead& bulkhead, const PolicyEvents& events) {
    Response r = problem(Errc::bulkhead_full, "all " + std::to_string(bulkhead.options().max_concurrent) +
                                                  " places of bulkhead '" + bulkhead.name() + "' are busy",
                         call.ctx.correlation_id);
    set_retry_after(r, milliseconds{1000});
    publish(events, PolicyEvent::Kind::rejected, "bulkhead", call.ctx.correlation_id, "bulkhead full");
    return r;
}
}  // namespace

std::optional<Response> BulkheadPolicy::enter(Call& call, State&) const {
    call.bulkhead = bulkhead.get();
    call.bulkhead_permit = bulkhead->acquire();
    if (call.bulkhead_permit) return std::nullopt;
    return bulkhead_full(call, *bulkhead, events);
}

asio::awaitable<std::optional<Response>> BulkheadPolicy::async_enter(Call& call, State&) const {
    call.bulkhead = bulkhead.get();
    call.bulkhead_permit = co_await bulkhead->async_acquire();
    if (call.bulkhead_permit) co_return std::nullopt;
    co_return bulkhead_full(call, *bulkhead, events);
}

namespace {
bool idempotent(std::string_view method) noexcept {
    return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" || method == "PUT" ||
           method == "DELETE";
}

std::mt19937_64& thread_random() {
    thread_local std::mt19937_64 random{std::random_device{}()};
    return random;
}
}  // namespace

std::optional<Response> RetryPolicy::enter(Call&, State& state) const {
    if (budget) state.active.emplace(*budget);
    return std::nullopt;
}

bool retryable_answer(const RetryOptions& options, const Response& response) noexcept {
    switch (response.error) {
        case Errc::ok:
            return std::find(options.retry_on_status.begin(), options.retry_on_status.end(), response.status) !=
                   options.retry_on_status.end();
        case Errc::upstream_unreachable:
        case Errc::upstream_failed:
        case Errc::timeout: return true;
        default: return false;
    }
}

milliseconds retry_delay(const RetryOptions& options, int retry, milliseconds previous, const Response& response,
                         SystemTime now) {
    milliseconds wait = options.backoff.delay(retry, previous, thread_random());
    if (options.honour_retry_after) {
        if (auto asked = response.headers.get("Retry-After"))
            if (auto ms = parse_retry_after(*asked, now)) wait = std::max(wait, std::min(*ms, options.max_retry_after));
    }
    return wait;
}

bool RetryPolicy::retryable(const Call& call, const Response& response) const {
    if (!options->retry_non_idempotent && !idempotent(call.request.method) &&
        !call.request.headers.get("Idempotency-Key"))
        return false;
    return retryable_answer(*options, response);
}

std::optional<milliseconds> RetryPolicy::again(Call& call, State& state, const Response& response) const {
    if (!retryable(call, response) || call.ctx.stop.stop_requested()) return std::nullopt;
    if (call.ctx.attempt >= options->max_attempts) {
        counters->exhausted.fetch_add(1, std::memory_order_relaxed);
        return std::nullopt;
    }
    const milliseconds wait =
        retry_delay(*options, call.ctx.attempt, state.previous_wait, response, call.clock.system_now());
    // No attempt starts after the total deadline: a retry that could not begin in time is not made.
    if (call.now() + wait >= call.ctx.deadline) return std::nullopt;
    state.retry.reset();  // the previous retry has ended
    if (budget) {
        auto retry = budget->try_retry();
        if (!retry) return std::nullopt;  // counted by the budget
        state.retry.emplace(std::move(*retry));
    }
    state.previous_wait = wait;
    ++call.ctx.attempt;
    counters->retries.fetch_add(1, std::memory_order_relaxed);
    if (events) {
        const std::string detail = "attempt " + std::to_string(call.ctx.attempt) + " in " + std::to_string(wait.count()) +
                                   " ms after " + std::to_string(response.status);
        publish(events, PolicyEvent::Kind::retried, "retry", call.ctx.correlation_id, detail);
    }
    return wait;
}

CircuitBreaker::Outcome default_breaker_outcome(const Response& response) noexcept {
    switch (response.error) {
        case Errc::rate_limited:
        case Errc::bulkhead_full:
        case Errc::circuit_open:
        case Errc::overloaded: return CircuitBreaker::Outcome::ignored;
        default: return response.status >= 500 ? CircuitBreaker::Outcome::failure : CircuitBreaker::Outcome::success;
    }
}

std::optional<Response> CircuitBreakerPolicy::enter(Call& call, State& state) const {
    auto decision = breaker->try_acquire(call.now());
    if (decision) {
        state.permit = *decision.permit;
        return std::nullopt;
    }
    Response r = problem(Errc::circuit_open, "the circuit breaker '" + breaker->name() + "' is open",
                         call.ctx.correlation_id);
    set_retry_after(r, decision.retry_after);
    publish(events, PolicyEvent::Kind::rejected, "circuit_breaker", call.ctx.correlation_id, breaker->name());
    return r;
}

}  // namespace ante
