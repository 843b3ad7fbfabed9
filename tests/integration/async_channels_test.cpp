// How async clients learn of the end of their jobs, over real sockets: poll -> 303 -> result,
// signed webhooks to a real receiver (retried, then dead-lettered), Server-Sent Events, and the
// admin listener's backlog figures and worker count. The gateway and the upstream are real
// processes; the webhook receivers run in the test.
#include <ante/dispatch/webhook.hpp>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/webhook_receiver.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string header(const test::WebhookReceiver::Received& r, std::string_view name) {
    const auto it = r.find(boost::beast::string_view(name.data(), name.size()));
    return it == r.end() ? "" : std::string(it->value());
}

class AsyncChannelsTest : public ::testing::Test {
protected:
    void SetUp() override {
        upstream_ = test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", "0"});
        const std::string upstream = "http://127.0.0.1:" + std::to_string(upstream_->wait_for_port(10s));
        const nlohmann::json proxy{{"type", "proxy"}, {"upstream", upstream}};
        const nlohmann::json config{
            {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"access_log", false}}},
            {"admin", {{"address", "127.0.0.1"}, {"port", 0}}},
            {"async",
             {{"workers", 2},
              {"webhooks",
               {{"allow", {hooks(receiver), hooks(failing), hooks(verbose)}},
                {"secret", kSecret},
                {"max_attempts", 3},
                {"base_ms", 10},
                {"max_ms", 10}}}}},
            {"routes",
             {{{"name", "delay"}, {"method", "POST"}, {"path", "/delay/{ms}"}, {"dispatch", "async"},
               {"handler", proxy}},
              {{"name", "inline"}, {"method", "POST"}, {"path", "/status/{code}"}, {"dispatch", "async"},
               {"inline_result", true}, {"handler", proxy}}}},
        };
        config_ = std::filesystem::temp_directory_path() / ("ante-channels-" + std::to_string(::getpid()) + ".json");
        std::ofstream(config_) << config.dump();
        gateway_ = test::ChildProcess::start(ANTE_STANDALONE_BIN, {"--config", config_.string()});
        const std::string line = gateway_->read_line(20s);  // "listening on 127.0.0.1:P admin 127.0.0.1:A"
        port = static_cast<std::uint16_t>(std::stoi(line.substr(line.find(':') + 1)));
        admin = static_cast<std::uint16_t>(std::stoi(line.substr(line.find(':', line.find("admin ")) + 1)));
    }
    void TearDown() override {
        gateway_->signal(SIGTERM);
        EXPECT_EQ(gateway_->wait(), 0);
        std::filesystem::remove(config_);
    }
    static std::string hooks(const test::WebhookReceiver& r) {
        return "http://127.0.0.1:" + std::to_string(r.port()) + "/hooks";
    }
    // Submits; returns the job's status URL.
    std::string submit(const std::string& target, const test::HeaderList& headers = {}) {
        auto r = test::http_request(port, "POST", target, headers);
        EXPECT_EQ(r.result_int(), 202) << r.body();
        return std::string(r[boost::beast::http::field::location]);
    }
    // Polls the status URL until it stops answering 200 with a running job; returns that answer.
    test::HttpResponse poll(const std::string& location) {
        for (int i = 0; i < 5000; ++i) {
            auto r = test::http_request(port, "GET", location);
            if (r.result_int() != 200) return r;
            const std::string s = nlohmann::json::parse(r.body()).value("status", "");
            if (s != "queued" && s != "running") return r;
            std::this_thread::sleep_for(2ms);
        }
        ADD_FAILURE() << location << " never finished";
        return {};
    }

    test::WebhookReceiver receiver;
    test::WebhookReceiver failing{{500, 500, 500, 500}};
    test::WebhookReceiver verbose{{}, 256 * 1024};  // answers 200 with more than the sender reads
    std::uint16_t port = 0, admin = 0;

private:
    std::optional<test::ChildProcess> upstream_, gateway_;
    std::filesystem::path config_;
};

}  // namespace

