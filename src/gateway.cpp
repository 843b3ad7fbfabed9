#include <ante/backend/memory/memory_job_queue.hpp>
#include <ante/backend/memory/memory_status_store.hpp>
#include <ante/core/correlation_id.hpp>
#include <ante/core/problem.hpp>
#include <ante/gateway.hpp>
#include <ante/http/webhook_sender.hpp>

#include <algorithm>
#include <stdexcept>

namespace ante {

namespace asio = boost::asio;

namespace {

std::shared_ptr<JobQueue> queue_or_default(const GatewayOptions& o) {
    return o.queue ? o.queue
                   : std::make_shared<MemoryJobQueue>(
                         MemoryJobQueueOptions{.capacity = o.async.queue_capacity, .max_bytes = o.async.queue_bytes,
                                               .dead_capacity = o.async.dead_letters},
                         o.clock);
}

std::shared_ptr<StatusStore> store_or_default(const GatewayOptions& o) {
    return o.store ? o.store
                   : std::make_shared<MemoryStatusStore>(
                         MemoryStatusStoreOptions{.retention = o.job_retention, .capacity = o.job_records,
                                                  .max_bytes = o.job_bytes, .max_keys = o.idempotency_keys},
                         o.clock);
}

const GatewayOptions& default_options() {
    static const GatewayOptions defaults;
    return defaults;
}

}  // namespace

Gateway::Gateway(asio::any_io_executor executor, GatewayOptions options)
    : executor_(executor),
      clock_(options.clock),
      webhook_route_(make_webhook_route(executor, options.async.webhooks)),
      sync_(options.sync),
      async_(executor, options.async, queue_or_default(options), store_or_default(options),
             [this](std::string_view name, std::string_view path, PathParams& params) {
                 return find_async_route(name, path, params);
             },
             options.clock) {
    if (options.async.webhooks.enabled()) async_.track_route(kWebhookRoute);
    metrics_.add(async_metrics(async_));
}

Route Gateway::make_webhook_route(asio::any_io_executor executor, const WebhookOptions& options) {
    if (options.enabled() && !valid_webhook_secret(options.secret))
        throw std::invalid_argument("webhooks: a signing secret of at least 16 bytes is needed "
                                    "(a \"whsec_\" secret must be valid base64)");
    return Route{.name = std::string(kWebhookRoute), .method = "POST", .pattern = "/",
                 .handler = http::webhook_sender(std::move(executor), options), .dispatch = Dispatch::async,
                 .timeout = options.timeout, .policies = {}, .admission = {},
                 .redelivery = std::make_shared<RetryOptions>(options.delivery)};
}

// Copied from one static rather than a temporary: GCC 12 misreports a temporary's strings
// as maybe-uninitialized at -O2.
Gateway::Gateway(asio::any_io_executor executor) : Gateway(std::move(executor), default_options()) {}

Gateway::~Gateway() = default;

Gateway& Gateway::add(Route route) {
    if (started_) throw std::logic_error("routes must be added before Gateway::start()");
    if (route.name.empty()) route.name = route.method + " " + route.pattern;
    if (std::any_of(routes_.begin(), routes_.end(), [&](const Route& r) { return r.name == route.name; }))
        throw std::invalid_argument("duplicate route name '" + route.name + "'");
    const bool async = route.dispatch == Dispatch::async;
    if (async && route.policies && route.policies->retries())
        throw std::invalid_argument("route '" + route.name +
                                    "': an async route retries by redelivering the job (Route::redelivery), "
                                    "not with a retry policy around each attempt");
    if (!async && (route.admission || route.redelivery))
        throw std::invalid_argument("route '" + route.name + "': admission and redelivery are for async routes");
    if (async) {
        add_job_routes();
        async_.track_route(route.name);
    }
    router_.add(route.method, route.pattern);
    routes_.push_back(std::move(route));
    return *this;
}

Gateway& Gateway::route(std::string method, std::string pattern, Handler handler, Dispatch dispatch) {
    return add(Route{.name = {}, .method = std::move(method), .pattern = std::move(pattern),
                     .handler = std::move(handler), .dispatch = dispatch});
}

void Gateway::add_job_routes() {
    if (job_routes_added_) return;
    job_routes_added_ = true;
    const std::string& base = async_.options().jobs_path;
    add(Route{.name = "ante.job_status", .method = "GET", .pattern = base + "/{id}",
              .handler = awaitable_handler([this](Request, Context ctx) -> asio::awaitable<Response> {
                  co_return co_await async_.status(std::string(ctx.param("id")), ctx.correlation_id);
              })});
    add(Route{.name = "ante.job_result", .method = "GET", .pattern = base + "/{id}/result",
              .handler = awaitable_handler([this](Request, Context ctx) -> asio::awaitable<Response> {
                  co_return co_await async_.result(std::string(ctx.param("id")), ctx.correlation_id);
              })});
    add(Route{.name = "ante.job_events", .method = "GET", .pattern = base + "/{id}/events",
              .handler = awaitable_handler([this](Request request, Context ctx) -> asio::awaitable<Response> {
                  std::string last{request.headers.get("Last-Event-ID").value_or("")};
                  co_return co_await async_.events(std::string(ctx.param("id")), std::move(last), ctx.correlation_id);
              })});
    add(Route{.name = "ante.job_cancel", .method = "DELETE", .pattern = base + "/{id}",
              .handler = awaitable_handler([this](Request, Context ctx) -> asio::awaitable<Response> {
                  co_return co_await async_.cancel(std::string(ctx.param("id")), ctx.correlation_id);
              })});
}

void Gateway::start() {
    if (started_) return;
    started_ = true;
    async_.start();
}

const Route* Gateway::find_async_route(std::string_view name, std::string_view path, PathParams& params) const {
    if (name == kWebhookRoute) return async_.options().webhooks.enabled() ? &webhook_route_ : nullptr;
    for (const Route& r : routes_) {
        if (r.name != name || r.dispatch != Dispatch::async) continue;
        return PathPattern{r.pattern}.match(path, params) ? &r : nullptr;
    }
    return nullptr;
}

Response Gateway::internal_error_response() {
    return problem(Errc::handler_failed, "the gateway failed to produce a response", "");
}

asio::awaitable<Response> Gateway::dispatch(Request request) {
    Context ctx;
    if (auto sent = request.headers.get("X-Request-Id"); sent && is_valid_correlation_id(*sent))
        ctx.correlation_id = *sent;
    else
        ctx.correlation_id = generate_id();
    request.headers.set("X-Request-Id", ctx.correlation_id);  // one value, the one the upstream sees too
    if (has_dot_segment(request.path())) {
        Response refused = problem(Errc::bad_request, "the path must not have '.' or '..' segments (nor '..;' or '\\')",
                                   ctx.correlation_id);
        refused.headers.set("X-Request-Id", ctx.correlation_id);
        co_return refused;
    }
    RouteMatch match = router_.match(request.method, request.path());
    Response response;
    if (match.kind == RouteMatch::Kind::not_found) {
        response = problem(Errc::not_found, "no route matches this path", ctx.correlation_id);
    } else if (match.kind == RouteMatch::Kind::method_not_allowed) {
        response = problem(Errc::method_not_allowed, "this path does not accept " + request.method,
                           ctx.correlation_id);
        response.headers.set("Allow", match.allow);
    } else {
        const Route& route = routes_[match.index];
        ctx.route = route.name;
        ctx.params = std::move(match.params);
        ctx.deadline = clock_->steady_now() + route.timeout;
        std::string id = ctx.correlation_id;
        try {
            if (route.dispatch == Dispatch::sync)
                response = co_await dispatch_sync(route, request, ctx);
            else if (route.admission && !route.admission->empty())
                response = co_await submit_after_admission(route, request, ctx);
            else
                response = co_await async_.submit(route, std::move(request), std::move(ctx));
        } catch (const BackendUnavailable& e) {  // never a 202 for a job that may not be stored
            response = backend_unavailable(id, e.what());
        }
        ctx.correlation_id = std::move(id);
    }
    response.headers.set("X-Request-Id", ctx.correlation_id);
    co_return response;
}

asio::awaitable<Response> Gateway::dispatch_sync(const Route& route, Request& request, Context& ctx) {
    auto decided = co_await claim_sync_key(async_.store(), route.idempotency, route.name, request, route.timeout,
                                           ctx.correlation_id);
    if (auto* answer = std::get_if<Response>(&decided)) co_return std::move(*answer);
    const auto claim = std::get<std::optional<SyncClaim>>(std::move(decided));
    Response response;
    if (route.policies && !route.policies->empty())
        response = co_await dispatch_with_policies(route, request, ctx);
    else
        response = co_await sync_.dispatch(route.handler, std::move(request), ctx);
    if (claim) co_await settle_sync_key(async_.store(), route.idempotency, *claim, response);
    co_return response;
}

asio::awaitable<Response> Gateway::dispatch_with_policies(const Route& route, Request& request, Context& ctx) {
    const DynamicPipeline::Terminal attempt = [this, &route](Call& call) -> asio::awaitable<Response> {
        std::optional<Bulkhead::Permit> place;
        if (!take_attempt_place(call, place))
            co_return problem(Errc::bulkhead_full, "no free place for another attempt", call.ctx.correlation_id);
        co_return co_await sync_.dispatch(route.handler, call.request, call.ctx, std::move(place));
    };
    co_return co_await route.policies->execute(request, ctx, attempt);
}

asio::awaitable<Response> Gateway::submit_after_admission(const Route& route, Request& request, Context& ctx) {
    const DynamicPipeline::Terminal submit = [this, &route](Call& call) -> asio::awaitable<Response> {
        co_return co_await async_.submit(route, std::move(call.request), call.ctx);
    };
    co_return co_await route.admission->execute(request, ctx, submit);
}

asio::awaitable<void> Gateway::shutdown(std::chrono::milliseconds grace) { co_await async_.shutdown(grace); }

}  // namespace ante
