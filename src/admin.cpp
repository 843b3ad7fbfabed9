#include <ante/admin.hpp>
#include <ante/core/problem.hpp>

#include <nlohmann/json.hpp>

#include <charconv>

namespace ante {

namespace asio = boost::asio;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out.push_back(' ');
        } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
            i += 2;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

nlohmann::json dead_letter_json(const DeadLetter& dead) {
    return {{"id", dead.job.id},
            {"route", dead.job.route},
            {"correlation_id", dead.job.correlation_id},
            {"attempts", dead.job.attempt},
            {"reason", dead.reason},
            {"last_error", dead.last_error},
            {"enqueued", format_time(dead.job.enqueued_at)},
            {"dead_at", format_time(dead.dead_at)}};
}

// ?route=R&limit=N; a malformed limit is a 400, not a silent "all".
std::optional<DeadLetterSelector> selector_from(const Request& request) {
    DeadLetterSelector which;
    which.route = query_param(request.query(), "route");
    if (const std::string limit = query_param(request.query(), "limit"); !limit.empty()) {
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), n);
        if (ec != std::errc{} || end != limit.data() + limit.size() || n == 0) return std::nullopt;
        which.limit = n;
    }
    return which;
}

DeadLetterSelector by_id(const Context& ctx) {
    return DeadLetterSelector{.id = std::string(ctx.param("id")), .route = {}, .limit = 1};
}

Response bad_selector(const Context& ctx) {
    return problem(Errc::bad_request, "limit must be a positive integer", ctx.correlation_id);
}

Response not_dead(const Context& ctx) {
    return problem(Errc::not_found, "no dead letter with this id", ctx.correlation_id);
}

// Redrive or purge: the operations that act on dead letters and say how many.
using DeadLetterOperation = asio::awaitable<std::size_t> (AsyncDispatcher::*)(DeadLetterSelector);

// The operation on the dead letter named by the path's {id}: 404 when there is none.
Handler one_dead_letter(AsyncDispatcher& jobs, DeadLetterOperation operation, std::string done) {
    return awaitable_handler([&jobs, operation, done](Request, Context ctx) -> asio::awaitable<Response> {
        DeadLetterSelector one = by_id(ctx);  // named: GCC 12 mishandles temporaries in co_await
        const auto n = co_await (jobs.*operation)(std::move(one));
        if (n == 0) co_return not_dead(ctx);
        co_return Response::json(200, {{done, n}});
    });
}

// The operation on the dead letters the query chooses (?route=R&limit=N).
Handler chosen_dead_letters(AsyncDispatcher& jobs, DeadLetterOperation operation, std::string done) {
    return awaitable_handler([&jobs, operation, done](Request request, Context ctx) -> asio::awaitable<Response> {
        auto which = selector_from(request);
        if (!which) co_return bad_selector(ctx);
        const auto n = co_await (jobs.*operation)(std::move(*which));
        co_return Response::json(200, {{done, n}});
    });
}

nlohmann::json route_report_json(const AsyncRouteReport& r) {
    return {{"route", r.route},
            {"ready", r.backlog.ready},
            {"delayed", r.backlog.delayed},
            {"leased", r.backlog.leased},
            {"dead_lettered_now", r.backlog.dead},
            {"lag_ms", r.lag.count()},
            {"redelivered", r.redelivered},
            {"completed", {{"succeeded", r.succeeded},
                           {"failed", r.failed},
                           {"dead_lettered", r.dead_lettered},
                           {"expired", r.expired},
                           {"cancelled", r.cancelled}}}};
}

nlohmann::json workers_json(const AsyncDispatcher& jobs) {
    const WorkerScaling& s = jobs.options().scaling;
    return {{"workers", jobs.workers()},
            {"scaling", {{"enabled", s.enabled},
                         {"min", s.min},
                         {"max", s.max},
                         {"backlog_per_worker", s.backlog_per_worker},
                         {"scale_down_after_ms", s.scale_down_after.count()}}}};
}

