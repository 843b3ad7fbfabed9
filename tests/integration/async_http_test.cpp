// The async protocol over real sockets: the standalone gateway, its admin listener and the
// example upstream, each a real process. Idempotent replay, cancel, dead letters and redrive.
#include "support/child_process.hpp"
#include "support/http_client.hpp"

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

class AsyncHttpTest : public ::testing::Test {
protected:
    void SetUp() override {
        upstream_ = test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", "0"});
        const std::string upstream = "http://127.0.0.1:" + std::to_string(upstream_->wait_for_port(10s));
        const nlohmann::json proxy{{"type", "proxy"}, {"upstream", upstream}};
        const nlohmann::json config{
            {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"access_log", false}}},
            {"admin", {{"address", "127.0.0.1"}, {"port", 0}}},
            {"async", {{"workers", 1}}},
            {"routes",
             {{{"name", "status"}, {"method", "POST"}, {"path", "/status/{code}"}, {"dispatch", "async"},
               {"handler", proxy},
               {"policies", {{"retry", {{"max_attempts", 2}, {"backoff", "constant"}, {"base_ms", 1}, {"max_ms", 1}}}}}},
              {{"name", "delay"}, {"method", "POST"}, {"path", "/delay/{ms}"}, {"dispatch", "async"},
               {"handler", proxy}}}},
        };
        config_ = std::filesystem::temp_directory_path() / ("ante-async-" + std::to_string(::getpid()) + ".json");
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
    // Polls the job's status resource until it is final; returns its document.
    nlohmann::json await_final(const std::string& location) {
        for (int i = 0; i < 5000; ++i) {
            auto r = test::http_request(port, "GET", location);
            auto doc = nlohmann::json::parse(r.body());
            const std::string s = doc.value("status", "");
            if (s != "queued" && s != "running") return doc;
            std::this_thread::sleep_for(2ms);
        }
        ADD_FAILURE() << location << " never finished";
        return {};
    }

    std::uint16_t port = 0, admin = 0;

private:
    std::optional<test::ChildProcess> upstream_, gateway_;
    std::filesystem::path config_;
};

}  // namespace

TEST_F(AsyncHttpTest, ASubmitWithAnIdempotencyKeyIsReplayedNotRepeated) {
    auto first = test::http_request(port, "POST", "/status/201", {{"Idempotency-Key", "\"order-42\""}}, "a");
    ASSERT_EQ(first.result_int(), 202);
    auto again = test::http_request(port, "POST", "/status/201", {{"Idempotency-Key", "\"order-42\""}}, "a");
    EXPECT_EQ(again.result_int(), 202);
    EXPECT_EQ(again["Location"], first["Location"]);
    EXPECT_EQ(again["Idempotent-Replayed"], "true");
    auto other = test::http_request(port, "POST", "/status/201", {{"Idempotency-Key", "\"order-42\""}}, "b");
    EXPECT_EQ(other.result_int(), 422);
    EXPECT_EQ(other["Content-Type"], "application/problem+json");
    auto malformed = test::http_request(port, "POST", "/status/201", {{"Idempotency-Key", "has space"}}, "a");
    EXPECT_EQ(malformed.result_int(), 400);
    EXPECT_EQ(await_final(std::string(first["Location"]))["status"], "succeeded");
}

TEST_F(AsyncHttpTest, DeleteCancelsAQueuedJobAndAFinishedOneAnswers409) {
    auto busy = test::http_request(port, "POST", "/delay/300");  // holds the only worker
    ASSERT_EQ(busy.result_int(), 202);
    auto waiting = test::http_request(port, "POST", "/delay/0");
    ASSERT_EQ(waiting.result_int(), 202);
    const std::string location{waiting["Location"]};
    auto cancelled = test::http_request(port, "DELETE", location);
    EXPECT_EQ(cancelled.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(cancelled.body())["status"], "cancelled");
    EXPECT_EQ(await_final(std::string(busy["Location"]))["status"], "succeeded");
    auto doc = await_final(location);
    EXPECT_EQ(doc["status"], "cancelled");
    EXPECT_EQ(doc["attempts"], 0) << "it never ran";
    EXPECT_EQ(test::http_request(port, "DELETE", location).result_int(), 409);
    EXPECT_EQ(test::http_request(port, "DELETE", "/jobs/no-such-job").result_int(), 404);
}

TEST_F(AsyncHttpTest, DeadLettersAreListedAndRedrivenThroughTheAdminListener) {
    auto accepted = test::http_request(port, "POST", "/status/502");
    ASSERT_EQ(accepted.result_int(), 202);
    const std::string location{accepted["Location"]};
    const std::string id = location.substr(location.rfind('/') + 1);
    auto doc = await_final(location);
    EXPECT_EQ(doc["status"], "dead_lettered");
    EXPECT_EQ(doc["attempts"], 2);

    auto list = test::http_request(admin, "GET", "/dead-letters?route=status");
    ASSERT_EQ(list.result_int(), 200);
    auto dead = nlohmann::json::parse(list.body());
    ASSERT_EQ(dead["count"], 1);
    EXPECT_EQ(dead["dead_letters"][0]["id"], id);
    EXPECT_EQ(dead["dead_letters"][0]["reason"], "attempts exhausted");
    EXPECT_EQ(test::http_request(admin, "GET", "/dead-letters/" + id).result_int(), 200);
    EXPECT_EQ(test::http_request(admin, "GET", "/dead-letters?limit=zero").result_int(), 400);
    EXPECT_EQ(test::http_request(port, "GET", "/dead-letters").result_int(), 404) << "not on the public port";

    auto redriven = test::http_request(admin, "POST", "/dead-letters/" + id + "/redrive");
    ASSERT_EQ(redriven.result_int(), 200);
    EXPECT_EQ(nlohmann::json::parse(redriven.body())["redriven"], 1);
    doc = await_final(location);
    EXPECT_EQ(doc["status"], "dead_lettered") << "the upstream still answers 502";
    EXPECT_NE(doc["history"].dump().find("redriven"), std::string::npos);
    EXPECT_EQ(test::http_request(admin, "POST", "/dead-letters/no-such-id/redrive").result_int(), 404);

    auto purged = test::http_request(admin, "DELETE", "/dead-letters?route=status");
    EXPECT_EQ(nlohmann::json::parse(purged.body())["purged"], 1);
    EXPECT_EQ(nlohmann::json::parse(test::http_request(admin, "GET", "/dead-letters").body())["count"], 0);
}
