#include <ante/config/config.hpp>

#include "support/config_error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using ante::ConfigError;
using ante::parse_config;

// A minimal valid route, for tests about everything else.
constexpr const char* one_route = R"("routes": [{"method": "GET", "path": "/x", "handler": {"type": "echo"}}])";

std::string with_route(const std::string& fields) { return "{" + fields + (fields.empty() ? "" : ", ") + one_route + "}"; }

std::string error_of(const std::string& text) { return ante::test::config_error_of(text); }

// The ConfigError message for one route given as JSON.
std::string route_error(const std::string& route) { return error_of(R"({"routes": [)" + route + "]}"); }

TEST(ConfigParse, FullConfigRoundTripsEveryField) {
    const auto config = parse_config(R"({
      "listen": {"address": "0.0.0.0", "port": 8081, "header_limit": 4096, "body_limit": 2048,
                 "header_timeout_ms": 1001, "body_timeout_ms": 1002, "idle_timeout_ms": 1003,
                 "max_connections": 77, "access_log": false},
      "admin": {"address": "::1", "port": 9902, "header_limit": 1024, "body_limit": 0,
                "header_timeout_ms": 2001, "body_timeout_ms": 2002, "idle_timeout_ms": 2003,
                "max_connections": 5, "access_log": false},
      "io_threads": 3,
      "shutdown_grace_ms": 2500,
      "log_level": "debug",
      "sync": {"threads": 8, "queue": 32, "concurrency": 512, "retry_after_s": 2},
      "async": {"workers": 6, "queue_capacity": 500, "retry_after_s": 3, "jobs_path": "/tasks",
                "job_retention_s": 60, "job_records": 1000, "visibility_ms": 5000, "lease_grace_ms": 250,
                "dead_letters": 99, "idempotency_keys": 77},
      "routes": [
        {"name": "checkout", "method": "POST", "path": "/checkout", "dispatch": "sync", "timeout_ms": 1500,
         "handler": {"type": "proxy", "upstream": "http://127.0.0.1:9000/base", "max_idle_connections": 7,
                     "response_body_limit": 4096}},
        {"method": "GET", "path": "/hello",
         "handler": {"type": "static", "status": 201, "body": "hi", "content_type": "text/html"}},
        {"name": "echo", "method": "*", "path": "/echo/{rest...}", "dispatch": "async", "handler": {"type": "echo"},
         "job_ttl_ms": 30000,
         "idempotency": {"enabled": true, "required": true, "client_header": "X-Api-Key", "keep_s": 3600}}
      ]
    })");

    EXPECT_EQ(config.listen.address, "0.0.0.0");
    EXPECT_EQ(config.listen.port, 8081);
    EXPECT_EQ(config.listen.header_limit, 4096u);
    EXPECT_EQ(config.listen.body_limit, 2048u);
    EXPECT_EQ(config.listen.header_timeout, 1001ms);
    EXPECT_EQ(config.listen.body_timeout, 1002ms);
    EXPECT_EQ(config.listen.idle_timeout, 1003ms);
    EXPECT_EQ(config.listen.max_connections, 77u);
    EXPECT_FALSE(config.listen.access_log);

    EXPECT_EQ(config.admin.address, "::1");
    EXPECT_EQ(config.admin.port, 9902);
    EXPECT_EQ(config.admin.header_limit, 1024u);
    EXPECT_EQ(config.admin.body_limit, 0u);
    EXPECT_EQ(config.admin.header_timeout, 2001ms);
    EXPECT_EQ(config.admin.body_timeout, 2002ms);
    EXPECT_EQ(config.admin.idle_timeout, 2003ms);
    EXPECT_EQ(config.admin.max_connections, 5u);
    EXPECT_FALSE(config.admin.access_log);

    EXPECT_EQ(config.io_threads, 3u);
    EXPECT_EQ(config.shutdown_grace, 2500ms);
    EXPECT_EQ(config.log_level, "debug");

    EXPECT_EQ(config.gateway.sync.threads, 8u);
    EXPECT_EQ(config.gateway.sync.queue, 32u);
    EXPECT_EQ(config.gateway.sync.concurrency, 512u);
    EXPECT_EQ(config.gateway.sync.retry_after, 2s);
    EXPECT_EQ(config.gateway.async.workers, 6u);
    EXPECT_EQ(config.gateway.async.queue_capacity, 500u);
    EXPECT_EQ(config.gateway.async.retry_after, 3s);
    EXPECT_EQ(config.gateway.async.jobs_path, "/tasks");
    EXPECT_EQ(config.gateway.job_retention, 60s);
    EXPECT_EQ(config.gateway.job_records, 1000u);
    EXPECT_EQ(config.gateway.async.visibility, 5000ms);
    EXPECT_EQ(config.gateway.async.lease_grace, 250ms);
    EXPECT_EQ(config.gateway.async.dead_letters, 99u);
    EXPECT_EQ(config.gateway.idempotency_keys, 77u);

    ASSERT_EQ(config.routes.size(), 3u);
    const auto& proxy = config.routes[0];
    EXPECT_EQ(proxy.name, "checkout");
    EXPECT_EQ(proxy.method, "POST");
    EXPECT_EQ(proxy.path, "/checkout");
    EXPECT_EQ(proxy.dispatch, ante::Dispatch::sync);
    EXPECT_EQ(proxy.timeout, 1500ms);
    EXPECT_EQ(proxy.handler.type, ante::HandlerType::proxy);
    EXPECT_EQ(proxy.handler.proxy.upstream, "http://127.0.0.1:9000/base");
    EXPECT_EQ(proxy.handler.proxy.max_idle_connections, 7u);
    EXPECT_EQ(proxy.handler.proxy.response_body_limit, 4096u);

    const auto& fixed = config.routes[1];
    EXPECT_EQ(fixed.name, "GET /hello");
    EXPECT_EQ(fixed.handler.type, ante::HandlerType::static_response);
    EXPECT_EQ(fixed.handler.static_response.status, 201);
    EXPECT_EQ(fixed.handler.static_response.body, "hi");
    EXPECT_EQ(fixed.handler.static_response.content_type, "text/html");

    const auto& echo = config.routes[2];
    EXPECT_EQ(echo.name, "echo");
    EXPECT_EQ(echo.method, "*");
    EXPECT_EQ(echo.path, "/echo/{rest...}");
    EXPECT_EQ(echo.dispatch, ante::Dispatch::async);
    EXPECT_EQ(echo.handler.type, ante::HandlerType::echo);
    EXPECT_EQ(echo.job_ttl, 30s);
    EXPECT_TRUE(echo.idempotency.required);
    EXPECT_EQ(echo.idempotency.client_header, "X-Api-Key");
    EXPECT_EQ(echo.idempotency.keep, 1h);
    EXPECT_TRUE(fixed.idempotency.enabled) << "honoured by default";
    EXPECT_FALSE(fixed.idempotency.required);
    EXPECT_EQ(fixed.idempotency.keep, 24h);
}

