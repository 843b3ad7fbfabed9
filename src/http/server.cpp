#include "message.hpp"

#include <ante/core/body_stream.hpp>
#include <ante/core/correlation_id.hpp>
#include <ante/core/problem.hpp>
#include <ante/http/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace ante::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One accepted connection. `idle` (touched only on the connection's strand) says it is waiting
// for the first byte of a request, so shutdown may close it without cutting a request short.
struct Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    std::string remote;
    bool idle = false;
};

Request to_request(bhttp::request<bhttp::string_body>&& message, std::string remote) {
    Request request;
    request.method = message.method_string();
    request.target = message.target();
    for (const auto& field : message) request.headers.add(field.name_string(), field.value());
    request.body = std::move(message.body());
    request.remote_address = std::move(remote);
    return request;
}

bhttp::response<bhttp::string_body> to_message(Response&& response, unsigned version) {
    int status = response.status;
    if (status < 200 || status > 599) {  // a final answer; a handler's nonsense must not reach the wire
        spdlog::error("a handler answered the invalid status {}; sending 500", status);
        status = 500;
    }
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(status), version};
    detail::copy_end_to_end(response.headers, message.base());
    if (status == 204 || status == 304) {
        // These carry no body (RFC 9110 §15.3.5, §15.4.5); a handler's body is dropped.
        message.erase(bhttp::field::content_length);
        message.erase(bhttp::field::transfer_encoding);
        return message;
    }
    message.body() = std::move(response.body);
    message.prepare_payload();
    return message;
}

// Sends a streamed body (an event stream) piece by piece: chunked on HTTP/1.1, until the
// connection closes on HTTP/1.0. Ends early when the server starts draining.
asio::awaitable<error_code> write_stream(beast::tcp_stream& stream, Response response, unsigned version, bool head,
                                         bool keep_alive, const std::atomic<bool>& draining,
                                         std::chrono::milliseconds write_timeout) {
    bhttp::response<bhttp::empty_body> header{static_cast<bhttp::status>(response.status), version};
    detail::copy_end_to_end(response.headers, header.base());
    header.erase(bhttp::field::content_length);
    const bool chunked = version >= 11;
    header.chunked(chunked);
    header.keep_alive(keep_alive && chunked);
    bhttp::response_serializer<bhttp::empty_body> serializer{header};
    stream.expires_after(write_timeout);
    auto [ec, n] = co_await bhttp::async_write_header(stream, serializer, use_tuple);
    if (ec || head) co_return ec;
    const std::shared_ptr<BodyStream> body = std::move(response.stream);
    while (!draining) {
        std::optional<std::string> piece = co_await body->next();
        if (!piece) break;
        if (piece->empty()) continue;
        stream.expires_after(write_timeout);
        error_code wec;
        if (chunked) {
            auto [e, w] = co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(*piece)), use_tuple);
            wec = e;
        } else {
            auto [e, w] = co_await asio::async_write(stream, asio::buffer(*piece), use_tuple);
            wec = e;
        }
        if (wec) co_return wec;
    }
    if (!chunked) co_return error_code{};
    auto [lec, ln] = co_await asio::async_write(stream, bhttp::make_chunk_last(), use_tuple);
    co_return lec;
}

// How far past the header limit a connection's read buffer may reach (pipelined requests, a
// chunk header): a line longer than that is refused instead of buffered without end.
constexpr std::size_t read_ahead_bytes = 64 * 1024;

// Closing with unread input makes the kernel send a reset, which can destroy the error answer
// before the client reads it. Like nginx's lingering close: stop sending, then read and drop
// what the client still sends, for a short, bounded while.
asio::awaitable<void> linger(beast::tcp_stream& stream) {
    constexpr std::size_t linger_bytes = std::size_t{1} << 20;
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    stream.expires_after(std::chrono::milliseconds(500));
    std::array<char, 8192> sink;
    for (std::size_t dropped = 0; dropped < linger_bytes;) {
        auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
        if (read_ec) break;
        dropped += n;
    }
}

