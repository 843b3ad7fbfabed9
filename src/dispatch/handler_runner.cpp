#include <ante/core/problem.hpp>
#include <ante/dispatch/handler_runner.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <functional>
#include <memory>

namespace ante {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

Response handler_failed(const Context& ctx, RunnerCounters& counters, std::string_view what) {
    counters.handler_exceptions.fetch_add(1, std::memory_order_relaxed);
    // The exception text goes to the log only: it may hold internals a client must not see.
    spdlog::error("[{}] route '{}': handler threw: {}", ctx.correlation_id, ctx.route, what);
    return problem(Errc::handler_failed, "the handler failed; quote the correlation_id when reporting it",
                   ctx.correlation_id);
}

Response call_guarded(const HandlerFn& fn, const Request& request, Context& ctx, RunnerCounters& counters) {
    try {
        return fn(request, ctx);
    } catch (const std::exception& e) {
        return handler_failed(ctx, counters, e.what());
    } catch (...) {
        return handler_failed(ctx, counters, "a non-standard exception");
    }
}

Response timed_out(const Context& ctx, RunnerCounters& counters) {
    counters.timeouts.fetch_add(1, std::memory_order_relaxed);
    return problem(Errc::timeout, "the handler did not answer before the route's deadline", ctx.correlation_id);
}

asio::awaitable<Response> call_awaitable_guarded(const AwaitableFn& fn, Request request, Context ctx,
                                                 RunnerCounters& counters) {
    try {
        co_return co_await fn(std::move(request), ctx);
    } catch (const BackendUnavailable& e) {
        co_return backend_unavailable(ctx.correlation_id, e.what());
    } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) throw;  // lost the race to the deadline
        co_return handler_failed(ctx, counters, e.what());
    } catch (const std::exception& e) {
        co_return handler_failed(ctx, counters, e.what());
    } catch (...) {
        co_return handler_failed(ctx, counters, "a non-standard exception");
    }
}

// One blocking call racing its deadline: whichever settles first answers the caller.
struct BlockingCall {
    explicit BlockingCall(asio::any_io_executor ex) : timer(std::move(ex)) {}
    std::atomic<bool> settled{false};
    asio::steady_timer timer;
    std::stop_source stop;
    std::function<void(Response)> answer;
};

asio::awaitable<Response> run_blocking(const HandlerFn& fn, Request request, Context ctx, asio::thread_pool& pool,
                                       RunnerCounters& counters, HeldPermits permits) {
    auto io = co_await asio::this_coro::executor;
    auto call = std::make_shared<BlockingCall>(io);
    ctx.stop = call->stop.get_token();
    auto initiate = [&](auto handler) {
        auto target = asio::get_associated_executor(handler, io);
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        call->answer = [shared, target](Response r) {
            asio::dispatch(target, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
        };
        call->timer.expires_at(ctx.deadline);
        call->timer.async_wait([call, &counters, id = ctx.correlation_id](boost::system::error_code ec) {
            if (ec || call->settled.exchange(true)) return;
            call->stop.request_stop();
            Context c;
            c.correlation_id = id;
            call->answer(timed_out(c, counters));
        });
        // Cancelled (a job's DELETE, shutdown, a lost lease): like a deadline, the caller is
        // answered at once and the handler is asked to stop; its place stays held until it returns.
        if (slot.is_connected()) {
            slot.assign([call, id = ctx.correlation_id](asio::cancellation_type) {
                if (call->settled.exchange(true)) return;
                call->stop.request_stop();
                asio::post(call->timer.get_executor(), [call] { call->timer.cancel(); });
                call->answer(problem(Errc::cancelled, "the call was cancelled", id));
            });
        }
        asio::post(pool, [call, &fn, &counters, request = std::move(request), ctx = std::move(ctx),
                          permits = std::move(permits)]() mutable {
            Response r = call_guarded(fn, request, ctx, counters);
            const bool late = call->settled.exchange(true);
            if (late) counters.late_results.fetch_add(1, std::memory_order_relaxed);
            // The handler has really returned: free its place before anyone hears of it, so a
            // caller that got the answer finds the place free (and a timed-out one freed only now).
            permits.admission.reset();
            permits.bulkhead.reset();
            if (late) return;
            asio::post(call->timer.get_executor(), [call] { call->timer.cancel(); });
            call->answer(std::move(r));
        });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(initiate,
                                                                                         asio::use_awaitable);
}

}  // namespace

asio::awaitable<Response> run_handler(const Handler& handler, Request request, Context ctx,
                                      asio::thread_pool& blocking_pool, RunnerCounters& counters,
                                      HeldPermits permits) {
    // Inline and awaitable runs end before this returns, so their permits die with this frame.
    if (const auto* h = std::get_if<InlineHandler>(&handler)) co_return call_guarded(h->fn, request, ctx, counters);
    if (const auto* h = std::get_if<BlockingHandler>(&handler)) {
        co_return co_await run_blocking(h->fn, std::move(request), std::move(ctx), blocking_pool, counters,
                                        std::move(permits));
    }
    const auto& fn = std::get<AwaitableHandler>(handler).fn;
    std::stop_source stop;
    ctx.stop = stop.get_token();
    asio::steady_timer deadline{co_await asio::this_coro::executor, ctx.deadline};
    auto outcome = co_await (call_awaitable_guarded(fn, std::move(request), ctx, counters) ||
                             deadline.async_wait(asio::use_awaitable));
    if (outcome.index() == 0) co_return std::get<0>(std::move(outcome));
    stop.request_stop();
    co_return timed_out(ctx, counters);
}

}  // namespace ante
