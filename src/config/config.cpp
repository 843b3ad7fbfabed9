#include <ante/config/config.hpp>

#include <ante/router.hpp>

#include "backend_parse.hpp"
#include "fields.hpp"
#include "policy_parse.hpp"

#include <boost/asio/ip/address.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <set>
#include <utility>

namespace ante {

ConfigError::ConfigError(std::string field, const std::string& reason)
    : std::runtime_error(field.empty() ? reason : field + ": " + reason), field_(std::move(field)) {}

namespace {

using namespace config_detail;

constexpr std::string_view url_form = "expected \"http://host:port[/path]\"";

// Accepts only what the proxy can reach: http, a host, an optional port 1..65535 (80 when
// absent, as the proxy assumes) and an optional base path. Returns the fault, or "".
std::string upstream_fault(std::string_view url) {
    constexpr std::string_view scheme = "http://";
    if (!url.starts_with(scheme)) {
        if (url.starts_with("https://")) return "https is not supported; only http";
        return url.find("://") == std::string_view::npos ? "missing the http:// scheme" : "only http is supported";
    }
    std::string_view rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view base = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos) return "user information is not allowed";
    if (base.find_first_of("?#") != std::string_view::npos) return "a query or fragment is not allowed";
    if (std::any_of(base.begin(), base.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; }))
        return "the path must not contain spaces or control characters";

    std::string_view host = authority;
    std::string_view port;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return "unclosed IPv6 bracket";
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "junk after the IPv6 address";
            port = after.substr(1);
            has_port = true;
        }
        boost::system::error_code ec;
        boost::asio::ip::make_address_v6(std::string(host), ec);
        if (ec) return "bad IPv6 address";
    } else {
        if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
            has_port = true;
        }
        const bool host_ok = std::all_of(host.begin(), host.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
        });
        if (!host_ok) return "bad character in the host";
    }
    if (host.empty()) return "missing the host";
    if (has_port) {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
            return "port must be 1..65535";
    }
    return {};
}

// RFC 9110 §5.6.2 token characters: what an HTTP method may be made of.
bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    });
}

http::ServerOptions parse_server(const json& value, const std::string& path, http::ServerOptions out) {
    const Fields f(value, path,
                   {"address", "port", "header_limit", "body_limit", "header_timeout_ms", "body_timeout_ms",
                    "idle_timeout_ms", "max_connections", "access_log"});
    f.string("address", out.address);
    boost::system::error_code ec;
    boost::asio::ip::make_address(out.address, ec);
    if (ec) fail(f.path("address"), "expected an IP address, got " + json_quote(out.address));
    if (const json* v = f.find("port")) out.port = static_cast<std::uint16_t>(f.integer("port", *v, 0, 65535, true));
    f.count("header_limit", out.header_limit, 1, std::numeric_limits<std::uint32_t>::max());
    f.count("body_limit", out.body_limit, 0);
    f.millis("header_timeout_ms", out.header_timeout, 1);
    f.millis("body_timeout_ms", out.body_timeout, 1);
    f.millis("idle_timeout_ms", out.idle_timeout, 1);
    f.count("max_connections", out.max_connections, 1);
    f.boolean("access_log", out.access_log);
    return out;
}

void parse_sync(const json& value, SyncDispatcherOptions& out) {
    const Fields f(value, "sync", {"threads", "queue", "concurrency", "retry_after_s"});
    f.count("threads", out.threads, 1, max_threads);
    f.count("queue", out.queue, 0);
    f.count("concurrency", out.concurrency, 1);
    f.seconds("retry_after_s", out.retry_after, 0);
}

