#pragma once
/// \file
/// The one error enum of the request path, its category, and its single mapping to HTTP.

#include <string_view>
#include <stdexcept>
#include <system_error>

namespace ante {

/// Why a request was not served as asked. Rejections are returned as values, never thrown.
enum class Errc {
    ok = 0,
    bad_request,           ///< malformed request
    not_found,             ///< no route for the path, or unknown job id
    method_not_allowed,    ///< the path exists, the method does not
    conflict,              ///< the resource is in a state that forbids the request
    payload_too_large,     ///< body above the limit
    headers_too_large,     ///< header block above the limit
    overloaded,            ///< admission limits reached (pool, queue, concurrency)
    queue_full,            ///< the async job queue is at capacity
    store_full,            ///< the status store holds only unfinished jobs and is at capacity
    shutting_down,         ///< the gateway is draining
    timeout,               ///< the deadline passed before an answer
    upstream_unreachable,  ///< connecting to the upstream failed
    upstream_failed,       ///< the upstream broke the exchange (reset, malformed reply)
    handler_failed,        ///< a handler threw
    rate_limited,          ///< the route's rate limiter refused the call
    circuit_open,          ///< the circuit breaker refuses calls for now
    bulkhead_full,         ///< the bulkhead has no free place (and the wait, if any, ran out)
    unprocessable,         ///< an Idempotency-Key reused with a different request
    cancelled,             ///< the work was cancelled before it finished (DELETE, shutdown)
    backend_unavailable,   ///< the shared job queue or status store cannot be reached
};

/// The error category of `Errc`.
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// The HTTP status that answers `e` (429, 502, 503, 504, 413, 431 …). The only such mapping.
int http_status(Errc e) noexcept;

/// A short human title for `e`, used as the RFC 9457 `title`.
std::string_view title(Errc e) noexcept;

/// Thrown by a job queue or status store whose server cannot be reached (or stopped answering
/// mid-command, which may then have run). The gateway answers it with 503 and Retry-After.
class BackendUnavailable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace ante

template <>
struct std::is_error_code_enum<ante::Errc> : std::true_type {};
