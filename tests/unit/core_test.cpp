#include <ante/admin.hpp>
#include <ante/core/correlation_id.hpp>
#include <ante/dispatch/idempotency.hpp>
#include <ante/core/error.hpp>
#include <ante/core/headers.hpp>
#include <ante/core/problem.hpp>
#include <ante/dispatch/job.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

using namespace ante;

TEST(Headers, LookupIgnoresCaseAndSetReplacesAll) {
    Headers h;
    h.add("X-Thing", "a");
    h.add("x-thing", "b");
    EXPECT_EQ(h.get("X-THING"), "a");
    h.set("x-Thing", "c");
    EXPECT_EQ(h.size(), 1u);
    EXPECT_EQ(h.get("x-thing"), "c");
    h.erase("X-THING");
    EXPECT_FALSE(h.contains("x-thing"));
}

TEST(Errc, EveryErrorMapsToOneHttpStatus) {
    EXPECT_EQ(http_status(Errc::not_found), 404);
    EXPECT_EQ(http_status(Errc::method_not_allowed), 405);
    EXPECT_EQ(http_status(Errc::payload_too_large), 413);
    EXPECT_EQ(http_status(Errc::headers_too_large), 431);
    EXPECT_EQ(http_status(Errc::overloaded), 503);
    EXPECT_EQ(http_status(Errc::queue_full), 503);
    EXPECT_EQ(http_status(Errc::timeout), 504);
    EXPECT_EQ(http_status(Errc::upstream_unreachable), 502);
    EXPECT_EQ(http_status(Errc::handler_failed), 500);
    std::error_code ec = Errc::timeout;
    EXPECT_EQ(ec.category().name(), std::string("ante"));
    EXPECT_EQ(ec.message(), "Timed out");
}

TEST(Problem, BodyIsRfc9457WithCorrelationId) {
    Response r = problem(Errc::timeout, "too slow", "abc-1");
    EXPECT_EQ(r.status, 504);
    EXPECT_EQ(r.headers.get("Content-Type"), "application/problem+json");
    auto body = nlohmann::json::parse(r.body);
    EXPECT_EQ(body["status"], 504);
    EXPECT_EQ(body["title"], "Timed out");
    EXPECT_EQ(body["detail"], "too slow");
    EXPECT_EQ(body["correlation_id"], "abc-1");
    EXPECT_EQ(body["type"], "about:blank");
}

TEST(Problem, AnyDetailStillGivesValidJson) {
    const std::string nasty = std::string("quote\" backslash\\ newline\n nul") + '\0' + " bad utf-8 \xff\xc3";
    Response r = problem(Errc::bad_request, nasty, "id\"with-quote");
    nlohmann::json body;
    ASSERT_NO_THROW(body = nlohmann::json::parse(r.body)) << r.body;
    EXPECT_EQ(body["correlation_id"], "id\"with-quote");
    EXPECT_EQ(body["detail"].get<std::string>().substr(0, 26), "quote\" backslash\\ newline\n");
    EXPECT_EQ(problem(400, "Bad request", "", "").body.find("detail"), std::string::npos) << "empty fields are left out";
}

TEST(CorrelationId, AcceptsVisibleTokensUpTo128) {
    EXPECT_TRUE(is_valid_correlation_id("req-123_ABC.xyz"));
    EXPECT_TRUE(is_valid_correlation_id(std::string(128, 'a')));
    EXPECT_FALSE(is_valid_correlation_id(std::string(129, 'a')));
    EXPECT_FALSE(is_valid_correlation_id(""));
    EXPECT_FALSE(is_valid_correlation_id("has space"));
    EXPECT_FALSE(is_valid_correlation_id("crlf\r\ninjected: 1"));
    EXPECT_FALSE(is_valid_correlation_id("caf\xc3\xa9"));
}

TEST(CorrelationId, GeneratedIdsAre128BitHexAndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 10'000; ++i) {
        auto id = generate_id();
        ASSERT_EQ(id.size(), 32u);
        ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 10'000u);
}

TEST(Job, RequestSurvivesSerializationIncludingBinaryBody) {
    Request r;
    r.method = "POST";
    r.target = "/orders?x=1";
    r.headers.add("Content-Type", "application/octet-stream");
    r.headers.add("X-Dup", "1");
    r.headers.add("X-Dup", "2");
    r.body = std::string("\0\xff\xfe binary", 10);
    r.remote_address = "127.0.0.1";
    Request back = deserialize_request(serialize(r));
    EXPECT_EQ(back.method, r.method);
    EXPECT_EQ(back.target, r.target);
    EXPECT_EQ(back.body, r.body);
    EXPECT_EQ(back.remote_address, r.remote_address);
    ASSERT_EQ(back.headers.size(), 3u);
    EXPECT_EQ(std::vector<Headers::Field>(back.headers.begin(), back.headers.end()),
              std::vector<Headers::Field>(r.headers.begin(), r.headers.end()));
}

