#pragma once
/// \file
/// The facade: a route table whose routes dispatch sync or async. Usable with no socket at all.

#include <ante/backend/job_queue.hpp>
#include <ante/core/problem.hpp>
#include <ante/backend/status_store.hpp>
#include <ante/dispatch/async_dispatcher.hpp>
#include <ante/dispatch/sync_dispatcher.hpp>
#include <ante/metrics.hpp>
#include <ante/route.hpp>
#include <ante/router.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <memory>

namespace ante {

struct GatewayOptions {
    SyncDispatcherOptions sync;
    AsyncDispatcherOptions async;
    /// Retention of finished job records and the store's cap (used when `store` is null).
    std::chrono::seconds job_retention{3600};
    std::size_t job_records = 100'000;
    std::size_t job_bytes = std::size_t{256} << 20;  ///< the records' (and results') bytes
    /// Idempotency keys kept at most (all routes and clients); unexpired ones are never evicted.
    std::size_t idempotency_keys = 100'000;
    /// Backends; null means the in-memory ones (fast, not durable across a crash).
    std::shared_ptr<JobQueue> queue;
    std::shared_ptr<StatusStore> store;
    std::shared_ptr<const Clock> clock = Clock::real();
};

/// Routes requests to handlers through the SyncDispatcher or the AsyncDispatcher.
/// Add every route before `start()`; the table is read-only afterwards, so no lock guards it.
class Gateway {
public:
    explicit Gateway(boost::asio::any_io_executor executor);
    Gateway(boost::asio::any_io_executor executor, GatewayOptions options);
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;
    ~Gateway();

    /// Adds `route`. Throws std::invalid_argument for a malformed pattern or a duplicate name.
    Gateway& add(Route route);
    /// Shorthand for `add` with the default timeout; the name is "METHOD pattern".
    Gateway& route(std::string method, std::string pattern, Handler handler, Dispatch dispatch = Dispatch::sync);

    /// Starts the async workers. Call once, after the routes are added.
    void start();

    /// Routes and runs one request. Never throws: every failure is a response (404, 405, 500,
    /// 503, 504 … with a problem+json body). Sets and echoes `X-Request-Id`.
    boost::asio::awaitable<Response> dispatch(Request request);

    /// `dispatch` for any Asio completion token (callback, use_future, use_awaitable …),
    /// with the completion signature `void(Response)`.
    template <class CompletionToken>
    auto async_dispatch(Request request, CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(Response)>(
            [this](auto handler, Request req) {
                auto target = boost::asio::get_associated_executor(handler, executor_);
                boost::asio::co_spawn(
                    boost::asio::make_strand(executor_), dispatch(std::move(req)),
                    [handler = std::move(handler), target](std::exception_ptr error, Response response) mutable {
                        if (error) response = internal_error_response();
                        boost::asio::dispatch(target, boost::asio::append(std::move(handler), std::move(response)));
                    });
            },
            token, std::move(request));
    }

    /// Stops taking async jobs and waits up to `grace` for running ones.
    boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

    [[nodiscard]] boost::asio::any_io_executor get_executor() const noexcept { return executor_; }
    [[nodiscard]] SyncDispatcher& sync_dispatcher() noexcept { return sync_; }
    [[nodiscard]] AsyncDispatcher& async_dispatcher() noexcept { return async_; }
    /// What the gateway measures; the admin listener serves it at `GET /metrics`.
    [[nodiscard]] Metrics& metrics() noexcept { return metrics_; }

private:
    static Response internal_error_response();
    const Route* find_async_route(std::string_view name, std::string_view path, PathParams& params) const;
    void add_job_routes();
    static Route make_webhook_route(boost::asio::any_io_executor executor, const WebhookOptions& options);
    boost::asio::awaitable<Response> dispatch_sync(const Route& route, Request& request, Context& ctx);
    boost::asio::awaitable<Response> dispatch_with_policies(const Route& route, Request& request, Context& ctx);
    boost::asio::awaitable<Response> submit_after_admission(const Route& route, Request& request, Context& ctx);

    boost::asio::any_io_executor executor_;
    std::shared_ptr<const Clock> clock_;
    Router router_;
    std::deque<Route> routes_;  // index-aligned with router_; a deque keeps addresses stable
    Route webhook_route_;       // delivers webhooks; reached by the workers only, never by a path
    SyncDispatcher sync_;
    AsyncDispatcher async_;
    Metrics metrics_;
    bool job_routes_added_ = false;
    bool started_ = false;
};

}  // namespace ante
