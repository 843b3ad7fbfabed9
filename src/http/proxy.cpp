#include "message.hpp"
#include "upstream_url.hpp"

#include <ante/core/problem.hpp>
#include <ante/http/proxy.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

namespace ante::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// The upstream response header block (Beast's 8 KiB limit) plus room to read ahead.
constexpr std::size_t upstream_read_buffer_bytes = 8 * 1024 + 64 * 1024;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

void expire_at(beast::tcp_stream& stream, SteadyTime deadline) {
    if (deadline == SteadyTime::max())
        stream.expires_never();
    else
        stream.expires_at(deadline);
}

// Keep-alive connections to one upstream. Each connection has its own strand, so the stream's
// timer and I/O never race when several threads run the io_context.
class ConnectionPool {
public:
    struct Lease {
        std::unique_ptr<beast::tcp_stream> stream;
        bool reused = false;
    };

    ConnectionPool(asio::any_io_executor executor, detail::UpstreamUrl url, std::size_t max_idle)
        : executor_(std::move(executor)), url_(std::move(url)), max_idle_(max_idle) {}

    const detail::UpstreamUrl& url() const noexcept { return url_; }

    // An idle connection that is still open, or a new one. The error is the connect failure.
    asio::awaitable<std::pair<error_code, Lease>> acquire(SteadyTime deadline) {
        while (auto idle = take_idle()) {
            if (still_open(*idle)) co_return std::pair{error_code{}, Lease{std::move(idle), true}};
        }
        auto stream = std::make_unique<beast::tcp_stream>(asio::make_strand(executor_));
        expire_at(*stream, deadline);
        auto [rec, endpoints] = co_await resolver_for(stream->get_executor())
                                    .async_resolve(url_.host, url_.port, use_tuple);
        if (rec) co_return std::pair{rec, Lease{}};
        auto [cec, endpoint] = co_await stream->async_connect(endpoints, use_tuple);
        if (cec) co_return std::pair{cec, Lease{}};
        stream->socket().set_option(tcp::no_delay(true));
        co_return std::pair{error_code{}, Lease{std::move(stream), false}};
    }

    void release(std::unique_ptr<beast::tcp_stream> stream) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < max_idle_) idle_.push_back(std::move(stream));
    }

private:
    std::unique_ptr<beast::tcp_stream> take_idle() {
        std::lock_guard lock(mutex_);
        if (idle_.empty()) return nullptr;
        auto stream = std::move(idle_.back());  // the most recently used is the least likely closed
        idle_.pop_back();
        return stream;
    }

    // A peek that would block means the peer has said nothing, so the connection is usable;
    // end-of-file or stray bytes mean it is not.
    static bool still_open(beast::tcp_stream& stream) {
        auto& socket = stream.socket();
        error_code ec;
        socket.non_blocking(true, ec);
        char byte;
        socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, ec);
        return ec == asio::error::would_block;
    }

    static tcp::resolver resolver_for(const asio::any_io_executor& ex) { return tcp::resolver{ex}; }

    asio::any_io_executor executor_;
    const detail::UpstreamUrl url_;
    const std::size_t max_idle_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<beast::tcp_stream>> idle_;
};

bool is_idempotent(bhttp::verb method) {
    using bhttp::verb;
    return method == verb::get || method == verb::head || method == verb::options || method == verb::put ||
           method == verb::delete_ || method == verb::trace;
}