// The answer to a request that could not be read; nothing for a peer that went away.
std::optional<Response> answer_read_error(const error_code& ec, const std::string& correlation_id) {
    std::optional<Response> answer;
    if (ec == bhttp::error::header_limit)
        answer = problem(Errc::headers_too_large, "the request's header block is above the limit", correlation_id);
    else if (ec == bhttp::error::body_limit)
        answer = problem(Errc::payload_too_large, "the request's body is above the limit", correlation_id);
    else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
             ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
        answer = problem(Errc::bad_request, "malformed HTTP request: " + ec.message(), correlation_id);
    if (answer) answer->headers.set("X-Request-Id", correlation_id);
    return answer;
}

// The client's X-Request-Id when the header block was read and the ID is well-formed, else a new one.
std::string correlation_id_of(const bhttp::request_parser<bhttp::string_body>& parser) {
    if (parser.is_header_done()) {
        const auto sent = parser.get()["X-Request-Id"];
        if (is_valid_correlation_id(std::string_view(sent.data(), sent.size()))) return std::string(sent);
    }
    return generate_id();
}

// What makes a request's framing ambiguous (RFC 9112 §3.2, §6.3), so it must be refused with
// 400 and the connection closed rather than guessed at: a request smuggler lives in the gap.
std::optional<std::string> framing_fault(const bhttp::request_header<>& header, bool chunked) {
    if (header.find(bhttp::field::transfer_encoding) != header.end() && !chunked)
        return "Transfer-Encoding must end with chunked";
    if (header.version() >= 11) {
        const auto hosts = header.count(bhttp::field::host);
        if (hosts == 0) return "an HTTP/1.1 request needs a Host header";
        if (hosts > 1) return "more than one Host header";
    }
    return std::nullopt;
}

// Shutdown is rare: a short poll keeps it simple and bounded.
asio::awaitable<void> wait_for_zero(const std::atomic<std::size_t>& count, std::chrono::milliseconds limit) {
    asio::steady_timer tick{co_await asio::this_coro::executor};
    const auto until = std::chrono::steady_clock::now() + limit;
    while (count.load() > 0 && std::chrono::steady_clock::now() < until) {
        tick.expires_after(std::chrono::milliseconds(10));
        co_await tick.async_wait(use_tuple);
    }
}

}  // namespace

struct Server::State : std::enable_shared_from_this<State> {
    State(asio::any_io_executor ex, Gateway& gw, ServerOptions opts)
        : executor(std::move(ex)), acceptor(asio::make_strand(executor)), gateway(gw), options(std::move(opts)) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<Connection> conn);
    asio::awaitable<void> serve_requests(Connection& conn);
    asio::awaitable<void> refuse(tcp::socket socket);
    void for_each_connection(std::function<void(Connection&)> action);

    asio::any_io_executor executor;
    tcp::acceptor acceptor;
    Gateway& gateway;
    ServerOptions options;
    std::uint16_t port = 0;
    std::atomic<std::size_t> connections{0};
    std::atomic<bool> draining{false};
    std::mutex registry_mutex;
    std::unordered_map<Connection*, std::weak_ptr<Connection>> registry;
};

void Server::State::for_each_connection(std::function<void(Connection&)> action) {
    std::lock_guard lock(registry_mutex);
    for (auto& [raw, weak] : registry) {
        if (auto conn = weak.lock())
            asio::post(conn->stream.get_executor(), [conn, action] { action(*conn); });
    }
}

