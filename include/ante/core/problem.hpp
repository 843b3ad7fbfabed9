#pragma once
/// \file
/// RFC 9457 problem details: the body of every error the gateway answers itself.

#include <ante/core/error.hpp>
#include <ante/core/response.hpp>

#include <string_view>

namespace ante {

/// An `application/problem+json` response with `status`, `title`, `detail` and the request's
/// correlation ID (member `correlation_id`, so a client can quote it).
Response problem(int status, std::string_view title, std::string_view detail,
                 std::string_view correlation_id);

/// The problem response for `e`, with the status and title `http_status(e)` and `title(e)` give.
Response problem(Errc e, std::string_view detail, std::string_view correlation_id);

/// 503 with Retry-After for a `BackendUnavailable`; its text (`why`) goes to the log only.
Response backend_unavailable(std::string_view correlation_id, std::string_view why);

}  // namespace ante
