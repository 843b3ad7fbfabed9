#pragma once
// A pause inside a coroutine, on its own executor.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace ante {

inline boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds wait) {
    boost::asio::steady_timer timer{co_await boost::asio::this_coro::executor, wait};
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

}  // namespace ante
