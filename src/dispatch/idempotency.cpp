#include <ante/core/problem.hpp>
#include <ante/dispatch/idempotency.hpp>
#include <ante/dispatch/job.hpp>

#include <boost/beast/core/string.hpp>
#include <openssl/evp.h>

#include <algorithm>

#include <array>
#include <stdexcept>

namespace ante {

std::optional<std::string> parse_idempotency_key(std::string_view value) {
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    constexpr std::size_t max_length = 255;
    if (value.empty() || value.size() > max_length) return std::nullopt;
    for (char c : value)
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return std::nullopt;
    return std::string(value);
}

std::string idempotency_scope(std::string_view route, std::string_view client, std::string_view key) {
    // Lengths first, so no choice of route, client or key can forge another's scope.
    std::string scope = "idem:" + std::to_string(route.size()) + ":" + std::to_string(client.size()) + ":";
    scope.append(route).append(client).append(key);
    return scope;
}

std::string request_fingerprint(const Request& request, std::string_view route) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    std::string text = std::to_string(request.method.size()) + ":" + request.method + std::to_string(route.size()) +
                       ":" + std::string(route) + std::to_string(request.target.size()) + ":" + request.target;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, text.data(), text.size()) == 1 &&
                    EVP_DigestUpdate(ctx, request.body.data(), request.body.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, digest.data(), &length) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw std::runtime_error("SHA-256 failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0xf]);
    }
    return out;
}

std::variant<std::monostate, KeyedRequest, Response> keyed_request(const IdempotencyOptions& options,
                                                                   std::string_view route, const Request& request,
                                                                   const std::string& correlation_id) {
    const auto sent = request.headers.get("Idempotency-Key");
    if (!options.enabled || !sent) {
        if (options.required)
            return problem(Errc::bad_request, "this route requires an Idempotency-Key header", correlation_id);
        return std::monostate{};
    }
    const auto sent_count = std::count_if(request.headers.begin(), request.headers.end(), [](const auto& field) {
        return boost::beast::iequals(field.first, "Idempotency-Key");
    });
    if (sent_count > 1)  // which one a retry carries would depend on the proxies on the way
        return problem(Errc::bad_request, "send one Idempotency-Key header, not several", correlation_id);
    const auto key = parse_idempotency_key(*sent);
    if (!key)
        return problem(Errc::bad_request, "Idempotency-Key must be 1 to 255 visible ASCII characters", correlation_id);
    const std::string_view client =
        options.client_header.empty() ? std::string_view{} : request.headers.get(options.client_header).value_or("");
    return KeyedRequest{.scope = idempotency_scope(route, client, *key),
                        .fingerprint = request_fingerprint(request, route)};
}

boost::asio::awaitable<std::variant<Response, std::optional<SyncClaim>>> claim_sync_key(
    StatusStore& store, const IdempotencyOptions& options, std::string_view route, const Request& request,
    std::chrono::milliseconds call_timeout, std::string correlation_id) {
    auto keyed = keyed_request(options, route, request, correlation_id);
    if (auto* answer = std::get_if<Response>(&keyed)) co_return std::move(*answer);
    auto* key = std::get_if<KeyedRequest>(&keyed);
    if (!key) co_return std::optional<SyncClaim>{};
    // The claim outlives the call by a margin, then lapses: a crashed call never holds a key for ever.
    const auto lease = call_timeout + std::chrono::seconds(5);
    const KeyClaim claim = co_await store.claim_key(key->scope, key->fingerprint, lease);
    switch (claim.state) {
        case KeyState::refused:
            co_return problem(Errc::store_full, "too many idempotency keys are held; try again later", correlation_id);
        case KeyState::claimed:
            co_return std::optional<SyncClaim>{SyncClaim{.scope = key->scope, .token = claim.token}};
        case KeyState::in_progress:
        case KeyState::completed: break;
    }
    if (claim.fingerprint != key->fingerprint)
        co_return problem(Errc::unprocessable, "this Idempotency-Key was used with a different request",
                          correlation_id);
    if (claim.state == KeyState::in_progress)
        co_return problem(Errc::conflict, "a request with this Idempotency-Key is still in progress", correlation_id);
    Response saved = deserialize_response(claim.value);
    saved.headers.set("Idempotent-Replayed", "true");
    co_return saved;
}

boost::asio::awaitable<void> settle_sync_key(StatusStore& store, const IdempotencyOptions& options,
                                             SyncClaim claim, const Response& response) {
    switch (response.error) {
        case Errc::rate_limited:
        case Errc::overloaded:
        case Errc::circuit_open:
        case Errc::bulkhead_full:
        case Errc::shutting_down:
        case Errc::store_full:
            co_await store.release_key(std::move(claim.scope), claim.token);
            co_return;
        default:
            break;
    }
    // Everything the handler answered is kept, 5xx included (Stripe's rule): it may have acted.
    co_await store.complete_key(std::move(claim.scope), claim.token, serialize(response), options.keep);
}

}  // namespace ante
