// The StatusStore contract: versions as fences, retention, bounds, idempotency keys.

#include "conformance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;

namespace {

JobRecord record(std::string id) {
    return JobRecord{.id = std::move(id), .route = "r", .status = JobStatus::queued};
}

class StatusStoreConformance : public test::Conformance {
protected:
    bool needs_queue() const override { return false; }
};

}  // namespace

TEST_P(StatusStoreConformance, EveryWriteIsACompareAndSetOnTheVersion) {
    auto s = store();
    ASSERT_EQ(runner.wait(s->create(record("a"))), Errc::ok);
    EXPECT_EQ(runner.wait(s->create(record("a"))), Errc::conflict);
    JobRecord first = *runner.wait(s->get("a"));
    EXPECT_EQ(first.version, 1u);
    JobRecord stale = first;
    first.status = JobStatus::running;
    first.attempts = 1;
    ASSERT_TRUE(runner.wait(s->compare_and_set(first)));
    stale.status = JobStatus::cancelled;
    EXPECT_FALSE(runner.wait(s->compare_and_set(stale))) << "written after the version it read";
    JobRecord now = *runner.wait(s->get("a"));
    EXPECT_EQ(now.version, 2u);
    EXPECT_EQ(now.status, JobStatus::running);
}

TEST_P(StatusStoreConformance, RecordsKeepTheirResultHistoryAndFlags) {
    auto s = store();
    ASSERT_EQ(runner.wait(s->create(record("a"))), Errc::ok);
    JobRecord r = *runner.wait(s->get("a"));
    r.status = JobStatus::succeeded;
    r.result = Response::text(201, "made");
    r.result->headers.set("X-Order", "7");
    r.note(clock->system_now(), "attempt 1 succeeded");
    r.cancel_requested = true;
    ASSERT_TRUE(runner.wait(s->compare_and_set(r)));
    JobRecord back = *runner.wait(s->get("a"));
    EXPECT_EQ(back.result->status, 201);
    EXPECT_EQ(back.result->body, "made");
    EXPECT_EQ(back.result->headers.get("X-Order"), "7");
    ASSERT_EQ(back.history.size(), 1u);
    EXPECT_NE(back.history[0].find("attempt 1 succeeded"), std::string::npos);
    EXPECT_TRUE(back.cancel_requested);
}

TEST_P(StatusStoreConformance, RacingWritersLoseNoUpdate) {
    auto s = store();
    ASSERT_EQ(runner.wait(s->create(record("counter"))), Errc::ok);
    constexpr int threads = 8, increments = 250;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < increments; ++i) {
                for (;;) {
                    JobRecord r = *runner.wait(s->get("counter"));
                    ++r.attempts;
                    if (runner.wait(s->compare_and_set(r))) break;
                }
            }
        });
    for (auto& t : pool) t.join();
    EXPECT_EQ(runner.wait(s->get("counter"))->attempts, threads * increments);
}

TEST_P(StatusStoreConformance, FinishedRecordsExpireAfterRetentionUnfinishedNever) {
    auto s = store({.retention = 60s});
    ASSERT_EQ(runner.wait(s->create(record("a"))), Errc::ok);
    clock->advance(24h);
    JobRecord r = *runner.wait(s->get("a"));
    r.status = JobStatus::failed;
    ASSERT_TRUE(runner.wait(s->compare_and_set(r)));
    clock->advance(59s);
    EXPECT_TRUE(runner.wait(s->get("a")).has_value());
    clock->advance(1s);
    EXPECT_FALSE(runner.wait(s->get("a")).has_value());
    r.version = 2;  // the version it had: only the expiry stands in the way
    EXPECT_FALSE(runner.wait(s->compare_and_set(r))) << "an expired record is never written back";
}

TEST_P(StatusStoreConformance, AMillionFinishedJobsStayWithinTheCap) {
    constexpr std::size_t cap = 10'000;
    auto s = store({.records = cap});
    JobRecord sample = record("job-999999");
    sample.status = JobStatus::succeeded;
    sample.result = Response::text(200, "done");
    const std::size_t per_record = sample.byte_estimate();
    // A million creates and finishes in 8 lanes (a networked store gets 8 commands in flight),
    // watching the counts as they go.
    constexpr int total = 1'000'000, lanes = 8;
    auto lane = [&](int first) -> boost::asio::awaitable<StoreStats> {
        StoreStats most;
        for (int i = first; i < total; i += lanes) {
            JobRecord r = record("job-" + std::to_string(i));
            if (co_await s->create(r) != Errc::ok) throw std::runtime_error("create refused at " + std::to_string(i));
            r.version = 1;
            r.status = JobStatus::succeeded;
            r.result = Response::text(200, "done");
            co_await s->compare_and_set(std::move(r));
            if (i % 1000 == first) {
                const StoreStats now = s->stats();
                most.records = std::max(most.records, now.records);
                most.bytes = std::max(most.bytes, now.bytes);
            }
        }
        co_return most;
    };
    std::vector<std::future<StoreStats>> running;
    for (int first = 0; first < lanes; ++first)
        running.push_back(boost::asio::co_spawn(runner.io(), lane(first), boost::asio::use_future));
    StoreStats most;
    for (auto& f : running) {
        const StoreStats seen = f.get();
        most.records = std::max(most.records, seen.records);
        most.bytes = std::max(most.bytes, seen.bytes);
    }
    EXPECT_LE(most.records, cap);
    EXPECT_LE(most.bytes, cap * per_record);
    const StoreStats end = s->stats();
    EXPECT_EQ(end.records, cap);
    EXPECT_TRUE(runner.wait(s->get("job-999999")).has_value()) << "the newest are kept";
    EXPECT_FALSE(runner.wait(s->get("job-0")).has_value()) << "the oldest finished went first";
}

