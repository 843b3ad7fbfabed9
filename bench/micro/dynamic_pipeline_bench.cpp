// The type-erased coroutine DynamicPipeline, next to an empty coroutine around the same handler.
// Two ways to run each:
//  - coro/*: one coroutine co_awaits N calls in a loop (the benchmark loop runs inside it), so
//    the figure is the per-call cost of `execute` without spawning;
//  - spawn/*: one co_spawn + io_context::run() + restart() per call, as a detached request would.
// Everything runs on the benchmark thread (an io_context with one thread, no other work).
#include "support.hpp"

#include <ante/policy/dynamic_pipeline.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <utility>

namespace bench {
namespace {

namespace asio = boost::asio;
using namespace ante;

/// The empty coroutine baseline: returns the handler's answer directly.
asio::awaitable<Response> direct_coroutine(const Request& request, Context& ctx) { co_return Handler{}(request, ctx); }

/// The pipeline's innermost step: the same handler, as a coroutine.
const DynamicPipeline::Terminal terminal = [](Call& call) -> asio::awaitable<Response> {
    co_return Handler{}(std::as_const(call.request), call.ctx);
};

DynamicPipeline full_dynamic(const Policies& p) {
    DynamicPipeline pipeline;
    pipeline.add(p.rate_limit())
        .add(p.bulkhead_layer())
        .add(Policies::total_timeout())
        .add(Policies::retry())
        .add(p.circuit_breaker())
        .add(Policies::attempt_timeout());
    return pipeline;
}

void rethrow(std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
}

/// `call(request, ctx)` gives the awaitable of one call. The benchmark loop runs inside one coroutine.
template <class Call>
void in_one_coroutine(benchmark::State& state, Call call, Expect expect = {}) {
    asio::io_context io{1};
    Request request = make_request();
    Context ctx;
    auto body = [&]() -> asio::awaitable<void> {
        fresh_call(ctx);
        if (!expect.met_by(co_await call(request, ctx))) {
            state.SkipWithError("the first call did not answer as expected");
            co_return;
        }
        const AllocMeter meter{/*asio_apart=*/true};
        for (auto _ : state) {
            fresh_call(ctx);
            Response r = co_await call(request, ctx);
            benchmark::DoNotOptimize(r);
        }
        meter.report(state);
    };
    asio::co_spawn(io, std::move(body), rethrow);
    io.run();
}

/// One co_spawn of `call(request, ctx)` and one run of the io_context per iteration.
template <class Call>
void spawn_each(benchmark::State& state, Call call, Expect expect = {}) {
    asio::io_context io{1};
    Request request = make_request();
    Context ctx;
    Response out;
    auto once = [&] {
        fresh_call(ctx);
        asio::co_spawn(io, call(request, ctx), [&out](std::exception_ptr e, Response r) {
            rethrow(e);
            out = std::move(r);
        });
        io.run();
        io.restart();
    };
    once();
    if (!expect.met_by(out)) {
        state.SkipWithError("the first call did not answer as expected");
        return;
    }
    const AllocMeter meter{/*asio_apart=*/true};
    for (auto _ : state) {
        once();
        benchmark::DoNotOptimize(out);
    }
    meter.report(state);
}

auto direct() {
    return [](Request& r, Context& c) { return direct_coroutine(r, c); };
}

auto through(const DynamicPipeline& pipeline) {
    return [&pipeline](Request& r, Context& c) { return pipeline.execute(r, c, terminal); };
}

}  // namespace

void register_dynamic_pipeline_benchmarks() {
    benchmark::RegisterBenchmark("coro/direct_call", [](benchmark::State& s) { in_one_coroutine(s, direct()); });
    benchmark::RegisterBenchmark("coro/dynamic_empty", [](benchmark::State& s) {
        const DynamicPipeline pipeline;
        in_one_coroutine(s, through(pipeline));
    });
    benchmark::RegisterBenchmark("coro/dynamic_full", [](benchmark::State& s) {
        const Policies p;
        const DynamicPipeline pipeline = full_dynamic(p);
        in_one_coroutine(s, through(pipeline));
    });
    benchmark::RegisterBenchmark("coro/dynamic_full_reject_breaker_open", [](benchmark::State& s) {
        const Policies p;
        p.breaker->force_open();
        const DynamicPipeline pipeline = full_dynamic(p);
        in_one_coroutine(s, through(pipeline), Expect{503, Errc::circuit_open});
    });
    benchmark::RegisterBenchmark("spawn/direct_call", [](benchmark::State& s) { spawn_each(s, direct()); });
    benchmark::RegisterBenchmark("spawn/dynamic_full", [](benchmark::State& s) {
        const Policies p;
        const DynamicPipeline pipeline = full_dynamic(p);
        spawn_each(s, through(pipeline));
    });
}

}  // namespace bench
