// Many processes on one Redis: two standalone gateways (role gateway) queue jobs that two
// worker processes (role worker) run against the example upstream, which counts what reaches
// it. Real processes, real sockets, a real redis-server (appendfsync always), real kill -9.

#include "support/child_process.hpp"
#include "support/io_runner.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"

#include <ante/backend/redis/redis_backend.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;

namespace {

class RedisProcessesTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!test::RedisServer::binary()) {
            if (std::getenv("ANTE_REQUIRE_REDIS")) FAIL() << "redis-server is not installed";
            GTEST_SKIP() << "redis-server is not installed";
        }
        redis_.emplace(std::vector<std::string>{"--appendonly", "yes", "--appendfsync", "always"});
        upstream_.emplace(test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", "0"}));
        upstream_port_ = static_cast<std::uint16_t>(upstream_->wait_for_port(10s));
        const nlohmann::json proxy{{"type", "proxy"}, {"upstream", "http://127.0.0.1:" + std::to_string(upstream_port_)}};
        const nlohmann::json config{
            {"listen", {{"address", "127.0.0.1"}, {"port", 0}, {"access_log", false}}},
            {"admin", {{"address", "127.0.0.1"}, {"port", 0}}},
            {"backend", {{"type", "redis"}, {"port", redis_->port()}, {"prefix", "processes"}}},
            {"async", {{"workers", 2}, {"visibility_ms", 1000}}},
            {"shutdown_grace_ms", 2000},
            {"routes",
             {{{"name", "work"}, {"method", "POST"}, {"path", "/delay/{ms}"}, {"dispatch", "async"},
               {"handler", proxy},
               {"policies", {{"retry", {{"max_attempts", 20}, {"backoff", "constant"}, {"base_ms", 50}, {"max_ms", 50}}}}}}}},
        };
        config_ = std::filesystem::temp_directory_path() / ("ante-processes-" + std::to_string(::getpid()) + ".json");
        std::ofstream(config_) << config.dump();
        for (int i = 0; i < 2; ++i) {
            gateways_.push_back(start("gateway"));
            const std::string line = gateways_.back().read_line(20s);  // "listening on 127.0.0.1:P admin …"
            ports_.push_back(static_cast<std::uint16_t>(std::stoi(line.substr(line.find(':') + 1))));
        }
        for (int i = 0; i < 2; ++i) {
            workers_.push_back(start("worker"));
            EXPECT_NE(workers_.back().read_line(20s).find("worker admin"), std::string::npos);
        }
    }
    void TearDown() override {
        for (auto* group : {&gateways_, &workers_})
            for (auto& p : *group)
                if (p.running()) {
                    p.signal(SIGTERM);
                    EXPECT_EQ(p.wait(), 0) << "a clean drain";
                }
        std::filesystem::remove(config_);
    }

    test::ChildProcess start(const std::string& role) {
        return test::ChildProcess::start(ANTE_STANDALONE_BIN, {"--config", config_.string(), "--role", role});
    }
    // Submits through gateway `n % 2`; returns the status code and, on 202, the job's status URL.
    std::pair<int, std::string> submit(int n, int ms) {
        auto r = test::http_request(ports_[n % 2], "POST", "/delay/" + std::to_string(ms));
        return {r.result_int(), std::string(r[boost::beast::http::field::location])};
    }
    // Polls (through either gateway) until the job is final; returns its status.
    std::string final_status(const std::string& location, int n) {
        for (int i = 0; i < 3000; ++i) {
            auto r = test::http_request(ports_[(n + i) % 2], "GET", location);
            if (r.result_int() == 303) return "succeeded";
            if (r.result_int() == 200) {
                const std::string s = nlohmann::json::parse(r.body()).value("status", "");
                if (s != "queued" && s != "running") return s;
            }
            std::this_thread::sleep_for(10ms);
        }
        return "never finished";
    }
    int upstream_requests() {
        return nlohmann::json::parse(test::http_request(upstream_port_, "GET", "/stats").body())["requests"].get<int>();
    }

    std::optional<test::RedisServer> redis_;
    std::optional<test::ChildProcess> upstream_;
    std::uint16_t upstream_port_ = 0;
    std::filesystem::path config_;
    std::vector<test::ChildProcess> gateways_, workers_;
    std::vector<std::uint16_t> ports_;
};

TEST_F(RedisProcessesTest, JobsSubmittedToTwoGatewaysReachTheUpstreamExactlyOnce) {
    constexpr int jobs = 200;
    std::vector<std::string> locations;
    for (int n = 0; n < jobs; ++n) {
        auto [status, location] = submit(n, 0);
        ASSERT_EQ(status, 202);
        locations.push_back(location);
    }
    for (int n = 0; n < jobs; ++n) ASSERT_EQ(final_status(locations[n], n), "succeeded") << locations[n];
    EXPECT_EQ(upstream_requests(), jobs) << "each job ran once: no loss, no duplicate";
}