TEST_P(StatusStoreConformance, AFullStoreRefusesNewJobsRatherThanDropUnfinishedOnes) {
    auto s = store({.records = 2});
    ASSERT_EQ(runner.wait(s->create(record("a"))), Errc::ok);
    ASSERT_EQ(runner.wait(s->create(record("b"))), Errc::ok);
    EXPECT_EQ(runner.wait(s->create(record("c"))), Errc::store_full);
    EXPECT_TRUE(runner.wait(s->get("a")).has_value());
    EXPECT_TRUE(runner.wait(s->get("b")).has_value());
}

TEST_P(StatusStoreConformance, AnIdempotencyKeyIsClaimedOnceCompletedAndReplayed) {
    auto s = store();
    KeyClaim first = runner.wait(s->claim_key("k", "fp1", 10s));
    ASSERT_EQ(first.state, KeyState::claimed);
    KeyClaim busy = runner.wait(s->claim_key("k", "fp2", 10s));
    EXPECT_EQ(busy.state, KeyState::in_progress);
    EXPECT_EQ(busy.fingerprint, "fp1") << "the caller compares fingerprints";
    EXPECT_FALSE(runner.wait(s->complete_key("k", first.token + 1, "job-x", 24h))) << "not the owner";
    ASSERT_TRUE(runner.wait(s->complete_key("k", first.token, "job-1", 24h)));
    KeyClaim done = runner.wait(s->claim_key("k", "fp1", 10s));
    EXPECT_EQ(done.state, KeyState::completed);
    EXPECT_EQ(done.value, "job-1");
    clock->advance(24h);
    EXPECT_EQ(runner.wait(s->claim_key("k", "fp3", 10s)).state, KeyState::claimed) << "keys expire";
}

TEST_P(StatusStoreConformance, AnAbandonedClaimLapsesAndAReleasedOneIsFreeAtOnce) {
    auto s = store();
    KeyClaim crashed = runner.wait(s->claim_key("k", "fp", 10s));
    ASSERT_EQ(crashed.state, KeyState::claimed);
    clock->advance(10s);
    KeyClaim taken = runner.wait(s->claim_key("k", "fp", 10s));
    ASSERT_EQ(taken.state, KeyState::claimed) << "a crash never leaves a key stuck";
    EXPECT_FALSE(runner.wait(s->complete_key("k", crashed.token, "late", 1h))) << "the first owner lost it";
    runner.wait(s->release_key("k", taken.token));
    EXPECT_EQ(runner.wait(s->claim_key("k", "fp", 10s)).state, KeyState::claimed);
}

TEST_P(StatusStoreConformance, AFullKeyStoreRefusesInsteadOfEvictingUnexpiredKeys) {
    auto s = store({.keys = 2});
    ASSERT_EQ(runner.wait(s->claim_key("a", "f", 10s)).state, KeyState::claimed);
    ASSERT_EQ(runner.wait(s->claim_key("b", "f", 10s)).state, KeyState::claimed);
    EXPECT_EQ(runner.wait(s->claim_key("c", "f", 10s)).state, KeyState::refused);
    EXPECT_EQ(runner.wait(s->claim_key("a", "f", 10s)).state, KeyState::in_progress) << "a is kept";
    clock->advance(10s);
    EXPECT_EQ(runner.wait(s->claim_key("c", "f", 10s)).state, KeyState::claimed) << "expired keys make room";
}

TEST_P(StatusStoreConformance, SixtyFourConcurrentClaimsOfOneKeyHaveOneWinner) {
    auto s = store();
    std::vector<std::future<KeyClaim>> claims;
    for (int i = 0; i < 64; ++i)
        claims.push_back(boost::asio::co_spawn(runner.io(), s->claim_key("k", "fp", 10s), boost::asio::use_future));
    int claimed = 0, in_progress = 0;
    for (auto& c : claims) {
        const KeyClaim got = c.get();
        claimed += got.state == KeyState::claimed;
        in_progress += got.state == KeyState::in_progress;
    }
    EXPECT_EQ(claimed, 1);
    EXPECT_EQ(in_progress, 63);
}

ANTE_CONFORMANCE_SUITE(StatusStoreConformance);