// A reused connection the upstream closed between our check and our write fails like this.
bool is_stale_connection_error(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

bhttp::request<bhttp::string_body> make_upstream_request(Request& request, const detail::UpstreamUrl& url,
                                                         SteadyTime deadline) {
    bhttp::request<bhttp::string_body> out;
    out.method_string(request.method);
    out.target(url.base_path + request.target);
    out.version(11);
    detail::copy_end_to_end(request.headers, out.base());
    // Forwarding headers are ours to set: what a client sent there is not to be trusted.
    const auto original_host = request.headers.get("Host");
    // Also the other names by which upstreams learn a client's address or the original URL.
    for (auto f : {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port",
                   "X-Forwarded-Prefix", "X-Real-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP",
                   "X-Original-URL", "X-Rewrite-URL", "X-Original-Forwarded-For"})
        out.erase(f);
    if (!request.remote_address.empty()) out.set("X-Forwarded-For", request.remote_address);
    if (original_host && detail::is_safe_field("Host", *original_host)) out.set("X-Forwarded-Host", *original_host);
    out.set("X-Forwarded-Proto", "http");
    // The gateway answered any 100-continue itself and holds the whole body; and the ID is the
    // one the gateway chose, even if the client listed it in Connection.
    out.erase(bhttp::field::expect);
    out.set("X-Request-Id", request.headers.get("X-Request-Id").value_or(""));
    if (out["X-Request-Id"].empty()) out.erase("X-Request-Id");
    // The time the upstream has left, so it can give up when we will (Envoy's expected-rq-timeout).
    out.erase(kDeadlineHeader);
    if (deadline != SteadyTime::max()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        out.set(kDeadlineHeader, std::to_string(std::max<std::int64_t>(0, left.count())));
    }
    out.set(bhttp::field::host, url.authority);
    out.keep_alive(true);
    out.body() = std::move(request.body);
    out.prepare_payload();
    return out;
}

Response from_upstream(bhttp::response<bhttp::string_body>&& message) {
    Response response;
    response.status = static_cast<int>(message.result_int());
    detail::copy_end_to_end(message.base(), response.headers);
    response.body = std::move(message.body());
    return response;
}

asio::awaitable<Response> forward(std::shared_ptr<ConnectionPool> pool, ProxyOptions options, Request request,
                                  Context ctx) {
    auto outgoing = make_upstream_request(request, pool->url(), ctx.deadline);
    const bool may_resend = is_idempotent(outgoing.method());
    for (int attempt = 1;; ++attempt) {
        auto [cec, lease] = co_await pool->acquire(ctx.deadline);
        if (cec == beast::error::timeout)
            co_return problem(Errc::timeout, "connecting to the upstream took past the deadline", ctx.correlation_id);
        if (cec) {
            spdlog::warn("[{}] upstream {} unreachable: {}", ctx.correlation_id, pool->url().authority, cec.message());
            co_return problem(Errc::upstream_unreachable, "the upstream refused or could not be reached",
                              ctx.correlation_id);
        }
        beast::tcp_stream& stream = *lease.stream;
        expire_at(stream, ctx.deadline);
        auto [wec, written] = co_await bhttp::async_write(stream, outgoing, use_tuple);
        error_code ec = wec;
        if (!ec) {
            // Bounded like the server's: an endless chunk extension cannot grow it.
            beast::flat_buffer buffer{upstream_read_buffer_bytes};
            std::optional<bhttp::response_parser<bhttp::string_body>> parser;
            // Interim answers (100 Continue, 103 Early Hints) are not the answer: read past them.
            for (int interim = 0;; ++interim) {
                parser.emplace();
                parser->body_limit(options.response_body_limit);
                if (outgoing.method() == bhttp::verb::head) parser->skip(true);  // headers only, whatever they say
                auto [rec, read] = co_await bhttp::async_read(stream, buffer, *parser, use_tuple);
                ec = rec;
                const bool unread_body = ec == bhttp::error::body_limit && parser->is_header_done();
                if (unread_body && options.status_only) {
                    Response status_only{static_cast<int>(parser->get().result_int()), {}, {}};
                    for (const auto& field : parser->get()) status_only.headers.add(std::string(field.name_string()), std::string(field.value()));
                    co_return status_only;  // the stream is dropped with the lease: never reused mid-body
                }
                const unsigned status = ec ? 0 : parser->get().result_int();
                if (ec || status < 100 || status >= 200 || status == 101 || interim >= 8) break;  // < 100: invalid, fail fast
            }
            if (!ec && (parser->get().result_int() < 200 || parser->get().result_int() > 599)) {
                spdlog::warn("[{}] upstream {} answered status {}", ctx.correlation_id, pool->url().authority,
                             parser->get().result_int());
                co_return problem(Errc::upstream_failed, "the upstream gave no valid final status", ctx.correlation_id);
            }
            if (!ec) {
                auto message = parser->release();
                const bool reusable = message.keep_alive() && buffer.size() == 0;
                Response response = from_upstream(std::move(message));
                if (reusable) {
                    stream.expires_never();
                    pool->release(std::move(lease.stream));
                }
                co_return response;
            }
        }
        if (ec == beast::error::timeout)
            co_return problem(Errc::timeout, "the upstream did not answer before the deadline", ctx.correlation_id);
        if (attempt == 1 && lease.reused && may_resend && is_stale_connection_error(ec)) continue;
        spdlog::warn("[{}] upstream {} failed: {}", ctx.correlation_id, pool->url().authority, ec.message());
        co_return problem(Errc::upstream_failed, "the upstream broke the exchange", ctx.correlation_id);
    }
}

}  // namespace

AwaitableHandler proxy_handler(asio::any_io_executor executor, ProxyOptions options) {
    auto pool = std::make_shared<ConnectionPool>(std::move(executor), detail::parse_upstream_url(options.upstream),
                                                 options.max_idle_connections);
    return AwaitableHandler{[pool, options](Request request, Context ctx) {
        return forward(pool, options, std::move(request), std::move(ctx));
    }};
}

}  // namespace ante::http
