#pragma once
/// \file
/// The embedded job queue: fast, bounded, not durable (a process crash loses its jobs).

#include <ante/backend/job_queue.hpp>
#include <ante/core/clock.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace ante {

struct MemoryJobQueueOptions {
    std::size_t capacity = 10'000;                     ///< jobs held (visible, delayed and leased)
    std::size_t max_bytes = std::size_t{256} << 20;    ///< their requests' bytes (and, apart, the dead letters')
    std::size_t dead_capacity = 10'000;                ///< dead letters kept; past it the oldest go
};

/// A bounded in-process queue with leases, delays and dead letters. Waiting workers are woken
/// one per job, never by polling; time (delays, lease expiry) is read from the injected clock.
class MemoryJobQueue final : public JobQueue {
public:
    explicit MemoryJobQueue(MemoryJobQueueOptions options = {}, std::shared_ptr<const Clock> clock = Clock::real());

    boost::asio::awaitable<Errc> enqueue(Job job, std::chrono::milliseconds delay = {}) override;
    boost::asio::awaitable<std::optional<Lease>> lease(std::chrono::milliseconds visibility) override;
    boost::asio::awaitable<bool> extend(const Lease& lease, std::chrono::milliseconds visibility) override;
    boost::asio::awaitable<bool> ack(const Lease& lease) override;
    boost::asio::awaitable<bool> release(const Lease& lease, std::chrono::milliseconds delay, bool refund) override;
    boost::asio::awaitable<bool> bury(const Lease& lease, std::string reason, std::string last_error) override;
    boost::asio::awaitable<bool> remove(std::string id) override;
    boost::asio::awaitable<std::size_t> promote_due() override;
    std::optional<SystemTime> next_due() override;
    boost::asio::awaitable<std::vector<DeadLetter>> dead_letters(DeadLetterSelector which) override;
    boost::asio::awaitable<std::vector<Job>> redrive(DeadLetterSelector which) override;
    boost::asio::awaitable<std::size_t> purge(DeadLetterSelector which) override;
    void close() override;
    std::size_t abandon() override;
    [[nodiscard]] QueueStats stats() const override;
    boost::asio::awaitable<std::map<std::string, RouteBacklog>> backlog() override;

private:
    enum class State { ready, delayed, leased };
    struct Entry {
        Job job;
        State state = State::delayed;  // until schedule or make_ready counts it in
        std::uint64_t token = 0;  // the current lease's, or the current timer's
        SystemTime due{};         // delayed: visible at; leased: lapses at
    };
    using Waiter = std::function<void(std::optional<Lease>)>;
    struct Waiting {
        std::chrono::milliseconds visibility;
        Waiter deliver;
    };
    using Timers = std::multimap<SystemTime, std::pair<std::string, std::uint64_t>>;
    using Handover = std::vector<std::pair<Waiter, Lease>>;

    // Every helper below expects mutex_ held.
    Entry* held(const Lease& lease);
    void schedule(Entry& entry, State state, SystemTime due);
    void make_ready(Entry& entry, Handover& handover);
    Lease lease_entry(Entry& entry, std::chrono::milliseconds visibility, SystemTime now);
    std::size_t promote_due_locked(SystemTime now, Handover& handover);
    void drop(const std::string& id);
    bool selected(const DeadLetter& dead, const DeadLetterSelector& which) const;
    void wake_all_waiters();

    const MemoryJobQueueOptions options_;
    const std::shared_ptr<const Clock> clock_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> jobs_;
    std::deque<std::string> ready_;  // ids in arrival order; stale ids (no longer ready) are skipped
    std::size_t ready_count_ = 0;
    std::size_t leased_count_ = 0;
    Timers timers_;                  // due times of delayed jobs and leases; stale ones are skipped
    std::size_t bytes_ = 0;
    std::uint64_t next_token_ = 1;
    std::deque<DeadLetter> dead_;    // oldest first
    std::size_t dead_bytes_ = 0;     // of the dead letters' requests, bounded by max_bytes too
    std::uint64_t lapsed_ = 0;
    std::uint64_t dead_dropped_ = 0;
    std::deque<Waiting> waiters_;
    bool closed_ = false;
    bool abandoned_ = false;
};

}  // namespace ante
