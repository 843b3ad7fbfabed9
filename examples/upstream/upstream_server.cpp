// Example upstream HTTP server: the "real backend" behind antechamber in the
// demo, tests and benchmarks. It echoes what it receives, counts requests and
// can inject latency and (seeded, reproducible) failures.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;
    unsigned threads = 1;
    std::uint64_t latency_ms = 0;
    double fail_rate = 0.0;
    std::uint64_t seed = 1;
};

struct server_state {
    options opts;
    std::atomic<std::uint64_t> requests{0};
    std::mutex rng_mutex;  // one seeded RNG shared by all threads keeps runs reproducible
    std::mt19937_64 rng;
};

constexpr std::uint64_t max_delay_ms = 600'000;

constexpr char usage[] =
    "usage: example_upstream [--address A=127.0.0.1] [--port P=0 (any free)] [--threads N=1]\n"
    "         [--latency-ms N=0 (before every answer)] [--seed S=1 (failure RNG)]\n"
    "         [--fail-rate F=0 (fraction 0..1 of echo/delay requests answered 500)]\n"
    "routes: /status/{code} answers that status; /delay/{ms} answers after ms milliseconds;\n"
    "        GET /stats counts the requests served; POST /reset zeroes the count;\n"
    "        anything else echoes the request back as JSON.\n";

[[noreturn]] void usage_error(std::string const& msg) {
    std::cerr << "example_upstream: " << msg << " (see --help)\n";
    std::exit(2);
}

// Whole-string parse; !(in range) also rejects a NaN fail rate.
template <class T>
std::optional<T> parse_number(std::string_view text, T lo, T hi) {
    T value{};
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || !(value >= lo && value <= hi)) return {};
    return value;
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view const flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << usage;
            std::exit(0);
        }
        auto value = [&] {
            if (i + 1 >= argc) usage_error("missing value for " + std::string(flag));
            return std::string_view(argv[++i]);
        };
        auto number = [&]<class T>(T lo, T hi) {
            auto const text = value();
            auto const parsed = parse_number(text, lo, hi);
            if (!parsed) usage_error("invalid value '" + std::string(text) + "' for " + std::string(flag));
            return *parsed;
        };
        if (flag == "--address") o.address = value();
        else if (flag == "--port") o.port = number(std::uint16_t{0}, std::uint16_t{65535});
        else if (flag == "--threads") o.threads = number(1u, 256u);
        else if (flag == "--latency-ms") o.latency_ms = number(std::uint64_t{0}, max_delay_ms);
        else if (flag == "--fail-rate") o.fail_rate = number(0.0, 1.0);
        else if (flag == "--seed") o.seed = number(std::uint64_t{0}, ~std::uint64_t{0});
        else usage_error("unknown flag '" + std::string(flag) + "'");
    }
    return o;
}

// replace: a non-UTF-8 request body must not crash the echo.
std::string to_text(json const& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

response make_response(request const& req, unsigned status, std::string body) {
    response res;
    res.version(req.version());
    res.result(status);
    res.set(http::field::server, "antechamber-example-upstream");
    if (auto id = req.find("X-Request-Id"); id != req.end()) res.set("X-Request-Id", id->value());
    res.keep_alive(req.keep_alive());
    if (http::int_to_status(status) == http::status::unknown) res.reason("Unknown");  // not Beast's "<unknown-status>"
    if (status < 200 || status == 204 || status == 304) return res;  // no body, no Content-Length
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();  // keeps Content-Length
    return res;
}

response error_response(request const& req, unsigned status, std::string message) {
    return make_response(req, status, to_text({{"error", std::move(message)}}));
}

json echo_body(request const& req) {
    json headers = json::object();
    for (auto const& field : req) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value(field.value());
        // Repeated headers are joined as a proxy would fold them.
        json& slot = headers[name];
        slot = slot.is_null() ? value : slot.get<std::string>() + ", " + value;
    }
    return {{"method", std::string(req.method_string())}, {"target", std::string(req.target())},
            {"body", req.body()}, {"headers", std::move(headers)}};
}

bool should_fail(server_state& st) {
    if (st.opts.fail_rate <= 0.0) return false;
    std::lock_guard lock(st.rng_mutex);
    return std::bernoulli_distribution(st.opts.fail_rate)(st.rng);
}

