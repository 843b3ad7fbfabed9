// The compile-time Pipeline: each policy alone, the full default order, and its rejection
// paths, each next to a direct call of the same handler.
#include "support.hpp"

#include <ante/policy/pipeline.hpp>

#include <string>
#include <utility>

namespace bench {
namespace {

using namespace ante;

/// Runs `pipeline` around the handler once per iteration on one request and one context.
template <class P>
void measure(benchmark::State& state, const P& pipeline, Request request = make_request(), Expect expect = {}) {
    Context ctx;
    const Handler handler;
    fresh_call(ctx);
    if (!expect.met_by(pipeline.execute(request, ctx, handler))) {
        state.SkipWithError("the first call did not answer as expected");
        return;
    }
    const AllocMeter meter;
    for (auto _ : state) {
        fresh_call(ctx);
        Response r = pipeline.execute(request, ctx, handler);
        benchmark::DoNotOptimize(r);
    }
    meter.report(state);
}

/// The baseline: the same handler called directly.
void direct(benchmark::State& state) {
    Request request = make_request();
    Context ctx;
    const Handler handler;
    const AllocMeter meter;
    for (auto _ : state) {
        fresh_call(ctx);
        Response r = handler(std::as_const(request), ctx);
        benchmark::DoNotOptimize(r);
    }
    meter.report(state);
}

/// Reference point: one read of the real clock through the Clock seam (a virtual call). Several
/// layers read it: rate limit, total and attempt timeout, breaker (twice), the deadline check.
void clock_read(benchmark::State& state) {
    const std::shared_ptr<const Clock> clock = Clock::real();
    const AllocMeter meter;
    for (auto _ : state) {
        SteadyTime t = clock->steady_now();
        benchmark::DoNotOptimize(t);
    }
    meter.report(state);
}

/// Reference point: the problem+json answer every rejection builds (what a refusing layer
/// returns, before its Retry-After header).
void problem_response(benchmark::State& state) {
    const AllocMeter meter;
    for (auto _ : state) {
        Response r = problem(Errc::circuit_open, "the circuit breaker 'bench' is open", "");
        benchmark::DoNotOptimize(r);
    }
    meter.report(state);
}

/// Every layer in the default order (pipeline.hpp): the success path and the rejections run this.
auto full_pipeline(const Policies& p) {
    return make_pipeline(p.rate_limit(), p.bulkhead_layer(), Policies::total_timeout(), Policies::retry(),
                         p.circuit_breaker(), Policies::attempt_timeout());
}

template <class MakeLayer>
void one_layer(benchmark::State& state, MakeLayer make_layer) {
    const Policies p;
    measure(state, make_pipeline(make_layer(p)));
}

/// A keyed limiter: `key` is the client's address; keys longer than std::string's inline
/// buffer (15 chars in libstdc++) show what the per-call key lookup costs.
void keyed_rate_limit(benchmark::State& state, std::string address) {
    const Policies p;
    Request request = make_request();
    request.remote_address = std::move(address);
    measure(state, make_pipeline(RateLimitPolicy{.limiter = p.limiter, .key = RateLimitPolicy::Key::client_address}),
            std::move(request));
}

}  // namespace

void register_pipeline_benchmarks() {
    benchmark::RegisterBenchmark("direct_call", direct);
    benchmark::RegisterBenchmark("clock/steady_now", clock_read);
    benchmark::RegisterBenchmark("problem_response", problem_response);
    benchmark::RegisterBenchmark("pipeline/empty", [](benchmark::State& s) { measure(s, make_pipeline()); });
    benchmark::RegisterBenchmark("pipeline/rate_limit",
                                 [](benchmark::State& s) { one_layer(s, [](const Policies& p) { return p.rate_limit(); }); });
    benchmark::RegisterBenchmark("pipeline/bulkhead", [](benchmark::State& s) {
        one_layer(s, [](const Policies& p) { return p.bulkhead_layer(); });
    });
    benchmark::RegisterBenchmark("pipeline/total_timeout", [](benchmark::State& s) {
        one_layer(s, [](const Policies&) { return Policies::total_timeout(); });
    });
    benchmark::RegisterBenchmark("pipeline/retry",
                                 [](benchmark::State& s) { one_layer(s, [](const Policies&) { return Policies::retry(); }); });
    benchmark::RegisterBenchmark("pipeline/circuit_breaker", [](benchmark::State& s) {
        one_layer(s, [](const Policies& p) { return p.circuit_breaker(); });
    });
    benchmark::RegisterBenchmark("pipeline/attempt_timeout", [](benchmark::State& s) {
        one_layer(s, [](const Policies&) { return Policies::attempt_timeout(); });
    });
    benchmark::RegisterBenchmark("pipeline/rate_limit_keyed_ipv4", keyed_rate_limit, std::string("203.0.113.77"));
    benchmark::RegisterBenchmark("pipeline/rate_limit_keyed_ipv6", keyed_rate_limit,
                                 std::string("2001:db8:85a3::8a2e:370:7334"));

    benchmark::RegisterBenchmark("pipeline/full", [](benchmark::State& s) {
        const Policies p;
        measure(s, full_pipeline(p));
    });

    // Rejections, each through the full pipeline.
    benchmark::RegisterBenchmark("pipeline/full_reject_rate_limited", [](benchmark::State& s) {
        Policies p;
        p.limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.001, .burst = 1});
        if (!p.limiter->try_acquire()) s.SkipWithError("the bucket should hold one token");  // now it is empty
        measure(s, full_pipeline(p), make_request(), Expect{429, Errc::rate_limited});
    });
    benchmark::RegisterBenchmark("pipeline/full_reject_breaker_open", [](benchmark::State& s) {
        const Policies p;
        p.breaker->force_open();
        measure(s, full_pipeline(p), make_request(), Expect{503, Errc::circuit_open});
    });
    benchmark::RegisterBenchmark("pipeline/full_reject_bulkhead_full", [](benchmark::State& s) {
        Policies p;
        p.bulkhead = std::make_shared<Bulkhead>("bench", BulkheadOptions{.max_concurrent = 1});
        const auto held = p.bulkhead->try_acquire();  // its only place, kept until the end
        measure(s, full_pipeline(p), make_request(), Expect{503, Errc::bulkhead_full});
    });
}

}  // namespace bench
