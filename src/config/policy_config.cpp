#include <ante/config/policy_config.hpp>

#include "fields.hpp"
#include "policy_parse.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <utility>

namespace ante {

namespace config_detail {

namespace {

using std::chrono::milliseconds;

constexpr std::array<std::pair<std::string_view, PolicyKind>, 6> policy_names = {{
    {"fallback", PolicyKind::fallback},
    {"rate_limit", PolicyKind::rate_limit},
    {"bulkhead", PolicyKind::bulkhead},
    {"retry", PolicyKind::retry},
    {"circuit_breaker", PolicyKind::circuit_breaker},
    {"attempt_timeout", PolicyKind::attempt_timeout},
}};

std::string policy_name_list() {
    std::vector<std::string> names;
    for (const auto& [name, kind] : policy_names) names.push_back(json_quote(name));
    return join(names);
}

CircuitBreakerOptions parse_breaker(const json& value, const std::string& path) {
    const Fields f(value, path,
                   {"window", "window_size", "minimum_calls", "failure_rate", "slow_call_rate", "slow_call_ms",
                    "wait_in_open_ms", "wait_multiplier", "max_wait_in_open_ms", "half_open_probes",
                    "probe_timeout_ms"});
    CircuitBreakerOptions o;
    if (const json* v = f.find("window")) {
        const std::string w = v->is_string() ? v->get<std::string>() : std::string();
        if (w == "count") o.window = CircuitBreakerOptions::Window::count;
        else if (w == "time") o.window = CircuitBreakerOptions::Window::time;
        else fail(f.path("window"), "expected \"count\" or \"time\", got " + describe(*v));
    }
    f.count("window_size", o.window_size, 1, 1'000'000);
    f.count("minimum_calls", o.minimum_calls, 1);
    f.number("failure_rate", o.failure_rate_threshold, 0.0, 1.0);
    f.number("slow_call_rate", o.slow_call_rate_threshold, 0.0, 1.0);
    f.millis("slow_call_ms", o.slow_call_duration, 1);
    f.millis("wait_in_open_ms", o.wait_in_open, 1);
    f.number("wait_multiplier", o.wait_multiplier, 1.0, 1000.0);
    f.millis("max_wait_in_open_ms", o.max_wait_in_open, 1);
    f.count("half_open_probes", o.half_open_probes, 1, 100'000);
    f.millis("probe_timeout_ms", o.probe_timeout, 1);
    if (o.max_wait_in_open < o.wait_in_open)
        fail(f.path("max_wait_in_open_ms"), "must be at least wait_in_open_ms (" +
                                                std::to_string(o.wait_in_open.count()) + ")");
    return o;
}

RateLimitConfig parse_rate_limit(const json& value, const std::string& path) {
    const Fields f(value, path, {"rate_per_second", "burst", "key", "max_keys"});
    RateLimitConfig o;
    f.number("rate_per_second", o.limiter.rate_per_second, 0.001, 1e9);
    f.number("burst", o.limiter.burst, 1.0, 1e9);
    f.count("max_keys", o.limiter.max_keys, 1);
    if (const json* v = f.find("key")) {
        const std::string k = v->is_string() ? v->get<std::string>() : std::string();
        constexpr std::string_view header_prefix = "header:";
        if (k == "none") o.key = RateLimitPolicy::Key::none;
        else if (k == "client_address") o.key = RateLimitPolicy::Key::client_address;
        else if (k.starts_with(header_prefix) && k.size() > header_prefix.size()) {
            o.key = RateLimitPolicy::Key::header;
            o.key_header = k.substr(header_prefix.size());
        } else {
            fail(f.path("key"), "expected \"none\", \"client_address\" or \"header:NAME\", got " + describe(*v));
        }
    }
    return o;
}

BulkheadOptions parse_bulkhead(const json& value, const std::string& path) {
    const Fields f(value, path, {"max_concurrent", "max_wait_ms"});
    BulkheadOptions o;
    f.count("max_concurrent", o.max_concurrent, 1);
    f.millis("max_wait_ms", o.max_wait, 0);
    return o;
}

RetryConfig parse_retry(const json& value, const std::string& path) {
    const Fields f(value, path,
                   {"max_attempts", "backoff", "base_ms", "max_ms", "multiplier", "retry_on_status",
                    "retry_non_idempotent", "honour_retry_after", "max_retry_after_ms", "budget_ratio",
                    "budget_min"});
    RetryConfig o;
    f.count("max_attempts", o.options.max_attempts, 1, 1000);
    if (const json* v = f.find("backoff")) {
        const std::string b = v->is_string() ? v->get<std::string>() : std::string();
        using Kind = Backoff::Kind;
        if (b == "constant") o.options.backoff.kind = Kind::constant;
        else if (b == "exponential") o.options.backoff.kind = Kind::exponential;
        else if (b == "full_jitter") o.options.backoff.kind = Kind::full_jitter;
        else if (b == "decorrelated_jitter") o.options.backoff.kind = Kind::decorrelated_jitter;
        else
            fail(f.path("backoff"), "expected \"constant\", \"exponential\", \"full_jitter\" or "
                                    "\"decorrelated_jitter\", got " + describe(*v));
    }
    f.millis("base_ms", o.options.backoff.base, 0);
    f.millis("max_ms", o.options.backoff.max, 0);
    if (o.options.backoff.max < o.options.backoff.base)
        fail(f.path("max_ms"), "must be at least base_ms (" + std::to_string(o.options.backoff.base.count()) + ")");
    f.number("multiplier", o.options.backoff.multiplier, 1.0, 100.0);
    f.integers("retry_on_status", o.options.retry_on_status, 100, 599);
    f.boolean("retry_non_idempotent", o.options.retry_non_idempotent);
    f.boolean("honour_retry_after", o.options.honour_retry_after);
    f.millis("max_retry_after_ms", o.options.max_retry_after, 0);
    f.number("budget_ratio", o.budget_ratio, 0.0, 1.0);
    f.count("budget_min", o.budget_min, 0);
    return o;
}

FallbackConfig parse_fallback(const json& value, const std::string& path) {
    const Fields f(value, path, {"status", "body", "content_type", "on_status"});
    FallbackConfig o;
    if (const json* v = f.find("status")) o.status = static_cast<int>(f.integer("status", *v, 200, 599, true));
    f.string("body", o.body, true);
    f.string("content_type", o.content_type);
    f.integers("on_status", o.on_status, 100, 599);
    return o;
}

std::vector<PolicyKind> parse_order(const json& value, const std::string& path, const PolicyConfig& configured) {
    if (!value.is_array()) fail(path, "expected an array of policy names, got " + describe(value));
    std::vector<PolicyKind> order;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const json& item = value[i];
        const std::string name = item.is_string() ? item.get<std::string>() : std::string();
        const auto known = std::find_if(policy_names.begin(), policy_names.end(),
                                        [&](const auto& p) { return p.first == name; });
        if (known == policy_names.end())
            fail(index_path(path, i), "expected one of " + policy_name_list() + ", got " + describe(item));
        if (std::find(order.begin(), order.end(), known->second) != order.end())
            fail(index_path(path, i), "named twice");
        order.push_back(known->second);
    }
    // The order must list exactly the policies configured, so none is silently left out.
    const std::pair<PolicyKind, bool> present[] = {
        {PolicyKind::fallback, configured.fallback.has_value()},
        {PolicyKind::rate_limit, configured.rate_limit.has_value()},
        {PolicyKind::bulkhead, configured.bulkhead.has_value()},
        {PolicyKind::retry, configured.retry.has_value()},
        {PolicyKind::circuit_breaker, !configured.circuit_breaker.empty()},
        {PolicyKind::attempt_timeout, configured.attempt_timeout.has_value()},
    };
    for (const auto& [kind, is_configured] : present) {
        const bool listed = std::find(order.begin(), order.end(), kind) != order.end();
        const std::string_view name =
            std::find_if(policy_names.begin(), policy_names.end(), [&](const auto& p) { return p.second == kind; })->first;
        if (listed && !is_configured) fail(path, "lists \"" + std::string(name) + "\", which is not configured");
        if (!listed && is_configured) fail(path, "leaves out \"" + std::string(name) + "\", which is configured");
    }
    return order;
}

}  // namespace

std::map<std::string, CircuitBreakerOptions, std::less<>> parse_breakers(const json& value) {
    if (!value.is_object()) fail("breakers", "expected an object of named breakers, got " + describe(value));
    std::map<std::string, CircuitBreakerOptions, std::less<>> out;
    for (const auto& [name, options] : value.items()) {
        if (name.empty()) fail("breakers", "a breaker name must not be empty");
        out.emplace(name, parse_breaker(options, member_path("breakers", name)));
    }
    return out;
}

PolicyConfig parse_policies(const json& value, const std::string& path, Dispatch dispatch,
                            const std::map<std::string, CircuitBreakerOptions, std::less<>>& breakers) {
    const Fields f(value, path,
                   {"rate_limit", "bulkhead", "retry", "circuit_breaker", "attempt_timeout_ms", "fallback", "order"});
    PolicyConfig out;
    if (const json* v = f.find("rate_limit")) out.rate_limit = parse_rate_limit(*v, f.path("rate_limit"));
    if (const json* v = f.find("bulkhead")) out.bulkhead = parse_bulkhead(*v, f.path("bulkhead"));
    if (const json* v = f.find("retry")) out.retry = parse_retry(*v, f.path("retry"));
    if (const json* v = f.find("circuit_breaker")) {
        out.circuit_breaker = f.string_value("circuit_breaker", *v, false);
        if (!breakers.contains(out.circuit_breaker)) {
            std::vector<std::string> names;
            for (const auto& [name, options] : breakers) names.push_back(json_quote(name));
            fail(f.path("circuit_breaker"), "no breaker named " + json_quote(out.circuit_breaker) + " in \"breakers\"" +
                                                (names.empty() ? std::string(" (none is defined)")
                                                               : "; defined: " + join(names)));
        }
    }
    if (f.find("attempt_timeout_ms")) {
        milliseconds t{};
        f.millis("attempt_timeout_ms", t, 1);
        out.attempt_timeout = t;
    }
    if (const json* v = f.find("fallback")) {
        if (dispatch == Dispatch::async)
            fail(f.path("fallback"), "a fallback answers a waiting caller: sync routes only (an async job's failure "
                                     "is recorded in its status)");
        out.fallback = parse_fallback(*v, f.path("fallback"));
    }
    if (const json* v = f.find("order")) {
        if (dispatch == Dispatch::async)
            fail(f.path("order"), "an async route's policies split at the queue in a fixed order (docs/policies.md)");
        out.order = parse_order(*v, f.path("order"), out);
    }
    return out;
}

}  // namespace config_detail

namespace {

std::vector<PolicyKind> default_order() {
    return {PolicyKind::fallback, PolicyKind::rate_limit, PolicyKind::bulkhead, PolicyKind::retry,
            PolicyKind::circuit_breaker, PolicyKind::attempt_timeout};
}

RetryPolicy make_retry(const RetryConfig& config, PolicyEvents events) {
    return RetryPolicy{.options = std::make_shared<const RetryOptions>(config.options),
                       .budget = std::make_shared<RetryBudget>(config.budget_ratio, config.budget_min),
                       .counters = std::make_shared<RetryCounters>(),
                       .events = std::move(events)};
}

// Policy events of a configured route go to the log (debug: under overload they come by the
// thousand); breaker state changes are logged as warnings by make_breakers.
PolicyEvents log_events(std::string route) {
    return std::make_shared<const PolicyListener>([route = std::move(route)](const PolicyEvent& e) {
        spdlog::debug("[{}] route '{}': {} {}: {}", e.correlation_id, route, e.policy,
                      e.kind == PolicyEvent::Kind::rejected ? "rejected"
                      : e.kind == PolicyEvent::Kind::retried ? "retried"
                                                               : "timed out",
                      e.detail);
    });
}

FallbackPolicy make_fallback(const FallbackConfig& config) {
    Response fixed;
    fixed.status = config.status;
    fixed.body = config.body;
    fixed.headers.set("Content-Type", config.content_type);
    auto when = [on = config.on_status](const Response& r) {
        return on.empty() ? r.status >= 500 : std::find(on.begin(), on.end(), r.status) != on.end();
    };
    return FallbackPolicy{.when = std::move(when),
                          .respond = [fixed = std::move(fixed)](const Request&, const Context&, const Response&) {
                              return fixed;
                          }};
}

void add_layer(DynamicPipeline& pipeline, PolicyKind kind, const PolicyConfig& config, const BreakerMap& breakers,
               const PolicyEvents& events) {
    switch (kind) {
        case PolicyKind::fallback:
            if (config.fallback) pipeline.add(make_fallback(*config.fallback));
            break;
        case PolicyKind::rate_limit:
            if (config.rate_limit)
                pipeline.add(RateLimitPolicy{std::make_shared<RateLimiter>(config.rate_limit->limiter),
                                             config.rate_limit->key, config.rate_limit->key_header, events});
            break;
        case PolicyKind::bulkhead:
            // Named after nothing in particular: each route's bulkhead is its own.
            if (config.bulkhead)
                pipeline.add(BulkheadPolicy{std::make_shared<Bulkhead>("route", *config.bulkhead), events});
            break;
        case PolicyKind::retry:
            if (config.retry) pipeline.add(make_retry(*config.retry, events));
            break;
        case PolicyKind::circuit_breaker:
            if (!config.circuit_breaker.empty())
                pipeline.add(CircuitBreakerPolicy{.breaker = breakers.at(config.circuit_breaker), .events = events});
            break;
        case PolicyKind::attempt_timeout:
            if (config.attempt_timeout) pipeline.add(AttemptTimeoutPolicy{*config.attempt_timeout, events});
            break;
    }
}

std::shared_ptr<const DynamicPipeline> pipeline_of(const std::vector<PolicyKind>& kinds, const PolicyConfig& config,
                                                   const BreakerMap& breakers, const PolicyEvents& events) {
    auto pipeline = std::make_shared<DynamicPipeline>();
    for (PolicyKind kind : kinds) add_layer(*pipeline, kind, config, breakers, events);
    if (pipeline->empty()) return nullptr;
    return pipeline;
}

}  // namespace

BreakerMap make_breakers(const std::map<std::string, CircuitBreakerOptions, std::less<>>& configured) {
    BreakerMap out;
    for (const auto& [name, options] : configured) {
        auto breaker = std::make_shared<CircuitBreaker>(name, options);
        breaker->on_transition([](const std::string& breaker_name, CircuitBreaker::State from, CircuitBreaker::State to) {
            spdlog::warn("circuit breaker '{}': {} -> {}", breaker_name, to_string(from), to_string(to));
        });
        out.emplace(name, std::move(breaker));
    }
    return out;
}

RoutePolicies build_policies(const PolicyConfig& config, Dispatch dispatch, const BreakerMap& breakers,
                            std::string route_name) {
    RoutePolicies out;
    const PolicyEvents events = log_events(std::move(route_name));
    if (dispatch == Dispatch::sync) {
        out.policies = pipeline_of(config.order.empty() ? default_order() : config.order, config, breakers, events);
        return out;
    }
    out.admission = pipeline_of({PolicyKind::rate_limit}, config, breakers, events);
    out.policies = pipeline_of({PolicyKind::bulkhead, PolicyKind::circuit_breaker, PolicyKind::attempt_timeout},
                               config, breakers, events);
    if (config.retry) out.redelivery = std::make_shared<const RetryOptions>(config.retry->options);
    return out;
}

}  // namespace ante
