// The standalone gateway program, run as a real process in front of the real example upstream.
#include "support/child_process.hpp"
#include "support/http_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>

using namespace ante;
using namespace std::chrono_literals;

namespace {

std::filesystem::path write_config(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() / ("ante-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(path) << text;
    return path;
}

std::string config_text(int upstream_port) {
    const std::string upstream = "http://127.0.0.1:" + std::to_string(upstream_port);
    nlohmann::json config{
        {"listen", {{"address", "127.0.0.1"}, {"port", 0}}},
        {"admin", {{"address", "127.0.0.1"}, {"port", 0}}},
        {"shutdown_grace_ms", 5000},
        {"routes",
         {{{"name", "api"}, {"method", "GET"}, {"path", "/api/{rest...}"}, {"dispatch", "sync"},
           {"handler", {{"type", "proxy"}, {"upstream", upstream}}}},
          {{"name", "orders"}, {"method", "POST"}, {"path", "/orders"}, {"dispatch", "async"},
           {"handler", {{"type", "proxy"}, {"upstream", upstream}}}}}},
    };
    return config.dump(2);
}

// Parses "listening on 127.0.0.1:P admin 127.0.0.1:A" into {P, A}.
std::pair<std::uint16_t, std::uint16_t> ports_of(const std::string& line) {
    auto colon = line.find(':');
    auto admin = line.find("admin ");
    auto admin_colon = line.find(':', admin);
    if (colon == std::string::npos || admin == std::string::npos || admin_colon == std::string::npos)
        throw std::runtime_error("unexpected start line: " + line);
    return {static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1))),
            static_cast<std::uint16_t>(std::stoi(line.substr(admin_colon + 1)))};
}

}  // namespace

TEST(Standalone, ServesSyncAndAsyncRoutesFromAConfigFileAndStopsOnSigterm) {
    auto upstream = test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", "0"});
    const int upstream_port = upstream.wait_for_port(10s);
    auto config = write_config("ok.json", config_text(upstream_port));
    auto gateway = test::ChildProcess::start(ANTE_STANDALONE_BIN, {"--config", config.string()});
    auto [port, admin_port] = ports_of(gateway.read_line(20s));

    auto health = test::http_request(admin_port, "GET", "/healthz");
    EXPECT_EQ(health.result_int(), 200);

    auto sync = test::http_request(port, "GET", "/api/hello", {{"X-Request-Id", "standalone-1"}});
    EXPECT_EQ(sync.result_int(), 200);
    EXPECT_EQ(sync["X-Request-Id"], "standalone-1");
    EXPECT_EQ(nlohmann::json::parse(sync.body())["target"], "/api/hello");

    auto accepted = test::http_request(port, "POST", "/orders", {}, "order-7");
    ASSERT_EQ(accepted.result_int(), 202);
    test::HttpResponse status;
    for (int i = 0; i < 2000 && status.result_int() != 303; ++i) {
        status = test::http_request(port, "GET", std::string(accepted["Location"]));
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(status.result_int(), 303);
    auto result = test::http_request(port, "GET", std::string(status["Location"]));
    EXPECT_EQ(nlohmann::json::parse(result.body())["body"], "order-7");

    gateway.signal(SIGTERM);
    EXPECT_EQ(gateway.wait(), 0);
    std::filesystem::remove(config);
}

TEST(Standalone, BadConfigFailsAtStartNamingTheField) {
    auto config = write_config("bad.json", R"({"listen": {"port": 70000}, "routes": []})");
    // Through a shell, so the test can read the program's stderr.
    auto gateway = test::ChildProcess::start(
        "/bin/sh", {"-c", std::string("exec '") + ANTE_STANDALONE_BIN + "' --config '" + config.string() + "' 2>&1"});
    const std::string message = gateway.read_line(20s);
    EXPECT_NE(message.find("listen.port"), std::string::npos) << message;
    EXPECT_NE(message.find("70000"), std::string::npos) << message;
    EXPECT_EQ(gateway.wait(), 2);
    std::filesystem::remove(config);
}
