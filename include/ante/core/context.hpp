#pragma once
/// \file
/// What a handler knows about the call besides the request.

#include <ante/core/clock.hpp>

#include <map>
#include <stop_token>
#include <string>
#include <string_view>

namespace ante {

/// Named path parameters, e.g. {"id": "42"} for pattern `/orders/{id}`.
using PathParams = std::map<std::string, std::string, std::less<>>;

/// Per-call context. Handlers should give up when `stop` is requested or `deadline` passed:
/// a blocking handler cannot be preempted, so this is how it learns its caller left.
struct Context {
    std::string correlation_id;
    std::string route;          ///< the matched route's name
    PathParams params;          ///< named path parameters
    SteadyTime deadline = SteadyTime::max();
    int attempt = 1;            ///< 1 for the first try
    std::stop_token stop;       ///< requested at deadline, on cancel, or on shutdown

    /// The value of path parameter `name`, or "".
    [[nodiscard]] std::string_view param(std::string_view name) const {
        auto it = params.find(name);
        return it == params.end() ? std::string_view{} : std::string_view{it->second};
    }
};

}  // namespace ante
