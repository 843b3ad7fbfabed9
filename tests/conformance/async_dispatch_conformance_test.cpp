// The AsyncDispatcher's guarantees, run over every backend: leases and fencing, redelivery and
// dead letters, TTL, idempotency, cancel. A backend is right when these pass unchanged.

#include "conformance.hpp"
#include "support/gate.hpp"
#include "support/requests.hpp"

#include <ante/gateway.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <nlohmann/json.hpp>

#include <thread>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

class AsyncDispatchConformance : public test::Conformance {
protected:
    // A gateway on this test's backend; `manual_time` puts it on the test's clock.
    std::unique_ptr<Gateway> gateway(bool manual_time, AsyncDispatcherOptions async = {}) {
        std::shared_ptr<const Clock> time = manual_time ? std::shared_ptr<const Clock>(clock) : Clock::real();
        GatewayOptions o;
        o.async = std::move(async);
        o.async.poll_interval = 5ms;
        o.clock = time;
        o.queue = GetParam().make_queue(time, {});
        o.store = GetParam().make_store(time, {});
        return std::make_unique<Gateway>(runner.executor(), o);
    }
    Response call(Gateway& gw, Request r) { return gw.async_dispatch(std::move(r), asio::use_future).get(); }
    std::string submit(Gateway& gw, Request r) {
        Response accepted = call(gw, std::move(r));
        EXPECT_EQ(accepted.status, 202) << accepted.body;
        return nlohmann::json::parse(accepted.body).value("id", "");
    }
    nlohmann::json status_of(Gateway& gw, const std::string& id) {
        return nlohmann::json::parse(call(gw, test::get("/jobs/" + id)).body);
    }
    // The record says dead_lettered a moment before the worker moves the job to the dead letters.
    std::vector<DeadLetter> dead_letters_once_buried(AsyncDispatcher& jobs) {
        for (int i = 0; i < 2'000; ++i) {
            auto dead = runner.wait(jobs.dead_letters({}));
            if (!dead.empty()) return dead;
            std::this_thread::sleep_for(1ms);
        }
        return {};
    }
    nlohmann::json await_final(Gateway& gw, const std::string& id) {
        for (int i = 0; i < 10'000; ++i) {
            auto doc = status_of(gw, id);
            const auto s = doc.value("status", "");
            if (s != "queued" && s != "running") return doc;
            std::this_thread::sleep_for(1ms);
        }
        ADD_FAILURE() << "job " << id << " never finished";
        return {};
    }
    template <class Predicate>
    void await(Predicate done, const char* what) {
        for (int i = 0; i < 10'000 && !done(); ++i) std::this_thread::sleep_for(1ms);
        ASSERT_TRUE(done()) << what;
    }

    test::Gate gate;
};

Request keyed(std::string key, std::string body = "{}") {
    Request r = test::post("/orders", std::move(body));
    r.headers.set("Idempotency-Key", std::move(key));
    return r;
}

}  // namespace

TEST_P(AsyncDispatchConformance, ALeaseLapsingUnderARunningWorkerGivesTheJobToAnotherAndOneFinalState) {
    auto gw = gateway(true, {.workers = 2, .visibility = 10s});
    std::atomic<int> calls{0};
    gw->add(Route{.name = "slow", .method = "POST", .pattern = "/slow",
                  .handler = blocking_handler([&](const Request&, Context& ctx) {
                      ++calls;
                      if (ctx.attempt == 1) gate.wait();  // the first worker stalls
                      return Response::text(200, "attempt " + std::to_string(ctx.attempt));
                  }),
                  .dispatch = Dispatch::async, .timeout = 1h, .redelivery = test::quick_retries(3)});
    gw->start();
    const std::string id = submit(*gw, test::post("/slow"));
    await([&] { return gate.entered() == 1; }, "the first attempt started");
    clock->advance(11s);  // its lease lapses while it still runs
    auto doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["attempts"], 2);
    EXPECT_EQ(call(*gw, test::get("/jobs/" + id + "/result")).body, "attempt 2");
    gate.release();  // the first worker finishes late
    await([&] { return gw->async_dispatcher().stats().stale_results >= 1; }, "the late result was refused");
    EXPECT_EQ(call(*gw, test::get("/jobs/" + id + "/result")).body, "attempt 2") << "one final state";
    EXPECT_EQ(calls.load(), 2);
    EXPECT_EQ(gw->async_dispatcher().stats().succeeded, 1u);
}