asio::awaitable<void> sleep_ms(std::uint64_t ms) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<response> handle(request req, server_state* st) {
    std::string_view const target = req.target();
    std::string_view const path = target.substr(0, target.find('?'));
    bool const is_stats = path == "/stats";
    bool const is_reset = path == "/reset";
    if (!is_stats && !is_reset) ++st->requests;
    // Decided on arrival so the RNG sequence follows request order, not delays.
    bool const fail = !is_stats && !is_reset && !path.starts_with("/status/") && should_fail(*st);
    if (st->opts.latency_ms > 0) {
        co_await sleep_ms(st->opts.latency_ms);
    }
    if ((is_stats && req.method() != http::verb::get) || (is_reset && req.method() != http::verb::post)) {
        auto res = error_response(req, 405, "method not allowed");
        res.set(http::field::allow, is_stats ? "GET" : "POST");
        co_return res;
    }
    if (is_stats) co_return make_response(req, 200, to_text({{"requests", st->requests.load()}}));
    if (is_reset) {
        st->requests = 0;
        co_return make_response(req, 204, {});
    }
    if (path.starts_with("/status/")) {
        auto code = parse_number<unsigned>(path.substr(8), 100, 599);
        if (!code) co_return error_response(req, 400, "status must be 100-599");
        co_return make_response(req, *code, to_text({{"status", *code}}));
    }
    if (path.starts_with("/delay/")) {
        auto ms = parse_number<std::uint64_t>(path.substr(7), 0, max_delay_ms);
        if (!ms) co_return error_response(req, 400, "delay must be 0-600000 ms");
        co_await sleep_ms(*ms);
        if (fail) co_return error_response(req, 500, "injected failure");
        co_return make_response(req, 200, to_text({{"delayed_ms", *ms}}));
    }
    if (fail) co_return error_response(req, 500, "injected failure");
    co_return make_response(req, 200, to_text(echo_body(req)));
}

asio::awaitable<void> session(beast::tcp_stream stream, server_state* st) {
    beast::flat_buffer buffer;
    try {
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(8 * 1024 * 1024);
            stream.expires_after(std::chrono::seconds(60));
            co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
            request req = parser.release();
            response res = co_await handle(std::move(req), st);
            stream.expires_after(std::chrono::seconds(60));
            co_await http::async_write(stream, res, asio::use_awaitable);
            if (res.need_eof()) break;
        }
    } catch (beast::system_error const&) {
        // Peer closed, idle timeout, bad request or body over 8 MiB: drop the connection.
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, server_state* st) {
    for (;;) {
        // A strand per connection: tcp_stream's timer must not race with I/O when --threads > 1.
        tcp::socket socket(asio::make_strand(acceptor.get_executor()));
        boost::system::error_code ec;
        co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) continue;
        auto ex = socket.get_executor();
        asio::co_spawn(ex, session(beast::tcp_stream(std::move(socket)), st), asio::detached);
    }
}

int main(int argc, char** argv) try {
    server_state st;
    st.opts = parse_options(argc, argv);
    st.rng.seed(st.opts.seed);

    boost::system::error_code ec;
    auto const address = asio::ip::make_address(st.opts.address, ec);
    if (ec) usage_error("invalid --address '" + st.opts.address + "'");

    asio::io_context ioc(static_cast<int>(st.opts.threads));
    // Installed before announcing the port, so an immediate SIGTERM is still handled.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](boost::system::error_code const&, int) { ioc.stop(); });

    tcp::acceptor acceptor(ioc, tcp::endpoint(address, st.opts.port));  // throws on bind failure
    auto const local = acceptor.local_endpoint();
    std::cout << "listening on " << local.address().to_string() << ':' << local.port() << std::endl;

    asio::co_spawn(ioc, accept_loop(std::move(acceptor), &st), asio::detached);
    std::vector<std::jthread> pool;
    for (unsigned i = 1; i < st.opts.threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
    ioc.run();
    pool.clear();  // join before the io_context goes away
    return 0;
} catch (std::exception const& e) {
    std::cerr << "example_upstream: " << e.what() << '\n';
    return 1;
}