asio::awaitable<void> Server::State::accept_loop() {
    auto self = shared_from_this();
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(executor), use_tuple);
        if (ec) {
            if (!acceptor.is_open() || draining) break;
            spdlog::warn("accept failed: {}", ec.message());  // e.g. out of descriptors: back off briefly
            asio::steady_timer pause{acceptor.get_executor(), std::chrono::milliseconds(50)};
            co_await pause.async_wait(use_tuple);
            continue;
        }
        if (connections.fetch_add(1) >= options.max_connections) {
            connections.fetch_sub(1);
            auto ex = socket.get_executor();
            asio::co_spawn(ex, refuse(std::move(socket)), asio::detached);
            continue;
        }
        auto conn = std::make_shared<Connection>(std::move(socket));
        error_code ignored;
        conn->remote = conn->stream.socket().remote_endpoint(ignored).address().to_string(ignored);
        asio::co_spawn(conn->stream.get_executor(), serve(conn), asio::detached);
    }
}

asio::awaitable<void> Server::State::refuse(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream{std::move(socket)};
    const std::string id = generate_id();
    Response r = problem(Errc::overloaded, "too many connections", id);
    r.headers.set("Retry-After", "1");
    r.headers.set("X-Request-Id", id);
    auto message = to_message(std::move(r), 11);
    message.keep_alive(false);
    stream.expires_after(std::chrono::seconds(5));
    co_await bhttp::async_write(stream, message, use_tuple);
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> Server::State::serve(std::shared_ptr<Connection> conn) {
    auto self = shared_from_this();
    {
        std::lock_guard lock(registry_mutex);
        registry.emplace(conn.get(), conn);
    }
    // Whatever ends the exchange, an exception included, the connection's place is given back.
    try {
        co_await serve_requests(*conn);
    } catch (const std::exception& e) {
        spdlog::error("{}: connection dropped: {}", conn->remote, e.what());
    }
    error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conn->stream.close();
    {
        std::lock_guard lock(registry_mutex);
        registry.erase(conn.get());
    }
    connections.fetch_sub(1);
}

asio::awaitable<void> Server::State::serve_requests(Connection& connection) {
    Connection* conn = &connection;
    beast::tcp_stream& stream = conn->stream;
    // Bounded: Beast keeps a chunk-size line (with its extensions) or a trailer line in the
    // buffer until its CRLF arrives, and counts neither against the header or body limit.
    beast::flat_buffer buffer{options.header_limit + read_ahead_bytes};
    bool first = true;
    for (;;) {
        if (buffer.size() == 0) {
            // Waiting for a request to begin: the idle timeout applies, and shutdown may close us.
            conn->idle = true;
            if (draining) break;
            stream.expires_after(first ? options.header_timeout : options.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
            conn->idle = false;
            if (ec) break;
            buffer.commit(n);
        }
        first = false;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
        parser.body_limit(boost::none);  // checked once the header (and its X-Request-Id) is in
        stream.expires_after(options.header_timeout);
        auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
        error_code ec = hec;
        if (!ec) {
            if (auto refusal = framing_fault(parser.get(), parser.chunked())) {
                const std::string id = correlation_id_of(parser);
                auto message = to_message(problem(Errc::bad_request, *refusal, id), 11);
                message.set("X-Request-Id", id);
                message.keep_alive(false);
                co_await bhttp::async_write(stream, message, use_tuple);
                co_await linger(stream);
                if (options.access_log) spdlog::info("[{}] {} - 400 ({})", id, conn->remote, *refusal);
                break;
            }
            // Refused from Content-Length alone, before a byte of the body is read.
            if (const auto length = parser.content_length(); length && *length > options.body_limit)
                ec = bhttp::error::body_limit;
            else
                parser.body_limit(options.body_limit);  // a chunked body is counted as it arrives
        }
        if (!ec && !parser.is_done()) {
            if (auto expect = parser.get()[bhttp::field::expect]; iequals(expect, "100-continue")) {
                bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
                auto [cec, cn] = co_await bhttp::async_write(stream, go_on, use_tuple);
                if (cec) break;
            }
            stream.expires_after(options.body_timeout);
            auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
            ec = bec;
        }
        if (ec) {
            const std::string id = correlation_id_of(parser);
            if (auto answer = answer_read_error(ec, id)) {
                auto message = to_message(std::move(*answer), 11);
                message.keep_alive(false);
                stream.expires_after(options.idle_timeout);
                co_await bhttp::async_write(stream, message, use_tuple);
                co_await linger(stream);
                if (options.access_log)
                    spdlog::info("[{}] {} - {} ({})", id, conn->remote, message.result_int(), ec.message());
            }
            break;
        }
        auto incoming = parser.release();
        const bool head = incoming.method() == bhttp::verb::head;
        const unsigned version = incoming.version();
        bool keep_alive = incoming.keep_alive();
        std::string method{incoming.method_string()}, target{incoming.target()};
        const auto started = std::chrono::steady_clock::now();
        Response response = co_await gateway.dispatch(to_request(std::move(incoming), conn->remote));
        const std::string id{response.headers.get("X-Request-Id").value_or("-")};
        if (response.stream) {
            const int status = response.status;
            keep_alive = keep_alive && !draining && version >= 11;
            const error_code sec = co_await write_stream(stream, std::move(response), version, head, keep_alive,
                                                         draining, options.idle_timeout);
            if (options.access_log) {
                const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
                spdlog::info("[{}] {} \"{} {}\" {} streamed {:.2f} ms", id, conn->remote, method, target, status,
                             took.count());
            }
            if (sec || !keep_alive || draining) break;
            continue;
        }
        auto message = to_message(std::move(response), version);
        message.keep_alive(keep_alive && !draining);
        keep_alive = message.keep_alive();
        stream.expires_after(options.idle_timeout);
        error_code wec;
        if (head) {
            bhttp::response_serializer<bhttp::string_body> serializer{message};
            auto [e, n] = co_await bhttp::async_write_header(stream, serializer, use_tuple);
            wec = e;
        } else {
            auto [e, n] = co_await bhttp::async_write(stream, message, use_tuple);
            wec = e;
        }
        if (options.access_log) {
            const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
            spdlog::info("[{}] {} \"{} {}\" {} {:.2f} ms", id, conn->remote, method, target, message.result_int(),
                         took.count());
        }
        if (wec || !keep_alive) break;
    }
}

Server::Server(asio::any_io_executor executor, Gateway& gateway, ServerOptions options)
    : state_(std::make_shared<State>(std::move(executor), gateway, std::move(options))) {}

Server::~Server() {
    asio::post(state_->acceptor.get_executor(), [s = state_] {
        error_code e;
        s->acceptor.close(e);
    });
}

void Server::start() {
    auto& s = *state_;
    tcp::endpoint endpoint{asio::ip::make_address(s.options.address), s.options.port};
    s.acceptor.open(endpoint.protocol());
    s.acceptor.set_option(tcp::acceptor::reuse_address(true));
    s.acceptor.bind(endpoint);
    s.acceptor.listen(asio::socket_base::max_listen_connections);
    s.port = s.acceptor.local_endpoint().port();
    asio::co_spawn(s.acceptor.get_executor(), s.accept_loop(), asio::detached);
}

std::uint16_t Server::port() const noexcept { return state_->port; }

std::size_t Server::connections() const noexcept { return state_->connections.load(); }

asio::awaitable<void> Server::shutdown(std::chrono::milliseconds grace) {
    auto s = state_;
    s->draining = true;
    asio::post(s->acceptor.get_executor(), [s] {
        error_code ignored;
        s->acceptor.close(ignored);
    });
    s->for_each_connection([](Connection& c) {
        if (c.idle) c.stream.cancel();
    });
    co_await wait_for_zero(s->connections, grace);
    if (s->connections.load() > 0) {
        spdlog::warn("closing {} connection(s) still busy after the {} ms grace period", s->connections.load(),
                     grace.count());
        s->for_each_connection([](Connection& c) { c.stream.cancel(); });
        co_await wait_for_zero(s->connections, std::chrono::seconds(1));
    }
}

}  // namespace ante::http
