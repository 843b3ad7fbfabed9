#include <ante/core/correlation_id.hpp>
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
