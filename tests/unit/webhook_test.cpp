// Webhook signatures (Standard Webhooks) and the callback allowlist.
#include <ante/dispatch/webhook.hpp>

#include <gtest/gtest.h>

using namespace ante;
using namespace std::chrono_literals;

namespace {

SystemTime at_unix(std::int64_t seconds) { return SystemTime(std::chrono::seconds(seconds)); }

WebhookOptions allowing(std::vector<std::string> allow) {
    WebhookOptions o;
    o.allow = std::move(allow);
    o.secret = "a-secret-of-enough-length";
    return o;
}

}  // namespace

TEST(WebhookSignature, MatchesTheStandardWebhooksTestVector) {
    // From the Standard Webhooks specification's own test suite.
    const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const std::string body = R"({"test": 2432232314})";
    EXPECT_EQ(sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
              "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, VerifiesOnlyTheUntamperedDeliveryWithinTheTolerance) {
    const std::string secret = "a-secret-of-enough-length", id = "d1", body = R"({"status":"succeeded"})";
    const std::string sig = sign_webhook(secret, id, 1'700'000'000, body);
    const SystemTime now = at_unix(1'700'000'010);
    EXPECT_TRUE(verify_webhook(secret, id, "1700000000", sig, body, now));
    EXPECT_FALSE(verify_webhook(secret, id, "1700000000", sig, R"({"status":"failed"})", now)) << "body changed";
    EXPECT_FALSE(verify_webhook(secret, "d2", "1700000000", sig, body, now)) << "id changed";
    EXPECT_FALSE(verify_webhook(secret, id, "1700000001", sig, body, now)) << "timestamp changed";
    EXPECT_FALSE(verify_webhook("another-secret-entirely", id, "1700000000", sig, body, now)) << "wrong secret";
    EXPECT_FALSE(verify_webhook(secret, id, "1700000000", sig, body, now + 6min)) << "a replay after the tolerance";
    EXPECT_FALSE(verify_webhook(secret, id, "1700000000", sig, body, now - 6min)) << "from the future";
    EXPECT_FALSE(verify_webhook(secret, id, "17e8", sig, body, now)) << "malformed timestamp";
    EXPECT_FALSE(verify_webhook(secret, id, "1700000000", "", body, now));
    EXPECT_TRUE(verify_webhook(secret, id, "1700000000", "v1,bm90LWl0 " + sig, body, now))
        << "one good signature among several (a rotated secret) is enough";
}

TEST(WebhookSignature, ChecksTheTimestampAsSentAndRefusesWeakOrMalformedSecrets) {
    const std::string secret = "a-secret-of-enough-length", body = "{}";
    // A sender that pads its timestamp signs those bytes; the check must use them too.
    const std::string padded_sig = "v1," + std::string(sign_webhook(secret, "d", 1'700'000'000, body)).substr(3);
    EXPECT_FALSE(verify_webhook(secret, "d", "01700000000", padded_sig, body, at_unix(1'700'000'000)))
        << "a different timestamp text is a different message";
    EXPECT_TRUE(valid_webhook_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    EXPECT_TRUE(valid_webhook_secret("sixteen-bytes-ok"));
    EXPECT_FALSE(valid_webhook_secret("short"));
    EXPECT_FALSE(valid_webhook_secret("whsec_not*base64!")) << "not base64";
    EXPECT_FALSE(valid_webhook_secret("whsec_YWJj")) << "3 bytes of key";
    EXPECT_FALSE(valid_webhook_secret("whsec_QUJD=EVGR0hJSktMTU5PUFFSU1RVVldY")) << "padding only at the end";
    const std::string sig = sign_webhook(secret, "e", 1'700'000'000, body);
    EXPECT_TRUE(verify_webhook(secret, "e", "1700000000", sig, body, at_unix(1'700'000'000), std::chrono::seconds::max()))
        << "an unbounded tolerance does not overflow";
}

TEST(CallbackAllowlist, AcceptsOnlyUrlsUnderAnAllowedPrefix) {
    const auto o = allowing({"http://127.0.0.1:9100/hooks", "http://receiver.example/"});
    EXPECT_EQ(callback_refusal(o, "http://127.0.0.1:9100/hooks"), "");
    EXPECT_EQ(callback_refusal(o, "http://127.0.0.1:9100/hooks/orders?x=1"), "");
    EXPECT_EQ(callback_refusal(o, "http://127.0.0.1:09100/hooks/a"), "") << "the same port, spelt with a zero";
    EXPECT_EQ(callback_refusal(o, "HTTP://RECEIVER.example/anything"), "") << "scheme and host are case-insensitive";
    EXPECT_EQ(callback_refusal(o, "http://receiver.example:80/x"), "") << "80 is http's default port";

    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100/hooksmith"), "") << "a prefix ends at a segment";
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9101/hooks"), "") << "another port";
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100/other"), "");
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100@evil.example/hooks"), "") << "user info";
    EXPECT_NE(callback_refusal(o, "http://evil.example#@127.0.0.1:9100/hooks"), "");
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100/hooks#frag"), "");
    EXPECT_NE(callback_refusal(o, "https://127.0.0.1:9100/hooks"), "") << "https is not sent yet";
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100/hooks/a b"), "");
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:99999/hooks"), "");
    EXPECT_NE(callback_refusal(o, "ftp://127.0.0.1:9100/hooks"), "");
    EXPECT_NE(callback_refusal(o, ""), "");
    EXPECT_NE(callback_refusal(o, "http://127.0.0.1:9100/" + std::string(3000, 'a')), "");
    EXPECT_NE(callback_refusal(WebhookOptions{}, "http://127.0.0.1:9100/hooks"), "") << "no allowlist, no webhooks";
    // A path the receiver may resolve outside the prefix is refused, not normalised.
    for (const char* path : {"/hooks/../admin", "/hooks/./x", "/hooks/..", "/hooks/%2e%2e/admin", "/hooks/..%2Fadmin",
                             "/hooks/..\\admin", "/hooks/%00", "/hooks/%5c"})
        EXPECT_NE(callback_refusal(o, std::string("http://127.0.0.1:9100") + path), "") << path;
    EXPECT_EQ(callback_refusal(o, "http://127.0.0.1:9100/hooks/a.b/..c?next=/../x"), "") << "dots inside names are fine";
}

TEST(CallbackAllowlist, SplitsAUrlIntoOriginAndTarget) {
    std::string why;
    auto url = parse_callback_url("http://[::1]:8080?x=1", why);
    ASSERT_TRUE(url) << why;
    EXPECT_EQ(url->origin, "http://[::1]:8080");
    EXPECT_EQ(url->target, "/?x=1");
    url = parse_callback_url("http://Host.example", why);
    ASSERT_TRUE(url) << why;
    EXPECT_EQ(url->origin, "http://host.example:80");
    EXPECT_EQ(url->target, "/");
}
