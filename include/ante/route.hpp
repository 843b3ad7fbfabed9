#pragma once
/// \file
/// A route: method + path pattern, a handler and a dispatch strategy.

#include <ante/handler.hpp>
#include <ante/policy/dynamic_pipeline.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace ante {

/// How a route's requests are processed.
enum class Dispatch {
    sync,   ///< the caller waits for the handler's response (SyncDispatcher)
    async,  ///< the caller gets 202 and a status URL; a worker runs the job (AsyncDispatcher)
};

/// Everything that defines a route. Build one directly or through `Gateway::route`.
struct Route {
    std::string name;      ///< unique; async jobs find their handler by it. Defaults to "METHOD pattern".
    std::string method;    ///< e.g. "GET"; "*" matches any method
    std::string pattern;   ///< e.g. "/orders/{id}"; a final "{name...}" matches the rest of the path
    Handler handler;
    Dispatch dispatch = Dispatch::sync;
    /// Time allowed for one handler run (sync: the whole call; async: one attempt). At expiry the
    /// caller gets 504 (sync) or the job fails with a timeout (async). Envoy's route default.
    std::chrono::milliseconds timeout{15'000};
    /// Resilience policies around the handler (sync routes), outermost first; null for none.
    std::shared_ptr<const DynamicPipeline> policies;
};

}  // namespace ante
