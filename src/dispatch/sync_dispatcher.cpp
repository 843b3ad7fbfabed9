#include <ante/core/problem.hpp>
#include <ante/dispatch/sync_dispatcher.hpp>

#include <string>

namespace ante {

SyncDispatcher::SyncDispatcher(SyncDispatcherOptions options)
    : options_(options),
      pool_(options.threads),
      blocking_(options.threads + options.queue),
      concurrent_(options.concurrency) {}

SyncDispatcher::~SyncDispatcher() { join(); }

void SyncDispatcher::join() { pool_.join(); }

Response overloaded_response(std::string_view detail, std::string_view correlation_id,
                             std::chrono::seconds retry_after) {
    Response r = problem(Errc::overloaded, detail, correlation_id);
    r.headers.set("Retry-After", std::to_string(retry_after.count()));
    return r;
}

boost::asio::awaitable<Response> SyncDispatcher::dispatch(const Handler& handler, Request request, Context ctx,
                                                          std::optional<Bulkhead::Permit> bulkhead) {
    const bool blocking = std::holds_alternative<BlockingHandler>(handler);
    auto permit = blocking ? blocking_.try_acquire() : concurrent_.try_acquire();
    if (!permit) {
        co_return overloaded_response(blocking ? "all handler threads are busy and the wait queue is full"
                                               : "too many requests in flight",
                                      ctx.correlation_id, options_.retry_after);
    }
    // The permits travel with the work: held until the handler really returns.
    HeldPermits held{.admission = std::move(permit), .bulkhead = std::move(bulkhead)};
    co_return co_await run_handler(handler, std::move(request), std::move(ctx), pool_, counters_, std::move(held));
}

SyncDispatcher::Stats SyncDispatcher::stats() const noexcept {
    return Stats{
        .rejected = blocking_.rejected() + concurrent_.rejected(),
        .blocking_in_use = blocking_.in_use(),
        .concurrent_in_use = concurrent_.in_use(),
        .timeouts = counters_.timeouts.load(std::memory_order_relaxed),
        .late_results = counters_.late_results.load(std::memory_order_relaxed),
        .handler_exceptions = counters_.handler_exceptions.load(std::memory_order_relaxed),
    };
}

}  // namespace ante
