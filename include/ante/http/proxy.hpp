#pragma once
/// \file
/// The upstream proxy handler: forwards a route's requests to an upstream over pooled
/// keep-alive connections.

#include <ante/handler.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace ante::http {

/// The request header that tells the upstream how many milliseconds it has left.
inline constexpr std::string_view kDeadlineHeader = "X-Request-Timeout-Ms";

struct ProxyOptions {
    /// "http://host:port" optionally followed by a base path that prefixes forwarded targets.
    std::string upstream;
    std::size_t max_idle_connections = 64;   ///< kept open for reuse
    std::size_t response_body_limit = 8 * 1024 * 1024;
    /// Only the answer's status and headers matter (a webhook receiver's): a body past the limit
    /// is not read, and its connection is closed instead of reused.
    bool status_only = false;
};

/// Parses `options.upstream`; throws std::invalid_argument naming the fault.
/// The handler's deadline is the route's timeout: connect, write and read all count against it.
/// Connect failures answer 502, a passed deadline 504, a broken exchange 502; hop-by-hop headers
/// are dropped both ways (RFC 9110 §7.6.1); X-Forwarded-For/-Host/-Proto are set by the gateway,
/// never passed on as the client sent them.
AwaitableHandler proxy_handler(boost::asio::any_io_executor executor, ProxyOptions options);

}  // namespace ante::http
