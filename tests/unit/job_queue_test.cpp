#include <ante/backend/memory/memory_job_queue.hpp>

#include "support/io_runner.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <set>

using namespace ante;

namespace {
Job job(std::string id) { return Job{.id = std::move(id), .route = "r", .correlation_id = "c", .request = {}, .attempt = 0, .enqueued_at = {}}; }
}  // namespace

TEST(MemoryJobQueue, FifoAndBounded) {
    test::IoRunner runner{1};
    MemoryJobQueue q{2};
    EXPECT_EQ(runner.wait(q.enqueue(job("a"))), Errc::ok);
    EXPECT_EQ(runner.wait(q.enqueue(job("b"))), Errc::ok);
    EXPECT_EQ(runner.wait(q.enqueue(job("c"))), Errc::queue_full);
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(runner.wait(q.take())->id, "a");
    EXPECT_EQ(runner.wait(q.take())->id, "b");
}

TEST(MemoryJobQueue, CloseWakesWaitersAndRefusesNewJobs) {
    test::IoRunner runner{2};
    MemoryJobQueue q{10};
    auto waiting = boost::asio::co_spawn(runner.io(), q.take(), boost::asio::use_future);
    q.close();
    EXPECT_FALSE(waiting.get().has_value());
    EXPECT_EQ(runner.wait(q.enqueue(job("x"))), Errc::shutting_down);
}

TEST(MemoryJobQueue, ManyProducersAndConsumersLoseAndDuplicateNothing) {
    test::IoRunner runner{4};
    MemoryJobQueue q{100'000};
    constexpr int producers = 8, per_producer = 2'000, consumers = 6;
    std::vector<std::future<std::vector<std::string>>> taken;
    for (int c = 0; c < consumers; ++c) {
        taken.push_back(boost::asio::co_spawn(
            runner.io(),
            [&q]() -> boost::asio::awaitable<std::vector<std::string>> {
                std::vector<std::string> ids;
                for (;;) {
                    auto j = co_await q.take();
                    if (!j) break;
                    ids.push_back(j->id);
                }
                co_return ids;
            },
            boost::asio::use_future));
    }
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_producer; ++i)
                ASSERT_EQ(runner.wait(q.enqueue(job(std::to_string(p) + ":" + std::to_string(i)))), Errc::ok);
        });
    for (auto& t : threads) t.join();
    while (q.size() > 0) std::this_thread::yield();
    q.close();
    std::multiset<std::string> all;
    for (auto& f : taken)
        for (auto& id : f.get()) all.insert(id);
    EXPECT_EQ(all.size(), std::size_t{producers * per_producer});
    EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size()) << "no job delivered twice";
}
