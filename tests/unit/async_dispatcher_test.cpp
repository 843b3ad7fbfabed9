#include <ante/gateway.hpp>

#include "support/gate.hpp"
#include "support/io_runner.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/use_future.hpp>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using test::get;
using test::post;

namespace {

class AsyncDispatcherTest : public ::testing::Test {
protected:
    Response call(Gateway& gw, Request r) { return gw.async_dispatch(std::move(r), asio::use_future).get(); }
    nlohmann::json status_of(Gateway& gw, const std::string& id) {
        return nlohmann::json::parse(call(gw, get("/jobs/" + id)).body);
    }
    // Polls the status resource until the job is final (bounded, so a bug fails instead of hanging).
    nlohmann::json await_final(Gateway& gw, const std::string& id) {
        for (int i = 0; i < 5000; ++i) {
            auto doc = status_of(gw, id);
            auto s = doc["status"].get<std::string>();
            if (s != "queued" && s != "running") return doc;
            std::this_thread::sleep_for(1ms);
        }
        ADD_FAILURE() << "job " << id << " never finished";
        return {};
    }
    // An async POST /work whose handler holds its worker until `gate` opens; starts `gw`.
    void add_gated_route(Gateway& gw) {
        gw.route("POST", "/work", blocking_handler([this](const Request&, Context&) {
                     gate.wait();
                     return Response::text(200, "ok");
                 }),
                 Dispatch::async);
        gw.start();
    }

    test::IoRunner runner{2};
    test::Gate gate;
};

}  // namespace

TEST_F(AsyncDispatcherTest, AcceptedJobRunsThroughQueuedRunningSucceededWith303ToResult) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}}};
    gw.route("POST", "/orders/{customer}", blocking_handler([&](const Request& r, Context& ctx) {
                 gate.wait();
                 return Response::json(201, {{"customer", ctx.param("customer")}, {"echo", r.body}});
             }),
             Dispatch::async);
    gw.start();
    Response first = call(gw, post("/orders/ann", "one"));
    ASSERT_EQ(first.status, 202);
    auto accepted = nlohmann::json::parse(first.body);
    const std::string id = accepted["id"];
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(accepted["status"], "queued");
    EXPECT_EQ(first.headers.get("Location"), "/jobs/" + id);
    EXPECT_EQ(accepted["status_url"], "/jobs/" + id);
    EXPECT_EQ(first.headers.get("Retry-After"), "1");

    Response second = call(gw, post("/orders/bob", "two"));
    const std::string id2 = nlohmann::json::parse(second.body)["id"];
    while (gate.entered() < 1) std::this_thread::yield();
    EXPECT_EQ(status_of(gw, id)["status"], "running");
    EXPECT_EQ(status_of(gw, id)["attempts"], 1);
    EXPECT_EQ(status_of(gw, id2)["status"], "queued") << "one worker: the second waits";

    gate.release();
    auto done = await_final(gw, id);
    EXPECT_EQ(done["status"], "succeeded");
    EXPECT_EQ(done["route"], "POST /orders/{customer}");
    Response see_other = call(gw, get("/jobs/" + id));
    EXPECT_EQ(see_other.status, 303);
    EXPECT_EQ(see_other.headers.get("Location"), "/jobs/" + id + "/result");
    Response result = call(gw, get("/jobs/" + id + "/result"));
    EXPECT_EQ(result.status, 201);
    EXPECT_EQ(nlohmann::json::parse(result.body)["customer"], "ann");
    EXPECT_EQ(nlohmann::json::parse(result.body)["echo"], "one");
    EXPECT_EQ(await_final(gw, id2)["status"], "succeeded");
    EXPECT_EQ(gw.async_dispatcher().stats().succeeded, 2u);
}