WebhookOptions parse_webhooks(const json& value, const std::string& path) {
    const Fields f(value, path,
                   {"allow", "secret", "secret_env", "header", "timeout_ms", "max_attempts", "base_ms", "max_ms"});
    WebhookOptions out;
    const json& allow = f.required("allow");
    if (!allow.is_array() || allow.empty()) fail(f.path("allow"), "expected a non-empty array of URLs, got " + describe(allow));
    for (std::size_t i = 0; i < allow.size(); ++i) {
        const std::string item = index_path(f.path("allow"), i);
        if (!allow[i].is_string()) fail(item, "expected a URL string, got " + describe(allow[i]));
        std::string why;
        if (!parse_callback_url(allow[i].get<std::string>(), why)) fail(item, why);
        out.allow.push_back(allow[i].get<std::string>());
    }
    if (f.find("secret") && f.find("secret_env")) fail(f.path("secret"), "give secret or secret_env, not both");
    f.string("secret", out.secret);
    if (const json* v = f.find("secret_env")) {
        const std::string name = f.string_value("secret_env", *v, false);
        const char* secret = std::getenv(name.c_str());
        if (!secret) fail(f.path("secret_env"), "the environment variable " + name + " is not set");
        out.secret = secret;
    }
    if (!valid_webhook_secret(out.secret))
        fail(f.path(f.find("secret_env") ? "secret_env" : "secret"),
             "a signing secret of at least 16 bytes is required (a \"whsec_\" secret must be valid base64)");
    f.string("header", out.header);
    if (!is_token(out.header)) fail(f.path("header"), "expected a header name, got " + json_quote(out.header));
    for (std::string_view taken : {"Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection",
                                   "Upgrade", "TE", "Trailer", "Expect", "Idempotency-Key", "Last-Event-ID",
                                   "X-Request-Id", "Authorization"})
        if (boost::beast::iequals(out.header, taken))
            fail(f.path("header"), json_quote(out.header) + " has another meaning in a request; choose another name");
    f.millis("timeout_ms", out.timeout, 1);
    f.count("max_attempts", out.delivery.max_attempts, 1, 100);
    f.millis("base_ms", out.delivery.backoff.base, 0);
    f.millis("max_ms", out.delivery.backoff.max, 0);
    if (out.delivery.backoff.max < out.delivery.backoff.base) fail(f.path("max_ms"), "must be at least base_ms");
    return out;
}

WorkerScaling parse_scaling(const json& value, const std::string& path) {
    const Fields f(value, path, {"min", "max", "backlog_per_worker", "scale_down_after_ms"});
    WorkerScaling out;
    out.enabled = true;
    f.count("min", out.min, 0, max_threads);
    f.count("max", out.max, 1, max_threads);
    if (out.max < out.min) fail(f.path("max"), "must be at least min (" + std::to_string(out.min) + ")");
    f.count("backlog_per_worker", out.backlog_per_worker, 1);
    f.millis("scale_down_after_ms", out.scale_down_after, 0);
    return out;
}

void parse_async(const json& value, GatewayOptions& out) {
    const Fields f(value, "async",
                   {"workers", "queue_capacity", "queue_bytes", "retry_after_s", "jobs_path", "job_retention_s",
                    "job_records", "job_bytes", "visibility_ms", "lease_grace_ms", "dead_letters", "idempotency_keys",
                    "webhooks", "scaling"});
    f.count("workers", out.async.workers, 1, max_threads);  // each worker may hold a pool thread
    f.count("queue_capacity", out.async.queue_capacity, 1);
    f.seconds("retry_after_s", out.async.retry_after, 0);
    if (const json* v = f.find("jobs_path")) {
        std::string jobs = f.string_value("jobs_path", *v, false);
        // The status routes are "{jobs_path}/{id}": the prefix must be a literal path.
        const bool ok = jobs.front() == '/' && jobs.back() != '/' && jobs.find("//") == std::string::npos &&
                        std::all_of(jobs.begin(), jobs.end(), [](unsigned char c) {
                            return std::isalnum(c) || std::string_view("/-._~").find(static_cast<char>(c)) != std::string_view::npos;
                        });
        if (!ok) fail(f.path("jobs_path"), "expected a path such as \"/jobs\" (leading '/', no trailing or double '/', "
                                           "only letters, digits and -._~), got " + json_quote(jobs));
        out.async.jobs_path = std::move(jobs);
    }
    f.seconds("job_retention_s", out.job_retention, 1);
    f.count("job_records", out.job_records, 1);
    f.count("queue_bytes", out.async.queue_bytes, 1);
    f.count("job_bytes", out.job_bytes, 1);
    f.millis("visibility_ms", out.async.visibility, 100);
    f.millis("lease_grace_ms", out.async.lease_grace, 0);
    f.count("dead_letters", out.async.dead_letters, 1);
    f.count("idempotency_keys", out.idempotency_keys, 1);
    if (const json* v = f.find("webhooks")) out.async.webhooks = parse_webhooks(*v, f.path("webhooks"));
    if (const json* v = f.find("scaling")) out.async.scaling = parse_scaling(*v, f.path("scaling"));
}