TEST(ConfigErrors, AsyncJobFieldsAreCheckedWhereTheyApply) {
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/x", "handler": {"type": "echo"}, "job_ttl_ms": 10})")
                  .find("routes[0].job_ttl_ms: only an async route's jobs have a time to live"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/x", "handler": {"type": "echo"},
                              "idempotency": {"client_header": "bad header"}})")
                  .find("routes[0].idempotency.client_header: expected a header name"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/x", "handler": {"type": "echo"},
                              "idempotency": {"enabled": false, "required": true}})")
                  .find("routes[0].idempotency.required"),
              std::string::npos);
}

TEST(ConfigParse, OmittedFieldsTakeTheDefaults) {
    const auto config = parse_config(with_route(""));
    const ante::http::ServerOptions server;
    const ante::SyncDispatcherOptions sync;
    const ante::AsyncDispatcherOptions async;
    const ante::GatewayOptions gateway;

    EXPECT_EQ(config.listen.address, "127.0.0.1");
    EXPECT_EQ(config.listen.port, 8080);
    EXPECT_EQ(config.admin.address, "127.0.0.1");
    EXPECT_EQ(config.admin.port, 9901);
    for (const auto* s : {&config.listen, &config.admin}) {
        EXPECT_EQ(s->header_limit, server.header_limit);
        EXPECT_EQ(s->body_limit, server.body_limit);
        EXPECT_EQ(s->header_timeout, server.header_timeout);
        EXPECT_EQ(s->body_timeout, server.body_timeout);
        EXPECT_EQ(s->idle_timeout, server.idle_timeout);
        EXPECT_EQ(s->max_connections, server.max_connections);
        EXPECT_EQ(s->access_log, server.access_log);
    }
    EXPECT_EQ(config.io_threads, 1u);
    EXPECT_EQ(config.shutdown_grace, 10s);
    EXPECT_EQ(config.log_level, "info");
    EXPECT_EQ(config.gateway.sync.threads, sync.threads);
    EXPECT_EQ(config.gateway.sync.queue, sync.queue);
    EXPECT_EQ(config.gateway.sync.concurrency, sync.concurrency);
    EXPECT_EQ(config.gateway.sync.retry_after, sync.retry_after);
    EXPECT_EQ(config.gateway.async.workers, async.workers);
    EXPECT_EQ(config.gateway.async.queue_capacity, async.queue_capacity);
    EXPECT_EQ(config.gateway.async.retry_after, async.retry_after);
    EXPECT_EQ(config.gateway.async.jobs_path, async.jobs_path);
    EXPECT_EQ(config.gateway.job_retention, gateway.job_retention);
    EXPECT_EQ(config.gateway.job_records, gateway.job_records);

    ASSERT_EQ(config.routes.size(), 1u);
    EXPECT_EQ(config.routes[0].name, "GET /x");
    EXPECT_EQ(config.routes[0].dispatch, ante::Dispatch::sync);
    EXPECT_EQ(config.routes[0].timeout, ante::Route{}.timeout);
}