TEST_F(AsyncDispatcherTest, ThrowingHandlerFailsTheJobWithAStoredProblemAndWorkersSurvive) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}}};
    std::atomic<int> calls{0};
    gw.route("POST", "/jobs-that-fail", blocking_handler([&](const Request&, Context&) -> Response {
                 if (calls++ == 0) throw std::runtime_error("kaput");
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    const std::string bad = nlohmann::json::parse(call(gw, post("/jobs-that-fail")).body)["id"];
    const std::string good = nlohmann::json::parse(call(gw, post("/jobs-that-fail")).body)["id"];
    auto failed = await_final(gw, bad);
    EXPECT_EQ(failed["status"], "failed");
    EXPECT_EQ(failed["error"], "the handler answered 500 (the handler failed; quote the correlation_id when reporting it)");
    EXPECT_EQ(call(gw, get("/jobs/" + bad + "/result")).status, 500);
    EXPECT_EQ(await_final(gw, good)["status"], "succeeded");
}

TEST_F(AsyncDispatcherTest, FullQueueAnswers503AndLeavesNoRecord) {
    // The capacity counts leased jobs too: they stay in the queue until acked.
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1, .queue_capacity = 3, .retry_after = 3s}}};
    add_gated_route(gw);
    ASSERT_EQ(call(gw, post("/work")).status, 202);
    while (gate.entered() < 1) std::this_thread::yield();  // the worker holds one job
    ASSERT_EQ(call(gw, post("/work")).status, 202);
    ASSERT_EQ(call(gw, post("/work")).status, 202);
    Response refused = call(gw, post("/work"));
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.headers.get("Retry-After"), "3");
    EXPECT_FALSE(refused.headers.contains("Location"));
    EXPECT_EQ(gw.async_dispatcher().stats().rejected, 1u);
    EXPECT_EQ(gw.async_dispatcher().stats().submitted, 3u);
    gate.release();
}

TEST_F(AsyncDispatcherTest, FullStatusStoreAnswers503) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}, .job_records = 1}};
    add_gated_route(gw);
    ASSERT_EQ(call(gw, post("/work")).status, 202);
    EXPECT_EQ(call(gw, post("/work")).status, 503) << "the only record is unfinished";
    gate.release();
}

TEST_F(AsyncDispatcherTest, UnknownJobIs404AndResultBeforeCompletionIs404) {
    Gateway gw{runner.executor()};
    add_gated_route(gw);
    EXPECT_EQ(call(gw, get("/jobs/0123456789abcdef0123456789abcdef")).status, 404);
    const std::string id = nlohmann::json::parse(call(gw, post("/work")).body)["id"];
    Response early = call(gw, get("/jobs/" + id + "/result"));
    EXPECT_EQ(early.status, 404);
    Response pending = call(gw, get("/jobs/" + id));
    EXPECT_EQ(pending.status, 200);
    EXPECT_TRUE(pending.headers.contains("Retry-After"));
    gate.release();
    await_final(gw, id);
}

TEST_F(AsyncDispatcherTest, HandlerPastAttemptTimeoutFailsTheJobWith504) {
    Gateway gw{runner.executor()};
    gw.add(Route{.name = "slow", .method = "POST", .pattern = "/slow",
                 .handler = blocking_handler([](const Request&, Context& ctx) {
                     while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
                     return Response::text(200, "late");
                 }),
                 .dispatch = Dispatch::async, .timeout = 30ms});
    gw.start();
    const std::string id = nlohmann::json::parse(call(gw, post("/slow")).body)["id"];
    auto doc = await_final(gw, id);
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(call(gw, get("/jobs/" + id + "/result")).status, 504);
}

TEST_F(AsyncDispatcherTest, ManyConcurrentSubmitsAllCompleteExactlyOnce) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 4, .queue_capacity = 100'000}}};
    std::atomic<int> runs{0};
    gw.route("POST", "/count", blocking_handler([&](const Request&, Context&) {
                 runs++;
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    constexpr int threads = 8, per_thread = 250;
    std::vector<std::thread> submitters;
    std::mutex ids_mutex;
    std::vector<std::string> ids;
    for (int t = 0; t < threads; ++t)
        submitters.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                Response r = call(gw, post("/count"));
                ASSERT_EQ(r.status, 202);
                std::lock_guard lock(ids_mutex);
                ids.push_back(nlohmann::json::parse(r.body)["id"]);
            }
        });
    for (auto& t : submitters) t.join();
    for (const auto& id : ids) ASSERT_EQ(await_final(gw, id)["status"], "succeeded");
    EXPECT_EQ(runs.load(), threads * per_thread);
    EXPECT_EQ(gw.async_dispatcher().stats().succeeded, std::uint64_t{threads * per_thread});
}


