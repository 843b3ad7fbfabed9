#include <ante/gateway.hpp>
#include <ante/http/server.hpp>

#include "support/http_client.hpp"
#include "support/io_runner.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <boost/asio/use_future.hpp>

using namespace ante;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A gateway with a few routes behind a real HTTP server on a loopback port.
class HttpServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        gateway.route("GET", "/hello", inline_handler([](const Request& r, Context&) {
                          return Response::json(200, {{"hello", "world"}, {"remote", r.remote_address}});
                      }));
        gateway.route("POST", "/echo", blocking_handler([](const Request& r, Context&) {
                          return Response::text(200, r.body);
                      }));
        gateway.route("POST", "/orders", blocking_handler([](const Request& r, Context&) {
                          return Response::json(201, {{"order", r.body}});
                      }),
                      Dispatch::async);
        gateway.route("GET", "/wait/{ms}", blocking_handler([](const Request&, Context& ctx) {
                          std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(std::string(ctx.param("ms")))));
                          return Response::text(200, "waited");
                      }));
        gateway.route("GET", "/no-content", inline_handler([](const Request&, Context&) {
                          return Response::text(204, "a body 204 must not carry");
                      }));
        gateway.start();
        server = std::make_unique<http::Server>(runner.executor(), gateway, options());
        server->start();
        port = server->port();
    }
    void TearDown() override {
        runner.wait(server->shutdown(2s));
        runner.wait(gateway.shutdown(2s));
    }
    virtual http::ServerOptions options() {
        return {.address = "127.0.0.1", .port = 0, .header_limit = 8 * 1024, .body_limit = 1024,
                .header_timeout = 2s, .body_timeout = 2s, .idle_timeout = 5s, .max_connections = 100,
                .access_log = false};
    }

    test::IoRunner runner{2};
    Gateway gateway{runner.executor()};
    std::unique_ptr<http::Server> server;
    std::uint16_t port = 0;
};

}  // namespace

TEST_F(HttpServerTest, SyncRouteAnswers200AndEchoesRequestId) {
    auto r = test::http_request(port, "GET", "/hello", {{"X-Request-Id", "abc-123"}});
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r["X-Request-Id"], "abc-123");
    auto body = nlohmann::json::parse(r.body());
    EXPECT_EQ(body["hello"], "world");
    EXPECT_EQ(body["remote"], "127.0.0.1");
    auto generated = test::http_request(port, "GET", "/hello");
    EXPECT_EQ(generated["X-Request-Id"].size(), 32u);
}

TEST_F(HttpServerTest, AsyncRouteAnswers202ThenPollsToSucceededWithResult) {
    auto accepted = test::http_request(port, "POST", "/orders", {{"Content-Type", "text/plain"}}, "two apples");
    ASSERT_EQ(accepted.result_int(), 202);
    std::string location{accepted["Location"]};
    ASSERT_EQ(location.rfind("/jobs/", 0), 0u);
    EXPECT_EQ(accepted["Retry-After"], "1");
    test::HttpResponse status;
    for (int i = 0; i < 2000; ++i) {
        status = test::http_request(port, "GET", location);
        if (status.result_int() == 303) break;
        ASSERT_EQ(status.result_int(), 200);
        std::this_thread::sleep_for(2ms);
    }
    ASSERT_EQ(status.result_int(), 303);
    auto doc = nlohmann::json::parse(status.body());
    EXPECT_EQ(doc["status"], "succeeded");
    EXPECT_EQ(doc["attempts"], 1);
    auto result = test::http_request(port, "GET", std::string(status["Location"]));
    EXPECT_EQ(result.result_int(), 201);
    EXPECT_EQ(nlohmann::json::parse(result.body())["order"], "two apples");
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowedAreProblems) {
    auto missing = test::http_request(port, "GET", "/nowhere");
    EXPECT_EQ(missing.result_int(), 404);
    EXPECT_EQ(missing[boost::beast::http::field::content_type], "application/problem+json");
    auto wrong = test::http_request(port, "DELETE", "/hello");
    EXPECT_EQ(wrong.result_int(), 405);
    EXPECT_EQ(wrong["Allow"], "GET");
}

TEST_F(HttpServerTest, BodyAboveLimitIs413BeforeTheBodyIsRead) {
    // Content-Length announces 1 MiB but no body follows: the answer must come from the header alone.
    auto raw = test::raw_exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 413) << raw;
    EXPECT_NE(raw.find("application/problem+json"), std::string::npos);
}

TEST_F(HttpServerTest, ChunkedBodyAboveLimitIs413) {
    std::string chunk(2000, 'x');
    auto raw = test::raw_exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
                                            chunk + "\r\n0\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 413) << raw;
}

TEST_F(HttpServerTest, AnEndlessChunkExtensionIsRefusedNotBuffered) {
    // Beast counts neither chunk extensions nor trailers against its limits; the read buffer's
    // own bound must stop them.
    std::string extension(200'000, 'a');
    auto raw = test::raw_exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                                            extension);
    EXPECT_EQ(test::status_of(raw), 400) << raw.substr(0, 200);
    EXPECT_NE(raw.find("application/problem+json"), std::string::npos);
}

TEST_F(HttpServerTest, HeaderBlockAboveLimitIs431) {
    std::string big(9000, 'a');
    auto raw = test::raw_exchange(port, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 431) << raw.substr(0, 200);
}

