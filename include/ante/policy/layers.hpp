#pragma once
/// \file
/// The resilience policies as pipeline layers (see call.hpp for the protocol). Each layer is a
/// small copyable value; the state it shares across calls (a breaker, a bucket, a bulkhead, a
/// retry budget) sits behind a shared_ptr so several routes can share it.

#include <ante/core/problem.hpp>
#include <ante/policy/bulkhead.hpp>
#include <ante/policy/call.hpp>
#include <ante/policy/circuit_breaker.hpp>
#include <ante/policy/events.hpp>
#include <ante/policy/rate_limiter.hpp>
#include <ante/policy/retry.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ante {

/// `Retry-After` in whole seconds, rounded up, at least 1 (the header has no finer unit).
void set_retry_after(Response& response, std::chrono::milliseconds wait);

/// Rate limiter layer: 429 with Retry-After when the caller's bucket is empty.
struct RateLimitPolicy {
    enum class Key { none, client_address, header };
    std::shared_ptr<RateLimiter> limiter;
    Key key = Key::none;
    std::string key_header;  ///< with Key::header, e.g. "X-Api-Key"
    PolicyEvents events;

    struct State {};
    std::optional<Response> enter(Call& call, State&) const;
    void leave(Call&, State&, Response&) const noexcept {}
};

/// Bulkhead layer: 503 when no place is free (after the bulkhead's bounded wait, if any).
struct BulkheadPolicy {
    std::shared_ptr<Bulkhead> bulkhead;
    PolicyEvents events;

    struct State {};
    std::optional<Response> enter(Call& call, State&) const;
    boost::asio::awaitable<std::optional<Response>> async_enter(Call& call, State&) const;
    void leave(Call& call, State&, Response&) const noexcept { call.bulkhead_permit.reset(); }
};

/// Total deadline: the whole call, retries and backoff included, ends by `timeout`.
struct TotalTimeoutPolicy {
    std::chrono::milliseconds timeout{15'000};
    PolicyEvents events;

    struct State {};
    std::optional<Response> enter(Call& call, State&) const noexcept {
        call.ctx.deadline = std::min(call.ctx.deadline, call.now() + timeout);
        return std::nullopt;
    }
    void leave(Call& call, State&, const Response& response) const {
        if (response.error == Errc::timeout && call.now() >= call.ctx.deadline)
            publish(events, PolicyEvent::Kind::timed_out, "total_timeout", call.ctx.correlation_id, "the call's deadline passed");
    }
};

/// Attempt timeout: one try ends by `timeout` (within the total deadline).
struct AttemptTimeoutPolicy {
    std::chrono::milliseconds timeout{15'000};
    PolicyEvents events;

    struct State {
        SteadyTime outer_deadline{};
    };
    std::optional<Response> enter(Call& call, State& state) const noexcept {
        state.outer_deadline = call.ctx.deadline;
        call.ctx.deadline = std::min(call.ctx.deadline, call.now() + timeout);
        return std::nullopt;
    }
    // Outer layers (retry) judge against the total deadline again.
    void leave(Call& call, State& state, const Response& response) const {
        call.ctx.deadline = state.outer_deadline;
        if (response.error == Errc::timeout)
            publish(events, PolicyEvent::Kind::timed_out, "attempt_timeout", call.ctx.correlation_id, "an attempt passed its timeout");
    }
};

/// Counters a retry layer keeps, shared by its copies.
struct RetryCounters {
    std::atomic<std::uint64_t> retries{0};          ///< attempts after the first
    std::atomic<std::uint64_t> exhausted{0};        ///< calls that ran out of attempts still failing
};

struct RetryOptions {
    int max_attempts = 3;  ///< the first try included (Resilience4j's default)
    Backoff backoff;
    /// Handler statuses worth another try. Gateway-made failures are judged by their cause:
    /// upstream unreachable or broken and attempt timeouts are retried, rejections are not.
    std::vector<int> retry_on_status{502, 503, 504};
    /// Retry POST/PATCH without an Idempotency-Key header too (the route knows it is safe).
    bool retry_non_idempotent = false;
    /// Wait at least as long as the answer's Retry-After asks.
    bool honour_retry_after = true;
    /// But never longer than this: an upstream cannot park calls or jobs for a day.
    std::chrono::milliseconds max_retry_after{std::chrono::minutes(5)};
};

/// Whether `response` is worth another try by its status or its cause (methods aside).
bool retryable_answer(const RetryOptions& options, const Response& response) noexcept;

/// The wait before retry number `retry`: the backoff, or longer when the answer's Retry-After asks.
std::chrono::milliseconds retry_delay(const RetryOptions& options, int retry, std::chrono::milliseconds previous,
                                      const Response& response, SystemTime now);

/// Retry layer: runs the inner layers again with backoff, within the total deadline and the
/// retry budget. When attempts run out the caller gets the last attempt's answer.
struct RetryPolicy {
    std::shared_ptr<const RetryOptions> options = std::make_shared<RetryOptions>();
    std::shared_ptr<RetryBudget> budget = std::make_shared<RetryBudget>();
    std::shared_ptr<RetryCounters> counters = std::make_shared<RetryCounters>();
    PolicyEvents events;

    struct State {
        std::optional<RetryBudget::Active> active;
        std::optional<RetryBudget::Retry> retry;
        std::chrono::milliseconds previous_wait{0};
    };
    std::optional<Response> enter(Call& call, State& state) const;
    std::optional<std::chrono::milliseconds> again(Call& call, State& state, const Response& response) const;
    void leave(Call&, State& state, Response&) const noexcept {
        state.retry.reset();
        state.active.reset();
    }
    [[nodiscard]] bool retryable(const Call& call, const Response& response) const;
};

/// Which way a response counts for a breaker: 5xx, transport failures and timeouts are
/// failures; rejections by other policies are the caller's side and count neither way.
CircuitBreaker::Outcome default_breaker_outcome(const Response& response) noexcept;

/// Circuit breaker layer: 503 with Retry-After (the time left open) while it refuses calls.
struct CircuitBreakerPolicy {
    std::shared_ptr<CircuitBreaker> breaker;
    CircuitBreaker::Outcome (*outcome)(const Response&) noexcept = default_breaker_outcome;
    PolicyEvents events;

    struct State {
        std::optional<CircuitBreaker::Permit> permit;
    };
    std::optional<Response> enter(Call& call, State& state) const;
    void leave(Call& call, State& state, Response& response) const {
        if (state.permit) breaker->record(*state.permit, outcome(response), call.now());
    }
};

/// Fallback layer: a substitute answer when the inner layers fail in a chosen way.
struct FallbackPolicy {
    std::function<bool(const Response&)> when = [](const Response& r) { return r.status >= 500; };
    std::function<Response(const Request&, const Context&, const Response& failed)> respond;

    struct State {};
    std::optional<Response> enter(Call&, State&) const noexcept { return std::nullopt; }
    void leave(Call& call, State&, Response& response) const {
        if (respond && when(response)) response = respond(call.request, call.ctx, response);
    }
};

}  // namespace ante
