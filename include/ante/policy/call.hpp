#pragma once
/// \file
/// What one call carries through a policy pipeline, and the protocol a policy layer follows.

#include <ante/core/clock.hpp>
#include <ante/core/context.hpp>
#include <ante/core/request.hpp>
#include <ante/core/response.hpp>
#include <ante/policy/bulkhead.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <concepts>
#include <optional>
#include <utility>

namespace ante {

/// One call in a pipeline. Layers read the request and narrow the context (deadline, attempt).
struct Call {
    Call(Request& r, Context& c, const Clock& k) noexcept : request(r), ctx(c), clock(k) {}

    Request& request;
    Context& ctx;
    const Clock& clock;
    /// Set by a bulkhead layer. The handler run takes the permit along, so that a blocking
    /// handler that outlives its caller's timeout keeps its place until it really returns; an
    /// attempt that finds the permit gone takes a new one from `bulkhead`.
    Bulkhead* bulkhead = nullptr;
    std::optional<Bulkhead::Permit> bulkhead_permit;

    /// The time, read once and shared by the layers until `time_passed` (the pipeline calls it
    /// after each handler run and each wait): a clock read costs more than most layers.
    [[nodiscard]] SteadyTime now() {
        if (!now_) now_ = clock.steady_now();
        return *now_;
    }
    void time_passed() noexcept { now_.reset(); }

private:
    std::optional<SteadyTime> now_;
};

/// The bulkhead place one handler run holds: the one the bulkhead layer took or, for a retry
/// after a run that kept it (a blocking handler past its deadline), a new one. False when the
/// call has a bulkhead and no place is free.
inline bool take_attempt_place(Call& call, std::optional<Bulkhead::Permit>& place) {
    place = std::exchange(call.bulkhead_permit, std::nullopt);
    if (call.bulkhead && !place) place = call.bulkhead->try_acquire();
    return !call.bulkhead || place.has_value();
}

/// A policy layer: `enter` runs before the inner layers and may answer instead of them (a
/// rejection); `leave` runs after them and may change the answer. `State` is per call and
/// lives on the caller's stack, so a layer costs no allocation.
template <class L>
concept PolicyLayer = std::default_initializable<typename L::State> &&
    requires(L& layer, Call& call, typename L::State& state, Response& response) {
        { layer.enter(call, state) } -> std::same_as<std::optional<Response>>;
        layer.leave(call, state, response);
    };

/// A layer that may run the inner layers again: `again` answers the wait before the next
/// attempt, or nothing to stop with `response`.
template <class L>
concept RetryingLayer = PolicyLayer<L> &&
    requires(L& layer, Call& call, typename L::State& state, const Response& response) {
        { layer.again(call, state, response) } -> std::same_as<std::optional<std::chrono::milliseconds>>;
    };

/// A layer whose entry may wait (a bulkhead's bounded wait): coroutine pipelines use
/// `async_enter` so the wait does not block a thread.
template <class L>
concept AsyncEnteringLayer = PolicyLayer<L> && requires(L& layer, Call& call, typename L::State& state) {
    { layer.async_enter(call, state) } -> std::same_as<boost::asio::awaitable<std::optional<Response>>>;
};

}  // namespace ante
