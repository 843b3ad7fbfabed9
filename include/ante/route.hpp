#pragma once
/// \file
/// A route: method + path pattern, a handler and a dispatch strategy.

#include <ante/dispatch/idempotency.hpp>
#include <ante/handler.hpp>
#include <ante/policy/dynamic_pipeline.hpp>
#include <ante/policy/layers.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace ante {

/// How a route's requests are processed.
enum class Dispatch {
    sync,   ///< the caller waits for the handler's response (SyncDispatcher)
    async,  ///< the caller gets 202 and a status URL; a worker runs the job (AsyncDispatcher)
};

/// Everything that defines a route. Build one directly or through `Gateway::route`.
struct Route {
    std::string name;      ///< unique; async jobs find their handler by it. Defaults to "METHOD pattern".
    std::string method;    ///< e.g. "GET"; "*" matches any method
    std::string pattern;   ///< e.g. "/orders/{id}"; a final "{name...}" matches the rest of the path
    Handler handler;
    Dispatch dispatch = Dispatch::sync;
    /// Sync: the whole call, retries and backoff included (Envoy's route timeout and default);
    /// async: one attempt. At expiry the caller gets 504, or the attempt fails with a timeout.
    std::chrono::milliseconds timeout{15'000};
    /// Resilience policies around the handler, outermost first; null for none. On a sync route
    /// they wrap the call; on an async route they wrap each attempt on the worker (bulkhead,
    /// breaker, attempt timeout) and must not retry: a job's retry is its redelivery.
    std::shared_ptr<const DynamicPipeline> policies;
    /// Async routes: policies that run at submit, before the 202 (a rate limiter).
    std::shared_ptr<const DynamicPipeline> admission;
    /// Async routes: a failed attempt that `retryable_answer` accepts goes back to the queue
    /// after the backoff, up to `max_attempts` in all; null runs each job once.
    std::shared_ptr<const RetryOptions> redelivery;
    /// Async routes: a job still queued this long after its submit ends `expired` unrun; 0 for
    /// no expiry.
    std::chrono::milliseconds job_ttl{0};
    /// How the route treats `Idempotency-Key` (honoured by default when sent).
    IdempotencyOptions idempotency;
    /// Async routes: a finished job's status document carries its result (200) instead of
    /// answering 303 See Other to `{jobs_path}/{id}/result`; for small results.
    bool inline_result = false;
};

}  // namespace ante
