#pragma once
/// \file
/// The HTTP/1.1 front (Boost.Beast): turns connections into `Gateway::dispatch` calls.

#include <ante/gateway.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ante::http {

/// Listener address and limits. Defaults follow nginx where users know them.
struct ServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 0;                          ///< 0 picks a free port (see `Server::port`)
    std::size_t header_limit = 8 * 1024;             ///< header block; above it: 431 and close
    std::size_t body_limit = 1024 * 1024;            ///< body; above it: 413 (checked on Content-Length first)
    std::chrono::milliseconds header_timeout{60'000};  ///< to receive a whole request head once it began
    std::chrono::milliseconds body_timeout{60'000};    ///< to receive the body
    std::chrono::milliseconds idle_timeout{75'000};    ///< keep-alive wait for the next request
    std::size_t max_connections = 10'000;            ///< above it: 503 and close
    bool access_log = true;                          ///< one info line per request
};

/// An HTTP/1.1 server with keep-alive and pipelining (requests on one connection are answered
/// in order, one at a time). Runs on the executor it is given; any number of threads may run it.
class Server {
public:
    Server(boost::asio::any_io_executor executor, Gateway& gateway, ServerOptions options = {});
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    ~Server();

    /// Binds and starts accepting. Throws boost::system::system_error when it cannot bind.
    void start();
    /// The bound port (after `start`).
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// Stops accepting, closes idle connections, lets in-flight requests finish (up to `grace`),
    /// then closes what is left.
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

    /// Connections open now.
    [[nodiscard]] std::size_t connections() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace ante::http
