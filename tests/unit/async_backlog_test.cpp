// What operators see of the async routes (exact backlog, lag and outcome figures), results
// inline in the status, event streams, and workers that follow the backlog.
#include <ante/core/body_stream.hpp>
#include <ante/gateway.hpp>

#include "support/gate.hpp"
#include "support/io_runner.hpp"
#include "support/manual_clock.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/use_future.hpp>

#include <functional>
#include <map>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using test::get;
using test::post;

namespace {

class AsyncBacklogTest : public ::testing::Test {
protected:
    Response call(Gateway& gw, Request r) { return gw.async_dispatch(std::move(r), asio::use_future).get(); }
    std::string submit(Gateway& gw, const std::string& target) {
        Response r = call(gw, post(target));
        EXPECT_EQ(r.status, 202) << r.body;
        return nlohmann::json::parse(r.body)["id"];
    }
    std::string status(Gateway& gw, const std::string& id) {
        return nlohmann::json::parse(call(gw, get("/jobs/" + id)).body)["status"];
    }
    // Waits (bounded) until `done` holds; a bug fails the test instead of hanging it.
    static void eventually(const std::function<bool()>& done, const char* what) {
        for (int i = 0; i < 10'000 && !done(); ++i) std::this_thread::sleep_for(1ms);
        ASSERT_TRUE(done()) << what;
    }
    static AsyncRouteReport report_of(Gateway& gw, const std::string& route) {
        for (auto& r : test::IoRunner(1).wait(gw.async_dispatcher().route_reports()))
            if (r.route == route) return r;
        ADD_FAILURE() << "no report for route " << route;
        return {};
    }

    test::IoRunner runner{2};
    std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
    test::Gate gate;
};

}  // namespace

TEST_F(AsyncBacklogTest, EachRouteReportsItsExactBacklogLagAndOutcomes) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}, .clock = clock}};
    gw.route("POST", "/a", blocking_handler([&](const Request&, Context&) {
                 gate.wait();
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.add(Route{.name = "b", .method = "POST", .pattern = "/b",
                 .handler = blocking_handler([](const Request&, Context&) { return Response::text(503, "down"); }),
                 .dispatch = Dispatch::async, .redelivery = test::quick_retries(2, 60s)});
    gw.route("POST", "/idle", inline_handler([](const Request&, Context&) { return Response::text(200, ""); }),
             Dispatch::async);
    gw.start();

    const std::string a1 = submit(gw, "/a");
    eventually([&] { return gate.entered() == 1; }, "the first job runs");
    const std::string a2 = submit(gw, "/a"), a3 = submit(gw, "/a");
    clock->advance(5s);
    const std::string b1 = submit(gw, "/b");
    ASSERT_EQ(call(gw, Request{.method = "DELETE", .target = "/jobs/" + a3}).status, 200);

    AsyncRouteReport a = report_of(gw, "POST /a"), b = report_of(gw, "b");
    EXPECT_EQ(a.backlog.ready, 1u) << "a2 waits; a3 was cancelled";
    EXPECT_EQ(a.backlog.leased, 1u) << "a1 runs";
    EXPECT_EQ(a.lag, 5s) << "a2 has waited 5 s by the test's clock";
    EXPECT_EQ(a.cancelled, 1u);
    EXPECT_EQ(b.backlog.ready, 1u);
    EXPECT_EQ(b.lag, 0s);
    const AsyncRouteReport idle = report_of(gw, "POST /idle");
    EXPECT_EQ(idle.backlog.ready + idle.backlog.leased + idle.succeeded, 0u) << "listed before it has jobs";

    gate.release();
    eventually([&] { return status(gw, a2) == "succeeded"; }, "a2 runs once a1 is done");
    eventually([&] { return report_of(gw, "b").backlog.delayed == 1; }, "b1 failed once and waits out its backoff");
    b = report_of(gw, "b");
    EXPECT_EQ(b.redelivered, 1u);
    EXPECT_EQ(b.backlog.ready + b.backlog.leased, 0u);

    clock->advance(60s);
    eventually([&] { return status(gw, b1) == "dead_lettered"; }, "b1's second attempt fails too");
    a = report_of(gw, "POST /a");
    b = report_of(gw, "b");
    EXPECT_EQ(a.succeeded, 2u);
    EXPECT_EQ(a.cancelled, 1u);
    EXPECT_EQ(a.failed + a.dead_lettered + a.expired + a.redelivered, 0u);
    EXPECT_EQ(a.backlog.ready + a.backlog.leased + a.backlog.delayed, 0u);
    EXPECT_EQ(b.redelivered, 1u);
    EXPECT_EQ(b.dead_lettered, 1u);
    EXPECT_EQ(b.backlog.dead, 1u);
    EXPECT_EQ(b.succeeded + b.failed, 0u);
    EXPECT_EQ(status(gw, a1), "succeeded");
}

TEST_F(AsyncBacklogTest, AnInlineResultRouteAnswersTheStatusWithItsResultInsteadOf303) {
    Gateway gw{runner.executor()};
    gw.add(Route{.name = "inline", .method = "POST", .pattern = "/inline",
                 .handler = inline_handler([](const Request&, Context&) { return Response::json(201, {{"n", 7}}); }),
                 .dispatch = Dispatch::async, .inline_result = true});
    gw.add(Route{.name = "binary", .method = "POST", .pattern = "/binary",
                 .handler = inline_handler([](const Request&, Context&) {
                     Response r = Response::text(200, std::string("\xff\x00\x01", 3));
                     r.headers.set("Content-Type", "application/octet-stream");
                     return r;
                 }),
                 .dispatch = Dispatch::async, .inline_result = true});
    gw.start();
    const std::string id = submit(gw, "/inline"), bin = submit(gw, "/binary");
    eventually([&] { return status(gw, id) == "succeeded" && status(gw, bin) == "succeeded"; }, "both finish");
    Response r = call(gw, get("/jobs/" + id));
    EXPECT_EQ(r.status, 200) << "no redirect: the result is in the document";
    EXPECT_FALSE(r.headers.contains("Location"));
    auto doc = nlohmann::json::parse(r.body);
    EXPECT_EQ(doc["result"]["status"], 201);
    EXPECT_EQ(doc["result"]["body"], (nlohmann::json{{"n", 7}}));
    EXPECT_EQ(call(gw, get("/jobs/" + id + "/result")).status, 201) << "the result resource stays";
    doc = nlohmann::json::parse(call(gw, get("/jobs/" + bin)).body);
    EXPECT_EQ(doc["result"]["body_base64"], "/wAB") << "bytes that are not text travel as base64";
}

TEST_F(AsyncBacklogTest, AnEventStreamSendsEachChangeUntilTheFinalOneAndResumesAfterLastEventId) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 1}}};
    gw.route("POST", "/work", blocking_handler([&](const Request&, Context&) {
                 gate.wait();
                 return Response::text(200, "done");
             }),
             Dispatch::async);
    gw.start();
    const std::string id = submit(gw, "/work");
    eventually([&] { return gate.entered() == 1; }, "the job runs");
    auto& jobs = gw.async_dispatcher();
    Response head = runner.wait(jobs.events(id, "", "c"));
    ASSERT_EQ(head.status, 200);
    EXPECT_EQ(head.headers.get("Content-Type"), "text/event-stream");
    ASSERT_TRUE(head.stream);
    // Pieces until the end; empty ones only let a server check for shutdown.
    auto read_all = [&](BodyStream& stream) {
        std::string text;
        while (auto piece = runner.wait(stream.next())) text += *piece;
        return text;
    };
    std::thread finish([&] {
        std::this_thread::sleep_for(50ms);
        gate.release();
    });
    const std::string events = read_all(*head.stream);
    finish.join();
    EXPECT_NE(events.find("event: status\ndata: {"), std::string::npos);
    EXPECT_NE(events.find(R"("status":"running")"), std::string::npos);
    const auto last = events.rfind("id: ");
    ASSERT_NE(last, std::string::npos);
    EXPECT_NE(events.find(R"("status":"succeeded")", last), std::string::npos) << "the final event comes last";
    const std::string last_id = events.substr(last + 4, events.find('\n', last) - last - 4);

    Response late = runner.wait(jobs.events(id, "", "c"));
    const std::string replay = read_all(*late.stream);
    EXPECT_EQ(replay.find("running"), std::string::npos) << "a late client gets only the final state";
    EXPECT_NE(replay.find("succeeded"), std::string::npos);
    Response resumed = runner.wait(jobs.events(id, last_id, "c"));
    EXPECT_EQ(read_all(*resumed.stream), "") << "nothing after the last event it saw";
    EXPECT_EQ(runner.wait(jobs.events("nope", "", "c")).status, 404);
    EXPECT_EQ(jobs.watch().watched(), 0u) << "finished streams stop watching";
}

