#include <ante/gateway.hpp>
#include <ante/http/proxy.hpp>
#include <ante/http/server.hpp>

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/io_runner.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <thread>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A free loopback port that nothing listens on (bound, then released).
std::uint16_t unused_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a{io, {asio::ip::make_address("127.0.0.1"), 0}};
    return a.local_endpoint().port();
}

// The real example upstream as a child process, the gateway in front of it over real sockets.
class ProxyTest : public ::testing::Test {
protected:
    void SetUp() override {
        upstream = std::make_unique<test::ChildProcess>(test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", "0"}));
        upstream_port = static_cast<std::uint16_t>(upstream->wait_for_port(10s));
        const std::string base = "http://127.0.0.1:" + std::to_string(upstream_port);
        auto proxy = [&](std::string url) {
            return http::proxy_handler(runner.executor(), http::ProxyOptions{.upstream = std::move(url)});
        };
        gateway.add(Route{.name = "api", .method = "*", .pattern = "/api/{rest...}", .handler = proxy(base)});
        gateway.add(Route{.name = "status", .method = "GET", .pattern = "/status/{code}", .handler = proxy(base)});
        gateway.add(Route{.name = "down", .method = "GET", .pattern = "/down",
                          .handler = proxy("http://127.0.0.1:" + std::to_string(unused_port()))});
        gateway.add(Route{.name = "slow", .method = "GET", .pattern = "/delay/{ms}", .handler = proxy(base),
                          .dispatch = Dispatch::sync, .timeout = 200ms});
        gateway.add(Route{.name = "orders", .method = "POST", .pattern = "/orders", .handler = proxy(base),
                          .dispatch = Dispatch::async});
        gateway.start();
        server = std::make_unique<http::Server>(runner.executor(), gateway,
                                                http::ServerOptions{.address = "127.0.0.1", .access_log = false});
        server->start();
        port = server->port();
    }
    void TearDown() override {
        runner.wait(server->shutdown(2s));
        runner.wait(gateway.shutdown(2s));
    }
    int upstream_requests() {
        return nlohmann::json::parse(test::http_request(upstream_port, "GET", "/stats").body())["requests"];
    }

    test::IoRunner runner{2};
    Gateway gateway{runner.executor()};
    std::unique_ptr<test::ChildProcess> upstream;
    std::uint16_t upstream_port = 0;
    std::unique_ptr<http::Server> server;
    std::uint16_t port = 0;
};

}  // namespace

TEST_F(ProxyTest, ForwardsBodyAndCorrelationIdAndSetsForwardingHeaders) {
    auto r = test::http_request(port, "POST", "/api/things?x=1",
                                {{"X-Request-Id", "proxy-1"},
                                 {"X-Forwarded-For", "6.6.6.6"},
                                 {"Forwarded", "for=6.6.6.6"},
                                 {"X-Real-IP", "6.6.6.6"},
                                 {"True-Client-IP", "6.6.6.6"},
                                 {"X-Original-URL", "/admin"},
                                 {"Connection", "keep-alive, X-Secret-Hop"},
                                 {"X-Secret-Hop", "must not pass"},
                                 {"Proxy-Authorization", "Basic Zm9vOmJhcg=="},
                                 {"X-Custom", "kept"}},
                                "payload");
    ASSERT_EQ(r.result_int(), 200) << r.body();
    EXPECT_EQ(r["X-Request-Id"], "proxy-1");
    auto echo = nlohmann::json::parse(r.body());
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["target"], "/api/things?x=1");
    EXPECT_EQ(echo["body"], "payload");
    auto& h = echo["headers"];
    EXPECT_EQ(h["x-request-id"], "proxy-1");
    EXPECT_EQ(h["x-forwarded-for"], "127.0.0.1") << "set by the gateway, not taken from the client";
    EXPECT_EQ(h["x-forwarded-proto"], "http");
    EXPECT_EQ(h["x-forwarded-host"], "127.0.0.1");
    EXPECT_EQ(h["host"], "127.0.0.1:" + std::to_string(upstream_port));
    EXPECT_EQ(h["x-custom"], "kept");
    EXPECT_FALSE(h.contains("forwarded"));
    for (auto spoofable : {"x-real-ip", "true-client-ip", "x-original-url"})
        EXPECT_FALSE(h.contains(spoofable)) << spoofable << " comes from the client: never passed on";
    EXPECT_FALSE(h.contains("x-secret-hop")) << "named in Connection: hop-by-hop";
    EXPECT_FALSE(h.contains("proxy-authorization"));
    EXPECT_EQ(r["Server"], "antechamber-example-upstream") << "end-to-end response headers pass back";
}

TEST_F(ProxyTest, UpstreamStatusPassesThrough) {
    EXPECT_EQ(test::http_request(port, "GET", "/status/418").result_int(), 418);
    EXPECT_EQ(test::http_request(port, "GET", "/status/503").result_int(), 503);
}

