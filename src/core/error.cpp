#include <ante/core/error.hpp>
#include <ante/core/problem.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace ante {

namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "ante"; }
    std::string message(int value) const override { return std::string{title(static_cast<Errc>(value))}; }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

int http_status(Errc e) noexcept {
    switch (e) {
        case Errc::ok: return 200;
        case Errc::bad_request: return 400;
        case Errc::not_found: return 404;
        case Errc::method_not_allowed: return 405;
        case Errc::conflict: return 409;
        case Errc::payload_too_large: return 413;
        case Errc::headers_too_large: return 431;
        case Errc::rate_limited: return 429;
        case Errc::overloaded:
        case Errc::circuit_open:
        case Errc::bulkhead_full:
        case Errc::queue_full:
        case Errc::store_full:
        case Errc::shutting_down: return 503;
        case Errc::timeout: return 504;
        case Errc::upstream_unreachable:
        case Errc::upstream_failed: return 502;
        case Errc::handler_failed: return 500;
    }
    return 500;
}

std::string_view title(Errc e) noexcept {
    switch (e) {
        case Errc::ok: return "OK";
        case Errc::bad_request: return "Bad request";
        case Errc::not_found: return "Not found";
        case Errc::method_not_allowed: return "Method not allowed";
        case Errc::conflict: return "Conflict";
        case Errc::payload_too_large: return "Payload too large";
        case Errc::headers_too_large: return "Request header fields too large";
        case Errc::overloaded: return "Overloaded";
        case Errc::queue_full: return "Job queue full";
        case Errc::store_full: return "Status store full";
        case Errc::shutting_down: return "Shutting down";
        case Errc::timeout: return "Timed out";
        case Errc::upstream_unreachable: return "Upstream unreachable";
        case Errc::upstream_failed: return "Upstream failed";
        case Errc::handler_failed: return "Handler failed";
        case Errc::rate_limited: return "Too many requests";
        case Errc::circuit_open: return "Circuit open";
        case Errc::bulkhead_full: return "Bulkhead full";
    }
    return "Unknown error";
}

Response problem(int status, std::string_view title_text, std::string_view detail,
                 std::string_view correlation_id) {
    nlohmann::json body{{"type", "about:blank"}, {"title", title_text}, {"status", status}};
    if (!detail.empty()) body["detail"] = detail;
    if (!correlation_id.empty()) body["correlation_id"] = correlation_id;
    Response r = Response::json(status, body);
    r.headers.set("Content-Type", "application/problem+json");
    return r;
}

Response problem(Errc e, std::string_view detail, std::string_view correlation_id) {
    Response r = problem(http_status(e), title(e), detail, correlation_id);
    r.error = e;
    return r;
}

}  // namespace ante
