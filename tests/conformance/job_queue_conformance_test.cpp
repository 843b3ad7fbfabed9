// The JobQueue contract: leases, lapses, delays, dead letters, bounds and races.

#include "conformance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <set>
#include <thread>

using namespace ante;
using namespace std::chrono_literals;

namespace {

Job job(std::string id, std::string route = "r") {
    return Job{.id = std::move(id), .route = std::move(route), .correlation_id = "c", .request = "payload",
               .attempt = 0, .enqueued_at = {}};
}

class JobQueueConformance : public test::Conformance {
protected:
    // Leases what is visible now; fails the test instead of waiting when nothing is.
    Lease lease_now(JobQueue& q, std::chrono::milliseconds visibility = 10s) {
        EXPECT_GT(q.stats().ready, 0u) << "nothing visible to lease";
        return *runner.wait(q.lease(visibility));
    }
};

}  // namespace

TEST_P(JobQueueConformance, LeasesInArrivalOrderCountingEachAttemptInTheJob) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(job("b"))), Errc::ok);
    Lease a = lease_now(*q);
    Lease b = lease_now(*q);
    EXPECT_EQ(a.job.id, "a");
    EXPECT_EQ(b.job.id, "b");
    EXPECT_EQ(a.job.attempt, 1);
    EXPECT_EQ(a.job.request, "payload");
    EXPECT_NE(a.token, b.token);
    EXPECT_EQ(q->stats().leased, 2u);
    EXPECT_TRUE(runner.wait(q->ack(a)));
    EXPECT_FALSE(runner.wait(q->ack(a))) << "acked once only";
    EXPECT_TRUE(runner.wait(q->ack(b)));
    const QueueStats s = q->stats();
    EXPECT_EQ(s.ready + s.delayed + s.leased, 0u);
}

TEST_P(JobQueueConformance, RefusesPastItsCapacityAndOnceAbandoned) {
    auto q = queue({.queue_capacity = 2});
    EXPECT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    EXPECT_EQ(runner.wait(q->enqueue(job("b"))), Errc::ok);
    EXPECT_EQ(runner.wait(q->enqueue(job("c"))), Errc::queue_full);
    Lease a = lease_now(*q);
    EXPECT_EQ(runner.wait(q->enqueue(job("c"))), Errc::queue_full) << "a leased job still takes its place";
    ASSERT_TRUE(runner.wait(q->ack(a)));
    EXPECT_EQ(runner.wait(q->enqueue(job("c"))), Errc::ok);
    q->close();
    EXPECT_EQ(runner.wait(q->lease(10s))->job.id, "b") << "a closed queue still drains";
    ASSERT_TRUE(runner.wait(q->ack(lease_now(*q))));
    EXPECT_EQ(runner.wait(q->enqueue(job("d"))), Errc::ok) << "follow-up work of a draining job";
    EXPECT_EQ(runner.wait(q->lease(10s))->job.id, "d");
    EXPECT_FALSE(runner.wait(q->lease(10s)).has_value()) << "drained: no waiting once closed";
    q->abandon();
    EXPECT_EQ(runner.wait(q->enqueue(job("e"))), Errc::shutting_down);
}

TEST_P(JobQueueConformance, ALapsedLeaseMakesTheJobVisibleAgainAndFencesTheFirstWorker) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    Lease first = lease_now(*q, 10s);
    clock->advance(10s);
    EXPECT_FALSE(runner.wait(q->extend(first, 10s))) << "lapsed, even before a scan noticed";
    EXPECT_EQ(runner.wait(q->promote_due()), 1u);
    EXPECT_EQ(q->stats().lapsed, 1u);
    Lease second = lease_now(*q, 10s);
    EXPECT_EQ(second.job.id, "a");
    EXPECT_EQ(second.job.attempt, 2) << "the lapsed delivery counts as an attempt";
    EXPECT_FALSE(runner.wait(q->ack(first)));
    EXPECT_FALSE(runner.wait(q->release(first, 0ms, false)));
    EXPECT_FALSE(runner.wait(q->bury(first, "x", "y")));
    EXPECT_TRUE(runner.wait(q->ack(second)));
}

TEST_P(JobQueueConformance, ExtendingALeaseKeepsTheJobAndMayShortenIt) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    Lease l = lease_now(*q, 10s);
    clock->advance(8s);
    ASSERT_TRUE(runner.wait(q->extend(l, 10s)));
    clock->advance(8s);
    EXPECT_EQ(runner.wait(q->promote_due()), 0u) << "16 s after the lease, but 8 s after its renewal";
    ASSERT_TRUE(runner.wait(q->extend(l, 1s)));
    ASSERT_TRUE(q->next_due().has_value());
    EXPECT_EQ(*q->next_due(), clock->system_now() + 1s);
    clock->advance(1s);
    EXPECT_EQ(runner.wait(q->promote_due()), 1u);
}