TEST(ConfigParse, HandlerFieldsHaveDefaults) {
    const auto config = parse_config(R"({"routes": [
        {"method": "GET", "path": "/a", "handler": {"type": "static"}},
        {"method": "GET", "path": "/b", "handler": {"type": "proxy", "upstream": "http://example.com"}}]})");
    EXPECT_EQ(config.routes[0].handler.static_response.status, 200);
    EXPECT_EQ(config.routes[0].handler.static_response.body, "");
    EXPECT_EQ(config.routes[0].handler.static_response.content_type, "text/plain");
    EXPECT_EQ(config.routes[1].handler.proxy.max_idle_connections, ante::http::ProxyOptions{}.max_idle_connections);
}

TEST(ConfigParse, AcceptsUpstreamForms) {
    for (const char* url : {"http://127.0.0.1:9000", "http://localhost:1/", "http://up-stream.example:65535/v1/api",
                            "http://[::1]:8080/base", "http://example.com"}) {
        const std::string route = R"({"method": "GET", "path": "/", "handler": {"type": "proxy", "upstream": ")" +
                                  std::string(url) + R"("}})";
        EXPECT_EQ(route_error(route), "") << url;
    }
}

TEST(ConfigErrors, BadUpstreamNamesFieldAndValue) {
    const std::string msg = error_of(R"({"routes": [
        {"method": "GET", "path": "/ok", "handler": {"type": "echo"}},
        {"method": "GET", "path": "/p", "handler": {"type": "proxy", "upstream": "ftp://x"}}]})");
    EXPECT_NE(msg.find(R"(routes[1].handler.upstream: expected "http://host:port[/path]", got "ftp://x")"),
              std::string::npos)
        << msg;

    const auto upstream_error = [](const std::string& url) {
        return route_error(R"({"method": "GET", "path": "/", "handler": {"type": "proxy", "upstream": ")" + url +
                           R"("}})");
    };
    EXPECT_NE(upstream_error("https://x:1").find("only http"), std::string::npos);
    EXPECT_NE(upstream_error("http://x:0").find("port must be 1..65535"), std::string::npos);
    EXPECT_NE(upstream_error("http://x:70000").find("port must be 1..65535"), std::string::npos);
    EXPECT_NE(upstream_error("http://x:abc").find("port must be 1..65535"), std::string::npos);
    EXPECT_NE(upstream_error("http://:80").find("missing the host"), std::string::npos);
    EXPECT_NE(upstream_error("http://u@x:80").find("user information"), std::string::npos);
    EXPECT_NE(upstream_error("http://x:80/a?b").find("query"), std::string::npos);
    EXPECT_NE(upstream_error("127.0.0.1:9000").find("scheme"), std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handler": {"type": "proxy"}})")
                  .find("routes[0].handler.upstream: required field missing"),
              std::string::npos);
}