TEST_P(AsyncDispatchConformance, AJobWhoseOnlyAttemptsLeaseLapsedIsDeadLetteredWithThatReason) {
    auto gw = gateway(true, {.workers = 2, .visibility = 10s});
    gw->add(Route{.name = "once", .method = "POST", .pattern = "/once",  // no retry policy: one attempt
                  .handler = blocking_handler([&](const Request&, Context&) {
                      gate.wait();
                      return Response::text(200, "late");
                  }),
                  .dispatch = Dispatch::async, .timeout = 1h});
    gw->start();
    const std::string id = submit(*gw, test::post("/once"));
    await([&] { return gate.entered() == 1; }, "the attempt started");
    clock->advance(11s);  // its lease lapses: the next delivery finds its one attempt used
    auto doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "dead_lettered");
    EXPECT_NE(doc["error"].get<std::string>().find("the lease lapsed"), std::string::npos) << doc.dump();
    gate.release();
    await([&] { return gw->async_dispatcher().stats().stale_results >= 1; }, "the late result was refused");
    EXPECT_EQ(status_of(*gw, id)["status"], "dead_lettered") << "one final state";
}

TEST_P(AsyncDispatchConformance, AHandlerHungPastItsAttemptTimeoutIsRedelivered) {
    auto gw = gateway(false);
    std::atomic<int> calls{0};
    gw->add(Route{.name = "hangs", .method = "POST", .pattern = "/hangs",
                  .handler = awaitable_handler([&](Request, Context ctx) -> asio::awaitable<Response> {
                      ++calls;
                      if (ctx.attempt == 1) {  // hangs until cancelled
                          asio::steady_timer forever{co_await asio::this_coro::executor, 1h};
                          co_await forever.async_wait(asio::use_awaitable);
                      }
                      co_return Response::text(200, "done");
                  }),
                  .dispatch = Dispatch::async, .timeout = 100ms, .redelivery = test::quick_retries(3)});
    gw->start();
    const std::string id = submit(*gw, test::post("/hangs"));
    auto doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["attempts"], 2);
    EXPECT_NE(doc["history"].dump().find("attempt 1: the handler answered 504"), std::string::npos) << doc.dump();
    EXPECT_EQ(calls.load(), 2);
}

TEST_P(AsyncDispatchConformance, SixtyFourConcurrentSubmitsWithOneKeyMakeOneJob) {
    auto gw = gateway(false, {.workers = 4});
    std::atomic<int> calls{0};
    gw->route("POST", "/orders", blocking_handler([&](const Request&, Context&) {
                  ++calls;
                  return Response::text(200, "made");
              }),
              Dispatch::async);
    gw->start();
    std::vector<std::future<Response>> answers;
    for (int i = 0; i < 64; ++i) answers.push_back(gw->async_dispatch(keyed("order-1"), asio::use_future));
    std::set<std::string> locations;
    int replayed = 0;
    for (auto& a : answers) {
        Response r = a.get();
        ASSERT_EQ(r.status, 202) << r.body;
        locations.insert(std::string(r.headers.get("Location").value_or("")));
        replayed += r.headers.get("Idempotent-Replayed") == "true";
    }
    ASSERT_EQ(locations.size(), 1u) << "every caller gets the one job's Location";
    EXPECT_EQ(replayed, 63);
    const std::string id = locations.begin()->substr(std::string("/jobs/").size());
    EXPECT_EQ(await_final(*gw, id)["status"], "succeeded");
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(gw->async_dispatcher().stats().submitted, 1u);

    EXPECT_EQ(call(*gw, keyed("order-1", R"({"other":1})")).status, 422) << "same key, different request";
    EXPECT_EQ(call(*gw, keyed("bad key with spaces")).status, 400);
    EXPECT_EQ(call(*gw, keyed(std::string(256, 'k'))).status, 400);
    Request twice = keyed("order-1");
    twice.headers.add("Idempotency-Key", "order-2");
    EXPECT_EQ(call(*gw, twice).status, 400) << "which key would a retry carry?";
    Response later = call(*gw, keyed("order-1"));
    EXPECT_EQ(later.status, 202);
    EXPECT_EQ(later.headers.get("Location"), *locations.begin()) << "replayed after completion too";
    EXPECT_EQ(calls.load(), 1);
}

