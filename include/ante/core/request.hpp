#pragma once
/// \file
/// A transport-neutral request: what a handler sees, whether it came over HTTP or from code.

#include <ante/core/headers.hpp>

#include <string>
#include <string_view>

namespace ante {

/// One request. `target` is the origin-form request target (path plus optional query).
struct Request {
    std::string method = "GET";
    std::string target = "/";
    Headers headers;
    std::string body;
    /// The peer's address as seen by the transport ("" when called from code). Set by the
    /// gateway, never taken from headers, so it can be trusted for X-Forwarded-For.
    std::string remote_address;

    /// The path part of `target` (before '?').
    [[nodiscard]] std::string_view path() const noexcept;
    /// The query part of `target` (after '?', without it), or "".
    [[nodiscard]] std::string_view query() const noexcept;
};

}  // namespace ante