TEST_P(JobQueueConformance, DelayedJobsBecomeVisibleWhenDue) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("later"), 5s)), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(job("now"))), Errc::ok);
    Lease now = lease_now(*q);
    EXPECT_EQ(now.job.id, "now");
    ASSERT_TRUE(runner.wait(q->release(now, 2s, false)));
    EXPECT_EQ(q->stats().delayed, 2u);
    EXPECT_EQ(q->stats().ready, 0u);
    EXPECT_EQ(*q->next_due(), clock->system_now() + 2s);
    clock->advance(2s);
    EXPECT_EQ(runner.wait(q->promote_due()), 1u);
    Lease again = lease_now(*q);
    EXPECT_EQ(again.job.id, "now");
    EXPECT_EQ(again.job.attempt, 2);
    clock->advance(3s);
    EXPECT_EQ(runner.wait(q->promote_due()), 1u);
    EXPECT_EQ(lease_now(*q).job.id, "later");
}

TEST_P(JobQueueConformance, AWaitingWorkerIsWokenByADueJob) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"), 1s)), Errc::ok);
    auto waiting = boost::asio::co_spawn(runner.io(), q->lease(10s), boost::asio::use_future);
    EXPECT_EQ(waiting.wait_for(20ms), std::future_status::timeout);
    clock->advance(1s);
    runner.wait(q->promote_due());
    EXPECT_EQ(waiting.get()->job.id, "a");
}

TEST_P(JobQueueConformance, AReleaseWithRefundDoesNotCountTheAttempt) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    ASSERT_TRUE(runner.wait(q->release(lease_now(*q), 0ms, true)));
    EXPECT_EQ(lease_now(*q).job.attempt, 1);
}

TEST_P(JobQueueConformance, BuriedJobsCanBeListedRedrivenAndPurged) {
    auto q = queue();
    for (auto id : {"a", "b", "c"}) ASSERT_EQ(runner.wait(q->enqueue(job(id, id == std::string("c") ? "other" : "r"))), Errc::ok);
    for (int i = 0; i < 3; ++i) {
        Lease l = lease_now(*q);
        ASSERT_TRUE(runner.wait(q->bury(l, "attempts exhausted", "502 from " + l.job.id)));
    }
    auto all = runner.wait(q->dead_letters({}));
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].job.id, "a");
    EXPECT_EQ(all[0].reason, "attempts exhausted");
    EXPECT_EQ(all[0].last_error, "502 from a");
    EXPECT_EQ(all[0].job.attempt, 1);
    EXPECT_EQ(all[0].dead_at, clock->system_now());
    EXPECT_EQ(runner.wait(q->dead_letters({.id = {}, .route = "r"})).size(), 2u);
    EXPECT_EQ(q->stats().dead, 3u);

    auto redriven = runner.wait(q->redrive({.id = "b"}));
    ASSERT_EQ(redriven.size(), 1u);
    Lease b = lease_now(*q);
    EXPECT_EQ(b.job.id, "b");
    EXPECT_EQ(b.job.attempt, 1) << "a redrive starts a new series of attempts";
    EXPECT_EQ(runner.wait(q->purge({.id = {}, .route = "other"})), 1u);
    EXPECT_EQ(runner.wait(q->dead_letters({})).size(), 1u);
    EXPECT_EQ(runner.wait(q->purge({})), 1u);
    EXPECT_EQ(q->stats().dead, 0u);
}

TEST_P(JobQueueConformance, TheDeadLettersAreBoundedInCountAndInBytesOldestFirst) {
    // Each bound alone allows two of three buried jobs; the oldest goes.
    const test::BackendLimits by_count{.dead_capacity = 2};
    const test::BackendLimits by_bytes{.queue_bytes = 15};  // "payload" is 7 bytes: two fit
    for (const auto& limits : {by_count, by_bytes}) {
        auto q = queue(limits);
        for (auto id : {"a", "b", "c"}) {
            ASSERT_EQ(runner.wait(q->enqueue(job(id))), Errc::ok);
            ASSERT_TRUE(runner.wait(q->bury(lease_now(*q), "r", "e")));
        }
        auto dead = runner.wait(q->dead_letters({}));
        ASSERT_EQ(dead.size(), 2u);
        EXPECT_EQ(dead[0].job.id, "b");
        EXPECT_EQ(q->stats().dead_dropped, 1u);
    }
}

TEST_P(JobQueueConformance, RemoveTakesOutAWaitingJobButNotALeasedOne) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(job("b"), 1s)), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(job("c"))), Errc::ok);
    EXPECT_TRUE(runner.wait(q->remove("b")));
    Lease a = lease_now(*q);
    EXPECT_FALSE(runner.wait(q->remove("a")));
    EXPECT_TRUE(runner.wait(q->remove("c")));
    EXPECT_EQ(q->stats().ready, 0u);
    clock->advance(2s);
    EXPECT_EQ(runner.wait(q->promote_due()), 0u) << "the removed delayed job is gone";
    EXPECT_TRUE(runner.wait(q->ack(a)));
}

