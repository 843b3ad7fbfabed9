#pragma once
/// \file
/// A type-erased, coroutine policy pipeline: what routes built at run time (from the JSON
/// configuration) use. Waits (backoff, a bulkhead's bounded wait) suspend instead of blocking.

#include <ante/policy/call.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ante {

class DynamicPipeline {
public:
    /// The innermost step: runs the handler for one attempt.
    using Terminal = std::function<boost::asio::awaitable<Response>(Call&)>;

    explicit DynamicPipeline(std::shared_ptr<const Clock> clock = Clock::real()) : clock_(std::move(clock)) {}

    /// Appends `layer` inside the ones already added (so add the outermost first).
    template <PolicyLayer L>
    DynamicPipeline& add(L layer) {
        if constexpr (RetryingLayer<L>) retries_ = true;
        steps_.push_back(std::make_unique<LayerStep<L>>(std::move(layer)));
        return *this;
    }

    [[nodiscard]] bool empty() const noexcept { return steps_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return steps_.size(); }
    /// True when a layer may run the inner ones again (a retry).
    [[nodiscard]] bool retries() const noexcept { return retries_; }

    /// Runs `terminal` through the layers. `request` and `ctx` must outlive the call.
    boost::asio::awaitable<Response> execute(Request& request, Context& ctx, const Terminal& terminal) const;

private:
    struct Step {
        virtual ~Step() = default;
        virtual boost::asio::awaitable<Response> run(Call& call, const DynamicPipeline& pipeline,
                                                     std::size_t next, const Terminal& terminal) const = 0;
    };
    template <class L>
    struct LayerStep;

    boost::asio::awaitable<Response> run_from(std::size_t index, Call& call, const Terminal& terminal) const;
    static boost::asio::awaitable<bool> pause(const Context& ctx, std::chrono::milliseconds wait);

    std::shared_ptr<const Clock> clock_;
    std::vector<std::unique_ptr<Step>> steps_;
    bool retries_ = false;
};

template <class L>
struct DynamicPipeline::LayerStep final : Step {
    explicit LayerStep(L l) : layer(std::move(l)) {}

    boost::asio::awaitable<Response> run(Call& call, const DynamicPipeline& pipeline, std::size_t next,
                                         const Terminal& terminal) const override {
        typename L::State state{};
        std::optional<Response> refused;
        if constexpr (AsyncEnteringLayer<L>)
            refused = co_await layer.async_enter(call, state);
        else
            refused = layer.enter(call, state);
        if (refused) co_return std::move(*refused);
        Response response = co_await pipeline.run_from(next, call, terminal);
        if constexpr (RetryingLayer<L>) {
            for (auto wait = layer.again(call, state, response); wait; wait = layer.again(call, state, response)) {
                const bool resumed = co_await pause(call.ctx, *wait);
                call.time_passed();
                if (!resumed) break;
                response = co_await pipeline.run_from(next, call, terminal);
            }
        }
        layer.leave(call, state, response);
        co_return response;
    }

    L layer;
};

}  // namespace ante
