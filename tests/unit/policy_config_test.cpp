// The `policies` and `breakers` parts of the standalone gateway's configuration.
#include <ante/config/config.hpp>

#include "support/config_error.hpp"

#include "support/io_runner.hpp"

#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>

using namespace ante;
using namespace std::chrono_literals;

namespace {

// A document with one route of `dispatch` whose `policies` are `policies`, plus `extra` fields.
std::string document(const std::string& policies, const std::string& dispatch = "sync", const std::string& extra = "") {
    return R"({)" + extra + R"("routes": [{"method": "GET", "path": "/x", "dispatch": ")" + dispatch +
           R"(", "handler": {"type": "static", "status": 503}, "policies": )" + policies + "}]}";
}

constexpr const char* one_breaker = R"("breakers": {"up": {"minimum_calls": 2, "window_size": 2}}, )";

std::string error_of(const std::string& text) { return ante::test::config_error_of(text); }

}  // namespace

TEST(PolicyConfig, ParsesEveryPolicyField) {
    const auto config = parse_config(document(R"({
        "rate_limit": {"rate_per_second": 50, "burst": 10, "key": "header:X-Api-Key", "max_keys": 7},
        "bulkhead": {"max_concurrent": 5, "max_wait_ms": 20},
        "retry": {"max_attempts": 4, "backoff": "decorrelated_jitter", "base_ms": 10, "max_ms": 500,
                  "multiplier": 3, "retry_on_status": [503], "retry_non_idempotent": true,
                  "honour_retry_after": false, "budget_ratio": 0.5, "budget_min": 1},
        "circuit_breaker": "up",
        "attempt_timeout_ms": 250,
        "fallback": {"status": 200, "body": "stale", "content_type": "application/json", "on_status": [503, 504]},
        "order": ["rate_limit", "fallback", "bulkhead", "retry", "circuit_breaker", "attempt_timeout"]})",
                                              "sync", R"("breakers": {"up": {"window": "time", "window_size": 30,
        "minimum_calls": 5, "failure_rate": 0.25, "slow_call_rate": 0.8, "slow_call_ms": 900,
        "wait_in_open_ms": 4000, "wait_multiplier": 2, "max_wait_in_open_ms": 60000, "half_open_probes": 2,
        "probe_timeout_ms": 3000}}, )"));
    const PolicyConfig& p = config.routes.at(0).policies;
    ASSERT_TRUE(p.rate_limit && p.bulkhead && p.retry && p.attempt_timeout && p.fallback);
    EXPECT_EQ(p.rate_limit->limiter.rate_per_second, 50);
    EXPECT_EQ(p.rate_limit->limiter.burst, 10);
    EXPECT_EQ(p.rate_limit->limiter.max_keys, 7u);
    EXPECT_EQ(p.rate_limit->key, RateLimitPolicy::Key::header);
    EXPECT_EQ(p.rate_limit->key_header, "X-Api-Key");
    EXPECT_EQ(p.bulkhead->max_concurrent, 5u);
    EXPECT_EQ(p.bulkhead->max_wait, 20ms);
    EXPECT_EQ(p.retry->options.max_attempts, 4);
    EXPECT_EQ(p.retry->options.backoff.kind, Backoff::Kind::decorrelated_jitter);
    EXPECT_EQ(p.retry->options.backoff.base, 10ms);
    EXPECT_EQ(p.retry->options.backoff.max, 500ms);
    EXPECT_EQ(p.retry->options.backoff.multiplier, 3.0);
    EXPECT_EQ(p.retry->options.retry_on_status, std::vector<int>{503});
    EXPECT_TRUE(p.retry->options.retry_non_idempotent);
    EXPECT_FALSE(p.retry->options.honour_retry_after);
    EXPECT_EQ(p.retry->budget_ratio, 0.5);
    EXPECT_EQ(p.retry->budget_min, 1u);
    EXPECT_EQ(p.circuit_breaker, "up");
    EXPECT_EQ(*p.attempt_timeout, 250ms);
    EXPECT_EQ(p.fallback->body, "stale");
    EXPECT_EQ(p.fallback->on_status, (std::vector<int>{503, 504}));
    EXPECT_EQ(p.order.front(), PolicyKind::rate_limit);
    const CircuitBreakerOptions& b = config.breakers.at("up");
    EXPECT_EQ(b.window, CircuitBreakerOptions::Window::time);
    EXPECT_EQ(b.window_size, 30u);
    EXPECT_EQ(b.minimum_calls, 5u);
    EXPECT_EQ(b.failure_rate_threshold, 0.25);
    EXPECT_EQ(b.slow_call_rate_threshold, 0.8);
    EXPECT_EQ(b.slow_call_duration, 900ms);
    EXPECT_EQ(b.wait_in_open, 4000ms);
    EXPECT_EQ(b.wait_multiplier, 2.0);
    EXPECT_EQ(b.max_wait_in_open, 60000ms);
    EXPECT_EQ(b.half_open_probes, 2u);
    EXPECT_EQ(b.probe_timeout, 3000ms);
}

