#include <ante/gateway.hpp>

#include "support/gate.hpp"
#include "support/io_runner.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <latch>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using test::get;

TEST(SyncDispatcher, SaturatedPoolRefusesAtOnceWith503AndRetryAfter) {
    test::IoRunner runner{2};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 2, .queue = 3, .concurrency = 10,
                                                          .retry_after = 7s}}};
    test::Gate gate;
    gw.route("GET", "/slow", blocking_handler([&](const Request&, Context&) {
                 gate.wait();
                 return Response::text(200, "done");
             }));
    gw.start();
    std::vector<std::future<Response>> admitted;
    for (int i = 0; i < 5; ++i) admitted.push_back(gw.async_dispatch(get("/slow"), asio::use_future));
    // All five admitted (dispatches run on two I/O threads, in no fixed order), two running.
    while (gw.sync_dispatcher().stats().blocking_in_use < 5 || gate.entered() < 2) std::this_thread::yield();
    // 2 running + 3 waiting = the limit: the sixth is refused while the others still hang.
    Response refused = gw.async_dispatch(get("/slow"), asio::use_future).get();
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.headers.get("Retry-After"), "7");
    EXPECT_EQ(refused.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(gw.sync_dispatcher().stats().rejected, 1u);
    EXPECT_EQ(gw.sync_dispatcher().stats().blocking_in_use, 5u);
    gate.release();
    for (auto& f : admitted) EXPECT_EQ(f.get().status, 200);
    EXPECT_EQ(gw.sync_dispatcher().stats().blocking_in_use, 0u);
}

TEST(SyncDispatcher, ThrowingHandlerBecomes500ProblemAndThePoolSurvives) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 1, .queue = 0}}};
    int calls = 0;
    gw.route("GET", "/boom", blocking_handler([&](const Request&, Context&) -> Response {
                 if (++calls % 2) throw std::runtime_error("secret internals");
                 return Response::text(200, "fine");
             }));
    gw.route("GET", "/boom-inline", inline_handler([](const Request&, Context&) -> Response { throw 42; }));
    gw.start();
    Request r = get("/boom");
    r.headers.set("X-Request-Id", "trace-me");
    Response failed = gw.async_dispatch(r, asio::use_future).get();
    EXPECT_EQ(failed.status, 500);
    auto body = nlohmann::json::parse(failed.body);
    EXPECT_EQ(body["correlation_id"], "trace-me");
    EXPECT_EQ(failed.body.find("secret internals"), std::string::npos) << "exception text stays in the log";
    EXPECT_EQ(gw.async_dispatch(get("/boom"), asio::use_future).get().status, 200) << "the only thread survived";
    EXPECT_EQ(gw.async_dispatch(get("/boom-inline"), asio::use_future).get().status, 500);
    EXPECT_EQ(gw.sync_dispatcher().stats().handler_exceptions, 2u);
}

TEST(SyncDispatcher, BlockingHandlerPastDeadlineGets504StopTokenAndLateResultIsDiscarded) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 1, .queue = 0}}};
    std::atomic<bool> saw_stop{false};
    test::Gate gate;
    gw.add(Route{.name = "slow", .method = "GET", .pattern = "/slow",
                 .handler = blocking_handler([&](const Request&, Context& ctx) {
                     while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
                     saw_stop = true;
                     gate.wait();  // keep the thread (and the permit) after the caller left
                     return Response::text(200, "late");
                 }),
                 .dispatch = Dispatch::sync, .timeout = 50ms});
    gw.start();
    Response r = gw.async_dispatch(get("/slow"), asio::use_future).get();
    EXPECT_EQ(r.status, 504);
    while (gate.entered() < 1) std::this_thread::yield();
    EXPECT_TRUE(saw_stop);
    EXPECT_EQ(gw.sync_dispatcher().stats().blocking_in_use, 1u) << "the permit is held until the handler returns";
    EXPECT_EQ(gw.async_dispatch(get("/slow"), asio::use_future).get().status, 503) << "its thread is still busy";
    gate.release();
    while (gw.sync_dispatcher().stats().blocking_in_use > 0) std::this_thread::yield();
    EXPECT_EQ(gw.sync_dispatcher().stats().late_results, 1u);
}

