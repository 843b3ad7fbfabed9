#pragma once
/// \file
/// Job records and idempotency keys in Redis, shared by every gateway and
/// worker process. Each write is one Lua script (atomic); every key is written
/// with an expiry in the same script.

#include <ante/backend/redis/redis_client.hpp>
#include <ante/backend/status_store.hpp>
#include <ante/core/clock.hpp>
#include <atomic>
#include <memory>

namespace ante {

struct RedisStatusStoreOptions {
    std::string prefix = "ante";           ///< keys are "{prefix}:…" (one hash slot)
    std::chrono::seconds retention{3600};  ///< a finished record stays readable this long
    std::size_t capacity = 100'000;        ///< records kept; the oldest finished go
                                           ///< first, then create refuses
    std::size_t max_keys = 100'000;        ///< idempotency keys kept; unexpired ones are never evicted
    /// The expiry of a record that is not finished: far beyond any job's life, so
    /// nothing is kept forever if its job was lost outside the gateway's control.
    std::chrono::hours unfinished_ttl{24 * 7};
};

class RedisStatusStore final : public StatusStore {
public:
    RedisStatusStore(std::shared_ptr<RedisClient> redis, RedisStatusStoreOptions options = {},
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
    /// As of the last operation of this process (Redis is not asked here: this
    /// call must not block).
    [[nodiscard]] StoreStats stats() const override;

private:
    [[nodiscard]] std::string now_ms() const;
    void note_counts(const RedisReply& reply, std::size_t records_at, std::size_t keys_at);

    std::shared_ptr<RedisClient> redis_;
    RedisStatusStoreOptions options_;
    std::shared_ptr<const Clock> clock_;
    std::string records_, finished_, keys_, token_;  // key names
    std::atomic<std::size_t> records_count_{0}, keys_count_{0};
};

}  // namespace ante
