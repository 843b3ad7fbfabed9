#include <ante/core/request.hpp>
#include <ante/core/response.hpp>

#include <nlohmann/json.hpp>

namespace ante {

std::string_view Request::path() const noexcept {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view Request::query() const noexcept {
    std::string_view t = target;
    auto q = t.find('?');
    return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

Response Response::text(int status, std::string body) {
    Response r{status, {}, std::move(body)};
    r.headers.set("Content-Type", "text/plain; charset=utf-8");
    return r;
}

Response Response::json(int status, const nlohmann::json& body) {
    // Replace invalid UTF-8 rather than throw: a response must always be producible.
    Response r{status, {}, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    r.headers.set("Content-Type", "application/json");
    return r;
}

}  // namespace ante
