#include <ante/policy/circuit_breaker.hpp>

#include "support/manual_clock.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;
using State = CircuitBreaker::State;
using Outcome = CircuitBreaker::Outcome;

namespace {

class CircuitBreakerTest : public ::testing::Test {
protected:
    CircuitBreakerOptions options() {
        return {.window = CircuitBreakerOptions::Window::count, .window_size = 10, .minimum_calls = 4,
                .failure_rate_threshold = 0.5, .slow_call_rate_threshold = 1.0, .slow_call_duration = 2s,
                .wait_in_open = 10s, .wait_multiplier = 2.0, .max_wait_in_open = 30s, .half_open_probes = 3,
                .probe_timeout = 5s};
    }
    // One call through the breaker that ends with `outcome` after `took`.
    bool call(CircuitBreaker& b, Outcome outcome, std::chrono::milliseconds took = 0ms) {
        auto d = b.try_acquire();
        if (!d) return false;
        clock->advance(took);
        b.record(*d.permit, outcome);
        return true;
    }
    std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
};

}  // namespace

TEST_F(CircuitBreakerTest, TripsOnFailureRateOnlyAfterMinimumCalls) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::closed) << "3 failures, but fewer than minimum_calls";
    ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::open);
}

TEST_F(CircuitBreakerTest, StaysClosedBelowTheFailureRate) {
    CircuitBreaker b{"up", options(), clock};
    // S S F S S F …: any 10 consecutive calls hold at most 4 failures (40%).
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(call(b, i % 3 == 2 ? Outcome::failure : Outcome::success));
    EXPECT_EQ(b.state(), State::closed);
    EXPECT_EQ(b.stats().calls, 10u) << "the count window keeps the last 10 calls";
}

TEST_F(CircuitBreakerTest, CountWindowForgetsOldCalls) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(call(b, Outcome::success));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::open) << "4 of 8 failed: 50% trips";
}

TEST_F(CircuitBreakerTest, OpenRejectsWithTimeLeftThenAdmitsExactlyTheProbes) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    auto refused = b.try_acquire();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.retry_after, 10000ms);
    clock->advance(4s);
    EXPECT_EQ(b.try_acquire().retry_after, 6000ms);
    clock->advance(6s);
    EXPECT_EQ(b.state(), State::half_open);
    std::vector<CircuitBreaker::Permit> probes;
    for (int i = 0; i < 3; ++i) {
        auto d = b.try_acquire();
        ASSERT_TRUE(d) << "probe " << i;
        probes.push_back(*d.permit);
    }
    EXPECT_FALSE(b.try_acquire()) << "exactly half_open_probes are let through";
    for (auto& p : probes) b.record(p, Outcome::success);
    EXPECT_EQ(b.state(), State::closed);
    EXPECT_EQ(b.stats().calls, 0u) << "closing starts a fresh window";
}

TEST_F(CircuitBreakerTest, FailedProbesReopenWithAGrowingWaitUpToTheMax) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    for (auto expected : {20s, 30s, 30s}) {  // 10 s, then ×2, capped at 30 s
        clock->advance(40s);
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(b, i < 2 ? Outcome::failure : Outcome::success));
        ASSERT_EQ(b.state(), State::open) << "2 of 3 probes failed";
        EXPECT_EQ(b.try_acquire().retry_after, expected);
    }
}

TEST_F(CircuitBreakerTest, ProbesDecideByTheSameRate) {
    auto o = options();
    o.failure_rate_threshold = 0.5;
    CircuitBreaker b{"up", o, clock};
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    clock->advance(10s);
    ASSERT_TRUE(call(b, Outcome::success));
    ASSERT_TRUE(call(b, Outcome::success));
    ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::closed) << "1 failed probe of 3 is below 50%";
}

TEST_F(CircuitBreakerTest, TripsOnSlowCallRate) {
    auto o = options();
    o.slow_call_rate_threshold = 0.75;
    CircuitBreaker b{"up", o, clock};
    ASSERT_TRUE(call(b, Outcome::success, 1s));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(call(b, Outcome::success, 2s));
    EXPECT_EQ(b.state(), State::closed);
    ASSERT_TRUE(call(b, Outcome::success, 3s));
    EXPECT_EQ(b.state(), State::open) << "3 of 4 calls at or over 2 s";
}

TEST_F(CircuitBreakerTest, TimeWindowDropsBucketsOlderThanTheWindow) {
    auto o = options();
    o.window = CircuitBreakerOptions::Window::time;
    o.window_size = 5;  // seconds
    CircuitBreaker b{"up", o, clock};
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(b, Outcome::failure));
    clock->advance(5s);
    EXPECT_EQ(b.stats().calls, 0u);
    ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::closed) << "the three old failures left the window";
    clock->advance(2s);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::open);
}

