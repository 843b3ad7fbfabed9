#include <ante/policy/retry.hpp>

#include "support/requests.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;
using Kind = Backoff::Kind;

TEST(Backoff, ConstantAndExponentialAreExactAndCapped) {
    std::mt19937_64 rng{1};
    Backoff constant{.kind = Kind::constant, .base = 100ms, .max = 1s};
    EXPECT_EQ(constant.delay(5, 0ms, rng), 100ms);
    Backoff exp{.kind = Kind::exponential, .base = 100ms, .max = 1s, .multiplier = 2};
    EXPECT_EQ(exp.delay(1, 0ms, rng), 100ms);
    EXPECT_EQ(exp.delay(2, 0ms, rng), 200ms);
    EXPECT_EQ(exp.delay(4, 0ms, rng), 800ms);
    EXPECT_EQ(exp.delay(5, 0ms, rng), 1s);
    EXPECT_EQ(exp.delay(60, 0ms, rng), 1s) << "no overflow far out";
}

TEST(Backoff, JitteredDelaysStayWithinTheirBounds) {
    std::mt19937_64 rng{42};
    Backoff full{.kind = Kind::full_jitter, .base = 25ms, .max = 250ms};
    Backoff decorrelated{.kind = Kind::decorrelated_jitter, .base = 25ms, .max = 250ms};
    std::chrono::milliseconds previous = 25ms;
    bool varied = false;
    for (int retry = 1; retry <= 1000; ++retry) {
        auto f = full.delay(retry % 8 + 1, 0ms, rng);
        ASSERT_GE(f, 0ms);
        ASSERT_LE(f, std::min(250ms, 25ms * (1 << (retry % 8))));
        auto d = decorrelated.delay(retry, previous, rng);
        ASSERT_GE(d, 25ms);
        ASSERT_LE(d, std::min(250ms, previous * 3));
        varied |= d != previous;
        previous = d;
    }
    EXPECT_TRUE(varied);
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
    const auto now = std::chrono::system_clock::from_time_t(1'445'412'480);  // Wed, 21 Oct 2015 07:28:00 GMT
    EXPECT_EQ(parse_retry_after("120", now), 120s);
    EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), 30s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0s) << "a date in the past: now";
    EXPECT_FALSE(parse_retry_after("-5", now));
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("", now));
    const auto ten_years = std::chrono::milliseconds{std::int64_t{10} * 366 * 24 * 3600 * 1000};
    EXPECT_EQ(parse_retry_after("2197108676271153", now), ten_years) << "huge values are clamped, never overflow";
    EXPECT_EQ(parse_retry_after("99999999999999999999999", now), ten_years);
}

TEST(RetryAfter, AHugeRetryAfterIsCappedByTheOptions) {
    RetryOptions options;
    options.backoff = Backoff{.kind = Backoff::Kind::constant, .base = 10ms, .max = 10ms};
    Response busy = Response::text(503, "busy");
    busy.headers.set("Retry-After", "2197108676271153");
    EXPECT_EQ(retry_delay(options, 1, {}, busy, std::chrono::system_clock::now()), options.max_retry_after);
    busy.headers.set("Retry-After", "2");
    EXPECT_EQ(retry_delay(options, 1, {}, busy, std::chrono::system_clock::now()), 2s);
}

TEST(RetryBudget, FloorThenShareOfActiveRequests) {
    RetryBudget budget{0.2, 3};
    std::vector<RetryBudget::Active> active;
    for (int i = 0; i < 10; ++i) active.emplace_back(budget);
    EXPECT_EQ(budget.limit(), 3u) << "20% of 10 is 2: the floor of 3 wins";
    for (int i = 0; i < 40; ++i) active.emplace_back(budget);
    EXPECT_EQ(budget.limit(), 10u);
    std::vector<RetryBudget::Retry> retries;
    for (int i = 0; i < 10; ++i) retries.push_back(*budget.try_retry());
    EXPECT_FALSE(budget.try_retry());
    retries.pop_back();
    EXPECT_TRUE(budget.try_retry()) << "a finished retry frees its place";
    EXPECT_EQ(budget.refused(), 1u);
}

TEST(RetryBudget, RacingRetriesNeverExceedTheBudget) {
    RetryBudget budget{0.2, 5};
    constexpr int threads = 16, rounds = 2000;
    std::atomic<std::size_t> peak{0};
    std::atomic<std::size_t> holding{0};
    std::barrier start{threads};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < rounds; ++i) {
                if (auto retry = budget.try_retry()) {
                    test::raise_peak(peak, holding.fetch_add(1) + 1);
                    std::this_thread::yield();  // "sleeping in backoff" while holding the place
                    holding.fetch_sub(1);
                }
            }
        });
    for (auto& t : pool) t.join();
    EXPECT_LE(peak.load(), 5u);
    EXPECT_GT(budget.refused(), 0u) << "16 threads competing for 5 places must be refused sometimes";
    EXPECT_EQ(budget.retrying(), 0u);
}
