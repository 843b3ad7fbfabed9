#pragma once
/// \file
/// A transport-neutral response.

#include <ante/core/error.hpp>
#include <ante/core/headers.hpp>

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace ante {

class BodyStream;  // ante/core/body_stream.hpp

/// One response: status, headers and body.
struct Response {
    int status = 200;
    Headers headers;
    std::string body;
    /// Set when the gateway made this response itself (a rejection, a timeout, a failed
    /// upstream), so policies can tell it from the handler's own answer. Not sent on the wire.
    Errc error = Errc::ok;
    /// Set by a handler for a failure that no retry can mend: an async job fails at once
    /// instead of being redelivered. Not sent on the wire.
    bool permanent = false;
    /// When set, the body is sent in pieces as this produces them and `body` is not sent: an
    /// event stream. Only the HTTP server sends it; the idempotency store does not keep it.
    std::shared_ptr<BodyStream> stream;

    /// A response with a `text/plain` body.
    static Response text(int status, std::string body);
    /// A response with an `application/json` body.
    static Response json(int status, const nlohmann::json& body);
};

}  // namespace ante
