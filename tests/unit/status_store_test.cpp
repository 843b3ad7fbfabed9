#include <ante/backend/memory/memory_status_store.hpp>

#include "support/io_runner.hpp"
#include "support/manual_clock.hpp"

#include <gtest/gtest.h>

using namespace ante;
using namespace std::chrono_literals;

namespace {

JobRecord record(std::string id, JobStatus status = JobStatus::queued) {
    return JobRecord{.id = std::move(id), .route = "r", .status = status, .attempts = 0,
                     .created = {}, .updated = {}, .error = {}, .result = {}};
}

class StatusStoreTest : public ::testing::Test {
protected:
    std::shared_ptr<test::ManualClock> clock = std::make_shared<test::ManualClock>();
    test::IoRunner runner{1};

    Errc create(MemoryStatusStore& s, JobRecord r) { return runner.wait(s.create(std::move(r))); }
    std::optional<JobRecord> get(MemoryStatusStore& s, std::string id) { return runner.wait(s.get(std::move(id))); }
    // Finishes the record as a worker would: a compare-and-set on the version it read.
    bool finish(MemoryStatusStore& s, std::string id) {
        auto r = record(std::move(id), JobStatus::succeeded);
        r.version = 1;
        r.result = Response::text(200, "done");
        return runner.wait(s.compare_and_set(std::move(r)));
    }
};

}  // namespace

TEST_F(StatusStoreTest, FinishedRecordsExpireAfterRetention) {
    MemoryStatusStore store{{.retention = 60s, .capacity = 10}, clock};
    ASSERT_EQ(create(store, record("a")), Errc::ok);
    clock->advance(1h);
    ASSERT_TRUE(get(store, "a")) << "an unfinished record never expires";
    ASSERT_TRUE(finish(store, "a"));
    clock->advance(59s);
    ASSERT_TRUE(get(store, "a"));
    EXPECT_EQ(get(store, "a")->result->body, "done");
    clock->advance(1s);
    EXPECT_FALSE(get(store, "a"));
    ASSERT_EQ(create(store, record("b")), Errc::ok);  // purges on the way
    EXPECT_EQ(store.stats().records, 1u);
    EXPECT_EQ(store.drops().expired, 1u);
}

TEST_F(StatusStoreTest, FullStoreEvictsOldestFinishedButNeverUnfinished) {
    MemoryStatusStore store{{.retention = 1h, .capacity = 3}, clock};
    for (auto id : {"a", "b", "c"}) ASSERT_EQ(create(store, record(id)), Errc::ok);
    EXPECT_EQ(create(store, record("d")), Errc::store_full) << "all three are unfinished";
    ASSERT_TRUE(finish(store, "b"));
    ASSERT_TRUE(finish(store, "a"));
    ASSERT_EQ(create(store, record("d")), Errc::ok);
    EXPECT_FALSE(get(store, "b")) << "b finished first, so it goes first";
    EXPECT_TRUE(get(store, "a"));
    EXPECT_TRUE(get(store, "c"));
    EXPECT_EQ(store.stats().records, 3u);
    EXPECT_EQ(store.drops().evicted, 1u);
    EXPECT_EQ(store.drops().refused, 1u);
}

TEST_F(StatusStoreTest, EntryCountAndBytesStayBoundedUnderManyFinishedJobs) {
    constexpr std::size_t cap = 1000;
    MemoryStatusStore store{{.retention = 1h, .capacity = cap}, clock};
    std::size_t max_bytes = 0;
    for (int i = 0; i < 20'000; ++i) {
        auto id = "job-" + std::to_string(i);
        ASSERT_EQ(create(store, record(id)), Errc::ok);
        ASSERT_TRUE(finish(store, id));
        max_bytes = std::max(max_bytes, store.stats().bytes);
    }
    EXPECT_EQ(store.stats().records, cap);
    EXPECT_EQ(store.drops().evicted, 20'000u - cap);
    const std::size_t per_record = record("job-19999").byte_estimate() + Response::text(200, "done").body.size() + 256;
    EXPECT_LE(max_bytes, cap * per_record);
}

TEST_F(StatusStoreTest, EraseForgetsAndUpdateNeverResurrects) {
    MemoryStatusStore store{{}, clock};
    ASSERT_EQ(create(store, record("a")), Errc::ok);
    runner.wait(store.erase("a"));
    EXPECT_FALSE(get(store, "a"));
    EXPECT_FALSE(finish(store, "a"));
    EXPECT_FALSE(get(store, "a"));
    EXPECT_EQ(store.stats().bytes, 0u);
}

TEST(MemoryStatusStoreBytes, ByteCapEvictsFinishedRecordsFirstThenRefuses) {
    test::IoRunner runner{1};
    auto clock = std::make_shared<test::ManualClock>();
    const std::size_t one = JobRecord{.id = "a", .route = "r"}.byte_estimate();
    MemoryStatusStore store{{.retention = std::chrono::seconds(60), .capacity = 1000, .max_bytes = 2 * one}, clock};
    ASSERT_EQ(runner.wait(store.create(JobRecord{.id = "a", .route = "r"})), Errc::ok);
    ASSERT_EQ(runner.wait(store.create(JobRecord{.id = "b", .route = "r"})), Errc::ok);
    EXPECT_EQ(runner.wait(store.create(JobRecord{.id = "c", .route = "r"})), Errc::store_full) << "both unfinished";
    ASSERT_TRUE(runner.wait(store.compare_and_set(JobRecord{.id = "a", .route = "r", .status = JobStatus::succeeded, .version = 1})));
    EXPECT_EQ(runner.wait(store.create(JobRecord{.id = "c", .route = "r"})), Errc::ok) << "finished 'a' made room";
    EXPECT_FALSE(runner.wait(store.get("a")).has_value());
    EXPECT_EQ(store.drops().evicted, 1u);
    EXPECT_LE(store.stats().bytes, 2 * one);
}
