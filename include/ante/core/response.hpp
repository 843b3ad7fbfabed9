#pragma once
/// \file
/// A transport-neutral response.

#include <ante/core/headers.hpp>

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace ante {

/// One response: status, headers and body.
struct Response {
    int status = 200;
    Headers headers;
    std::string body;

    /// A response with a `text/plain` body.
    static Response text(int status, std::string body);
    /// A response with an `application/json` body.
    static Response json(int status, const nlohmann::json& body);
};

}  // namespace ante