TEST(Job, MalformedSerializedRequestIsRejected) {
    EXPECT_THROW(deserialize_request("not cbor at all"), std::invalid_argument);
    EXPECT_THROW(deserialize_request(""), std::invalid_argument);
}

TEST(Job, StatusDocumentCarriesTheProtocolFields) {
    JobRecord rec{.id = "j1", .route = "orders", .status = JobStatus::failed, .attempts = 2,
                  .created = SystemTime{std::chrono::milliseconds(1'700'000'000'123)},
                  .updated = SystemTime{std::chrono::milliseconds(1'700'000'001'000)},
                  .error = "boom", .result = {}};
    auto doc = status_document(rec, "/jobs");
    EXPECT_EQ(doc["id"], "j1");
    EXPECT_EQ(doc["route"], "orders");
    EXPECT_EQ(doc["status"], "failed");
    EXPECT_EQ(doc["attempts"], 2);
    EXPECT_EQ(doc["created"], "2023-11-14T22:13:20.123Z");
    EXPECT_EQ(doc["error"], "boom");
    EXPECT_FALSE(doc.contains("result_url"));
}

TEST(IdempotencyKey, ParsesSfStringsAndTokensAndRefusesTheRest) {
    EXPECT_EQ(parse_idempotency_key("\"8e03978e-40d5\""), "8e03978e-40d5");
    EXPECT_EQ(parse_idempotency_key("order-42"), "order-42");
    EXPECT_EQ(parse_idempotency_key(std::string(255, 'k')), std::string(255, 'k'));
    for (std::string bad : {std::string(), std::string("\"\""), std::string(256, 'k'), std::string("a b"),
                            std::string("a\tb"), std::string("caf\xc3\xa9"), std::string("a\"b"), std::string("a\\b")})
        EXPECT_FALSE(parse_idempotency_key(bad)) << bad;
}

TEST(IdempotencyKey, ScopesCannotBeForgedAndFingerprintsCoverMethodRouteTargetAndBody) {
    EXPECT_NE(idempotency_scope("r", "ab", "c"), idempotency_scope("r", "a", "bc"));
    EXPECT_NE(idempotency_scope("ra", "", "b"), idempotency_scope("r", "a", "b"));
    Request a;
    a.method = "POST";
    a.target = "/orders";
    a.body = "one";
    const std::string fp = request_fingerprint(a, "orders");
    EXPECT_EQ(fp.size(), 64u) << "SHA-256 as hex";
    EXPECT_EQ(fp, request_fingerprint(a, "orders"));
    Request other_body = a;
    other_body.body = "two";
    Request other_target = a;
    other_target.target = "/orders?x=1";
    Request other_method = a;
    other_method.method = "PUT";
    for (const Request* r : {&other_body, &other_target, &other_method})
        EXPECT_NE(request_fingerprint(*r, "orders"), fp);
    EXPECT_NE(request_fingerprint(a, "other"), fp);
}

TEST(Job, SavedResponsesSurviveSerialization) {
    Response r = Response::text(502, std::string("bin\0ary", 7));
    r.headers.add("Set-Cookie", "a=1");
    r.headers.add("Set-Cookie", "b=2");
    const Response back = deserialize_response(serialize(r));
    EXPECT_EQ(back.status, 502);
    EXPECT_EQ(back.body, r.body);
    EXPECT_EQ(std::distance(back.headers.begin(), back.headers.end()), std::distance(r.headers.begin(), r.headers.end()));
    EXPECT_THROW(deserialize_response("not cbor"), std::invalid_argument);
}

TEST(AdminQuery, ParametersArePercentDecoded) {
    EXPECT_EQ(query_param("route=POST%20%2Forders&limit=5", "route"), "POST /orders");
    EXPECT_EQ(query_param("route=a+b", "route"), "a b");
    EXPECT_EQ(query_param("limit=5", "route"), "");
    EXPECT_EQ(query_param("x=%zz", "x"), "%zz") << "a malformed escape is kept as it is";
}

TEST(Job, StatusDocumentEmbedsShallowJsonResultsAndRendersAnyHeaderBytes) {
    JobRecord record{.id = "j", .route = "r", .correlation_id = "c", .status = JobStatus::succeeded};
    record.inline_result = true;
    record.result = Response::json(200, nlohmann::json{{"ok", true}});
    EXPECT_EQ(status_document(record, "/jobs")["result"]["body"]["ok"], true);

    const int depth = 50'000;  // rendering this would recurse once per level
    record.result->body = std::string(depth, '[') + std::string(depth, ']');
    const auto doc = status_document(record, "/jobs");
    EXPECT_TRUE(doc["result"]["body"].is_string()) << "too deep to embed: kept as text";
    EXPECT_EQ(doc["result"]["body"].get<std::string>().size(), std::size_t{2 * depth});

    record.result->headers.set("X-Bad", "caf\xe9");
    const std::string text = status_text(record, "/jobs");
    EXPECT_NE(text.find("caf\xef\xbf\xbd"), std::string::npos) << "U+FFFD for the byte that is not UTF-8";
}
