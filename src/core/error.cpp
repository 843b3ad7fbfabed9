#include <ante/core/error.hpp>
#include <ante/core/problem.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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
        case Errc::conflict:
        case Errc::cancelled: return 409;
        case Errc::backend_unavailable: return 503;
        case Errc::unprocessable: return 422;
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
        case Errc::unprocessable: return "Idempotency key reused with a different request";
        case Errc::cancelled: return "Cancelled";
        case Errc::backend_unavailable: return "Backend unavailable";
    }
    return "Unknown error";
}

namespace {

// A JSON string literal of `text`. Bytes outside printable ASCII are escaped one by one, so the
// body is valid JSON whatever a detail carries (invalid UTF-8 included).
void append_json_string(std::string& out, std::string_view text) {
    constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (const unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

}  // namespace

// Built by hand rather than through a JSON object: rejections are how an overloaded gateway
// sheds load, so they should cost little (a few allocations instead of dozens).
Response problem(int status, std::string_view title_text, std::string_view detail,
                 std::string_view correlation_id) {
    std::string body;
    body.reserve(80 + title_text.size() + detail.size() + correlation_id.size());
    body += '{';
    if (!correlation_id.empty()) {
        body += "\"correlation_id\":";
        append_json_string(body, correlation_id);
        body += ',';
    }
    if (!detail.empty()) {
        body += "\"detail\":";
        append_json_string(body, detail);
        body += ',';
    }
    body += "\"status\":";
    body += std::to_string(status);
    body += ",\"title\":";
    append_json_string(body, title_text);
    body += ",\"type\":\"about:blank\"}";
    Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/problem+json");
    r.body = std::move(body);
    return r;
}

Response problem(Errc e, std::string_view detail, std::string_view correlation_id) {
    Response r = problem(http_status(e), title(e), detail, correlation_id);
    r.error = e;
    return r;
}

Response backend_unavailable(std::string_view correlation_id, std::string_view why) {
    spdlog::warn("[{}] {}", correlation_id, why);
    Response r = problem(Errc::backend_unavailable,
                         "the job store cannot be reached, so the request was not accepted; try again shortly",
                         correlation_id);
    r.headers.set("Retry-After", "1");
    return r;
}

}  // namespace ante
