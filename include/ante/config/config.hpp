#pragma once
/// \file
/// The standalone gateway's JSON configuration: parsing, validation and route building.
///
/// Shape (every field but `routes` is optional; docs/configuration.md lists types and defaults):
/// \code{.json}
/// {
///   "listen": {"address": "127.0.0.1", "port": 8080, "header_limit": 8192, "body_limit": 1048576,
///              "header_timeout_ms": 60000, "body_timeout_ms": 60000, "idle_timeout_ms": 75000,
///              "max_connections": 10000, "access_log": true},
///   "admin": {"address": "127.0.0.1", "port": 9901},
///   "io_threads": 1,
///   "shutdown_grace_ms": 10000,
///   "log_level": "info",
///   "sync": {"threads": 16, "queue": 64, "concurrency": 1024, "retry_after_s": 1},
///   "async": {"workers": 4, "queue_capacity": 10000, "retry_after_s": 1, "jobs_path": "/jobs",
///             "job_retention_s": 3600, "job_records": 100000},
///   "breakers": {"catalog": {"failure_rate": 0.5, "minimum_calls": 20, "wait_in_open_ms": 5000}},
///   "routes": [
///     {"name": "checkout", "method": "POST", "path": "/checkout", "dispatch": "sync", "timeout_ms": 15000,
///      "handler": {"type": "proxy", "upstream": "http://127.0.0.1:9000", "max_idle_connections": 64},
///      "policies": {"retry": {"max_attempts": 3}, "circuit_breaker": "catalog", "attempt_timeout_ms": 1000}},
///     {"method": "GET", "path": "/hello",
///      "handler": {"type": "static", "status": 200, "body": "hi", "content_type": "text/plain"}},
///     {"method": "POST", "path": "/echo", "dispatch": "async", "handler": {"type": "echo"}}
///   ]
/// }
/// \endcode
/// `admin` takes the same fields as `listen`. Unknown fields are errors, so a typo never
/// passes silently.

#include <ante/backend/redis/redis_backend.hpp>
#include <ante/config/policy_config.hpp>
#include <ante/gateway.hpp>
#include <ante/http/proxy.hpp>
#include <ante/http/server.hpp>
#include <ante/route.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ante {

/// A configuration that cannot be used. The message reads "<json path>: <reason>", e.g.
/// `listen.port: expected an integer 0..65535, got 70000`.
class ConfigError : public std::runtime_error {
public:
    /// `field` is the JSON path ("routes[1].handler.upstream"); empty for whole-document faults.
    ConfigError(std::string field, const std::string& reason);

    /// The JSON path of the faulty field, or "" (syntax error, unreadable file).
    [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
    std::string field_;
};

/// What a configured route runs.
enum class HandlerType {
    proxy,            ///< forwards to an upstream (awaitable handler)
    static_response,  ///< answers a fixed response on the I/O thread ("static")
    echo,             ///< answers the request back as JSON, on the blocking pool ("echo")
};

/// The fixed answer of a `static` handler.
struct StaticResponseConfig {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain";
};

/// A route's handler. Only the member matching `type` is meaningful.
struct HandlerConfig {
    HandlerType type = HandlerType::static_response;
    http::ProxyOptions proxy;             ///< type == proxy
    StaticResponseConfig static_response; ///< type == static_response
};

/// One configured route.
struct RouteConfig {
    std::string name;    ///< defaults to "METHOD path"
    std::string method;  ///< e.g. "GET"; "*" matches any method
    std::string path;    ///< a PathPattern, e.g. "/orders/{id}"
    Dispatch dispatch = Dispatch::sync;
    std::chrono::milliseconds timeout{15'000};
    HandlerConfig handler;
    PolicyConfig policies;  ///< docs/policies.md
    std::chrono::milliseconds job_ttl{0};  ///< async routes: a job not started by then expires
    IdempotencyOptions idempotency;        ///< how `Idempotency-Key` is honoured
    bool inline_result = false;            ///< async routes: the status carries the result
};

/// Listener defaults of the standalone gateway (ServerOptions itself defaults to port 0).
inline http::ServerOptions default_server_options(std::uint16_t port) {
    http::ServerOptions o;
    o.port = port;
    return o;
}

/// Where async jobs and their records live (docs/operations.md).
struct BackendConfig {
    enum class Type { memory, redis };
    Type type = Type::memory;
    RedisBackendOptions redis;  ///< type == redis
};

/// What a standalone process does: serve clients (and queue their jobs), run jobs, or both.
/// `gateway` and `worker` need a shared backend: they are separate processes on one Redis.
enum class Role { gateway, worker, both };

/// "gateway", "worker" or "both"; nothing for any other text.
std::optional<Role> parse_role(std::string_view text);

/// Everything the standalone gateway reads from its configuration file.
struct GatewayConfig {
    http::ServerOptions listen = default_server_options(8080);
    http::ServerOptions admin = default_server_options(9901);  ///< serves GET /healthz
    std::size_t io_threads = 1;       ///< threads running the io_context, main thread included
    GatewayOptions gateway;           ///< sync/async limits, job retention
    std::vector<RouteConfig> routes;  ///< at least one
    /// Named circuit breakers, shared by the routes that name them (one per upstream).
    std::map<std::string, CircuitBreakerOptions, std::less<>> breakers;
    std::chrono::milliseconds shutdown_grace{10'000};  ///< drain time on SIGINT/SIGTERM
    std::string log_level = "info";   ///< trace, debug, info, warn, error, critical or off
    BackendConfig backend;            ///< memory (the default) or redis
    Role role = Role::both;
};

/// Refuses a role that cannot work with the configured backend (a gateway without workers on
/// an in-process queue). Throws ConfigError.
void check_role(const GatewayConfig& config);

/// Parses and validates a configuration document. Throws ConfigError naming the faulty field.
GatewayConfig parse_config(std::string_view json_text);

/// Reads `file` and parses it. Throws ConfigError (an unreadable file names the path and the
/// system's reason).
GatewayConfig load_config(const std::filesystem::path& file);

/// Builds each configured route's handler and adds it to `gateway` (before `gateway.start()`).
/// Proxy handlers run on `executor`. Throws ConfigError when a route is refused (e.g. a duplicate
/// name or an upstream the proxy cannot use).
void add_routes(const GatewayConfig& config, Gateway& gateway, boost::asio::any_io_executor executor);

}  // namespace ante