TEST_F(RedisProcessesTest, AWorkerKilledMidJobLosesNoJob) {
    constexpr int jobs = 40;
    std::vector<std::string> locations;
    for (int n = 0; n < jobs; ++n) {
        auto [status, location] = submit(n, 150);
        ASSERT_EQ(status, 202);
        locations.push_back(location);
    }
    std::this_thread::sleep_for(400ms);  // both workers are in the middle of jobs
    workers_[0].signal(SIGKILL);
    EXPECT_EQ(workers_[0].wait(), -SIGKILL);
    for (int n = 0; n < jobs; ++n) ASSERT_EQ(final_status(locations[n], n), "succeeded") << locations[n];
    const int served = upstream_requests();
    EXPECT_GE(served, jobs);
    std::cout << "[ measured ] kill -9 of a worker: " << jobs << " jobs, " << served - jobs
              << " ran twice (at least once is the guarantee)\n";
    RecordProperty("duplicates", served - jobs);
}

TEST_F(RedisProcessesTest, AFullRedisRefusesSubmitsWith503AndLosesNothingAccepted) {
    test::IoRunner runner{1};
    RedisClient admin{runner.io().get_executor(), RedisOptions{.port = redis_->port()}};
    auto set_maxmemory = [&](const std::string& bytes) {
        std::vector<std::string> command{"CONFIG", "SET", "maxmemory", bytes};
        ASSERT_FALSE(runner.wait(admin.command(std::move(command))).is_error());
    };
    auto [before, accepted] = submit(0, 0);
    ASSERT_EQ(before, 202);
    set_maxmemory("1");  // noeviction (Redis's default): writes are refused, nothing is dropped
    for (int n = 0; n < 4; ++n) {
        auto r = test::http_request(ports_[n % 2], "POST", "/delay/0");
        EXPECT_EQ(r.result_int(), 503) << r.body();
        EXPECT_EQ(r[boost::beast::http::field::retry_after], "1");
        EXPECT_EQ(r[boost::beast::http::field::content_type], "application/problem+json");
    }
    set_maxmemory("0");
    EXPECT_EQ(submit(1, 0).first, 202);
    EXPECT_EQ(final_status(accepted, 0), "succeeded");
}

TEST_F(RedisProcessesTest, ARedisRestartRefusesSubmitsWhileDownAndKeepsEveryAcceptedJob) {
    std::atomic<bool> stop{false};
    std::mutex m;
    std::vector<std::string> accepted;
    std::map<int, int> answers;  // status -> count
    std::thread clients([&] {
        for (int n = 0; !stop.load(); ++n) {
            auto [status, location] = submit(n, 20);
            std::lock_guard lock(m);
            ++answers[status];
            if (status == 202) accepted.push_back(location);
            std::this_thread::sleep_for(5ms);
        }
    });
    std::this_thread::sleep_for(500ms);
    redis_->kill();  // a crash: appendfsync always has every acknowledged write on disk
    std::this_thread::sleep_for(800ms);
    redis_->start();
    std::this_thread::sleep_for(1500ms);  // the gateways reconnect and accept again
    stop = true;
    clients.join();

    EXPECT_GT(answers[202], 0);
    EXPECT_GT(answers[503], 0) << "refused while Redis was down";
    EXPECT_EQ(answers.size(), 2u) << "only 202 or 503, never a 500; seen: " << nlohmann::json(answers).dump();
    for (std::size_t n = 0; n < accepted.size(); ++n)
        ASSERT_EQ(final_status(accepted[n], static_cast<int>(n)), "succeeded") << accepted[n];
    std::cout << "[ measured ] Redis restart: " << accepted.size() << " accepted, all completed; " << answers[503]
              << " refused with 503\n";
}

}  // namespace

namespace {

TEST(RedisEvictionPolicy, IsReadSoThatAnEvictingRedisIsWarnedAbout) {
    if (!test::RedisServer::binary()) GTEST_SKIP() << "redis-server is not installed";
    test::IoRunner runner{1};
    auto policy_of = [&](std::vector<std::string> options) {
        test::RedisServer server{std::move(options)};
        RedisClient client{runner.io().get_executor(), RedisOptions{.port = server.port()}};
        return runner.wait(eviction_policy(client));
    };
    EXPECT_EQ(policy_of({}), "noeviction") << "Redis's default";
    EXPECT_EQ(policy_of({"--maxmemory-policy", "allkeys-lru"}), "allkeys-lru");
}

}  // namespace