TEST_F(ProxyTest, KeepAliveConnectionsAreReusedAcrossRequests) {
    for (int i = 0; i < 50; ++i) ASSERT_EQ(test::http_request(port, "GET", "/api/n").result_int(), 200);
    EXPECT_EQ(upstream_requests(), 50);
}

TEST_F(ProxyTest, UpstreamRefusingConnectionsGives502Fast) {
    auto started = std::chrono::steady_clock::now();
    auto r = test::http_request(port, "GET", "/down");
    EXPECT_EQ(r.result_int(), 502);
    EXPECT_EQ(r[boost::beast::http::field::content_type], "application/problem+json");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "a correctness bound, not a speed claim";
}

TEST_F(ProxyTest, SlowUpstreamGives504AtTheRouteTimeout) {
    auto r = test::http_request(port, "GET", "/delay/3000");
    EXPECT_EQ(r.result_int(), 504);
    // The gateway dropped the timed-out connection: the next request still works.
    EXPECT_EQ(test::http_request(port, "GET", "/delay/1").result_int(), 200);
}

TEST_F(ProxyTest, StaleKeepAliveConnectionAfterUpstreamRestartIsReplaced) {
    ASSERT_EQ(test::http_request(port, "GET", "/api/a").result_int(), 200);
    upstream.reset();  // the pooled connection now points at a dead peer
    upstream = std::make_unique<test::ChildProcess>(
        test::ChildProcess::start(ANTE_UPSTREAM_BIN, {"--port", std::to_string(upstream_port)}));
    upstream->wait_for_port(10s);
    EXPECT_EQ(test::http_request(port, "GET", "/api/b").result_int(), 200);
}

TEST_F(ProxyTest, AsyncProxyRouteStoresTheUpstreamResponse) {
    auto accepted = test::http_request(port, "POST", "/orders", {}, "{\"sku\":1}");
    ASSERT_EQ(accepted.result_int(), 202);
    std::string location{accepted["Location"]};
    test::HttpResponse status;
    for (int i = 0; i < 2000 && status.result_int() != 303; ++i) {
        status = test::http_request(port, "GET", location);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(status.result_int(), 303);
    auto result = test::http_request(port, "GET", std::string(status["Location"]));
    EXPECT_EQ(result.result_int(), 200);
    auto echo = nlohmann::json::parse(result.body());
    EXPECT_EQ(echo["target"], "/orders");
    EXPECT_EQ(echo["body"], "{\"sku\":1}");
}

TEST_F(ProxyTest, HeadThroughTheProxyDoesNotWaitForABody) {
    const auto started = std::chrono::steady_clock::now();
    auto raw = test::raw_exchange(port, "HEAD /api/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 200) << raw;
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "well before the 15 s route timeout";
}

TEST_F(ProxyTest, TheUpstreamSeesOneCorrelationIdAndItsTimeLeft) {
    auto r = test::http_request(port, "GET", "/api/id",
                                {{"X-Request-Id", "first"}, {"X-Request-Id", "second"},
                                 {"Connection", "X-Request-Id"}, {"X-Request-Timeout-Ms", "999999"}});
    ASSERT_EQ(r.result_int(), 200);
    const auto echo = nlohmann::json::parse(r.body());
    const auto& h = echo["headers"];
    EXPECT_EQ(h["x-request-id"], "first") << "the gateway's choice, once, even when listed as hop-by-hop";
    const int left = std::stoi(h["x-request-timeout-ms"].get<std::string>());
    EXPECT_GT(left, 0);
    EXPECT_LE(left, 15'000) << "the route's deadline, not the client's claim";
}

namespace {
// A one-shot upstream that answers with `reply` as raw bytes: for protocol corners the example
// upstream does not produce (interim 1xx answers before the final one).
class RawUpstream {
public:
    explicit RawUpstream(std::string reply)
        : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), thread_([this, reply = std::move(reply)] {
              boost::system::error_code ec;
              asio::ip::tcp::socket socket = acceptor_.accept(ec);
              if (ec) return;
              asio::streambuf request;
              asio::read_until(socket, request, "\r\n\r\n", ec);
              asio::write(socket, asio::buffer(reply), ec);
              socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
          }) {}
    ~RawUpstream() {
        boost::system::error_code ec;
        acceptor_.close(ec);
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
    asio::io_context io_;
    asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};
}  // namespace

TEST(ProxyInterim, InterimAnswersAreSkippedAndTheFinalOneForwarded) {
    RawUpstream upstream{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                         "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal"};
    test::IoRunner runner{1};
    Gateway gateway{runner.executor()};
    gateway.add(Route{.name = "raw", .method = "POST", .pattern = "/raw",
                      .handler = http::proxy_handler(runner.executor(),
                                                     {.upstream = "http://127.0.0.1:" + std::to_string(upstream.port())}),
                      .timeout = 5s});
    gateway.start();
    Request request;
    request.method = "POST";
    request.target = "/raw";
    request.headers.set("Expect", "100-continue");
    request.body = "payload";
    Response r = gateway.async_dispatch(std::move(request), asio::use_future).get();
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.body, "final");
    runner.wait(gateway.shutdown(1s));
}