TEST_F(CircuitBreakerTest, ResultsFromAnEarlierGenerationAreIgnored) {
    CircuitBreaker b{"up", options(), clock};
    auto early = b.try_acquire();  // admitted while closed
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    clock->advance(10s);
    std::vector<CircuitBreaker::Permit> probes;
    for (int i = 0; i < 3; ++i) probes.push_back(*b.try_acquire().permit);
    b.record(*early.permit, Outcome::failure);  // late news from the closed era
    for (auto& p : probes) b.record(p, Outcome::success);
    EXPECT_EQ(b.state(), State::closed);
}

TEST_F(CircuitBreakerTest, AProbeThatNeverReturnsIsCountedAsFailedAfterTheProbeTimeout) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    clock->advance(10s);
    auto hung = b.try_acquire();
    ASSERT_TRUE(hung);
    ASSERT_TRUE(call(b, Outcome::success));
    ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::half_open) << "the first probe is still out";
    auto waiting = b.try_acquire();
    EXPECT_FALSE(waiting);
    EXPECT_EQ(waiting.retry_after, 5000ms) << "a verdict can come when the hung probe times out";
    clock->advance(5s);
    EXPECT_FALSE(b.try_acquire()) << "the hung probe counts as failed: 2 of 3, so the breaker reopened";
    EXPECT_EQ(b.state(), State::open);
    b.record(*hung.permit, Outcome::success);  // its late answer changes nothing
    EXPECT_EQ(b.state(), State::open);
}

TEST_F(CircuitBreakerTest, IgnoredOutcomesCountForNothingAndFreeTheirProbe) {
    CircuitBreaker b{"up", options(), clock};
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(call(b, Outcome::ignored));
    EXPECT_EQ(b.stats().calls, 0u);
    for (int i = 0; i < 4; ++i) call(b, Outcome::failure);
    clock->advance(10s);
    auto first = *b.try_acquire().permit;
    b.record(first, Outcome::ignored);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(b, Outcome::success)) << "an ignored probe's place is reused";
    EXPECT_EQ(b.state(), State::closed);
}

TEST_F(CircuitBreakerTest, ForcedOpenDisabledAndResetAndListenersHearEveryChange) {
    CircuitBreaker b{"up", options(), clock};
    std::vector<std::string> heard;
    b.on_transition([&](const std::string& name, State from, State to) {
        heard.push_back(name + ":" + std::string(to_string(from)) + "->" + std::string(to_string(to)));
    });
    b.force_open();
    EXPECT_FALSE(b.try_acquire());
    clock->advance(1h);
    EXPECT_FALSE(b.try_acquire()) << "forced open stays open";
    b.disable();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(call(b, Outcome::failure));
    EXPECT_EQ(b.state(), State::disabled);
    b.reset();
    EXPECT_EQ(b.state(), State::closed);
    EXPECT_EQ(heard, (std::vector<std::string>{"up:closed->forced_open", "up:forced_open->disabled",
                                               "up:disabled->closed"}));
    EXPECT_EQ(b.stats().rejected, 2u);
}

TEST(CircuitBreakerRace, ExactlyTheProbesPassOutOf64SimultaneousCallers) {
    auto clock = std::make_shared<test::ManualClock>();
    for (int round = 0; round < 50; ++round) {
        CircuitBreaker b{"race", {.window_size = 4, .minimum_calls = 4, .wait_in_open = 1s, .half_open_probes = 5},
                         clock};
        for (int i = 0; i < 4; ++i) b.record(*b.try_acquire().permit, Outcome::failure);
        ASSERT_EQ(b.state(), State::open);
        clock->advance(1s);
        constexpr int callers = 64;
        std::barrier start{callers};
        std::atomic<int> admitted{0}, refused{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < callers; ++t)
            threads.emplace_back([&] {
                start.arrive_and_wait();
                (b.try_acquire() ? admitted : refused)++;
            });
        for (auto& t : threads) t.join();
        ASSERT_EQ(admitted.load(), 5) << "round " << round;
        ASSERT_EQ(refused.load(), callers - 5);
    }
}

// The lock-free admission of a closed breaker races with its opening: it opens exactly once,
// and calls admitted just before the opening cannot reopen or close it.
TEST(CircuitBreakerRace, ConcurrentFailuresOpenItExactlyOnce) {
    auto clock = std::make_shared<test::ManualClock>();
    CircuitBreaker b{"race", {.window_size = 10, .minimum_calls = 10, .wait_in_open = std::chrono::hours(1)}, clock};
    constexpr int threads = 8, calls = 2000;
    std::barrier start{threads};
    std::atomic<int> admitted{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < calls; ++i)
                if (auto d = b.try_acquire()) {
                    admitted++;
                    b.record(*d.permit, Outcome::failure);
                }
        });
    for (auto& t : pool) t.join();
    EXPECT_EQ(b.state(), State::open);
    EXPECT_EQ(b.stats().transitions, 1u);
    EXPECT_GE(admitted.load(), 10);
    EXPECT_EQ(admitted.load() + static_cast<int>(b.stats().rejected), threads * calls);
}