TEST_F(AsyncBacklogTest, WorkersFollowTheBacklogUpAtOnceAndDownAfterTheWindow) {
    GatewayOptions options{.async = {.workers = 1}, .clock = clock};
    options.async.scaling = {.enabled = true, .min = 1, .max = 4, .backlog_per_worker = 1, .scale_down_after = 10s};
    Gateway gw{runner.executor(), options};
    std::atomic<int> running{0}, peak{0};
    gw.route("POST", "/work", blocking_handler([&](const Request&, Context&) {
                 test::raise_peak(peak, ++running);
                 gate.wait();
                 --running;
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    auto& jobs = gw.async_dispatcher();
    EXPECT_EQ(jobs.workers(), 1u);
    std::vector<std::string> ids;
    for (int i = 0; i < 8; ++i) ids.push_back(submit(gw, "/work"));
    eventually([&] { return jobs.workers() == 4 && gate.entered() == 4; }, "scaled up to the maximum, 4 jobs at once");
    gate.release();
    for (const auto& id : ids) eventually([&] { return status(gw, id) == "succeeded"; }, "every job finishes");
    EXPECT_EQ(peak.load(), 4) << "never more at once than the maximum";
    EXPECT_EQ(jobs.workers(), 4u) << "no scale-down before the window has passed on the clock";
    clock->advance(10s);
    eventually([&] { return jobs.workers() == 1; }, "back to the minimum after the window");
}

TEST_F(AsyncBacklogTest, SetWorkersPausesAndResumesTheQueueWhileIdleWorkersHandJobsBack) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 3}}};
    std::atomic<int> runs{0};
    gw.route("POST", "/work", inline_handler([&](const Request&, Context&) {
                 ++runs;
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    auto& jobs = gw.async_dispatcher();
    EXPECT_EQ(jobs.set_workers(0), 0u);
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(submit(gw, "/work"));
    std::this_thread::sleep_for(100ms);  // time for a wrongly running worker to take a job
    EXPECT_EQ(runs.load(), 0) << "paused: the idle workers handed every job back unrun";
    for (const auto& id : ids) EXPECT_EQ(status(gw, id), "queued");
    EXPECT_EQ(jobs.set_workers(2), 2u);
    for (const auto& id : ids) eventually([&] { return status(gw, id) == "succeeded"; }, "resumed");
    EXPECT_EQ(runs.load(), 20) << "each job ran once";
    EXPECT_EQ(jobs.set_workers(5'000), kMaxWorkers);
}

TEST_F(AsyncBacklogTest, WorkerCountsChangedFromManyThreadsDuringTrafficLoseAndRepeatNoJob) {
    Gateway gw{runner.executor(), GatewayOptions{.async = {.workers = 2}}};
    std::mutex m;
    std::map<std::string, int> runs;  // by the job's request body
    gw.route("POST", "/work", blocking_handler([&](const Request& r, Context&) {
                 std::lock_guard lock(m);
                 ++runs[r.body];
                 return Response::text(200, "ok");
             }),
             Dispatch::async);
    gw.start();
    auto& jobs = gw.async_dispatcher();
    std::atomic<bool> submitting{true};
    std::vector<std::thread> flippers;
    for (int t = 0; t < 4; ++t)
        flippers.emplace_back([&, t] {
            for (std::size_t i = 0; submitting.load(); ++i) {
                jobs.set_workers((i * 7 + static_cast<std::size_t>(t)) % 9);  // 0..8, pauses included
                std::this_thread::yield();
            }
        });
    std::vector<std::string> ids;
    for (int i = 0; i < 400; ++i) {
        Response r = call(gw, post("/work", "job-" + std::to_string(i)));
        ASSERT_EQ(r.status, 202);
        ids.push_back(nlohmann::json::parse(r.body)["id"]);
    }
    submitting = false;
    for (auto& t : flippers) t.join();
    jobs.set_workers(3);
    for (const auto& id : ids) eventually([&] { return status(gw, id) == "succeeded"; }, "every job finishes");
    std::lock_guard lock(m);
    EXPECT_EQ(runs.size(), 400u);
    for (const auto& [body, n] : runs) EXPECT_EQ(n, 1) << body << " ran more than once";
}
