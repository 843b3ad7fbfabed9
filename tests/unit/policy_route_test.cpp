// Policies on gateway routes: the type-erased coroutine pipeline around the sync dispatcher.
#include <ante/gateway.hpp>
#include <ante/policy/layers.hpp>

#include "support/io_runner.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>

#include <barrier>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using test::get;
using test::quick_retries;
using test::raise_peak;

// Handlers that outlive their callers' deadline keep their bulkhead place until they really
// return: under a flood, no more than the limit ever run, and every place comes back.
TEST(PolicyRoute, BulkheadNeverExceedsItsLimitUnderAFloodOfTimingOutCalls) {
    test::IoRunner runner{2};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 16, .queue = 400}}};
    constexpr std::size_t limit = 4;
    auto bulkhead = std::make_shared<Bulkhead>("flood", BulkheadOptions{.max_concurrent = limit});
    auto pipeline = std::make_shared<DynamicPipeline>();
    pipeline->add(BulkheadPolicy{bulkhead});
    std::atomic<int> running{0}, peak{0}, runs{0};
    gw.add(Route{.name = "hang", .method = "GET", .pattern = "/hang",
                 .handler = blocking_handler([&](const Request&, Context& ctx) {
                     raise_peak(peak, running.fetch_add(1) + 1);
                     runs.fetch_add(1);
                     while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(100us);
                     std::this_thread::sleep_for(2ms);  // well past the caller's 504
                     running.fetch_sub(1);
                     return Response::text(200, "too late");
                 }),
                 .timeout = 5ms, .policies = pipeline});
    gw.start();

    constexpr int callers = 8, calls_each = 40;
    std::atomic<int> timed_out{0}, refused{0}, other{0};
    std::barrier start{callers};
    std::vector<std::jthread> threads;
    for (int t = 0; t < callers; ++t)
        threads.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < calls_each; ++i) {
                Response r = gw.async_dispatch(get("/hang"), asio::use_future).get();
                (r.status == 504 ? timed_out : r.error == Errc::bulkhead_full ? refused : other)++;
            }
        });
    threads.clear();
    while (gw.sync_dispatcher().stats().blocking_in_use > 0) std::this_thread::sleep_for(1ms);

    EXPECT_LE(peak.load(), static_cast<int>(limit));
    EXPECT_GT(refused.load(), 0) << "the flood must have met a full bulkhead";
    EXPECT_EQ(timed_out.load(), runs.load()) << "every handler run answered its caller with 504";
    EXPECT_EQ(timed_out.load() + refused.load(), callers * calls_each);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(bulkhead->stats().in_use, 0u) << "every place came back, none twice";
    EXPECT_EQ(bulkhead->stats().rejected, static_cast<std::uint64_t>(refused.load()));
}

TEST(PolicyRoute, RetriesThroughTheCoroutinePipelineUntilTheHandlerSucceeds) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor()};
    RetryPolicy retry{.options = quick_retries(3)};
    auto pipeline = std::make_shared<DynamicPipeline>();
    pipeline->add(TotalTimeoutPolicy{5s}).add(retry).add(AttemptTimeoutPolicy{1s});
    std::atomic<int> calls{0};
    gw.add(Route{.name = "flaky", .method = "GET", .pattern = "/flaky",
                 .handler = inline_handler([&](const Request&, Context& ctx) {
                     ++calls;
                     return Response::text(ctx.attempt < 3 ? 503 : 200, "attempt " + std::to_string(ctx.attempt));
                 }),
                 .policies = pipeline});
    gw.start();
    Response r = gw.async_dispatch(get("/flaky"), asio::use_future).get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "attempt 3");
    EXPECT_EQ(calls.load(), 3);
    EXPECT_EQ(retry.counters->retries.load(), 2u);
}

TEST(PolicyRoute, BlockingHandlerPastItsAttemptTimeoutIsRetriedOnAPlaceOfItsOwn) {
    test::IoRunner runner{2};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 4, .queue = 4}}};
    auto bulkhead = std::make_shared<Bulkhead>("b", BulkheadOptions{.max_concurrent = 2});
    auto pipeline = std::make_shared<DynamicPipeline>();
    pipeline->add(BulkheadPolicy{bulkhead}).add(TotalTimeoutPolicy{5s}).add(RetryPolicy{.options = quick_retries(3)})
        .add(AttemptTimeoutPolicy{20ms});
    std::atomic<int> calls{0};
    std::atomic<bool> release{false};
    gw.add(Route{.name = "slow-once", .method = "GET", .pattern = "/slow-once",
                 .handler = blocking_handler([&](const Request&, Context&) {
                     if (calls.fetch_add(1) == 0)
                         while (!release.load()) std::this_thread::sleep_for(1ms);  // hangs past its attempt
                     return Response::text(200, "ok");
                 }),
                 .policies = pipeline});
    gw.start();
    Response r = gw.async_dispatch(get("/slow-once"), asio::use_future).get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(bulkhead->stats().in_use, 1u) << "the hung first attempt still holds its place";
    release = true;
    while (bulkhead->stats().in_use > 0) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(bulkhead->stats().in_use, 0u);
}

TEST(PolicyRoute, RateLimitedRouteAnswers429BeforeTheDispatcher) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor()};
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.001, .burst = 2});
    auto pipeline = std::make_shared<DynamicPipeline>();
    pipeline->add(RateLimitPolicy{limiter, RateLimitPolicy::Key::client_address});
    gw.add(Route{.name = "limited", .method = "GET", .pattern = "/limited",
                 .handler = inline_handler([](const Request&, Context&) { return Response::text(200, "ok"); }),
                 .policies = pipeline});
    gw.start();
    auto from = [](std::string address) {
        Request r = get("/limited");
        r.remote_address = std::move(address);
        return r;
    };
    EXPECT_EQ(gw.async_dispatch(from("10.0.0.1"), asio::use_future).get().status, 200);
    EXPECT_EQ(gw.async_dispatch(from("10.0.0.1"), asio::use_future).get().status, 200);
    Response limited = gw.async_dispatch(from("10.0.0.1"), asio::use_future).get();
    EXPECT_EQ(limited.status, 429);
    EXPECT_TRUE(limited.headers.contains("Retry-After"));
    EXPECT_EQ(gw.async_dispatch(from("10.0.0.2"), asio::use_future).get().status, 200) << "per client address";
}
