#include <ante/policy/rate_limiter.hpp>

#include "support/manual_clock.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace ante;
using namespace std::chrono_literals;

TEST(RateLimiter, BurstThenSteadyRateWithRetryAfter) {
    auto clock = std::make_shared<test::ManualClock>();
    RateLimiter limiter{{.rate_per_second = 10, .burst = 5}, clock};
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.try_acquire()) << i;
    auto refused = limiter.try_acquire();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.retry_after, 100ms) << "one token every 100 ms";
    clock->advance(50ms);
    EXPECT_EQ(limiter.try_acquire().retry_after, 50ms);
    clock->advance(50ms);
    EXPECT_TRUE(limiter.try_acquire());
    EXPECT_FALSE(limiter.try_acquire());
    clock->advance(10s);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.try_acquire()) << "refills up to the burst, not beyond";
    EXPECT_FALSE(limiter.try_acquire());
    EXPECT_EQ(limiter.rejected(), 4u);
}

TEST(RateLimiter, KeysHaveTheirOwnBucketsAndTheirNumberIsBounded) {
    auto clock = std::make_shared<test::ManualClock>();
    RateLimiter limiter{{.rate_per_second = 1, .burst = 1, .max_keys = 3}, clock};
    EXPECT_TRUE(limiter.try_acquire("a"));
    EXPECT_FALSE(limiter.try_acquire("a"));
    EXPECT_TRUE(limiter.try_acquire("b")) << "another client is not held back by a";
    for (int i = 0; i < 100; ++i) (void)limiter.try_acquire("k" + std::to_string(i));
    EXPECT_LE(limiter.keys(), 3u);
}

TEST(RateLimiter, ConcurrentCallersGetExactlyTheBurst) {
    auto clock = std::make_shared<test::ManualClock>();  // frozen: no refill during the race
    for (int round = 0; round < 20; ++round) {
        RateLimiter limiter{{.rate_per_second = 1, .burst = 100}, clock};
        std::atomic<int> allowed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 50; ++i)
                    if (limiter.try_acquire()) allowed++;
            });
        for (auto& t : threads) t.join();
        ASSERT_EQ(allowed.load(), 100);
        ASSERT_EQ(limiter.rejected(), 300u);
    }
}