TEST_P(AsyncDispatchConformance, KeysAreScopedPerRouteAndPerClientWhenConfigured) {
    auto gw = gateway(false);
    gw->add(Route{.name = "orders", .method = "POST", .pattern = "/orders",
                  .handler = inline_handler([](const Request&, Context&) { return Response::text(200, "ok"); }),
                  .dispatch = Dispatch::async,
                  .idempotency = {.client_header = "X-Api-Key"}});
    gw->start();
    Request alice = keyed("k1");
    alice.headers.set("X-Api-Key", "alice");
    Request bob = keyed("k1");
    bob.headers.set("X-Api-Key", "bob");
    const std::string a = submit(*gw, alice);
    const std::string b = submit(*gw, bob);
    EXPECT_NE(a, b) << "two clients never share a key";
    EXPECT_EQ(submit(*gw, alice), a);
}

TEST_P(AsyncDispatchConformance, APoisonJobIsDeadLetteredAfterMaxAttemptsAndRedrivenWithItsHistory) {
    auto gw = gateway(false);
    std::atomic<int> calls{0};
    gw->add(Route{.name = "poison", .method = "POST", .pattern = "/poison",
                  .handler = blocking_handler([&](const Request&, Context& ctx) {
                      ++calls;
                      return Response::text(502, "attempt " + std::to_string(ctx.attempt));
                  }),
                  .dispatch = Dispatch::async, .redelivery = test::quick_retries(4)});
    gw->start();
    const std::string id = submit(*gw, test::post("/poison"));
    auto doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "dead_lettered");
    EXPECT_EQ(doc["attempts"], 4);
    EXPECT_EQ(calls.load(), 4) << "called exactly max attempts times";
    EXPECT_EQ(doc["history"].size(), 4u) << doc.dump();
    EXPECT_EQ(call(*gw, test::get("/jobs/" + id + "/result")).body, "attempt 4") << "the last answer is kept";

    AsyncDispatcher& jobs = gw->async_dispatcher();
    auto dead = dead_letters_once_buried(jobs);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].job.id, id);
    EXPECT_EQ(dead[0].reason, "attempts exhausted");
    EXPECT_NE(dead[0].last_error.find("502"), std::string::npos);
    EXPECT_EQ(dead[0].job.attempt, 4);

    EXPECT_EQ(runner.wait(jobs.redrive({.id = id})), 1u);
    doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "dead_lettered");
    EXPECT_EQ(doc["attempts"], 4) << "a new series of attempts";
    EXPECT_EQ(calls.load(), 8);
    EXPECT_NE(doc["history"].dump().find("redriven"), std::string::npos) << "the history is kept";
    EXPECT_GE(doc["history"].size(), 9u);
    ASSERT_EQ(dead_letters_once_buried(jobs).size(), 1u);
    EXPECT_EQ(runner.wait(jobs.purge({})), 1u);
    EXPECT_TRUE(runner.wait(jobs.dead_letters({})).empty());
}

TEST_P(AsyncDispatchConformance, RedrivesRacingForOneDeadLetterRunItOnceAndNeverUndoItsOutcome) {
    auto gw = gateway(false);
    std::atomic<bool> healthy{false};
    std::atomic<int> calls{0};
    gw->add(Route{.name = "flaky", .method = "POST", .pattern = "/flaky",
                  .handler = blocking_handler([&](const Request&, Context&) {
                      ++calls;
                      return Response::text(healthy ? 200 : 502, "");
                  }),
                  .dispatch = Dispatch::async, .redelivery = test::quick_retries(1)});
    gw->start();
    const std::string id = submit(*gw, test::post("/flaky"));
    ASSERT_EQ(await_final(*gw, id)["status"], "dead_lettered");
    healthy = true;
    AsyncDispatcher& jobs = gw->async_dispatcher();
    std::vector<std::future<std::size_t>> redrives;  // as from several admin listeners at once
    for (int i = 0; i < 8; ++i)
        redrives.push_back(boost::asio::co_spawn(runner.io(), jobs.redrive({.id = id}), boost::asio::use_future));
    std::size_t redriven = 0;
    for (auto& r : redrives) redriven += r.get();
    EXPECT_EQ(redriven, 1u);
    EXPECT_EQ(await_final(*gw, id)["status"], "succeeded");
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(status_of(*gw, id)["status"], "succeeded") << "no late redrive put it back in the queue";
    EXPECT_EQ(calls.load(), 2);
}

