#include <ante/policy/bulkhead.hpp>

#include "support/io_runner.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <barrier>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {
// Arguments by value: a coroutine must not rely on a lambda's captures (the lambda may be gone).
template <class Hold>
asio::awaitable<void> acquire_then(Bulkhead* bulkhead, Hold* hold) {
    (*hold)(co_await bulkhead->async_acquire());
}
}  // namespace

TEST(Bulkhead, AdmitsUpToItsLimitAndCountsRefusals) {
    Bulkhead bulkhead{"b", {.max_concurrent = 2}};
    auto a = bulkhead.try_acquire();
    auto b = bulkhead.try_acquire();
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(bulkhead.try_acquire());
    EXPECT_EQ(bulkhead.stats().in_use, 2u);
    EXPECT_EQ(bulkhead.stats().rejected, 1u);
    a.reset();
    EXPECT_TRUE(bulkhead.try_acquire()) << "a released place is free again";
    EXPECT_EQ(bulkhead.stats().in_use, 1u);
}

TEST(Bulkhead, PermitIsReleasedExactlyOnceWhateverIsDoneWithIt) {
    Bulkhead bulkhead{"b", {.max_concurrent = 1}};
    {
        auto permit = bulkhead.try_acquire();
        Bulkhead::Permit moved = std::move(*permit);
        permit.reset();  // the moved-from permit holds nothing
        EXPECT_EQ(bulkhead.stats().in_use, 1u);
        moved.reset();
        moved.reset();
        EXPECT_EQ(bulkhead.stats().in_use, 0u);
    }
    EXPECT_EQ(bulkhead.stats().in_use, 0u);
}

TEST(Bulkhead, BlockingWaitGetsAPlaceFreedInTimeAndGivesUpAfterMaxWait) {
    Bulkhead bulkhead{"b", {.max_concurrent = 1, .max_wait = 2000ms}};
    auto held = bulkhead.try_acquire();
    std::jthread releaser{[&] {
        std::this_thread::sleep_for(20ms);
        held.reset();
    }};
    EXPECT_TRUE(bulkhead.acquire()) << "freed while waiting";
    releaser.join();

    Bulkhead short_wait{"s", {.max_concurrent = 1, .max_wait = 30ms}};
    auto kept = short_wait.try_acquire();
    EXPECT_FALSE(short_wait.acquire());
    EXPECT_EQ(short_wait.stats().rejected, 1u);
    EXPECT_EQ(short_wait.stats().waiting, 0u);
}

TEST(Bulkhead, AsyncWaitIsWokenByARelease) {
    test::IoRunner runner{2};
    Bulkhead bulkhead{"b", {.max_concurrent = 1, .max_wait = 5000ms}};
    auto held = bulkhead.try_acquire();
    auto waiting = asio::co_spawn(runner.executor(), bulkhead.async_acquire(), asio::use_future);
    while (bulkhead.stats().waiting == 0) std::this_thread::yield();
    held.reset();
    auto got = waiting.get();
    EXPECT_TRUE(got.has_value());
    EXPECT_EQ(bulkhead.stats().in_use, 1u);
}

TEST(Bulkhead, AsyncWaitGivesUpAfterMaxWait) {
    test::IoRunner runner{1};
    Bulkhead bulkhead{"b", {.max_concurrent = 1, .max_wait = 30ms}};
    auto held = bulkhead.try_acquire();
    auto got = asio::co_spawn(runner.executor(), bulkhead.async_acquire(), asio::use_future).get();
    EXPECT_FALSE(got.has_value());
    EXPECT_EQ(bulkhead.stats().waiting, 0u);
    EXPECT_EQ(bulkhead.stats().rejected, 1u);
}

// 10,000 racing acquire/release cycles, waiting and not, blocking and async: the number in use
// never passes the limit and ends exactly at zero.
TEST(Bulkhead, RacingAcquireAndReleaseNeverOverfillsAndLeaksNothing) {
    constexpr std::size_t limit = 4;
    Bulkhead bulkhead{"race", {.max_concurrent = limit, .max_wait = 1ms}};
    std::atomic<std::size_t> inside{0}, peak{0}, granted{0};
    auto hold = [&](std::optional<Bulkhead::Permit> permit) {
        if (!permit) return;
        granted.fetch_add(1);
        test::raise_peak(peak, inside.fetch_add(1) + 1);
        inside.fetch_sub(1);
    };
    constexpr int threads = 8, rounds = 1250;  // 10,000 cycles
    std::barrier start{threads + 1};
    std::vector<std::jthread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) hold(t % 2 ? bulkhead.acquire() : bulkhead.try_acquire());
        });
    test::IoRunner runner{2};
    std::vector<std::future<void>> async_calls;
    start.arrive_and_wait();
    for (int i = 0; i < 2000; ++i)
        async_calls.push_back(asio::co_spawn(runner.executor(), acquire_then(&bulkhead, &hold), asio::use_future));
    pool.clear();
    for (auto& f : async_calls) f.get();
    EXPECT_LE(peak.load(), limit);
    EXPECT_GT(granted.load(), 0u);
    EXPECT_EQ(bulkhead.stats().in_use, 0u);
    EXPECT_EQ(bulkhead.stats().waiting, 0u);
    EXPECT_EQ(granted.load() + bulkhead.stats().rejected, threads * rounds + 2000u);
}

namespace {
// Waits for a place against a short timer: whichever loses is cancelled (Asio's `||`).
asio::awaitable<void> acquire_or_give_up(Bulkhead* bulkhead, std::atomic<std::size_t>* inside,
                                         std::atomic<std::size_t>* peak, std::chrono::microseconds patience) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer give_up{co_await asio::this_coro::executor, patience};
    auto won = co_await (bulkhead->async_acquire() || give_up.async_wait(asio::use_awaitable));
    if (won.index() != 0 || !std::get<0>(won)) co_return;
    test::raise_peak(*peak, inside->fetch_add(1) + 1);
    asio::steady_timer work{co_await asio::this_coro::executor, 50us};
    co_await work.async_wait(asio::use_awaitable);
    inside->fetch_sub(1);
}
}  // namespace

// 10,000 async waits, most of them cancelled while they wait: no place is leaked or doubled,
// and no waiter is left counted.
TEST(Bulkhead, CancelledAsyncWaitsLeakNothing) {
    constexpr std::size_t limit = 3;
    Bulkhead bulkhead{"cancel", {.max_concurrent = limit, .max_wait = 1000ms}};
    std::atomic<std::size_t> inside{0}, peak{0};
    test::IoRunner runner{2};
    std::vector<std::future<void>> calls;
    for (int i = 0; i < 10'000; ++i)
        calls.push_back(asio::co_spawn(runner.executor(),
                                       acquire_or_give_up(&bulkhead, &inside, &peak, std::chrono::microseconds(i % 300)),
                                       asio::use_future));
    for (auto& f : calls) f.get();
    EXPECT_LE(peak.load(), limit);
    EXPECT_GT(peak.load(), 0u);
    EXPECT_EQ(bulkhead.stats().in_use, 0u);
    EXPECT_EQ(bulkhead.stats().waiting, 0u) << "a cancelled wait must not stay counted";
    EXPECT_TRUE(bulkhead.try_acquire()) << "every place is free again";
}