TEST_F(AsyncDispatcherTest, FailedAttemptsAreRedeliveredWithBackoffUntilOneSucceeds) {
    Gateway gw{runner.executor()};
    std::vector<int> attempts;
    std::mutex m;
    gw.add(Route{.name = "flaky", .method = "POST", .pattern = "/flaky",
                 .handler = blocking_handler([&](const Request&, Context& ctx) {
                     std::lock_guard lock(m);
                     attempts.push_back(ctx.attempt);
                     return Response::text(ctx.attempt < 3 ? 503 : 200, "attempt " + std::to_string(ctx.attempt));
                 }),
                 .dispatch = Dispatch::async, .redelivery = test::quick_retries(4)});
    gw.start();
    const std::string id = nlohmann::json::parse(call(gw, post("/flaky")).body)["id"];
    auto doc = await_final(gw, id);
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["attempts"], 3);
    EXPECT_EQ(call(gw, get("/jobs/" + id + "/result")).body, "attempt 3");
    EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3})) << "the attempt count travels in the job";
    EXPECT_EQ(gw.async_dispatcher().stats().redelivered, 2u);
}

TEST_F(AsyncDispatcherTest, WhenAttemptsRunOutTheJobIsDeadLetteredWithTheLastAnswer) {
    Gateway gw{runner.executor()};
    gw.add(Route{.name = "down", .method = "POST", .pattern = "/down",
                 .handler = blocking_handler([](const Request&, Context& ctx) {
                     return Response::text(502, "attempt " + std::to_string(ctx.attempt));
                 }),
                 .dispatch = Dispatch::async, .redelivery = test::quick_retries(3)});
    gw.add(Route{.name = "bug", .method = "POST", .pattern = "/bug",
                 .handler = blocking_handler([](const Request&, Context&) { return Response::text(500, "bug"); }),
                 .dispatch = Dispatch::async, .redelivery = test::quick_retries(3)});
    gw.start();
    const std::string down = nlohmann::json::parse(call(gw, post("/down")).body)["id"];
    const std::string bug = nlohmann::json::parse(call(gw, post("/bug")).body)["id"];
    auto doc = await_final(gw, down);
    EXPECT_EQ(doc["status"], "dead_lettered");
    EXPECT_EQ(doc["attempts"], 3);
    EXPECT_EQ(call(gw, get("/jobs/" + down + "/result")).body, "attempt 3");
    auto failed = await_final(gw, bug);
    EXPECT_EQ(failed["status"], "failed") << "500 is not retryable by default: it fails, it is not dead-lettered";
    EXPECT_EQ(failed["attempts"], 1);
}

TEST_F(AsyncDispatcherTest, AdmissionPoliciesRunAtSubmitAndRefuseBeforeAnythingIsQueued) {
    Gateway gw{runner.executor()};
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.001, .burst = 1});
    auto admission = std::make_shared<DynamicPipeline>();
    admission->add(RateLimitPolicy{limiter});
    gw.add(Route{.name = "limited", .method = "POST", .pattern = "/limited",
                 .handler = blocking_handler([](const Request&, Context&) { return Response::text(200, "ok"); }),
                 .dispatch = Dispatch::async, .admission = admission});
    gw.start();
    EXPECT_EQ(call(gw, post("/limited")).status, 202);
    Response refused = call(gw, post("/limited"));
    EXPECT_EQ(refused.status, 429);
    EXPECT_FALSE(refused.headers.contains("Location"));
    EXPECT_EQ(gw.async_dispatcher().stats().submitted, 1u);
}