TEST_F(AsyncChannelsTest, PollingEndsWith303ToTheStoredResult) {
    const std::string location = submit("/delay/30");
    auto done = poll(location);
    ASSERT_EQ(done.result_int(), 303) << done.body();
    EXPECT_EQ(nlohmann::json::parse(done.body())["status"], "succeeded");
    const std::string result_url(done[boost::beast::http::field::location]);
    EXPECT_EQ(result_url, location + "/result");
    auto result = test::http_request(port, "GET", result_url);
    EXPECT_EQ(result.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(result.body())["delayed_ms"], 30) << "the upstream's own answer";

    const std::string inline_location = submit("/status/201");
    auto inline_done = poll(inline_location);
    EXPECT_EQ(inline_done.result_int(), 200) << "an inline-result route answers with the result in the document";
    EXPECT_EQ(nlohmann::json::parse(inline_done.body())["result"]["status"], 201);
}

TEST_F(AsyncChannelsTest, AFinishedJobIsPostedToItsCallbackSignedSoTheReceiverCanVerifyIt) {
    const std::string location = submit("/delay/10", {{"Callback-URL", hooks(receiver) + "/orders?tenant=7"}});
    const std::string id = location.substr(location.rfind('/') + 1);
    auto got = receiver.wait_for(1, 20s);
    ASSERT_EQ(got.size(), 1u);
    const auto& delivery = got[0];
    EXPECT_EQ(delivery.method_string(), "POST");
    EXPECT_EQ(delivery.target(), "/hooks/orders?tenant=7");
    EXPECT_EQ(header(delivery, "Content-Type"), "application/json");
    const auto doc = nlohmann::json::parse(delivery.body());
    EXPECT_EQ(doc["id"], id);
    EXPECT_EQ(doc["status"], "succeeded");
    const std::string webhook_id = header(delivery, kWebhookId), stamp = header(delivery, kWebhookTimestamp),
                      signature = header(delivery, kWebhookSignature);
    EXPECT_FALSE(webhook_id.empty());
    const SystemTime now = std::chrono::system_clock::now();
    EXPECT_TRUE(verify_webhook(kSecret, webhook_id, stamp, signature, delivery.body(), now));
    std::string tampered = delivery.body();
    tampered.replace(tampered.find("succeeded"), 9, "failed!!!");
    EXPECT_FALSE(verify_webhook(kSecret, webhook_id, stamp, signature, tampered, now)) << "a changed body fails";
    EXPECT_FALSE(verify_webhook("whsec_bm90LXRoZS1zZWNyZXQtYXQtYWxs", webhook_id, stamp, signature, delivery.body(), now))
        << "another secret fails";
}