TEST(SyncDispatcher, AwaitableHandlerPastDeadlineIsCancelledWith504) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor()};
    std::atomic<bool> cancelled{false};
    gw.add(Route{.name = "wait", .method = "GET", .pattern = "/wait",
                 .handler = awaitable_handler([&](Request, Context) -> asio::awaitable<Response> {
                     asio::steady_timer t{co_await asio::this_coro::executor, 1h};
                     try {
                         co_await t.async_wait(asio::use_awaitable);
                     } catch (const boost::system::system_error&) {
                         cancelled = true;
                         throw;
                     }
                     co_return Response::text(200, "never");
                 }),
                 .dispatch = Dispatch::sync, .timeout = 30ms});
    gw.start();
    EXPECT_EQ(gw.async_dispatch(get("/wait"), asio::use_future).get().status, 504);
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(gw.sync_dispatcher().stats().concurrent_in_use, 0u);
}

TEST(SyncDispatcher, ConcurrencyLimitBoundsAwaitableHandlers) {
    test::IoRunner runner{2};
    Gateway gw{runner.executor(), GatewayOptions{.sync = {.threads = 1, .queue = 0, .concurrency = 3}}};
    auto timer_gate = std::make_shared<asio::steady_timer>(runner.io(), asio::steady_timer::time_point::max());
    gw.route("GET", "/hold", awaitable_handler([timer_gate](Request, Context) -> asio::awaitable<Response> {
                 co_await timer_gate->async_wait(asio::as_tuple(asio::use_awaitable));
                 co_return Response::text(200, "ok");
             }));
    gw.start();
    std::vector<std::future<Response>> held;
    for (int i = 0; i < 3; ++i) held.push_back(gw.async_dispatch(get("/hold"), asio::use_future));
    while (gw.sync_dispatcher().stats().concurrent_in_use < 3) std::this_thread::yield();
    EXPECT_EQ(gw.async_dispatch(get("/hold"), asio::use_future).get().status, 503);
    asio::post(runner.io(), [timer_gate] { timer_gate->cancel(); });
    for (auto& f : held) EXPECT_EQ(f.get().status, 200);
}

TEST(Gateway, UnknownPath404WrongMethod405WithAllowAndCorrelationIdEchoed) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor()};
    gw.route("GET", "/orders/{id}", inline_handler([](const Request&, Context& ctx) {
                 return Response::text(200, std::string(ctx.param("id")));
             }));
    gw.route("PUT", "/orders/{id}", inline_handler([](const Request&, Context&) { return Response::text(200, ""); }));
    gw.start();
    Request ok = get("/orders/17");
    ok.headers.set("X-Request-Id", "client-id-1");
    Response r = gw.async_dispatch(ok, asio::use_future).get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "17");
    EXPECT_EQ(r.headers.get("X-Request-Id"), "client-id-1");

    Response missing = gw.async_dispatch(get("/nope"), asio::use_future).get();
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.headers.get("X-Request-Id")->size(), 32u) << "generated when absent";

    Request post = get("/orders/17");
    post.method = "POST";
    post.headers.set("X-Request-Id", "bad id with spaces");
    Response wrong = gw.async_dispatch(post, asio::use_future).get();
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.headers.get("Allow"), "GET, PUT");
    EXPECT_NE(wrong.headers.get("X-Request-Id"), "bad id with spaces") << "malformed IDs are replaced";
}

TEST(Gateway, AsyncDispatchWorksWithCallbacksAndCoroutines) {
    test::IoRunner runner{2};
    Gateway gw{runner.executor()};
    gw.route("GET", "/hi", inline_handler([](const Request&, Context&) { return Response::text(200, "hi"); }));
    gw.start();
    std::promise<int> status;
    gw.async_dispatch(get("/hi"), [&](Response r) { status.set_value(r.status); });
    EXPECT_EQ(status.get_future().get(), 200);
    auto body = runner.wait([&]() -> asio::awaitable<std::string> {
        Response r = co_await gw.async_dispatch(get("/hi"), asio::use_awaitable);
        co_return r.body;
    }());
    EXPECT_EQ(body, "hi");
}

TEST(Gateway, DuplicateRouteNameAndLateRoutesAreRejected) {
    test::IoRunner runner{1};
    Gateway gw{runner.executor()};
    auto h = inline_handler([](const Request&, Context&) { return Response{}; });
    gw.route("GET", "/a", h);
    EXPECT_THROW(gw.route("GET", "/a", h), std::invalid_argument);
    EXPECT_THROW(gw.route("GET", "bad", h), std::invalid_argument);
    gw.start();
    EXPECT_THROW(gw.route("GET", "/b", h), std::logic_error);
}