TEST(ConfigErrors, PortOutOfRange) {
    const std::string msg = error_of(with_route(R"("listen": {"port": 70000})"));
    EXPECT_NE(msg.find("listen.port: expected an integer 0..65535, got 70000"), std::string::npos) << msg;
    EXPECT_NE(error_of(with_route(R"("admin": {"port": -1})")).find("admin.port: expected an integer 0..65535"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("listen": {"port": "80"})")).find(R"(listen.port: expected an integer 0..65535, got "80")"),
              std::string::npos);
}

TEST(ConfigErrors, BadDispatch) {
    const std::string msg =
        route_error(R"({"method": "GET", "path": "/", "dispatch": "asnyc", "handler": {"type": "echo"}})");
    EXPECT_NE(msg.find(R"(routes[0].dispatch: expected "sync" or "async", got "asnyc")"), std::string::npos) << msg;
}

TEST(ConfigErrors, LimitsBelowTheirMinimum) {
    const std::string msg = error_of(with_route(R"("sync": {"threads": 0})"));
    EXPECT_NE(msg.find("sync.threads: must be at least 1"), std::string::npos) << msg;
    EXPECT_NE(error_of(with_route(R"("async": {"workers": 0})")).find("async.workers: must be at least 1"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("io_threads": 0)")).find("io_threads: must be at least 1"), std::string::npos);
    EXPECT_NE(error_of(with_route(R"("sync": {"queue": -2})")).find("sync.queue: must be at least 0"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("sync": {"threads": 2.5})")).find("sync.threads: expected an integer, got 2.5"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("sync": {"threads": 100000})")).find("sync.threads: must be at most 1024"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "timeout_ms": 0, "handler": {"type": "echo"}})")
                  .find("routes[0].timeout_ms: must be at least 1"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handler": {"type": "static", "status": 42}})")
                  .find("routes[0].handler.status: expected an integer 200..599, got 42"),
              std::string::npos);
}

TEST(ConfigErrors, WrongTypes) {
    EXPECT_NE(error_of(with_route(R"("listen": {"access_log": 1})")).find("listen.access_log: expected true or false"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("listen": {"address": 5})")).find("listen.address: expected a string, got 5"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("listen": {"address": "localhost"})")).find("listen.address: expected an IP address"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("listen": [1])")).find("listen: expected an object"), std::string::npos);
    EXPECT_NE(error_of(with_route(R"("log_level": "verbose")")).find(R"(log_level: expected one of "trace")"),
              std::string::npos);
    EXPECT_NE(error_of(with_route(R"("async": {"jobs_path": "jobs"})")).find("async.jobs_path: expected a path"),
              std::string::npos);
    EXPECT_NE(error_of("[]").find("expected an object"), std::string::npos);
}

TEST(ConfigErrors, UnknownFieldIsRejected) {
    const std::string msg = error_of(with_route(R"("listen": {"prot": 80})"));
    EXPECT_NE(msg.find("listen.prot: unknown field; known fields: address, port"), std::string::npos) << msg;
    EXPECT_NE(error_of(with_route(R"("io_thread": 2)")).find("io_thread: unknown field"), std::string::npos);
    // A misspelt required field is reported as unknown, not as missing.
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handelr": {"type": "echo"}})")
                  .find("routes[0].handelr: unknown field"),
              std::string::npos);
    // Handler fields are checked against the handler's type.
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handler": {"type": "static", "upstream": "http://x:1"}})")
                  .find(R"(routes[0].handler.upstream: unknown field for handler type "static")"),
              std::string::npos);
}

TEST(ConfigErrors, DuplicateFieldIsRejected) {
    const std::string msg = error_of(with_route(R"("listen": {"port": 1, "port": 2})"));
    EXPECT_NE(msg.find("listen.port: field given twice"), std::string::npos) << msg;
    const std::string in_array = error_of(R"({"routes": [{"method": "GET", "path": "/a", "handler": {"type": "echo"}},
        {"method": "GET", "path": "/b", "path": "/c", "handler": {"type": "echo"}}]})");
    EXPECT_NE(in_array.find("routes[1].path: field given twice"), std::string::npos) << in_array;
}

