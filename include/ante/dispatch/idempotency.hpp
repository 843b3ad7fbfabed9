#pragma once
/// \file
/// Idempotency-Key handling (IETF httpapi draft; Stripe as the reference): parsing the header,
/// scoping keys, and fingerprinting the request a key was first used with.

#include <ante/backend/status_store.hpp>
#include <ante/core/request.hpp>
#include <ante/core/response.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ante {

/// How a route treats the `Idempotency-Key` header.
struct IdempotencyOptions {
    bool enabled = true;    ///< honour the header when a client sends it
    bool required = false;  ///< refuse requests without one (400)
    /// When set, keys are scoped per client too: the value of this header (e.g. an API key's
    /// header) is part of the scope, so two clients never share a key.
    std::string client_header;
    /// How long a completed key is remembered (Stripe keeps keys at least 24 h).
    std::chrono::milliseconds keep{std::chrono::hours(24)};
};

/// The key of an `Idempotency-Key` header value: an sf-string ("...") or a bare token of
/// 1 to 255 visible ASCII characters. Nothing when the value is malformed.
std::optional<std::string> parse_idempotency_key(std::string_view value);

/// The key's name in the store: route, client (when scoped per client) and key.
std::string idempotency_scope(std::string_view route, std::string_view client, std::string_view key);

/// A request that carries a usable key: where the key lives and what the request looked like.
struct KeyedRequest {
    std::string scope;
    std::string fingerprint;
};

/// Reads the request's `Idempotency-Key` as `options` say: a keyed request, nothing when no key
/// applies, or the 400 answer when the key is malformed (or required and missing).
std::variant<std::monostate, KeyedRequest, Response> keyed_request(const IdempotencyOptions& options,
                                                                   std::string_view route, const Request& request,
                                                                   const std::string& correlation_id);

/// A claimed key of a sync route, to settle once the response is known.
struct SyncClaim {
    std::string scope;
    std::uint64_t token = 0;
};

/// Sync routes, before the call: the answer that ends the request (the saved response replayed
/// with `Idempotent-Replayed: true`; 409 while the first is in progress; 422 for another
/// request under the same key; 400; 503 when the store is full), or the claim to settle.
boost::asio::awaitable<std::variant<Response, std::optional<SyncClaim>>> claim_sync_key(
    StatusStore& store, const IdempotencyOptions& options, std::string_view route, const Request& request,
    std::chrono::milliseconds call_timeout, std::string correlation_id);

/// Sync routes, after the call: saves `response` under the key, so a repeat replays it, unless
/// the gateway refused the call before the handler ran (rate limited, overloaded, breaker open,
/// bulkhead full): then the key is freed for the client's retry.
boost::asio::awaitable<void> settle_sync_key(StatusStore& store, const IdempotencyOptions& options,
                                             SyncClaim claim, const Response& response);

/// What must match for a repeated key to be the same request: method, route, target and a
/// SHA-256 of the body, as hex.
std::string request_fingerprint(const Request& request, std::string_view route);

}  // namespace ante