IdempotencyOptions parse_idempotency(const json& value, const std::string& path) {
    const Fields f(value, path, {"enabled", "required", "client_header", "keep_s"});
    IdempotencyOptions out;
    f.boolean("enabled", out.enabled);
    f.boolean("required", out.required);
    f.string("client_header", out.client_header);
    if (!out.client_header.empty() && !is_token(out.client_header))
        fail(f.path("client_header"), "expected a header name, got " + json_quote(out.client_header));
    std::chrono::seconds keep{std::chrono::duration_cast<std::chrono::seconds>(out.keep)};
    f.seconds("keep_s", keep, 1);
    out.keep = keep;
    if (out.required && !out.enabled) fail(f.path("required"), "cannot require a key that is not enabled");
    return out;
}

HandlerConfig parse_handler(const json& value, const std::string& path) {
    if (!value.is_object()) fail(path, "expected an object, got " + describe(value));
    HandlerConfig out;
    const json* type = value.contains("type") ? &value["type"] : nullptr;
    if (!type) fail(member_path(path, "type"), "required field missing (\"proxy\", \"static\" or \"echo\")");
    const std::string name = type->is_string() ? type->get<std::string>() : std::string();
    if (name == "proxy") {
        out.type = HandlerType::proxy;
        const Fields f(value, path, {"type", "upstream", "max_idle_connections", "response_body_limit"},
                       " for handler type \"proxy\"");
        out.proxy.upstream = f.required_string("upstream");
        if (auto fault = upstream_fault(out.proxy.upstream); !fault.empty())
            fail(f.path("upstream"), std::string(url_form) + ", got " + json_quote(out.proxy.upstream) + " (" + fault + ")");
        f.count("max_idle_connections", out.proxy.max_idle_connections, 0);
        f.count("response_body_limit", out.proxy.response_body_limit, 1);
    } else if (name == "static") {
        out.type = HandlerType::static_response;
        const Fields f(value, path, {"type", "status", "body", "content_type"}, " for handler type \"static\"");
        if (const json* v = f.find("status")) out.static_response.status = static_cast<int>(f.integer("status", *v, 200, 599, true));
        f.string("body", out.static_response.body, true);
        f.string("content_type", out.static_response.content_type);
    } else if (name == "echo") {
        out.type = HandlerType::echo;
        const Fields f(value, path, {"type"}, " for handler type \"echo\"");
    } else {
        fail(member_path(path, "type"), "expected \"proxy\", \"static\" or \"echo\", got " + describe(*type));
    }
    return out;
}

RouteConfig parse_route(const json& value, const std::string& path,
                        const std::map<std::string, CircuitBreakerOptions, std::less<>>& breakers) {
    const Fields f(value, path,
                   {"name", "method", "path", "dispatch", "timeout_ms", "handler", "policies", "job_ttl_ms", "idempotency",
                    "inline_result"});
    RouteConfig out;
    f.string("name", out.name);
    out.method = f.required_string("method");
    if (out.method != "*" && !is_token(out.method))
        fail(f.path("method"), "expected an HTTP method such as \"GET\" or \"*\", got " + json_quote(out.method));
    out.path = f.required_string("path");
    try {
        const PathPattern pattern{out.path};  // the router's own check, so both agree
    } catch (const std::invalid_argument& e) {
        fail(f.path("path"), e.what());
    }
    if (const json* v = f.find("dispatch")) {
        const std::string d = v->is_string() ? v->get<std::string>() : std::string();
        if (d == "sync") out.dispatch = Dispatch::sync;
        else if (d == "async") out.dispatch = Dispatch::async;
        else fail(f.path("dispatch"), "expected \"sync\" or \"async\", got " + describe(*v));
    }
    f.millis("timeout_ms", out.timeout, 1);
    f.millis("job_ttl_ms", out.job_ttl, 1);
    if (f.find("job_ttl_ms") && out.dispatch != Dispatch::async)
        fail(f.path("job_ttl_ms"), "only an async route's jobs have a time to live");
    f.boolean("inline_result", out.inline_result);
    if (f.find("inline_result") && out.dispatch != Dispatch::async)
        fail(f.path("inline_result"), "only an async route has a result to put in its status");
    if (const json* v = f.find("idempotency")) out.idempotency = parse_idempotency(*v, f.path("idempotency"));
    out.handler = parse_handler(f.required("handler"), f.path("handler"));
    if (const json* v = f.find("policies")) out.policies = parse_policies(*v, f.path("policies"), out.dispatch, breakers);
    if (out.name.empty()) out.name = out.method + " " + out.path;  // Gateway::add's default, made visible
    return out;
}