TEST(ConfigErrors, RoutesRequiredAndChecked) {
    EXPECT_NE(error_of("{}").find("routes: required field missing"), std::string::npos);
    EXPECT_NE(error_of(R"({"routes": []})").find("routes: expected a non-empty array"), std::string::npos);
    EXPECT_NE(route_error(R"({"path": "/", "handler": {"type": "echo"}})").find("routes[0].method: required field missing"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "handler": {"type": "echo"}})").find("routes[0].path: required field missing"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/"})").find("routes[0].handler: required field missing"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handler": {}})").find("routes[0].handler.type: required field missing"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "GET", "path": "/", "handler": {"type": "lambda"}})")
                  .find(R"(routes[0].handler.type: expected "proxy", "static" or "echo", got "lambda")"),
              std::string::npos);
    EXPECT_NE(route_error(R"({"method": "G T", "path": "/", "handler": {"type": "echo"}})").find("routes[0].method: expected an HTTP method"),
              std::string::npos);
    const std::string dup = error_of(R"({"routes": [{"method": "GET", "path": "/a", "handler": {"type": "echo"}},
        {"method": "GET", "path": "/a", "handler": {"type": "echo"}}]})");
    EXPECT_NE(dup.find(R"(routes[1].name: duplicate route name "GET /a")"), std::string::npos) << dup;
}