TEST_F(HttpServerTest, MalformedRequestsAre400AndClosed) {
    for (std::string bad : {"GARBAGE\r\n\r\n", "GET /hello HTTP/9.9\r\n\r\n", "GET /hello HTTP/1.1\r\nBad Header\r\n\r\n",
                            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"}) {
        auto raw = test::raw_exchange(port, bad);
        EXPECT_EQ(test::status_of(raw), 400) << bad << " -> " << raw;
    }
}

TEST_F(HttpServerTest, AmbiguousFramingIsRefusedAndNothingAfterItIsServed) {
    // A second request hidden behind a Transfer-Encoding the server would not decode: 400, one answer, closed.
    for (std::string te : {"chunked, gzip", "xchunked", "gzip"}) {
        auto raw = test::raw_exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                                                "\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(test::status_of(raw), 400) << te << " -> " << raw;
        EXPECT_EQ(raw.find("HTTP/1.1", 1), std::string::npos) << "only one response: " << raw;
    }
    EXPECT_EQ(test::status_of(test::raw_exchange(port, "GET /hello HTTP/1.1\r\n\r\n")), 400) << "no Host";
    EXPECT_EQ(test::status_of(test::raw_exchange(port, "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")), 400);
    EXPECT_EQ(test::status_of(test::raw_exchange(port, "GET /hello HTTP/1.0\r\n\r\n")), 200) << "1.0 needs no Host";
}

TEST_F(HttpServerTest, ReadErrorsCarryACorrelationId) {
    auto raw = test::raw_exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-one\r\nContent-Length: 999999\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 413);
    EXPECT_NE(raw.find("X-Request-Id: big-one"), std::string::npos) << raw;
    EXPECT_NE(raw.find("\"correlation_id\":\"big-one\""), std::string::npos) << raw;
    auto garbage = test::raw_exchange(port, "GARBAGE\r\n\r\n");
    EXPECT_NE(garbage.find("X-Request-Id: "), std::string::npos) << garbage;
}

TEST_F(HttpServerTest, DotSegmentsAreRefused) {
    for (std::string path : {"/hello/../hello", "/./hello", "/x/%2e%2E/hello", "/x/.%2e", "/x/..;/hello",
                             "/x/..%3b/hello", "/x/..\\hello", "/x/..%5chello"}) {
        auto r = test::http_request(port, "GET", path);
        EXPECT_EQ(r.result_int(), 400) << path;
    }
    EXPECT_EQ(test::http_request(port, "GET", "/hello").result_int(), 200);
}

TEST_F(HttpServerTest, HeadIsServedByAGetRouteWithoutABody) {
    auto raw = test::raw_exchange(port, "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 200) << raw;
    EXPECT_EQ(raw.find("world"), std::string::npos) << "no body after a HEAD: " << raw;
}

TEST_F(HttpServerTest, NoContentAnswerDropsTheBodyAndKeepsTheConnectionUsable) {
    for (int i = 0; i < 150; ++i) {  // more than max_connections: a leaked place per answer would show
        auto r = test::http_request(port, "GET", "/no-content");
        ASSERT_EQ(r.result_int(), 204);
        EXPECT_TRUE(r.body().empty());
        EXPECT_EQ(r.find(boost::beast::http::field::content_length), r.end());
    }
    while (server->connections() > 0) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(test::http_request(port, "GET", "/hello").result_int(), 200);
}

TEST_F(HttpServerTest, KeepAliveAndPipelinedRequestsAreAnsweredInOrder) {
    auto raw = test::raw_exchange(port,
                                  "GET /wait/30 HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n"
                                  "GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n");
    auto first = raw.find("x-request-id: first");
    if (first == std::string::npos) first = raw.find("X-Request-Id: first");
    auto second = raw.find("X-Request-Id: second");
    auto third = raw.find("X-Request-Id: third");
    ASSERT_NE(first, std::string::npos) << raw;
    ASSERT_NE(second, std::string::npos) << raw;
    ASSERT_NE(third, std::string::npos) << raw;
    EXPECT_LT(first, second);
    EXPECT_LT(second, third);
}

TEST_F(HttpServerTest, GracefulShutdownFinishesAnInFlightRequest) {
    auto in_flight = std::async(std::launch::async, [&] { return test::http_request(port, "GET", "/wait/300"); });
    while (gateway.sync_dispatcher().stats().blocking_in_use == 0) std::this_thread::yield();
    runner.wait(server->shutdown(5s));
    auto r = in_flight.get();
    EXPECT_EQ(r.result_int(), 200);
    EXPECT_EQ(r.body(), "waited");
    EXPECT_FALSE(r.keep_alive()) << "a draining server closes after the response";
    EXPECT_THROW(test::http_request(port, "GET", "/hello"), boost::system::system_error) << "no longer accepting";
}

namespace {
class TinyServerTest : public HttpServerTest {
protected:
    http::ServerOptions options() override {
        auto o = HttpServerTest::options();
        o.max_connections = 1;
        o.header_timeout = 200ms;
        return o;
    }
};
}  // namespace

TEST_F(TinyServerTest, ConnectionsAboveTheLimitGet503) {
    asio::io_context io;
    asio::ip::tcp::socket held{io};
    held.connect({asio::ip::make_address("127.0.0.1"), port});
    while (server->connections() < 1) std::this_thread::yield();
    auto raw = test::raw_exchange(port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(test::status_of(raw), 503) << raw;
}

TEST_F(TinyServerTest, SilentConnectionIsClosedAfterTheHeaderTimeout) {
    auto raw = test::raw_exchange(port, "GET /hel", 3s);  // never completes the head
    EXPECT_TRUE(raw.empty()) << raw;
    for (int i = 0; i < 1000 && server->connections() > 0; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(server->connections(), 0u);
}
