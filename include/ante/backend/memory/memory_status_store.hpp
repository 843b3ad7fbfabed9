#pragma once
/// \file
/// The embedded status store: records in a map, bounded in count and in time.

#include <ante/backend/status_store.hpp>
#include <ante/core/clock.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace ante {

struct MemoryStatusStoreOptions {
    /// How long a finished record (and its result) stays readable.
    std::chrono::seconds retention{3600};
    /// Most records kept. When full, the oldest finished records are evicted early; when every
    /// record is unfinished, `create` answers `Errc::store_full`.
    std::size_t capacity = 100'000;
    /// Most bytes the records may hold (results included), evicting finished ones the same way.
    std::size_t max_bytes = std::size_t{256} << 20;
    /// Most idempotency keys kept. Unexpired keys are never evicted: when full, claims are
    /// refused (the submit answers 503) until keys expire.
    std::size_t max_keys = 100'000;
};

/// Thread-safe in-memory StatusStore. Expired records are purged as new ones arrive, in
/// amortised constant time, so memory stays bounded without a sweeper thread.
class MemoryStatusStore final : public StatusStore {
public:
    explicit MemoryStatusStore(MemoryStatusStoreOptions options = {},
                               std::shared_ptr<const Clock> clock = Clock::real());

    boost::asio::awaitable<Errc> create(JobRecord record) override;
    boost::asio::awaitable<std::optional<JobRecord>> get(std::string id) override;
    boost::asio::awaitable<bool> compare_and_set(JobRecord record) override;
    boost::asio::awaitable<void> erase(std::string id) override;
    boost::asio::awaitable<KeyClaim> claim_key(std::string key, std::string fingerprint,
                                               std::chrono::milliseconds lease) override;
    boost::asio::awaitable<bool> complete_key(std::string key, std::uint64_t token, std::string value,
                                              std::chrono::milliseconds keep) override;
    boost::asio::awaitable<void> release_key(std::string key, std::uint64_t token) override;

    StoreStats stats() const override;
    /// What happened to records: dropped at the end of retention, evicted early to make room,
    /// or refused because only unfinished records were left.
    struct Drops {
        std::uint64_t expired = 0;
        std::uint64_t evicted = 0;
        std::uint64_t refused = 0;
    };
    [[nodiscard]] Drops drops() const;

private:
    struct Entry {
        JobRecord record;
        SteadyTime expires_at = SteadyTime::max();  // max while unfinished
    };
    void purge_expired(SteadyTime now);            // caller holds mutex_
    bool evict_oldest_finished(std::string_view keep = {});  // caller holds mutex_; never drops `keep`
    bool full(std::size_t adding) const;           // caller holds mutex_
    void drop(std::unordered_map<std::string, Entry>::iterator it);  // caller holds mutex_
    struct Key {
        std::string fingerprint;
        std::string value;
        bool completed = false;
        std::uint64_t token = 0;
        SteadyTime expires_at{};  // the owner's lease while in progress, the keep time once completed
    };
    void purge_expired_keys(SteadyTime now);  // caller holds mutex_

    const MemoryStatusStoreOptions options_;
    const std::shared_ptr<const Clock> clock_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    // Finished records in the order they finished: with one retention for all, that is also
    // the order they expire in. Stale pairs (record erased or re-finished) are skipped.
    std::deque<std::pair<SteadyTime, std::string>> finished_;
    std::size_t bytes_ = 0;
    Drops drops_;
    std::unordered_map<std::string, Key> keys_;
    std::multimap<SteadyTime, std::pair<std::string, std::uint64_t>> key_expiry_;  // stale pairs skipped
    std::uint64_t next_key_token_ = 1;
};

}  // namespace ante