TEST(ConfigErrors, BadPathPatternNamesTheRoute) {
    const std::string msg =
        route_error(R"({"method": "GET", "path": "/files/{rest...}/x", "handler": {"type": "echo"}})");
    EXPECT_NE(msg.find("routes[0].path: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("last segment"), std::string::npos) << msg;
    EXPECT_NE(route_error(R"({"method": "GET", "path": "no-slash", "handler": {"type": "echo"}})").find("routes[0].path: "),
              std::string::npos);
}

TEST(ConfigErrors, FieldIsExposed) {
    try {
        parse_config(with_route(R"("listen": {"port": 70000})"));
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.field(), "listen.port");
    }
}

TEST(ConfigErrors, SyntaxErrorNamesThePosition) {
    const std::string msg = error_of("{\n  \"routes\": [,]\n}");
    EXPECT_NE(msg.find("invalid JSON at byte 15"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2, column 14"), std::string::npos) << msg;
    EXPECT_NE(error_of("").find("invalid JSON at byte 0"), std::string::npos);
}

TEST(ConfigErrors, NumbersBeyondADoubleAndControlCharactersInKeysAreErrorsNotCrashes) {
    const std::string overflow = error_of(R"({"zzz": -1e999, "routes": []})");
    EXPECT_NE(overflow.find("invalid JSON"), std::string::npos) << overflow;
    EXPECT_NE(overflow.find("overflow"), std::string::npos) << overflow;
    const std::string nul = error_of(std::string("{\"a\\u0000b\": 1, \"routes\": []}"));
    EXPECT_NE(nul.find("a\\u0000b"), std::string::npos) << nul;
    EXPECT_NE(nul.find("unknown field"), std::string::npos) << "the reason survives the NUL: " << nul;
}

class ConfigLoad : public ::testing::Test {
protected:
    void TearDown() override {
        if (!file_.empty()) std::filesystem::remove(file_);
    }
    std::filesystem::path write(const std::string& text) {
        file_ = std::filesystem::temp_directory_path() / ("ante_config_test_" + std::to_string(::getpid()) + ".json");
        std::ofstream(file_) << text;
        return file_;
    }
    std::filesystem::path file_;
};

TEST_F(ConfigLoad, ReadsAFile) {
    const auto config = ante::load_config(write(with_route(R"("io_threads": 2)")));
    EXPECT_EQ(config.io_threads, 2u);
}

TEST_F(ConfigLoad, MissingFileNamesThePathAndReason) {
    const std::string path = "/nonexistent/dir/ante.json";
    try {
        ante::load_config(path);
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(path), std::string::npos) << msg;
        EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
    }
}

TEST_F(ConfigLoad, AnEndlessFileIsRefusedAtTheSizeCap) {
    try {
        ante::load_config("/dev/zero");
        FAIL() << "an endless file was accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("is larger than"), std::string::npos) << e.what();
    }
}

TEST_F(ConfigLoad, DirectoryIsNotAFile) {
    try {
        ante::load_config(std::filesystem::temp_directory_path());
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("cannot read config file"), std::string::npos) << e.what();
    }
}

TEST_F(ConfigLoad, ExampleConfigIsValid) {
#ifdef ANTE_EXAMPLES_DIR
    EXPECT_NO_THROW(ante::load_config(std::filesystem::path(ANTE_EXAMPLES_DIR) / "standalone/gateway.json"));
#else
    const auto example = std::filesystem::path(__FILE__).parent_path() / "../../examples/standalone/gateway.json";
    if (!std::filesystem::exists(example)) GTEST_SKIP() << "example not found at " << example;
    const auto config = ante::load_config(example);
    EXPECT_EQ(config.routes.size(), 6u);
    EXPECT_TRUE(config.routes.at(0).policies.retry.has_value()) << "the demo's sync route retries";
    EXPECT_EQ(config.routes.at(1).policies.circuit_breaker, "status");
    EXPECT_EQ(config.routes.at(3).job_ttl, 60s) << "the demo's slow jobs expire";
#endif
}

// Runs an io_context on its own thread for the test's lifetime.
class ConfigRoutes : public ::testing::Test {
protected:
    ConfigRoutes() : thread_([this] { io_.run(); }) {}
    ~ConfigRoutes() override {
        work_.reset();
        io_.stop();
        thread_.join();
    }

    ante::Response call(ante::Gateway& gateway, std::string method, std::string target, std::string body = {}) {
        ante::Request request;
        request.method = std::move(method);
        request.target = std::move(target);
        request.body = std::move(body);
        auto future = gateway.async_dispatch(std::move(request), boost::asio::use_future);
        if (future.wait_for(10s) != std::future_status::ready) throw std::runtime_error("no answer within 10 s");
        return future.get();
    }

    void drain(ante::Gateway& gateway) {
        boost::asio::co_spawn(io_, gateway.shutdown(1s), boost::asio::use_future).get();
    }

    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    std::thread thread_;
};

TEST_F(ConfigRoutes, StaticAndEchoRoutesAnswer) {
    const auto config = parse_config(R"({"routes": [
        {"method": "GET", "path": "/hello", "handler": {"type": "static", "status": 200, "body": "hi",
                                                         "content_type": "text/plain"}},
        {"method": "POST", "path": "/echo/{rest...}", "handler": {"type": "echo"}},
        {"method": "GET", "path": "/up", "handler": {"type": "proxy", "upstream": "http://127.0.0.1:9"}}]})");
    ante::Gateway gateway{io_.get_executor(), config.gateway};
    ante::add_routes(config, gateway, io_.get_executor());
    gateway.start();

    const auto hello = call(gateway, "GET", "/hello");
    EXPECT_EQ(hello.status, 200);
    EXPECT_EQ(hello.body, "hi");
    EXPECT_EQ(hello.headers.get("Content-Type").value_or(""), "text/plain");

    const auto echo = call(gateway, "POST", "/echo/a?b=1", "payload");
    EXPECT_EQ(echo.status, 200);
    const auto doc = nlohmann::json::parse(echo.body);
    EXPECT_EQ(doc["method"], "POST");
    EXPECT_EQ(doc["target"], "/echo/a?b=1");
    EXPECT_EQ(doc["body"], "payload");
    EXPECT_TRUE(doc["headers"].is_object());

    EXPECT_EQ(call(gateway, "GET", "/nowhere").status, 404);
    drain(gateway);
}

TEST_F(ConfigRoutes, RefusedRouteBecomesConfigError) {
    // The gateway owns "ante.job_status" once an async route exists; a config route may not take it.
    const auto config = parse_config(R"({"routes": [
        {"method": "POST", "path": "/jobs-here", "dispatch": "async", "handler": {"type": "echo"}},
        {"name": "ante.job_status", "method": "GET", "path": "/x", "handler": {"type": "echo"}}]})");
    ante::Gateway gateway{io_.get_executor(), config.gateway};
    try {
        ante::add_routes(config, gateway, io_.get_executor());
        FAIL() << "no error";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.field(), "routes[1]");
        EXPECT_NE(std::string(e.what()).find("duplicate route name"), std::string::npos) << e.what();
    }
}

}  // namespace
