#pragma once
/// \file
/// The resilience policies of a configured route, and how they become pipelines.

#include <ante/policy/bulkhead.hpp>
#include <ante/policy/circuit_breaker.hpp>
#include <ante/policy/dynamic_pipeline.hpp>
#include <ante/policy/layers.hpp>
#include <ante/policy/rate_limiter.hpp>
#include <ante/route.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ante {

/// `policies.rate_limit`: a token bucket, shared or one per client.
struct RateLimitConfig {
    RateLimiterOptions limiter;
    RateLimitPolicy::Key key = RateLimitPolicy::Key::none;
    std::string key_header;  ///< with Key::header
};

/// `policies.retry`. On an async route it becomes the job's redelivery (the budget aside).
struct RetryConfig {
    RetryOptions options;
    double budget_ratio = 0.2;     ///< Envoy's retry budget: 20% of requests in flight …
    std::size_t budget_min = 3;    ///< … but at least this many retries at once
};

/// `policies.fallback`: a fixed answer instead of chosen failures.
struct FallbackConfig {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain";
    std::vector<int> on_status;  ///< empty: every 5xx
};

/// One policy's name in `policies.order`.
enum class PolicyKind { fallback, rate_limit, bulkhead, retry, circuit_breaker, attempt_timeout };

/// Everything under a route's `policies`.
struct PolicyConfig {
    std::optional<RateLimitConfig> rate_limit;
    std::optional<BulkheadOptions> bulkhead;
    std::optional<RetryConfig> retry;
    std::string circuit_breaker;  ///< a name in `breakers`, or the route's own breaker
    std::optional<std::chrono::milliseconds> attempt_timeout;
    std::optional<FallbackConfig> fallback;
    /// Outermost first; empty means docs/design.md's default order (fallback, rate limit, bulkhead,
    /// retry, circuit breaker, attempt timeout). Sync routes only.
    std::vector<PolicyKind> order;

    [[nodiscard]] bool empty() const noexcept {
        return !rate_limit && !bulkhead && !retry && circuit_breaker.empty() && !attempt_timeout && !fallback;
    }
};

/// The pipelines a route runs, split for async routes (docs/design.md seam 6).
struct RoutePolicies {
    std::shared_ptr<const DynamicPipeline> policies;   ///< sync: the call; async: each attempt
    std::shared_ptr<const DynamicPipeline> admission;  ///< async: at submit
    std::shared_ptr<const RetryOptions> redelivery;    ///< async: retry as redelivery
};

using BreakerMap = std::map<std::string, std::shared_ptr<CircuitBreaker>, std::less<>>;

/// One breaker per configured name; its state changes are logged.
BreakerMap make_breakers(const std::map<std::string, CircuitBreakerOptions, std::less<>>& configured);

/// Builds the layers of `config`. A sync route gets one pipeline in `config.order`; an async
/// route gets the rate limiter at submit, bulkhead, breaker and attempt timeout per attempt,
/// and its retry as redelivery. `breakers` holds the named, shared breakers; the policies'
/// events are logged at debug level under `route_name`.
RoutePolicies build_policies(const PolicyConfig& config, Dispatch dispatch, const BreakerMap& breakers,
                            std::string route_name);

}  // namespace ante