TEST(PolicyConfig, DefaultsFollowTheLibrariesUsersKnow) {
    const auto config = parse_config(document(R"({"retry": {}, "bulkhead": {}, "circuit_breaker": "up"})", "sync",
                                              R"("breakers": {"up": {}}, )"));
    const PolicyConfig& p = config.routes.at(0).policies;
    EXPECT_EQ(p.retry->options.max_attempts, 3);
    EXPECT_EQ(p.retry->options.backoff.kind, Backoff::Kind::full_jitter);
    EXPECT_EQ(p.retry->options.retry_on_status, (std::vector<int>{502, 503, 504}));
    EXPECT_EQ(p.retry->budget_ratio, 0.2);
    EXPECT_EQ(p.bulkhead->max_concurrent, 25u);
    EXPECT_EQ(config.breakers.at("up").failure_rate_threshold, 0.5);
    EXPECT_EQ(config.breakers.at("up").minimum_calls, 100u);
    EXPECT_TRUE(p.order.empty()) << "empty means the default order";
}

TEST(PolicyConfig, ErrorsNameTheFieldAndTheReason) {
    const std::pair<std::string, std::string> cases[] = {
        {document(R"({"circuit_breaker": "nope"})"),
         "routes[0].policies.circuit_breaker: no breaker named \"nope\" in \"breakers\" (none is defined)"},
        {document(R"({"circuit_breaker": "nope"})", "sync", one_breaker),
         "routes[0].policies.circuit_breaker: no breaker named \"nope\" in \"breakers\"; defined: \"up\""},
        {document(R"({"retry": {"backoff": "fibonacci"}})"), "routes[0].policies.retry.backoff: expected \"constant\""},
        {document(R"({"retry": {"base_ms": 100, "max_ms": 10}})"),
         "routes[0].policies.retry.max_ms: must be at least base_ms (100)"},
        {document(R"({"retry": {"retry_on_status": [503, "504"]}})"),
         "routes[0].policies.retry.retry_on_status[1]: expected an integer 100..599, got \"504\""},
        {document(R"({"rate_limit": {"key": "header:"}})"), "routes[0].policies.rate_limit.key: expected \"none\""},
        {document(R"({"rate_limit": {"rate_per_second": -1}})"),
         "routes[0].policies.rate_limit.rate_per_second: expected a number"},
        {document(R"({"bulkhead": {"max_concurrent": 0}})"), "routes[0].policies.bulkhead.max_concurrent: must be at least 1"},
        {document(R"({"fallback": {"status": 200}})", "async"), "routes[0].policies.fallback: a fallback answers"},
        {document(R"({"retry": {}, "order": ["retry", "bulkhead"]})"),
         "routes[0].policies.order: lists \"bulkhead\", which is not configured"},
        {document(R"({"retry": {}, "attempt_timeout_ms": 5, "order": ["retry"]})"),
         "routes[0].policies.order: leaves out \"attempt_timeout\", which is configured"},
        {document(R"({"retry": {}, "order": ["retry", "retry"]})"), "routes[0].policies.order[1]: named twice"},
        {document(R"({"retry": {}, "order": ["retries"]})"), "routes[0].policies.order[0]: expected one of"},
        {document(R"({"retyr": {}})"), "routes[0].policies.retyr: unknown field"},
        {document("{}", "sync", R"("breakers": {"up": {"failure_rate": 1.5}}, )"),
         "breakers.up.failure_rate: expected a number 0.0..1.0, got 1.5"},
        {document("{}", "sync", R"("breakers": {"up": {"wait_in_open_ms": 5000, "max_wait_in_open_ms": 10}}, )"),
         "breakers.up.max_wait_in_open_ms: must be at least wait_in_open_ms (5000)"},
    };
    for (const auto& [text, expected] : cases) {
        const std::string error = error_of(text);
        EXPECT_EQ(error.substr(0, expected.size()), expected) << "for " << text;
    }
}