TEST_P(AsyncDispatchConformance, AJobForAnUnknownRouteGoesToTheDeadLettersWithTheReason) {
    auto gw = gateway(false);
    gw->route("POST", "/known", inline_handler([](const Request&, Context&) { return Response{}; }), Dispatch::async);
    gw->start();
    AsyncDispatcher& jobs = gw->async_dispatcher();
    // A job from a gateway that knows a route this worker does not.
    const Job stray{.id = "stray-1", .route = "gone", .correlation_id = "c", .request = serialize(test::post("/gone")),
                    .attempt = 0, .enqueued_at = {}};
    ASSERT_EQ(runner.wait(jobs.store().create(JobRecord{.id = stray.id, .route = "gone"})), Errc::ok);
    ASSERT_EQ(runner.wait(jobs.queue().enqueue(stray)), Errc::ok);
    auto doc = await_final(*gw, stray.id);
    EXPECT_EQ(doc["status"], "dead_lettered");
    auto dead = runner.wait(jobs.dead_letters({.id = stray.id}));
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_NE(dead[0].reason.find("no route named 'gone'"), std::string::npos);
}

TEST_P(AsyncDispatchConformance, AJobWhoseTimeToLivePassesNeverRuns) {
    auto gw = gateway(true, {.workers = 1});
    std::atomic<int> late_calls{0};
    gw->route("POST", "/block", blocking_handler([&](const Request&, Context&) {
                  gate.wait();
                  return Response::text(200, "ok");
              }),
              Dispatch::async);
    gw->add(Route{.name = "fresh", .method = "POST", .pattern = "/fresh",
                  .handler = blocking_handler([&](const Request&, Context&) {
                      ++late_calls;
                      return Response::text(200, "too late");
                  }),
                  .dispatch = Dispatch::async, .job_ttl = 5s});
    gw->start();
    const std::string blocker = submit(*gw, test::post("/block"));
    await([&] { return gate.entered() == 1; }, "the only worker is busy");
    const std::string id = submit(*gw, test::post("/fresh"));
    clock->advance(6s);
    gate.release();
    EXPECT_EQ(await_final(*gw, blocker)["status"], "succeeded");
    auto doc = await_final(*gw, id);
    EXPECT_EQ(doc["status"], "expired");
    EXPECT_EQ(late_calls.load(), 0) << "its handler is never called";
    EXPECT_EQ(call(*gw, test::get("/jobs/" + id)).status, 200) << "no result to redirect to";
}

TEST_P(AsyncDispatchConformance, CancellingAQueuedJobMeansItNeverRuns) {
    auto gw = gateway(false, {.workers = 1});
    std::atomic<int> calls{0};
    gw->route("POST", "/work", blocking_handler([&](const Request&, Context&) {
                  if (++calls == 1) gate.wait();
                  return Response::text(200, "ok");
              }),
              Dispatch::async);
    gw->start();
    const std::string first = submit(*gw, test::post("/work"));
    await([&] { return gate.entered() == 1; }, "the only worker is busy");
    const std::string second = submit(*gw, test::post("/work"));
    Request del = test::get("/jobs/" + second);
    del.method = "DELETE";
    Response cancelled = call(*gw, del);
    EXPECT_EQ(cancelled.status, 200);
    EXPECT_EQ(nlohmann::json::parse(cancelled.body)["status"], "cancelled");
    gate.release();
    EXPECT_EQ(await_final(*gw, first)["status"], "succeeded");
    EXPECT_EQ(status_of(*gw, second)["status"], "cancelled");
    EXPECT_EQ(call(*gw, del).status, 409) << "finished: nothing to cancel";
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(calls.load(), 1) << "the cancelled job never ran";
}