constexpr std::array<std::string_view, 7> log_levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};

GatewayConfig parse_document(const json& doc) {
    const Fields f(doc, "",
                   {"listen", "admin", "io_threads", "shutdown_grace_ms", "log_level", "sync", "async", "breakers",
                    "routes", "backend", "role"});
    GatewayConfig out;
    if (const json* v = f.find("listen")) out.listen = parse_server(*v, "listen", out.listen);
    if (const json* v = f.find("admin")) out.admin = parse_server(*v, "admin", out.admin);
    f.count("io_threads", out.io_threads, 1, max_threads);
    f.millis("shutdown_grace_ms", out.shutdown_grace, 0);
    if (const json* v = f.find("log_level")) {
        const std::string level = v->is_string() ? v->get<std::string>() : std::string();
        if (std::find(log_levels.begin(), log_levels.end(), level) == log_levels.end()) {
            std::string names;
            for (auto l : log_levels) names += (names.empty() ? "" : ", ") + json_quote(l);
            fail("log_level", "expected one of " + names + ", got " + describe(*v));
        }
        out.log_level = level;
    }
    if (const json* v = f.find("sync")) parse_sync(*v, out.gateway.sync);
    if (const json* v = f.find("async")) parse_async(*v, out.gateway);
    if (const json* v = f.find("breakers")) out.breakers = parse_breakers(*v);
    if (const json* v = f.find("backend")) out.backend = config_detail::parse_backend(*v);
    if (const json* v = f.find("role")) out.role = config_detail::parse_role_field(*v);
    check_role(out);

    const json& routes = f.required("routes");
    if (!routes.is_array() || routes.empty())
        fail("routes", "expected a non-empty array of routes, got " + describe(routes));
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const std::string path = index_path("routes", i);
        RouteConfig route = parse_route(routes[i], path, out.breakers);
        // Jobs find their route by name, so two routes must never share one.
        if (!names.insert(route.name).second)
            fail(member_path(path, "name"), "duplicate route name " + json_quote(route.name));
        out.routes.push_back(std::move(route));
    }
    return out;
}

// Line and column (1-based) of a byte offset, for a syntax error a person can find.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte) {
    byte = std::min(byte, text.size());
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < byte; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return {line, column};
}

// Rejects a field given twice in one object: nlohmann keeps the last silently, which would
// hide a copy-paste mistake.
class DuplicateKeyCheck {
public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        using E = json::parse_event_t;
        if (event == E::object_start || event == E::array_start || event == E::value) {
            if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
        }
        if ((event == E::object_start || event == E::array_start) && frames_.size() >= max_depth)
            fail(path(), "nested deeper than " + std::to_string(max_depth) + " levels");
        switch (event) {
        case E::object_start: frames_.push_back(Frame{false, 0, {}, {}}); break;
        case E::array_start: frames_.push_back(Frame{true, 0, {}, {}}); break;
        case E::object_end:
        case E::array_end:
            if (!frames_.empty()) frames_.pop_back();
            break;
        case E::key: {
            Frame& top = frames_.back();
            top.key = parsed.get<std::string>();
            if (!top.keys.insert(top.key).second) fail(path(), "field given twice");
            break;
        }
        case E::value: break;
        }
        return true;
    }

private:
    // No configuration needs more; far deeper input would exhaust the stack when printed.
    static constexpr std::size_t max_depth = 32;

    struct Frame {
        bool is_array;
        std::size_t index;  // elements seen so far (arrays)
        std::string key;    // the current key (objects)
        std::set<std::string, std::less<>> keys;
    };

    [[nodiscard]] std::string path() const {
        std::string out;
        for (const Frame& f : frames_)
            out = f.is_array ? index_path(out, f.index - 1) : member_path(out, f.key);
        return out;
    }

    std::vector<Frame> frames_;
};

}  // namespace