namespace {
Response call(Gateway& gw, std::string method = "GET", std::string target = "/x") {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    return gw.async_dispatch(std::move(r), boost::asio::use_future).get();
}
}  // namespace

TEST(PolicyConfigRoutes, SyncRouteRunsItsPipelineAndFallsBack) {
    test::IoRunner runner{1};
    const auto config = parse_config(document(
        R"({"retry": {"max_attempts": 2, "backoff": "constant", "base_ms": 1, "max_ms": 1},
            "fallback": {"status": 200, "body": "from the fallback"}})"));
    Gateway gw{runner.executor(), config.gateway};
    add_routes(config, gw, runner.executor());
    gw.start();
    Response r = call(gw);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "from the fallback");
    runner.wait(gw.shutdown(1s));
}

TEST(PolicyConfigRoutes, RoutesNamingOneBreakerShareIt) {
    test::IoRunner runner{1};
    const auto config = parse_config(std::string(R"({"breakers": {"shared": {"minimum_calls": 2, "window_size": 2, "failure_rate": 1.0,
        "wait_in_open_ms": 60000}}, "routes": [
        {"method": "GET", "path": "/failing", "handler": {"type": "static", "status": 502},
         "policies": {"circuit_breaker": "shared"}},
        {"method": "GET", "path": "/fine", "handler": {"type": "static", "status": 200},
         "policies": {"circuit_breaker": "shared"}}]})"));
    Gateway gw{runner.executor(), config.gateway};
    add_routes(config, gw, runner.executor());
    gw.start();
    EXPECT_EQ(call(gw, "GET", "/fine").status, 200);
    EXPECT_EQ(call(gw, "GET", "/failing").status, 502);
    EXPECT_EQ(call(gw, "GET", "/failing").status, 502);  // 2 of the last 2 failed: open
    Response refused = call(gw, "GET", "/fine");
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.error, Errc::circuit_open);
    EXPECT_EQ(refused.headers.get("Retry-After"), "60");
    runner.wait(gw.shutdown(1s));
}

TEST(PolicyConfigRoutes, AsyncRouteRateLimitsAtSubmitAndRetriesByRedelivery) {
    test::IoRunner runner{1};
    const auto config = parse_config(document(
        R"({"rate_limit": {"rate_per_second": 0.001, "burst": 1},
            "retry": {"max_attempts": 2, "backoff": "constant", "base_ms": 1, "max_ms": 1}})", "async"));
    Gateway gw{runner.executor(), config.gateway};
    add_routes(config, gw, runner.executor());
    gw.start();
    EXPECT_EQ(call(gw).status, 202);
    EXPECT_EQ(call(gw).status, 429) << "the rate limiter runs before anything is queued";
    for (int i = 0; i < 10'000 && gw.async_dispatcher().stats().dead_lettered < 1; ++i)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(gw.async_dispatcher().stats().dead_lettered, 1u);
    EXPECT_EQ(gw.async_dispatcher().stats().redelivered, 1u) << "503 twice: one redelivery, then dead-lettered";
    runner.wait(gw.shutdown(1s));
}

TEST(ConfigLimits, DeepNestingAndOversizedLimitsAreErrorsNotCrashes) {
    const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
    const std::string error = error_of(R"({"listen": )" + deep + "}");
    EXPECT_NE(error.find("nested deeper than 32 levels"), std::string::npos) << error.substr(0, 200);
    EXPECT_EQ(error_of(R"({"listen": {"header_limit": 4294967296}, "routes": []})").substr(0, 34),
              "listen.header_limit: must be at mo");
    EXPECT_EQ(error_of(R"({"async": {"workers": 100000}, "routes": []})").substr(0, 29), "async.workers: must be at mos");
    EXPECT_EQ(error_of(R"({"async": {"jobs_path": "//jobs"}, "routes": []})").substr(0, 30), "async.jobs_path: expected a pa");
}
