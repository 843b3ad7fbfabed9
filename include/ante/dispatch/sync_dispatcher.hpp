#pragma once
/// \file
/// Request/response dispatch with bounded admission: the caller waits, overload is refused.

#include <ante/dispatch/admission.hpp>
#include <ante/dispatch/handler_runner.hpp>

#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <cstddef>

namespace ante {

/// Limits of the SyncDispatcher. Past them a request is refused at once with 503.
struct SyncDispatcherOptions {
    std::size_t threads = 16;         ///< blocking handlers run on this many pool threads (N)
    std::size_t queue = 64;           ///< blocking calls that may wait for a free thread (Q)
    std::size_t concurrency = 1024;   ///< inline and awaitable calls in flight (Envoy's default)
    std::chrono::seconds retry_after{1};  ///< the Retry-After sent with a refusal
};

/// Runs a route's handler for the waiting caller. Blocking handlers never run on an I/O thread;
/// at most N run and Q wait, the rest are refused with 503 + Retry-After and counted.
class SyncDispatcher {
public:
    explicit SyncDispatcher(SyncDispatcherOptions options = {});
    SyncDispatcher(const SyncDispatcher&) = delete;
    SyncDispatcher& operator=(const SyncDispatcher&) = delete;
    /// Waits for running blocking handlers (see `join`).
    ~SyncDispatcher();

    /// Runs `handler` (which must outlive the call) and answers. A `bulkhead` permit is held,
    /// like the dispatcher's own, until the handler really returns.
    boost::asio::awaitable<Response> dispatch(const Handler& handler, Request request, Context ctx,
                                              std::optional<Bulkhead::Permit> bulkhead = std::nullopt);

    /// Stops taking blocking work and waits for the handlers still running.
    void join();

    struct Stats {
        std::uint64_t rejected = 0;            ///< refused with 503
        std::size_t blocking_in_use = 0;       ///< blocking calls running or waiting
        std::size_t concurrent_in_use = 0;     ///< inline and awaitable calls in flight
        std::uint64_t timeouts = 0;
        std::uint64_t late_results = 0;
        std::uint64_t handler_exceptions = 0;
    };
    [[nodiscard]] Stats stats() const noexcept;

private:
    SyncDispatcherOptions options_;
    boost::asio::thread_pool pool_;
    AdmissionLimit blocking_;
    AdmissionLimit concurrent_;
    RunnerCounters counters_;
};

/// The 503 refusal with Retry-After that every admission limit answers.
Response overloaded_response(std::string_view detail, std::string_view correlation_id,
                             std::chrono::seconds retry_after);

}  // namespace ante