TEST_P(JobQueueConformance, AbandonCountsWhatWasNeverRunAndWakesWaiters) {
    auto q = queue();
    ASSERT_EQ(runner.wait(q->enqueue(job("a"))), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(job("b"), 1s)), Errc::ok);
    EXPECT_EQ(q->abandon(), 2u);
    EXPECT_FALSE(runner.wait(q->lease(10s)).has_value());
}

TEST_P(JobQueueConformance, OldestReadyJobGivesTheLag) {
    auto q = queue();
    Job first = job("a");
    first.enqueued_at = clock->system_now();
    ASSERT_EQ(runner.wait(q->enqueue(first)), Errc::ok);
    clock->advance(3s);
    Job second = job("b");
    second.enqueued_at = clock->system_now();
    ASSERT_EQ(runner.wait(q->enqueue(second)), Errc::ok);
    EXPECT_EQ(clock->system_now() - *q->stats().oldest_ready, 3s);
    runner.wait(q->ack(lease_now(*q)));
    EXPECT_EQ(clock->system_now() - *q->stats().oldest_ready, 0s);
}

TEST_P(JobQueueConformance, BacklogCountsEachRoutesJobsByStateWithItsOwnLag) {
    auto q = queue();
    auto stamped = [&](std::string id, std::string route) {
        Job j = job(std::move(id), std::move(route));
        j.enqueued_at = clock->system_now();
        return j;
    };
    ASSERT_EQ(runner.wait(q->enqueue(stamped("a1", "a"))), Errc::ok);
    clock->advance(2s);
    ASSERT_EQ(runner.wait(q->enqueue(stamped("a2", "a"))), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(stamped("b1", "b"))), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(stamped("b2", "b"), 10s)), Errc::ok);
    ASSERT_EQ(runner.wait(q->enqueue(stamped("b3", "b"))), Errc::ok);
    clock->advance(5s);
    Lease a1 = lease_now(*q);  // the oldest visible job of route a leaves its ready count
    ASSERT_EQ(a1.job.id, "a1");
    Lease a2 = lease_now(*q);
    ASSERT_TRUE(runner.wait(q->bury(a2, "x", "y")));

    const auto backlog = runner.wait(q->backlog());
    ASSERT_EQ(backlog.size(), 2u);
    const RouteBacklog& a = backlog.at("a");
    EXPECT_EQ(a.ready, 0u);
    EXPECT_EQ(a.leased, 1u);
    EXPECT_EQ(a.dead, 1u);
    EXPECT_FALSE(a.oldest_ready.has_value());
    const RouteBacklog& b = backlog.at("b");
    EXPECT_EQ(b.ready, 2u);
    EXPECT_EQ(b.delayed, 1u);
    EXPECT_EQ(b.leased, 0u);
    EXPECT_EQ(clock->system_now() - *b.oldest_ready, 5s);

    ASSERT_TRUE(runner.wait(q->ack(a1)));
    ASSERT_EQ(runner.wait(q->purge({})), 1u);
    EXPECT_EQ(runner.wait(q->backlog()).count("a"), 0u) << "a route with nothing left drops out";
}

TEST_P(JobQueueConformance, ManyProducersAndWorkersWithLapsingLeasesLoseNothingAndFinishEachJobOnce) {
    // Workers ack most jobs, let some leases lapse and release others; the clock jumps while
    // they run. Every job must be acked exactly once by its current lease holder.
    auto q = queue({.queue_capacity = 100'000});
    constexpr int producers = 4, per_producer = 2'000, workers = 4;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
        threads.emplace_back([&, p] {
            for (int i = 0; i < per_producer; ++i)
                ASSERT_EQ(runner.wait(q->enqueue(job(std::to_string(p) + "-" + std::to_string(i)))), Errc::ok);
        });
    std::mutex m;
    std::multiset<std::string> done;
    std::atomic<int> finished{0};
    for (int w = 0; w < workers; ++w)
        threads.emplace_back([&, w] {
            for (int n = 0; finished.load() < producers * per_producer; ++n) {
                runner.wait(q->promote_due());
                if (q->stats().ready == 0) {
                    std::this_thread::yield();
                    continue;
                }
                auto l = runner.wait(q->lease(1s));
                if (!l) continue;
                if (n % 7 == 3) {  // let this lease lapse: the job must come back
                    clock->advance(std::chrono::milliseconds(1'001 + w));
                    continue;
                }
                if (n % 5 == 1 && runner.wait(q->release(*l, 0ms, false))) continue;
                if (runner.wait(q->ack(*l))) {
                    std::lock_guard lock(m);
                    done.insert(l->job.id);
                    if (++finished == producers * per_producer) q->close();  // wakes workers waiting to lease
                }
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(done.size(), std::size_t{producers * per_producer});
    EXPECT_EQ(std::set<std::string>(done.begin(), done.end()).size(), done.size()) << "each job acked once";
    const QueueStats s = q->stats();
    EXPECT_EQ(s.ready + s.delayed + s.leased, 0u);
    EXPECT_GT(s.lapsed, 0u);
}

ANTE_CONFORMANCE_SUITE(JobQueueConformance);
