// A small C++ service that embeds antechamber: a synchronous checkout and asynchronous orders
// in one process, no upstream involved.
//
//   embedded_service [PORT]      then:  curl -X POST localhost:PORT/checkout -d '{"total": 42}'
//                                       curl -i -X POST localhost:PORT/orders -d '{"sku": "A-1"}'
#include <ante/gateway.hpp>
#include <ante/http/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Business logic stays plain C++: it sees a transport-neutral request and may block.
ante::Response checkout(const ante::Request& request, ante::Context& ctx) {
    auto order = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!order.is_object() || !order.contains("total") || !order["total"].is_number())
        return ante::problem(ante::Errc::bad_request, "expected a JSON object with a numeric \"total\"",
                             ctx.correlation_id);
    std::this_thread::sleep_for(20ms);  // stands in for a payment call
    return ante::Response::json(200, {{"charged", order["total"]}, {"receipt", ctx.correlation_id}});
}

ante::Response fulfil_order(const ante::Request& request, ante::Context& ctx) {
    std::this_thread::sleep_for(200ms);  // slow work the caller should not wait for
    return ante::Response::json(201, {{"order", request.body}, {"attempt", ctx.attempt}});
}

}  // namespace

// The port from the command line: a whole number 0..65535 (0 picks a free one).
std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

int main(int argc, char** argv) {
    const std::string_view arg = argc > 1 ? argv[1] : "8080";
    if (arg == "--help" || arg == "-h" || argc > 2) {
        std::cout << "usage: embedded_service [PORT=8080 (0: any free port)]\n"
                     "serves sync POST /checkout and async POST /orders (status at /jobs/{id}) on 127.0.0.1\n";
        return argc > 2 ? 2 : 0;
    }
    const auto port = parse_port(arg);
    if (!port) {
        std::cerr << "embedded_service: invalid port '" << arg << "' (expected 0..65535; see --help)\n";
        return 2;
    }
    asio::io_context io;
    ante::Gateway gateway{io.get_executor()};
    gateway.route("POST", "/checkout", ante::blocking_handler(checkout));
    gateway.route("POST", "/orders", ante::blocking_handler(fulfil_order), ante::Dispatch::async);
    gateway.start();

    ante::http::Server server{io.get_executor(), gateway, {.address = "127.0.0.1", .port = *port}};
    server.start();
    std::cout << "listening on 127.0.0.1:" << server.port() << std::endl;

    asio::signal_set signals{io, SIGINT, SIGTERM};
    signals.async_wait([&](boost::system::error_code, int) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await server.shutdown(5s);
                co_await gateway.shutdown(5s);
                io.stop();
            },
            asio::detached);
    });
    io.run();
    return 0;
}
