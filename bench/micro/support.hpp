#pragma once
// Shared pieces of the policy micro-benchmarks: the handler every benchmark runs, the layers,
// and a heap-allocation meter (support.cpp replaces the global operator new/delete).

#include <ante/core/context.hpp>
#include <ante/core/request.hpp>
#include <ante/core/response.hpp>
#include <ante/policy/layers.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace bench {

using namespace std::chrono_literals;

/// The answer every handler returns: no headers and an SSO-sized body, so copying it never
/// touches the heap and every allocation a benchmark counts belongs to the code under test.
extern const ante::Response ok_response;

/// The one handler of every benchmark: copies the pre-built response.
struct Handler {
    ante::Response operator()(const ante::Request&, ante::Context&) const { return ok_response; }
};

inline ante::Request make_request() {
    ante::Request r;
    r.method = "GET";
    r.target = "/thing";
    return r;
}

/// Puts back what the timeout and retry layers narrow, so every iteration is a fresh call
/// (done in every benchmark, the baselines included).
inline void fresh_call(ante::Context& ctx) noexcept {
    ctx.deadline = ante::SteadyTime::max();
    ctx.attempt = 1;
}

/// What a benchmark's first (untimed) call must answer; anything else skips it with an error.
struct Expect {
    int status = 200;
    ante::Errc error = ante::Errc::ok;
    [[nodiscard]] bool met_by(const ante::Response& r) const noexcept { return r.status == status && r.error == error; }
};

/// Heap allocations and their bytes since program start: calls of any global operator new,
/// plus direct calls of aligned_alloc (Asio's recycling allocator), which `asio` counts apart.
struct AllocTotals {
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    std::uint64_t asio = 0;
};
AllocTotals alloc_totals() noexcept;

/// Counts allocations from construction to `report`, as per-iteration counters. With
/// `asio_apart`, also the share made by Asio's recycling allocator ("asio_allocs/call").
class AllocMeter {
public:
    explicit AllocMeter(bool asio_apart = false) noexcept : start_(alloc_totals()), asio_apart_(asio_apart) {}
    void report(benchmark::State& state) const {
        const AllocTotals now = alloc_totals();
        auto per_call = [](std::uint64_t n) {
            return benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
        };
        state.counters["allocs/call"] = per_call(now.count - start_.count);
        state.counters["bytes/call"] = per_call(now.bytes - start_.bytes);
        if (asio_apart_) state.counters["asio_allocs/call"] = per_call(now.asio - start_.asio);
    }

private:
    AllocTotals start_;
    bool asio_apart_;
};

/// The shared state behind the layers. Defaults admit everything: a rate that never runs
/// dry, a bulkhead of 25 places, a closed breaker.
struct Policies {
    std::shared_ptr<ante::RateLimiter> limiter =
        std::make_shared<ante::RateLimiter>(ante::RateLimiterOptions{.rate_per_second = 1e12, .burst = 1e12});
    std::shared_ptr<ante::Bulkhead> bulkhead = std::make_shared<ante::Bulkhead>("bench");
    std::shared_ptr<ante::CircuitBreaker> breaker = std::make_shared<ante::CircuitBreaker>("bench");

    [[nodiscard]] ante::RateLimitPolicy rate_limit() const { return {.limiter = limiter}; }
    [[nodiscard]] ante::BulkheadPolicy bulkhead_layer() const { return {.bulkhead = bulkhead}; }
    [[nodiscard]] static ante::TotalTimeoutPolicy total_timeout() { return {.timeout = 2s}; }
    [[nodiscard]] static ante::RetryPolicy retry() { return {}; }
    [[nodiscard]] ante::CircuitBreakerPolicy circuit_breaker() const { return {.breaker = breaker}; }
    [[nodiscard]] static ante::AttemptTimeoutPolicy attempt_timeout() { return {.timeout = 500ms}; }
};

void register_pipeline_benchmarks();
void register_dynamic_pipeline_benchmarks();

}  // namespace bench