TEST_F(AsyncDispatcherTest, OpenBreakerOnTheWorkerDelaysTheJobInsteadOfRunningIt) {
    Gateway gw{runner.executor()};
    auto breaker = std::make_shared<CircuitBreaker>("upstream");
    auto execution = std::make_shared<DynamicPipeline>();
    execution->add(CircuitBreakerPolicy{breaker});
    std::atomic<int> calls{0};
    gw.add(Route{.name = "guarded", .method = "POST", .pattern = "/guarded",
                 .handler = blocking_handler([&](const Request&, Context&) {
                     ++calls;
                     return Response::text(200, "ok");
                 }),
                 .dispatch = Dispatch::async, .policies = execution, .redelivery = test::quick_retries(50, 5ms)});
    gw.start();
    breaker->force_open();
    const std::string id = nlohmann::json::parse(call(gw, post("/guarded")).body)["id"];
    while (gw.async_dispatcher().stats().redelivered < 2) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(calls.load(), 0) << "an open breaker keeps the handler from running";
    EXPECT_EQ(status_of(gw, id)["status"], "queued");
    breaker->reset();
    EXPECT_EQ(await_final(gw, id)["status"], "succeeded");
    EXPECT_EQ(calls.load(), 1);
}

TEST_F(AsyncDispatcherTest, ARetryPolicyAroundEachAttemptIsRefused) {
    Gateway gw{runner.executor()};
    auto execution = std::make_shared<DynamicPipeline>();
    execution->add(RetryPolicy{});
    EXPECT_THROW(gw.add(Route{.name = "twice", .method = "POST", .pattern = "/twice",
                              .handler = blocking_handler([](const Request&, Context&) { return Response{}; }),
                              .dispatch = Dispatch::async, .policies = execution}),
                 std::invalid_argument)
        << "one retry loop: redelivery, never a retry inside each attempt";
}

TEST_F(AsyncDispatcherTest, ShutdownDoesNotWaitOutABackoffAndLeavesTheJobQueued) {
    Gateway gw{runner.executor()};
    gw.add(Route{.name = "later", .method = "POST", .pattern = "/later",
                 .handler = blocking_handler([](const Request&, Context&) { return Response::text(503, "busy"); }),
                 .dispatch = Dispatch::async, .redelivery = test::quick_retries(3, 1h)});
    gw.start();
    const std::string id = nlohmann::json::parse(call(gw, post("/later")).body)["id"];
    while (gw.async_dispatcher().stats().delayed < 1) std::this_thread::sleep_for(1ms);
    runner.wait(gw.shutdown(5s));  // must not wait out the hour
    auto doc = status_of(gw, id);
    EXPECT_EQ(doc["status"], "queued") << "kept for its next attempt (by a durable backend)";
    EXPECT_NE(doc["error"].get<std::string>().find("attempt 1: the handler answered 503"), std::string::npos);
}

TEST_F(AsyncDispatcherTest, ShutdownDrainsTheAcceptedJobsWithinTheGrace) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}}};
    gw.route("POST", "/work", blocking_handler([](const Request&, Context&) {
                 std::this_thread::sleep_for(5ms);
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    std::vector<std::string> ids;
    for (int i = 0; i < 8; ++i) ids.push_back(nlohmann::json::parse(call(gw, post("/work")).body)["id"]);
    runner.wait(gw.shutdown(10s));
    for (const auto& id : ids) EXPECT_EQ(status_of(gw, id)["status"], "succeeded") << "accepted before shutdown";
    EXPECT_EQ(call(gw, post("/work")).status, 503) << "nothing new once shutting down";
}

TEST_F(AsyncDispatcherTest, AJobRunningPastTheGraceIsHandedBackAndTheRestStaysQueued) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}}};
    add_gated_route(gw);
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(nlohmann::json::parse(call(gw, post("/work")).body)["id"]);
    while (gate.entered() < 1) std::this_thread::yield();
    runner.wait(gw.shutdown(20ms));  // the first job is held past the grace
    auto first = status_of(gw, ids[0]);
    EXPECT_EQ(first["status"], "queued") << "handed back unrun, for another worker";
    EXPECT_EQ(first["attempts"], 0) << "the handed-back attempt is not charged";
    EXPECT_NE(first["history"].dump().find("handed back at shutdown"), std::string::npos);
    EXPECT_EQ(status_of(gw, ids[2])["status"], "queued") << "abandoned at the end of the grace, never started";
    gate.release();
    EXPECT_EQ(gate.entered(), 1) << "nothing else started";
}