TEST_F(AsyncChannelsTest, AFailingReceiverIsRetriedThenTheDeliveryIsDeadLetteredWithItsReason) {
    const std::string location = submit("/delay/0", {{"Callback-URL", hooks(failing)}});
    auto got = failing.wait_for(3, 20s);
    ASSERT_EQ(got.size(), 3u) << "3 attempts, as configured";
    EXPECT_EQ(header(got[0], kWebhookId), header(got[2], kWebhookId)) << "one delivery, tried again";
    nlohmann::json dead;
    for (int i = 0; i < 2000; ++i) {
        dead = nlohmann::json::parse(test::http_request(admin, "GET", "/dead-letters?route=ante.webhook").body());
        if (dead["count"] == 1) break;
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(dead["count"], 1) << dead.dump();
    EXPECT_EQ(dead["dead_letters"][0]["reason"], "attempts exhausted");
    EXPECT_NE(dead["dead_letters"][0]["last_error"].get<std::string>().find("receiver answered 500"), std::string::npos)
        << dead.dump();
    EXPECT_EQ(failing.wait_for(4, 200ms).size(), 3u) << "no fourth try";
    EXPECT_EQ(nlohmann::json::parse(poll(location).body())["status"], "succeeded")
        << "the job's own outcome does not depend on its webhook";
}

TEST_F(AsyncChannelsTest, AReceiverAnswering2xxWithALongBodyHasItsDeliveryOnce) {
    submit("/delay/0", {{"Callback-URL", hooks(verbose)}});
    ASSERT_EQ(verbose.wait_for(1, 20s).size(), 1u);
    int delivered = 0;
    for (int i = 0; i < 2000 && delivered == 0; ++i) {
        const auto report = nlohmann::json::parse(test::http_request(admin, "GET", "/async/routes").body());
        for (const auto& r : report["routes"])
            if (r["route"] == "ante.webhook") delivered = r["completed"]["succeeded"].get<int>();
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(delivered, 1);
    EXPECT_EQ(verbose.wait_for(2, 300ms).size(), 1u) << "a 2xx is a delivery, whatever its body";
}

TEST_F(AsyncChannelsTest, ACallbackOutsideTheAllowlistIsRefusedWith400AndNothingIsQueued) {
    for (const std::string& url : std::vector<std::string>{"http://127.0.0.1:1/hooks", hooks(receiver) + "mith", "https://127.0.0.1/hooks", hooks(receiver) + "/../admin",
                                  "http://127.0.0.1:" + std::to_string(receiver.port()) + "@evil.example/hooks"}) {
        auto r = test::http_request(port, "POST", "/delay/0", {{"Callback-URL", url}});
        EXPECT_EQ(r.result_int(), 400) << url;
        EXPECT_EQ(r[boost::beast::http::field::content_type], "application/problem+json");
        EXPECT_NE(r.body().find("Callback-URL"), std::string::npos) << r.body();
    }
    auto routes = nlohmann::json::parse(test::http_request(admin, "GET", "/async/routes").body())["routes"];
    for (const auto& route : routes)
        if (route["route"] == "delay") {
            EXPECT_EQ(route["ready"].get<int>() + route["completed"]["succeeded"].get<int>(), 0);
        }
}

TEST_F(AsyncChannelsTest, AnEventStreamIsReadToItsFinalEventAndALateClientGetsTheEndAtOnce) {
    const std::string location = submit("/delay/200");
    auto stream = test::http_request(port, "GET", location + "/events");
    EXPECT_EQ(stream.result_int(), 200);
    EXPECT_EQ(stream[boost::beast::http::field::content_type], "text/event-stream");
    const std::string& events = stream.body();
    EXPECT_NE(events.find("event: status"), std::string::npos) << events;
    const auto last = events.rfind("data: ");
    ASSERT_NE(last, std::string::npos) << events;
    EXPECT_EQ(nlohmann::json::parse(events.substr(last + 6, events.find('\n', last) - last - 6))["status"], "succeeded");

    auto late = test::http_request(port, "GET", location + "/events");
    EXPECT_EQ(late.body().find("\"running\""), std::string::npos) << "only the final state";
    EXPECT_NE(late.body().find("\"succeeded\""), std::string::npos);
    EXPECT_EQ(test::http_request(port, "GET", "/jobs/nope/events").result_int(), 404);
}

TEST_F(AsyncChannelsTest, TheAdminListenerShowsBacklogFiguresAndSetsTheWorkerCount) {
    for (int i = 0; i < 3; ++i) poll(submit("/delay/0"));
    auto routes = nlohmann::json::parse(test::http_request(admin, "GET", "/async/routes").body())["routes"];
    bool seen = false;
    for (const auto& route : routes) {
        if (route["route"] != "delay") continue;
        seen = true;
        EXPECT_EQ(route["completed"]["succeeded"], 3);
        EXPECT_EQ(route["ready"], 0);
        EXPECT_EQ(route["leased"], 0);
        EXPECT_EQ(route["lag_ms"], 0);
    }
    EXPECT_TRUE(seen) << routes.dump();

    auto metrics = test::http_request(admin, "GET", "/metrics");
    EXPECT_EQ(metrics.result_int(), 200);
    EXPECT_EQ(metrics[boost::beast::http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
    for (const std::string line : {"ante_async_jobs_completed_total{route=\"delay\",outcome=\"succeeded\"} 3",
                                   "ante_async_jobs_completed_total{route=\"delay\",outcome=\"failed\"} 0",
                                   "ante_async_jobs{route=\"delay\",state=\"ready\"} 0",
                                   "ante_async_lag_seconds{route=\"delay\"} 0",
                                   "ante_async_redeliveries_total{route=\"inline\"} 0", "ante_async_workers 2",
                                   "# TYPE ante_async_jobs_completed_total counter"})
        EXPECT_NE(metrics.body().find(line + "\n"), std::string::npos) << line << " in\n" << metrics.body();

    auto set = test::http_request(admin, "PUT", "/async/workers", {{"Content-Type", "application/json"}},
                                  R"({"workers": 3})");
    EXPECT_EQ(set.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(test::http_request(admin, "GET", "/async/workers").body())["workers"], 3);
    EXPECT_EQ(test::http_request(admin, "PUT", "/async/workers", {}, R"({"workers": -1})").result_int(), 400);
    EXPECT_EQ(test::http_request(admin, "PUT", "/async/workers", {}, "nonsense").result_int(), 400);
}
