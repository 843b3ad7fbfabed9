#pragma once
/// \file
/// Runs one handler of any kind under its deadline, turning exceptions into 500.
/// Shared by both dispatchers so that a handler behaves the same sync or async.

#include <ante/dispatch/admission.hpp>
#include <ante/handler.hpp>
#include <ante/policy/bulkhead.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <optional>

namespace ante {

/// What happened to handler runs, for metrics and tests.
struct RunnerCounters {
    std::atomic<std::uint64_t> timeouts{0};            ///< deadline passed before the handler answered
    std::atomic<std::uint64_t> late_results{0};        ///< blocking results discarded after a timeout
    std::atomic<std::uint64_t> handler_exceptions{0};  ///< handlers that threw
};

/// Places a handler run holds until the handler really returns, even after its caller was
/// answered by a timeout.
struct HeldPermits {
    std::optional<AdmissionLimit::Permit> admission;
    std::optional<Bulkhead::Permit> bulkhead;
};

/// Runs `handler` for one call and always produces a response: the handler's own, 500 with a
/// problem body when it throws, or 504 when `ctx.deadline` passes first. At the deadline
/// `ctx.stop` is requested; a blocking handler keeps its pool thread and `permits` until it
/// returns, and its late result is discarded and counted. `handler` must outlive the call.
boost::asio::awaitable<Response> run_handler(const Handler& handler, Request request, Context ctx,
                                             boost::asio::thread_pool& blocking_pool, RunnerCounters& counters,
                                             HeldPermits permits = {});

}  // namespace ante
