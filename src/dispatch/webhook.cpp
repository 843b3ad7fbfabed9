#include <ante/dispatch/job.hpp>
#include <ante/dispatch/webhook.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ante {

namespace {

constexpr std::size_t max_url_length = 2048;

bool ascii_iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool valid_host(std::string_view host) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        return std::all_of(host.begin() + 1, host.end() - 1,
                           [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
    return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
    });
}

// A path is under an allowed one at a segment boundary: "/hooks" allows "/hooks/a" and
// "/hooks?x", never "/hooksmith".
bool path_allowed(std::string_view target, std::string_view allowed) {
    if (!target.starts_with(allowed)) return false;
    if (allowed.ends_with('/') || target.size() == allowed.size()) return true;
    const char next = target[allowed.size()];
    return next == '/' || next == '?';
}

// A path a receiver might resolve elsewhere than it reads: dot segments ("/hooks/../admin"),
// backslashes, or escapes of '.', '/', '\\' and control bytes. Refused rather than normalised, so
// the allowlist checks the path the receiver acts on.
bool ambiguous_path(std::string_view path) {
    const std::string_view only_path = path.substr(0, path.find('?'));
    if (only_path.find('\\') != std::string_view::npos) return true;
    for (std::size_t i = 0; i + 2 < only_path.size(); ++i) {
        if (only_path[i] != '%') continue;
        const std::string escape = lower(only_path.substr(i + 1, 2));
        if (escape == "2e" || escape == "2f" || escape == "5c" || escape[0] == '0' || escape[0] == '1' || escape == "7f")
            return true;
    }
    std::size_t start = 0;
    while (start <= only_path.size()) {
        const std::size_t end = std::min(only_path.find('/', start), only_path.size());
        const std::string_view segment = only_path.substr(start, end - start);
        if (segment == "." || segment == "..") return true;
        start = end + 1;
    }
    return false;
}

// Standard Webhooks secrets read "whsec_" + base64 of the key; any other secret is the key.
std::string signing_key(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    if (!secret.starts_with(prefix)) return std::string(secret);
    secret.remove_prefix(prefix.size());
    if (secret.empty() || secret.size() % 4 != 0) return std::string(secret);
    std::string key(secret.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                                  reinterpret_cast<const unsigned char*>(secret.data()), static_cast<int>(secret.size()));
    if (n < 0) return std::string(secret);
    const auto padding = static_cast<std::size_t>(std::count(secret.end() - 2, secret.end(), '='));
    key.resize(static_cast<std::size_t>(n) - padding);
    return key;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
         message.size(), digest, &length);
    return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

RetryOptions default_webhook_delivery() {
    RetryOptions delivery;
    delivery.max_attempts = 6;
    delivery.backoff = Backoff{.kind = Backoff::Kind::exponential, .base = std::chrono::seconds(1),
                               .max = std::chrono::minutes(1), .multiplier = 2.0};
    delivery.retry_on_status = {502};  // the sender's answer for any failed try
    return delivery;
}

