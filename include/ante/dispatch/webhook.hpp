#pragma once
/// \file
/// Webhooks: a job's final status document POSTed to a callback URL the client chose, signed
/// as Standard Webhooks (standardwebhooks.com) do, so receivers can use its libraries.

#include <ante/core/clock.hpp>
#include <ante/policy/layers.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ante {

/// Request headers of a delivery.
inline constexpr std::string_view kWebhookId = "webhook-id";                ///< the same on every retry
inline constexpr std::string_view kWebhookTimestamp = "webhook-timestamp";  ///< Unix seconds of this try
inline constexpr std::string_view kWebhookSignature = "webhook-signature";  ///< "v1,<base64 HMAC-SHA256>"

/// Retry with exponential backoff from 1 s to 1 min, 6 tries in all: a receiver may be down
/// for about two minutes before the delivery is dead-lettered.
RetryOptions default_webhook_delivery();

struct WebhookOptions {
    /// The URLs a callback may name, as prefixes: "http://127.0.0.1:9100/hooks/" allows every
    /// path under /hooks/ on that host and port. Empty: no webhooks, and a callback is a 400.
    std::vector<std::string> allow;
    /// The HMAC-SHA256 key that signs each delivery; required when `allow` is set. A Standard
    /// Webhooks secret ("whsec_" + base64) is decoded, so its receivers' libraries verify as is.
    std::string secret;
    /// The submit's request header that names the callback URL.
    std::string header = "Callback-URL";
    /// Each try's deadline: connect, send and the receiver's answer.
    std::chrono::milliseconds timeout{10'000};
    /// A non-2xx answer or no answer is tried again with this backoff, then dead-lettered.
    RetryOptions delivery = default_webhook_delivery();

    [[nodiscard]] bool enabled() const noexcept { return !allow.empty(); }
};

/// A callback URL split for sending: "http://host:port" and "/path?query".
struct CallbackUrl {
    std::string origin;
    std::string target;
};

/// Parses an absolute http:// URL without user info or fragment. Nothing, with `why` set,
/// when it is not one.
std::optional<CallbackUrl> parse_callback_url(std::string_view url, std::string& why);

/// Why `url` may not be a callback under `options`, or "" when it may.
std::string callback_refusal(const WebhookOptions& options, std::string_view url);

/// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), the key being the
/// secret (decoded when it is a "whsec_" one).
std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp, std::string_view body);

/// Whether `secret` can sign: at least 16 bytes of key; a "whsec_" one must be valid base64.
bool valid_webhook_secret(std::string_view secret);

/// The receiver's check of a delivery: true when one of the space-separated signatures in
/// `signatures` is the right one (compared in constant time) and `timestamp` is within
/// `tolerance` of `now`, which refuses replays of old deliveries.
bool verify_webhook(std::string_view secret, std::string_view id, std::string_view timestamp,
                    std::string_view signatures, std::string_view body, SystemTime now,
                    std::chrono::seconds tolerance = std::chrono::minutes(5));

}  // namespace ante
