// Resilience policies over real HTTP: the standalone configuration's routes in front of the
// example upstream, set to fail or to be slow.
#include <ante/config/config.hpp>
#include <ante/http/server.hpp>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/io_runner.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace ante;
using namespace std::chrono_literals;

namespace {

class PolicyHttpTest : public ::testing::Test {
protected:
    // Starts the upstream with `upstream_flags` and a gateway whose routes are `routes_json`
    // ("UPSTREAM" stands for the upstream's URL).
    void start(std::vector<std::string> upstream_flags, std::string routes_json, std::string breakers_json = "{}") {
        upstream_flags.insert(upstream_flags.begin(), {"--port", "0"});
        upstream = std::make_unique<test::ChildProcess>(test::ChildProcess::start(ANTE_UPSTREAM_BIN, upstream_flags));
        upstream_port = static_cast<std::uint16_t>(upstream->wait_for_port(10s));
        const std::string url = "http://127.0.0.1:" + std::to_string(upstream_port);
        for (auto at = routes_json.find("UPSTREAM"); at != std::string::npos; at = routes_json.find("UPSTREAM"))
            routes_json.replace(at, 8, url);
        const auto config = parse_config(R"({"breakers": )" + breakers_json + R"(, "routes": )" + routes_json + "}");
        gateway = std::make_unique<Gateway>(runner.executor(), config.gateway);
        add_routes(config, *gateway, runner.executor());
        gateway->start();
        server = std::make_unique<http::Server>(runner.executor(), *gateway,
                                                http::ServerOptions{.address = "127.0.0.1", .access_log = false});
        server->start();
        port = server->port();
    }
    void TearDown() override {
        if (server) runner.wait(server->shutdown(2s));
        if (gateway) runner.wait(gateway->shutdown(2s));
    }
    int upstream_requests() {
        return nlohmann::json::parse(test::http_request(upstream_port, "GET", "/stats").body())["requests"];
    }

    test::IoRunner runner{2};
    std::unique_ptr<test::ChildProcess> upstream;
    std::uint16_t upstream_port = 0;
    std::unique_ptr<Gateway> gateway;
    std::unique_ptr<http::Server> server;
    std::uint16_t port = 0;
};

}  // namespace

TEST_F(PolicyHttpTest, OpenBreakerStopsTrafficToTheUpstreamAndAProbeClosesItAfterTheWait) {
    start({}, R"([{"method": "GET", "path": "/status/{code}", "handler": {"type": "proxy", "upstream": "UPSTREAM"},
                  "policies": {"circuit_breaker": "upstream"}}])",
          R"({"upstream": {"window_size": 4, "minimum_calls": 4, "wait_in_open_ms": 300, "half_open_probes": 1}})");
    for (int i = 0; i < 4; ++i) ASSERT_EQ(test::http_request(port, "GET", "/status/503").result_int(), 503);
    const int reached = upstream_requests();
    EXPECT_EQ(reached, 4);
    for (int i = 0; i < 10; ++i) {
        auto refused = test::http_request(port, "GET", "/status/200");
        EXPECT_EQ(refused.result_int(), 503);
        EXPECT_EQ(refused["Retry-After"], "1");
        EXPECT_NE(refused.body().find("circuit breaker 'upstream' is open"), std::string::npos) << refused.body();
    }
    EXPECT_EQ(upstream_requests(), reached) << "an open breaker sends nothing upstream";

    test::HttpResponse probe;
    for (int i = 0; i < 200; ++i) {  // the wait is 300 ms; polled, not slept for a fixed time
        probe = test::http_request(port, "GET", "/status/200");
        if (probe.result_int() == 200) break;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(probe.result_int(), 200) << "the half-open probe succeeded";
    EXPECT_EQ(test::http_request(port, "GET", "/status/200").result_int(), 200) << "closed again";
    EXPECT_EQ(upstream_requests(), reached + 2);
}

TEST_F(PolicyHttpTest, RetriesTurnAFlakyUpstreamIntoSuccesses) {
    // Half of the upstream's answers are 500; its failure sequence is fixed by the seed.
    start({"--fail-rate", "0.5", "--seed", "11"},
          R"([{"method": "GET", "path": "/api/{rest...}", "handler": {"type": "proxy", "upstream": "UPSTREAM"},
               "policies": {"retry": {"max_attempts": 12, "backoff": "constant", "base_ms": 1, "max_ms": 1,
                                      "retry_on_status": [500, 502, 503, 504], "budget_min": 100}}}])");
    for (int i = 0; i < 20; ++i) EXPECT_EQ(test::http_request(port, "GET", "/api/item/" + std::to_string(i)).result_int(), 200);
    EXPECT_GT(upstream_requests(), 20) << "some answers needed another attempt";
}

TEST_F(PolicyHttpTest, TotalDeadlineEndsTheCallWith504AndNoAttemptStartsAfterIt) {
    // Each attempt times out at 100 ms; the route's 350 ms bound all of them, backoff included.
    start({}, R"([{"method": "GET", "path": "/delay/{ms}", "timeout_ms": 350,
                   "handler": {"type": "proxy", "upstream": "UPSTREAM"},
                   "policies": {"retry": {"max_attempts": 50, "backoff": "constant", "base_ms": 20, "max_ms": 20},
                                "attempt_timeout_ms": 100}}])");
    const auto started = std::chrono::steady_clock::now();
    auto r = test::http_request(port, "GET", "/delay/2000");
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.result_int(), 504);
    EXPECT_GE(took, 300ms) << "attempts ran until the deadline";
    EXPECT_LT(took, 350ms + 2s) << "a correctness bound: the deadline ended it";
    // Attempts start at least 120 ms apart (100 ms timeout + 20 ms backoff): at 0, 120 and 240 ms at
    // the earliest, so a fourth could only start past the 350 ms deadline.
    const int attempts = upstream_requests();
    EXPECT_LE(attempts, 3) << "no attempt starts after the total deadline";
    EXPECT_GE(attempts, 2) << "it did retry";
}
