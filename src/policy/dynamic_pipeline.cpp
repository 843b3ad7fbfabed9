#include <ante/policy/dynamic_pipeline.hpp>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ante {

namespace asio = boost::asio;

asio::awaitable<Response> DynamicPipeline::execute(Request& request, Context& ctx, const Terminal& terminal) const {
    Call call{request, ctx, *clock_};
    co_return co_await run_from(0, call, terminal);
}

asio::awaitable<Response> DynamicPipeline::run_from(std::size_t index, Call& call, const Terminal& terminal) const {
    if (index == steps_.size()) {
        Response response = co_await terminal(call);
        call.time_passed();
        co_return response;
    }
    co_return co_await steps_[index]->run(call, *this, index + 1, terminal);
}

asio::awaitable<bool> DynamicPipeline::pause(const Context& ctx, std::chrono::milliseconds wait) {
    asio::steady_timer timer{co_await asio::this_coro::executor, wait};
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec && !ctx.stop.stop_requested();
}

}  // namespace ante
