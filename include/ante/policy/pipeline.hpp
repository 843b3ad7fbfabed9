#pragma once
/// \file
/// Compile-time policy pipeline for calls on a thread that may wait (a blocking handler, a
/// service's own thread). No allocation and no virtual call of its own on the success path.
///
///     auto pipeline = ante::make_pipeline(RateLimitPolicy{...}, BulkheadPolicy{...},
///                                         TotalTimeoutPolicy{2s}, RetryPolicy{},
///                                         CircuitBreakerPolicy{breaker}, AttemptTimeoutPolicy{500ms});
///     Response r = pipeline.execute(request, ctx, [](const Request&, Context&) { ... });
///
/// Layers are listed outermost first; docs/design.md's default order is the one above, with
/// FallbackPolicy first when there is one.

#include <ante/core/problem.hpp>
#include <ante/policy/call.hpp>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <tuple>
#include <utility>

namespace ante {

namespace detail {

/// Runs the handler: an exception becomes 500, an answer after the deadline becomes 504
/// (a handler on the caller's thread cannot be preempted, only told: `ctx.deadline`, `ctx.stop`).
template <class F>
Response call_handler(Call& call, F& handler) {
    try {
        return handler(std::as_const(call.request), call.ctx);
    } catch (...) {
        return problem(Errc::handler_failed, "the handler failed", call.ctx.correlation_id);
    }
}

template <class F>
Response run_guarded(Call& call, F& handler) {
    Response response = call_handler(call, handler);
    call.time_passed();
    if (call.ctx.deadline != SteadyTime::max() && call.now() > call.ctx.deadline)
        response = problem(Errc::timeout, "the handler answered after its deadline", call.ctx.correlation_id);
    return response;
}

/// Sleeps `wait`, or less when the call is cancelled. False when cancelled.
inline bool pause(const Context& ctx, std::chrono::milliseconds wait) {
    std::mutex mutex;
    std::condition_variable_any woken;
    std::unique_lock lock(mutex);
    return !woken.wait_for(lock, ctx.stop, wait, [] { return false; }) && !ctx.stop.stop_requested();
}

}  // namespace detail

template <PolicyLayer... Layers>
class Pipeline {
public:
    explicit Pipeline(std::shared_ptr<const Clock> clock, Layers... layers)
        : clock_(std::move(clock)), layers_(std::move(layers)...) {}

    /// Runs `handler` (callable as `Response(const Request&, Context&)`) through the layers.
    template <class F>
    Response execute(Request& request, Context& ctx, F&& handler) const {
        Call call{request, ctx, *clock_};
        return run<0>(call, handler);
    }

    template <std::size_t I>
    [[nodiscard]] const auto& layer() const noexcept { return std::get<I>(layers_); }

private:
    template <std::size_t I, class F>
    Response run(Call& call, F& handler) const {
        if constexpr (I == sizeof...(Layers)) {
            return detail::run_guarded(call, handler);
        } else {
            const auto& layer = std::get<I>(layers_);
            using Layer = std::tuple_element_t<I, std::tuple<Layers...>>;
            typename Layer::State state{};
            std::optional<Response> refused = layer.enter(call, state);
            // One named result on every path, so the answer is built in place, never moved
            // from layer to layer (NRVO).
            Response response = refused ? std::move(*refused) : run<I + 1>(call, handler);
            if (refused) return response;
            if constexpr (RetryingLayer<Layer>) {
                while (auto wait = layer.again(call, state, response)) {
                    const bool resumed = detail::pause(call.ctx, *wait);
                    call.time_passed();
                    if (!resumed) break;
                    response = run<I + 1>(call, handler);
                }
            }
            layer.leave(call, state, response);
            return response;
        }
    }

    std::shared_ptr<const Clock> clock_;
    std::tuple<Layers...> layers_;
};

/// A pipeline on the real clock.
template <PolicyLayer... Layers>
Pipeline<Layers...> make_pipeline(Layers... layers) {
    return Pipeline<Layers...>(Clock::real(), std::move(layers)...);
}

}  // namespace ante
