#include <ante/policy/bulkhead.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace ante {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

// A coroutine waiting for a place. The channel is thread-safe, so a release on any thread can
// wake it, and a wake sent before the waiter started receiving is kept, never lost.
struct Bulkhead::AsyncWaiter {
    explicit AsyncWaiter(const asio::any_io_executor& ex) : wake(ex, 1) {}
    asio::experimental::concurrent_channel<void(boost::system::error_code)> wake;
};

Bulkhead::Bulkhead(std::string name, BulkheadOptions options) : name_(std::move(name)), options_(options) {}

bool Bulkhead::try_take() noexcept {
    std::size_t now = in_use_.load(std::memory_order_relaxed);
    do {
        if (now >= options_.max_concurrent) return false;
    } while (!in_use_.compare_exchange_weak(now, now + 1, std::memory_order_seq_cst));
    return true;
}

std::optional<Bulkhead::Permit> Bulkhead::try_acquire() noexcept {
    if (try_take()) return Permit{this};
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

void Bulkhead::release() noexcept {
    in_use_.fetch_sub(1, std::memory_order_seq_cst);
    // seq_cst pairs with the waiter's increment of waiting_: either we see the waiter, or the
    // waiter's next try_take sees the place we just freed.
    if (waiting_.load(std::memory_order_seq_cst) != 0) wake_one();
}

void Bulkhead::wake_one() {
    std::lock_guard lock(mutex_);
    freed_.notify_one();
    while (!async_waiters_.empty()) {
        auto waiter = async_waiters_.front().lock();
        async_waiters_.pop_front();
        if (waiter && waiter->wake.try_send(boost::system::error_code{})) return;
    }
}

std::optional<Bulkhead::Permit> Bulkhead::acquire() {
    if (try_take()) return Permit{this};
    if (options_.max_wait.count() > 0) {
        waiting_.fetch_add(1, std::memory_order_seq_cst);
        std::unique_lock lock(mutex_);
        const bool got = freed_.wait_for(lock, options_.max_wait, [this] { return try_take(); });
        waiting_.fetch_sub(1, std::memory_order_seq_cst);
        if (got) return Permit{this};
    }
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
}

asio::awaitable<std::optional<Bulkhead::Permit>> Bulkhead::async_acquire() {
    if (try_take()) co_return Permit{this};
    if (options_.max_wait.count() <= 0) {
        rejected_.fetch_add(1, std::memory_order_relaxed);
        co_return std::nullopt;
    }
    const auto ex = co_await asio::this_coro::executor;
    const auto give_up_at = std::chrono::steady_clock::now() + options_.max_wait;
    auto waiter = std::make_shared<AsyncWaiter>(ex);
    // Undone however the wait ends, cancellation (an exception through co_await) included.
    struct Waiting {
        Bulkhead& b;
        const std::shared_ptr<AsyncWaiter>& w;
        bool got = false;
        ~Waiting() {
            b.waiting_.fetch_sub(1, std::memory_order_seq_cst);
            std::lock_guard lock(b.mutex_);
            std::erase_if(b.async_waiters_, [&](const auto& other) { return other.lock() == w; });
        }
    };
    waiting_.fetch_add(1, std::memory_order_seq_cst);
    {
        Waiting waiting{*this, waiter};
        try {
            while (!(waiting.got = try_take()) && std::chrono::steady_clock::now() < give_up_at) {
                {
                    std::lock_guard lock(mutex_);
                    async_waiters_.push_back(waiter);
                }
                if ((waiting.got = try_take())) break;  // freed between the first try and queueing
                asio::steady_timer timer{ex, give_up_at};
                co_await (waiter->wake.async_receive(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
            }
        } catch (...) {
            pass_on_wake();
            throw;
        }
        if (waiting.got) co_return Permit{this};
    }
    rejected_.fetch_add(1, std::memory_order_relaxed);
    pass_on_wake();
    co_return std::nullopt;
}

// A wake meant for a waiter that gave up (or was cancelled) must reach another, so a freed
// place is not left idle while someone waits.
void Bulkhead::pass_on_wake() {
    if (in_use_.load() < options_.max_concurrent && waiting_.load() != 0) wake_one();
}

Bulkhead::Stats Bulkhead::stats() const noexcept {
    return {in_use_.load(std::memory_order_acquire), waiting_.load(std::memory_order_acquire),
            rejected_.load(std::memory_order_relaxed)};
}

}  // namespace ante
