#include <ante/policy/pipeline.hpp>
#include <ante/policy/layers.hpp>

#include "support/manual_clock.hpp"
#include "support/requests.hpp"

#include <gtest/gtest.h>

using namespace ante;
using namespace std::chrono_literals;

namespace {

Request request(std::string method = "GET") {
    Request r;
    r.method = std::move(method);
    r.target = "/thing";
    return r;
}

// Exact 1 ms waits; Retry-After is honoured (a test below relies on it).
std::shared_ptr<const RetryOptions> retry_options(int attempts) {
    auto o = std::make_shared<RetryOptions>(*test::quick_retries(attempts));
    o->honour_retry_after = true;
    return o;
}

// Time moves only inside handlers (they advance the clock), so deadlines are exact.
class PipelineTest : public ::testing::Test {
protected:
    std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
    std::shared_ptr<CircuitBreaker> breaker = std::make_shared<CircuitBreaker>(
        "upstream",
        CircuitBreakerOptions{.window_size = 10, .minimum_calls = 4, .wait_in_open = 10s, .half_open_probes = 1},
        clock);
    Context ctx;
};

}  // namespace

TEST_F(PipelineTest, SuccessPassesEveryLayerAndReturnsEveryPlace) {
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 10, .burst = 10}, clock);
    auto bulkhead = std::make_shared<Bulkhead>("b", BulkheadOptions{.max_concurrent = 1});
    Pipeline pipeline{clock,          RateLimitPolicy{limiter},   BulkheadPolicy{bulkhead},
                      TotalTimeoutPolicy{1s}, RetryPolicy{},      CircuitBreakerPolicy{breaker},
                      AttemptTimeoutPolicy{100ms}};
    Request r = request();
    SteadyTime seen_deadline{};
    std::size_t in_use_inside = 0;
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context& c) {
        seen_deadline = c.deadline;
        in_use_inside = bulkhead->stats().in_use;
        return Response::text(200, "fine");
    });
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.body, "fine");
    EXPECT_EQ(seen_deadline, clock->steady_now() + 100ms) << "the attempt timeout narrows the total deadline";
    EXPECT_EQ(in_use_inside, 1u);
    EXPECT_EQ(bulkhead->stats().in_use, 0u);
    EXPECT_EQ(breaker->stats().calls, 1u);
    EXPECT_EQ(ctx.deadline, clock->steady_now() + 1s) << "outer layers see the total deadline again";
}

TEST_F(PipelineTest, RateLimitedCallIs429WithRetryAfterAndNeverRunsTheHandler) {
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.5, .burst = 1}, clock);
    Pipeline pipeline{clock, RateLimitPolicy{limiter}};
    int calls = 0;
    auto handler = [&](const Request&, Context&) {
        ++calls;
        return Response::text(200, "ok");
    };
    Request r = request();
    EXPECT_EQ(pipeline.execute(r, ctx, handler).status, 200);
    Response refused = pipeline.execute(r, ctx, handler);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.error, Errc::rate_limited);
    EXPECT_EQ(refused.headers.get("Retry-After"), "2");
    EXPECT_EQ(refused.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(calls, 1);
}

TEST_F(PipelineTest, KeyedRateLimitGivesEachClientItsOwnBucket) {
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 1, .burst = 1}, clock);
    Pipeline pipeline{clock, RateLimitPolicy{limiter, RateLimitPolicy::Key::header, "X-Api-Key"}};
    auto ok = [](const Request&, Context&) { return Response::text(200, "ok"); };
    Request a = request(), b = request();
    a.headers.set("X-Api-Key", "alice");
    b.headers.set("X-Api-Key", "bob");
    EXPECT_EQ(pipeline.execute(a, ctx, ok).status, 200);
    EXPECT_EQ(pipeline.execute(b, ctx, ok).status, 200) << "bob has a bucket of his own";
    EXPECT_EQ(pipeline.execute(a, ctx, ok).status, 429);
}

TEST_F(PipelineTest, RetriesRetryableAnswersUntilOneSucceeds) {
    RetryPolicy retry{.options = retry_options(3)};
    Pipeline pipeline{clock, retry};
    std::vector<int> attempts;
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context& c) {
        attempts.push_back(c.attempt);
        return Response::text(attempts.size() < 3 ? 503 : 200, "try " + std::to_string(c.attempt));
    });
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.body, "try 3");
    EXPECT_EQ(attempts, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(retry.counters->retries.load(), 2u);
    EXPECT_EQ(retry.budget->retrying(), 0u) << "retry permits are back";
}

TEST_F(PipelineTest, WhenAttemptsRunOutTheCallerGetsTheLastAttemptsAnswer) {
    RetryPolicy retry{.options = retry_options(3)};
    Pipeline pipeline{clock, retry};
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context& c) {
        return Response::text(502, "bad gateway, try " + std::to_string(c.attempt));
    });
    EXPECT_EQ(out.status, 502);
    EXPECT_EQ(out.body, "bad gateway, try 3");
    EXPECT_EQ(retry.counters->exhausted.load(), 1u);
}