// PUT /async/workers with {"workers": N}.
Response set_workers(AsyncDispatcher& jobs, const Request& request, const Context& ctx) {
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("workers") || !body["workers"].is_number_unsigned() ||
        body["workers"].get<std::uint64_t>() > kMaxWorkers)
        return problem(Errc::bad_request,
                       "the body must be {\"workers\": N} with N from 0 to " + std::to_string(kMaxWorkers),
                       ctx.correlation_id);
    const auto wanted = body["workers"].get<std::size_t>();
    const WorkerScaling& scaling = jobs.options().scaling;
    if (scaling.enabled && (wanted < scaling.min || wanted > scaling.max))  // the next scan would undo it
        return problem(Errc::conflict,
                       "the workers follow the backlog between " + std::to_string(scaling.min) + " and " +
                           std::to_string(scaling.max) + " (async.scaling); ask for a count in that range",
                       ctx.correlation_id);
    jobs.set_workers(wanted);
    return Response::json(200, workers_json(jobs));
}

}  // namespace

std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) == name)
            return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return "";
}

void add_admin_routes(Gateway& admin, Gateway& served) {
    AsyncDispatcher& jobs = served.async_dispatcher();
    admin.route("GET", "/healthz", inline_handler([](const Request&, Context&) {
                    return Response::json(200, nlohmann::json{{"status", "ok"}});
                }));
    admin.route("GET", "/dead-letters", awaitable_handler([&jobs](Request request, Context ctx) -> asio::awaitable<Response> {
                    auto which = selector_from(request);
                    if (!which) co_return bad_selector(ctx);
                    auto dead = co_await jobs.dead_letters(std::move(*which));
                    nlohmann::json list = nlohmann::json::array();
                    for (const auto& d : dead) list.push_back(dead_letter_json(d));
                    co_return Response::json(200, {{"count", list.size()}, {"dead_letters", std::move(list)}});
                }));
    admin.route("GET", "/dead-letters/{id}", awaitable_handler([&jobs](Request, Context ctx) -> asio::awaitable<Response> {
                    DeadLetterSelector one = by_id(ctx);
                    auto dead = co_await jobs.dead_letters(std::move(one));
                    if (dead.empty()) co_return not_dead(ctx);
                    co_return Response::json(200, dead_letter_json(dead.front()));
                }));
    admin.route("GET", "/metrics", awaitable_handler([&served, &jobs](Request, Context) -> asio::awaitable<Response> {
                    co_await jobs.route_reports();  // the backlog as the queue holds it now
                    Response r = Response::text(200, served.metrics().text());
                    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                    co_return r;
                }));
    admin.route("GET", "/async/routes", awaitable_handler([&jobs](Request, Context) -> asio::awaitable<Response> {
                    nlohmann::json routes = nlohmann::json::array();
                    auto reports = co_await jobs.route_reports();
                    for (const auto& r : reports) routes.push_back(route_report_json(r));
                    nlohmann::json body{{"routes", std::move(routes)}};
                    co_return Response::json(200, std::move(body));
                }));
    admin.route("GET", "/async/workers",
                inline_handler([&jobs](const Request&, Context&) { return Response::json(200, workers_json(jobs)); }));
    admin.route("PUT", "/async/workers", inline_handler([&jobs](const Request& request, Context& ctx) {
                    return set_workers(jobs, request, ctx);
                }));
    admin.route("POST", "/dead-letters/{id}/redrive", one_dead_letter(jobs, &AsyncDispatcher::redrive, "redriven"));
    admin.route("POST", "/dead-letters/redrive", chosen_dead_letters(jobs, &AsyncDispatcher::redrive, "redriven"));
    admin.route("DELETE", "/dead-letters/{id}", one_dead_letter(jobs, &AsyncDispatcher::purge, "purged"));
    admin.route("DELETE", "/dead-letters", chosen_dead_letters(jobs, &AsyncDispatcher::purge, "purged"));
}

}  // namespace ante