std::optional<CallbackUrl> parse_callback_url(std::string_view url, std::string& why) {
    if (url.size() > max_url_length) {
        why = "the callback URL is longer than " + std::to_string(max_url_length) + " characters";
        return std::nullopt;
    }
    if (std::any_of(url.begin(), url.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || static_cast<unsigned char>(c) >= 0x80; })) {
        why = "the callback URL has a space, a control or a non-ASCII character";
        return std::nullopt;
    }
    constexpr std::string_view scheme = "http://";
    if (url.size() < scheme.size() || !ascii_iequals(url.substr(0, scheme.size()), scheme)) {
        why = "the callback URL must start with http:// (https is not supported yet)";
        return std::nullopt;
    }
    url.remove_prefix(scheme.size());
    const auto authority_end = url.find_first_of("/?#");
    const std::string_view authority = url.substr(0, authority_end);
    std::string_view target = authority_end == std::string_view::npos ? "" : url.substr(authority_end);
    if (target.find('#') != std::string_view::npos) {
        why = "the callback URL must not have a fragment";
        return std::nullopt;
    }
    if (authority.find('@') != std::string_view::npos) {
        why = "the callback URL must not carry user info";
        return std::nullopt;
    }
    std::string_view host = authority, port = "80";
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        unsigned number = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
        if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number == 0 || number > 65535) {
            why = "the callback URL's port is not a number from 1 to 65535";
            return std::nullopt;
        }
        port = port.substr(port.find_first_not_of('0'));
    }
    if (!valid_host(host)) {
        why = "the callback URL's host is malformed";
        return std::nullopt;
    }
    std::string path;
    if (target.empty() || target.front() == '?') path.push_back('/');
    path.append(target);
    if (ambiguous_path(path)) {
        why = "the callback URL's path has a dot segment, a backslash or an escaped '.', '/', '\\' or control byte";
        return std::nullopt;
    }
    return CallbackUrl{.origin = "http://" + lower(host) + ":" + std::string(port), .target = std::move(path)};
}

std::string callback_refusal(const WebhookOptions& options, std::string_view url) {
    if (!options.enabled()) return "this gateway sends no webhooks: no callback URL is allowed";
    std::string why;
    const auto callback = parse_callback_url(url, why);
    if (!callback) return why;
    for (const std::string& entry : options.allow) {
        std::string ignored;
        const auto allowed = parse_callback_url(entry, ignored);
        if (allowed && allowed->origin == callback->origin && path_allowed(callback->target, allowed->target))
            return "";
    }
    return "the callback URL is not on the gateway's allowlist";
}

namespace {
// Over the timestamp as sent, so a receiver checks exactly the bytes that were signed.
std::string signature(std::string_view secret, std::string_view id, std::string_view timestamp, std::string_view body) {
    std::string message;
    message.reserve(id.size() + timestamp.size() + body.size() + 2);
    message.append(id).append(".").append(timestamp).append(".").append(body);
    return "v1," + base64(hmac_sha256(signing_key(secret), message));
}
}  // namespace

std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp, std::string_view body) {
    return signature(secret, id, std::to_string(timestamp), body);
}

bool valid_webhook_secret(std::string_view secret) {
    constexpr std::string_view prefix = "whsec_";
    if (!secret.starts_with(prefix)) return secret.size() >= 16;
    secret.remove_prefix(prefix.size());
    const std::string_view unpadded = secret.substr(0, secret.find_last_not_of('=') + 1);
    const bool base64_text = !secret.empty() && secret.size() % 4 == 0 && secret.size() - unpadded.size() <= 2 &&
                             std::all_of(unpadded.begin(), unpadded.end(), [](char c) {
                                 return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
                             });
    return base64_text && signing_key(std::string("whsec_") + std::string(secret)).size() >= 16;
}

bool verify_webhook(std::string_view secret, std::string_view id, std::string_view timestamp,
                    std::string_view signatures, std::string_view body, SystemTime now,
                    std::chrono::seconds tolerance) {
    std::int64_t sent = 0;
    auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), sent);
    if (timestamp.empty() || ec != std::errc{} || end != timestamp.data() + timestamp.size()) return false;
    const auto seconds_now = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (sent < 0) return false;
    const std::int64_t age = sent > seconds_now ? sent - seconds_now : seconds_now - sent;  // no overflow: both >= 0
    if (age > tolerance.count()) return false;
    const std::string expected = signature(secret, id, timestamp, body);
    bool match = false;
    while (!signatures.empty()) {
        const auto space = signatures.find(' ');
        const std::string_view one = signatures.substr(0, space);
        // Every candidate is compared, each in constant time: no early exit tells which matched.
        if (one.size() == expected.size() && CRYPTO_memcmp(one.data(), expected.data(), expected.size()) == 0)
            match = true;
        if (space == std::string_view::npos) break;
        signatures.remove_prefix(space + 1);
    }
    return match;
}

}  // namespace ante