GatewayConfig parse_config(std::string_view json_text) {
    json doc;
    try {
        // Captured by reference: json::parse copies the callback, and the state must be one.
        DuplicateKeyCheck check;
        doc = json::parse(json_text.begin(), json_text.end(),
                          [&check](int depth, json::parse_event_t event, json& parsed) {
                              return check(depth, event, parsed);
                          });
    } catch (const json::parse_error& e) {
        // e.what() reads "[json.exception.parse_error.101] parse error at line L, column C: reason".
        std::string reason = e.what();
        if (auto colon = reason.find(": "); colon != std::string::npos) reason.erase(0, colon + 2);
        const std::size_t byte = e.byte > 0 ? e.byte - 1 : 0;  // nlohmann counts from 1
        const auto [line, column] = line_column(json_text, byte);
        fail("", "invalid JSON at byte " + std::to_string(byte) + " (line " + std::to_string(line) + ", column " +
                     std::to_string(column) + "): " + reason);
    } catch (const json::exception& e) {  // e.g. out_of_range 406: a number beyond a double
        std::string reason = e.what();
        if (auto bracket = reason.find("] "); bracket != std::string::npos) reason.erase(0, bracket + 2);
        fail("", "invalid JSON: " + reason);
    }
    return parse_document(doc);
}

GatewayConfig load_config(const std::filesystem::path& file) {
    constexpr std::size_t max_config_bytes = std::size_t{4} << 20;
    auto cannot_read = [&](int error) {
        fail("", "cannot read config file " + json_quote(file.string()) + ": " + std::strerror(error));
    };
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
    if (!f) cannot_read(errno);
    std::string text;
    std::array<char, 8192> buffer{};
    for (;;) {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), f.get());
        text.append(buffer.data(), n);
        if (text.size() > max_config_bytes)  // /dev/zero and friends end here, not in bad_alloc
            fail("", "config file " + json_quote(file.string()) + " is larger than " +
                         std::to_string(max_config_bytes) + " bytes");
        if (n < buffer.size()) {
            if (std::ferror(f.get())) cannot_read(errno);  // e.g. EISDIR: fopen accepts a directory
            break;
        }
    }
    return parse_config(text);
}

namespace {

Handler build_handler(const RouteConfig& route, const std::string& path, boost::asio::any_io_executor executor) {
    switch (route.handler.type) {
    case HandlerType::proxy:
        try {
            return http::proxy_handler(std::move(executor), route.handler.proxy);
        } catch (const std::invalid_argument& e) {
            fail(path + ".handler.upstream", e.what());
        }
    case HandlerType::static_response: {
        // Built once: the handler copies it per call rather than formatting anew.
        Response fixed;
        fixed.status = route.handler.static_response.status;
        fixed.body = route.handler.static_response.body;
        fixed.headers.set("Content-Type", route.handler.static_response.content_type);
        return inline_handler([fixed = std::move(fixed)](const Request&, Context&) { return fixed; });
    }
    case HandlerType::echo:
        return blocking_handler([](const Request& request, Context&) {
            // Header names lowercased and repeats joined, so clients can index them directly.
            json headers = json::object();
            for (const auto& [name, value] : request.headers) {
                std::string key = name;
                std::transform(key.begin(), key.end(), key.begin(),
                               [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
                auto it = headers.find(key);
                if (it == headers.end()) headers[key] = value;
                else *it = it->get<std::string>() + ", " + value;
            }
            return Response::json(200, json{{"method", request.method},
                                            {"target", request.target},
                                            {"body", request.body},
                                            {"headers", std::move(headers)}});
        });
    }
    fail(path + ".handler.type", "unsupported handler type");
}

}  // namespace

void add_routes(const GatewayConfig& config, Gateway& gateway, boost::asio::any_io_executor executor) {
    const BreakerMap breakers = make_breakers(config.breakers);
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const RouteConfig& rc = config.routes[i];
        const std::string path = index_path("routes", i);
        Route route;
        route.name = rc.name;
        route.method = rc.method;
        route.pattern = rc.path;
        route.handler = build_handler(rc, path, executor);
        route.dispatch = rc.dispatch;
        route.timeout = rc.timeout;
        RoutePolicies policies = build_policies(rc.policies, rc.dispatch, breakers, rc.name);
        route.policies = std::move(policies.policies);
        route.admission = std::move(policies.admission);
        route.redelivery = std::move(policies.redelivery);
        route.job_ttl = rc.job_ttl;
        route.idempotency = rc.idempotency;
        route.inline_result = rc.inline_result;
        try {
            gateway.add(std::move(route));
        } catch (const std::invalid_argument& e) {
            fail(path, e.what());
        }
    }
}

}  // namespace ante
