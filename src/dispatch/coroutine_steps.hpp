#pragma once
// Small coroutine helpers of the dispatchers: a pause on the coroutine's own executor, and a
// step whose failure is ignored.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace ante {

/// Runs `step`, ignoring a failure: cleanup that is worth trying but may meet the same outage.
inline boost::asio::awaitable<void> quietly(boost::asio::awaitable<void> step) {
    try {
        co_await std::move(step);
    } catch (const std::exception&) {
    }
}

inline boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds wait) {
    boost::asio::steady_timer timer{co_await boost::asio::this_coro::executor, wait};
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace ante