TEST_P(AsyncDispatchConformance, CancellingARunningJobReachesItsHandler) {
    auto gw = gateway(false);
    std::atomic<bool> saw_stop{false};
    gw->add(Route{.name = "long", .method = "POST", .pattern = "/long",
                  .handler = blocking_handler([&](const Request&, Context& ctx) {
                      gate.wait();
                      for (int i = 0; i < 10'000 && !ctx.stop.stop_requested(); ++i) std::this_thread::sleep_for(1ms);
                      saw_stop = ctx.stop.stop_requested();
                      return Response::text(200, "stopped");
                  }),
                  .dispatch = Dispatch::async, .timeout = 1h});
    gw->start();
    const std::string id = submit(*gw, test::post("/long"));
    await([&] { return gate.entered() == 1; }, "the job is running");
    Request del = test::get("/jobs/" + id);
    del.method = "DELETE";
    Response asked = call(*gw, del);
    EXPECT_EQ(asked.status, 202);
    EXPECT_EQ(nlohmann::json::parse(asked.body)["cancel_requested"], true);
    gate.release();
    EXPECT_EQ(await_final(*gw, id)["status"], "cancelled");
    await([&] { return saw_stop.load(); }, "the handler saw the stop request");
}

TEST_P(AsyncDispatchConformance, APermanentFailureIsNotRetried) {
    auto gw = gateway(false);
    std::atomic<int> calls{0};
    gw->add(Route{.name = "permanent", .method = "POST", .pattern = "/permanent",
                  .handler = inline_handler([&](const Request&, Context&) {
                      ++calls;
                      Response r = Response::text(503, "the account is closed");
                      r.permanent = true;
                      return r;
                  }),
                  .dispatch = Dispatch::async, .redelivery = test::quick_retries(5)});
    gw->start();
    auto doc = await_final(*gw, submit(*gw, test::post("/permanent")));
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["attempts"], 1);
    EXPECT_EQ(calls.load(), 1);
}

TEST_P(AsyncDispatchConformance, SyncRoutesReplayTheSavedResponseAndRefuseADuplicateInProgress) {
    auto gw = gateway(false);
    std::atomic<int> calls{0};
    gw->route("POST", "/pay", blocking_handler([&](const Request&, Context&) {
                  if (++calls == 1) gate.wait();
                  return Response::text(201, "receipt " + std::to_string(calls.load()));
              }));
    gw->start();
    Request pay = test::post("/pay", R"({"amount":5})");
    pay.headers.set("Idempotency-Key", "\"pay-1\"");
    auto first = gw->async_dispatch(pay, asio::use_future);
    await([&] { return gate.entered() == 1; }, "the first call is in progress");
    EXPECT_EQ(call(*gw, pay).status, 409);
    gate.release();
    Response original = first.get();
    EXPECT_EQ(original.status, 201);
    Response replay = call(*gw, pay);
    EXPECT_EQ(replay.status, 201);
    EXPECT_EQ(replay.body, original.body);
    EXPECT_EQ(replay.headers.get("Idempotent-Replayed"), "true");
    Request other = pay;
    other.body = R"({"amount":6})";
    EXPECT_EQ(call(*gw, other).status, 422);
    EXPECT_EQ(calls.load(), 1);
}

TEST_P(AsyncDispatchConformance, SyncRoutesSaveA5xxButFreeTheKeyWhenTheGatewayRefusedBeforeTheHandler) {
    auto gw = gateway(false);
    std::atomic<int> calls{0};
    gw->route("POST", "/flaky", inline_handler([&](const Request&, Context&) {
                  ++calls;
                  return Response::text(503, "down for now");
              }));
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.001, .burst = 1});
    auto limited = std::make_shared<DynamicPipeline>();
    limited->add(RateLimitPolicy{limiter});
    gw->add(Route{.name = "limited", .method = "POST", .pattern = "/limited",
                  .handler = inline_handler([&](const Request&, Context&) { return Response::text(200, "ok"); }),
                  .policies = limited});
    gw->start();
    Request flaky = test::post("/flaky");
    flaky.headers.set("Idempotency-Key", "k-5xx");
    EXPECT_EQ(call(*gw, flaky).status, 503);
    Response replay = call(*gw, flaky);
    EXPECT_EQ(replay.status, 503) << "the handler ran: its 5xx is saved and replayed (Stripe's rule)";
    EXPECT_EQ(replay.headers.get("Idempotent-Replayed"), "true");
    EXPECT_EQ(calls.load(), 1);

    EXPECT_EQ(call(*gw, test::post("/limited")).status, 200) << "takes the only token";
    Request refused = test::post("/limited");
    refused.headers.set("Idempotency-Key", "k-429");
    EXPECT_EQ(call(*gw, refused).status, 429);
    Response again = call(*gw, refused);
    EXPECT_EQ(again.status, 429);
    EXPECT_FALSE(again.headers.contains("Idempotent-Replayed")) << "a refusal before the handler frees the key";
}

ANTE_CONFORMANCE_SUITE(AsyncDispatchConformance);