TEST_F(PipelineTest, NotRetriedWhenTheAnswerIsNotRetryable) {
    Pipeline pipeline{clock, RetryPolicy{.options = retry_options(5)}};
    int calls = 0;
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context&) {
        ++calls;
        return Response::text(500, "a bug, not a blip");
    });
    EXPECT_EQ(out.status, 500);
    EXPECT_EQ(calls, 1) << "500 is not in retry_on_status";
}

TEST_F(PipelineTest, NonIdempotentRequestsAreRetriedOnlyWithAnIdempotencyKey) {
    Pipeline pipeline{clock, RetryPolicy{.options = retry_options(3)}};
    int calls = 0;
    auto flaky = [&](const Request&, Context&) {
        ++calls;
        return Response::text(503, "busy");
    };
    Request post = request("POST");
    pipeline.execute(post, ctx, flaky);
    EXPECT_EQ(calls, 1) << "a POST could be applied twice";
    calls = 0;
    post.headers.set("Idempotency-Key", "order-7");
    Context keyed;
    pipeline.execute(post, keyed, flaky);
    EXPECT_EQ(calls, 3);
}

TEST_F(PipelineTest, RetryWaitsAtLeastWhatRetryAfterAsks) {
    auto options = std::make_shared<RetryOptions>(*retry_options(2));
    Pipeline pipeline{clock, TotalTimeoutPolicy{1500ms}, RetryPolicy{.options = options}};
    int calls = 0;
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context&) {
        ++calls;
        Response busy = Response::text(503, "busy");
        busy.headers.set("Retry-After", "2");
        return busy;
    });
    EXPECT_EQ(calls, 1) << "the upstream asked for 2 s, more than the 1.5 s the call has left";
    EXPECT_EQ(out.headers.get("Retry-After"), "2");
}

TEST_F(PipelineTest, NoAttemptStartsAfterTheTotalDeadline) {
    Pipeline pipeline{clock, TotalTimeoutPolicy{100ms}, RetryPolicy{.options = retry_options(10)}};
    std::vector<SteadyTime> starts;
    const SteadyTime begin = clock->steady_now();
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context&) {
        starts.push_back(clock->steady_now());
        clock->advance(60ms);
        return Response::text(503, "slow and failing");
    });
    // Attempt 1 runs 0..60 ms, attempt 2 starts at 60 ms and ends past the 100 ms deadline.
    EXPECT_EQ(starts.size(), 2u);
    for (auto s : starts) EXPECT_LT(s, begin + 100ms);
    EXPECT_EQ(out.status, 504);
    EXPECT_EQ(out.error, Errc::timeout);
}

TEST_F(PipelineTest, AttemptTimeoutEndsOneTryAndTheNextMaySucceed) {
    Pipeline pipeline{clock, TotalTimeoutPolicy{1s}, RetryPolicy{.options = retry_options(3)},
                      AttemptTimeoutPolicy{50ms}};
    int calls = 0;
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context&) {
        clock->advance(++calls == 1 ? 80ms : 10ms);
        return Response::text(200, "answer " + std::to_string(calls));
    });
    EXPECT_EQ(out.status, 200);
    EXPECT_EQ(out.body, "answer 2") << "the late first answer was discarded as a timeout";
}

TEST_F(PipelineTest, OpenBreakerRejectsAtOnceWithRetryAfterAndIsNotRetried) {
    Pipeline pipeline{clock, RetryPolicy{.options = retry_options(3)}, CircuitBreakerPolicy{breaker}};
    int calls = 0;
    Request r = request();
    auto failing = [&](const Request&, Context&) {
        ++calls;
        return Response::text(503, "down");
    };
    pipeline.execute(r, ctx, failing);  // 3 attempts, 3 failures
    Context second;
    Response out = pipeline.execute(r, second, failing);  // the 4th failure trips it; retry meets it open
    EXPECT_EQ(breaker->state(), CircuitBreaker::State::open);
    EXPECT_EQ(calls, 4);
    EXPECT_EQ(out.status, 503);
    EXPECT_EQ(out.error, Errc::circuit_open);
    EXPECT_EQ(out.headers.get("Retry-After"), "10");
    Context third;
    EXPECT_EQ(pipeline.execute(r, third, failing).error, Errc::circuit_open);
    EXPECT_EQ(calls, 4) << "an open breaker never reaches the handler";
}

TEST_F(PipelineTest, ClientErrorsAndRejectionsDoNotTripTheBreaker) {
    Pipeline pipeline{clock, CircuitBreakerPolicy{breaker}};
    Request r = request();
    for (int i = 0; i < 20; ++i) pipeline.execute(r, ctx, [](const Request&, Context&) { return Response::text(404, "no"); });
    EXPECT_EQ(breaker->state(), CircuitBreaker::State::closed);
    EXPECT_EQ(breaker->stats().failures, 0u);
    EXPECT_EQ(default_breaker_outcome(problem(Errc::bulkhead_full, "", "")), CircuitBreaker::Outcome::ignored);
    EXPECT_EQ(default_breaker_outcome(problem(Errc::upstream_unreachable, "", "")), CircuitBreaker::Outcome::failure);
    EXPECT_EQ(default_breaker_outcome(problem(Errc::timeout, "", "")), CircuitBreaker::Outcome::failure);
}

TEST_F(PipelineTest, ThrowingHandlerBecomes500AndCountsAsAFailure) {
    Pipeline pipeline{clock, CircuitBreakerPolicy{breaker}};
    Request r = request();
    ctx.correlation_id = "abc";
    Response out = pipeline.execute(r, ctx, [](const Request&, Context&) -> Response { throw std::runtime_error("x"); });
    EXPECT_EQ(out.status, 500);
    EXPECT_NE(out.body.find("abc"), std::string::npos) << "the problem body carries the correlation id";
    EXPECT_EQ(breaker->stats().failures, 1u);
}

TEST_F(PipelineTest, FullBulkheadRefusesWith503) {
    auto bulkhead = std::make_shared<Bulkhead>("db", BulkheadOptions{.max_concurrent = 1});
    Pipeline pipeline{clock, BulkheadPolicy{bulkhead}};
    auto held = bulkhead->try_acquire();
    Request r = request();
    Response out = pipeline.execute(r, ctx, [](const Request&, Context&) { return Response::text(200, "ok"); });
    EXPECT_EQ(out.status, 503);
    EXPECT_EQ(out.error, Errc::bulkhead_full);
    EXPECT_TRUE(out.headers.contains("Retry-After"));
}

TEST_F(PipelineTest, FallbackAnswersForChosenFailuresOnly) {
    FallbackPolicy fallback{.when = [](const Response& r) { return r.error == Errc::circuit_open || r.status == 502; },
                            .respond = [](const Request&, const Context&, const Response& failed) {
                                return Response::text(200, "cached, because " + std::to_string(failed.status));
                            }};
    Pipeline pipeline{clock, fallback, CircuitBreakerPolicy{breaker}};
    Request r = request();
    EXPECT_EQ(pipeline.execute(r, ctx, [](const Request&, Context&) { return Response::text(502, "x"); }).body,
              "cached, because 502");
    EXPECT_EQ(pipeline.execute(r, ctx, [](const Request&, Context&) { return Response::text(500, "x"); }).status, 500);
    breaker->force_open();
    EXPECT_EQ(pipeline.execute(r, ctx, [](const Request&, Context&) { return Response::text(200, "x"); }).body,
              "cached, because 503");
}

TEST_F(PipelineTest, ExhaustedRetryBudgetEndsWithTheLastAnswer) {
    auto budget = std::make_shared<RetryBudget>(0.0, 0);  // no retries at all
    RetryPolicy retry{.options = retry_options(5), .budget = budget};
    Pipeline pipeline{clock, retry};
    int calls = 0;
    Request r = request();
    Response out = pipeline.execute(r, ctx, [&](const Request&, Context&) {
        ++calls;
        return Response::text(503, "busy");
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(out.status, 503);
    EXPECT_EQ(budget->refused(), 1u);
}

TEST_F(PipelineTest, PoliciesPublishRejectionsRetriesAndTimeouts) {
    std::vector<std::string> heard;
    auto events = std::make_shared<const PolicyListener>([&](const PolicyEvent& e) {
        heard.push_back(std::string(e.policy) + ":" +
                        (e.kind == PolicyEvent::Kind::rejected ? "rejected"
                         : e.kind == PolicyEvent::Kind::retried ? "retried"
                                                                  : "timed_out"));
    });
    auto limiter = std::make_shared<RateLimiter>(RateLimiterOptions{.rate_per_second = 0.001, .burst = 1}, clock);
    Pipeline pipeline{clock, RateLimitPolicy{limiter, RateLimitPolicy::Key::none, "", events},
                      RetryPolicy{.options = retry_options(2), .events = events},
                      AttemptTimeoutPolicy{10ms, events}};
    Request r = request();
    int calls = 0;
    auto slow_then_fine = [&](const Request&, Context&) {
        if (++calls == 1) clock->advance(20ms);
        return Response::text(200, "ok");
    };
    EXPECT_EQ(pipeline.execute(r, ctx, slow_then_fine).status, 200);
    Context again;
    EXPECT_EQ(pipeline.execute(r, again, slow_then_fine).status, 429);
    EXPECT_EQ(heard, (std::vector<std::string>{"attempt_timeout:timed_out", "retry:retried", "rate_limit:rejected"}));
}
