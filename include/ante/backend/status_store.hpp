#pragma once
/// \file
/// The status store seam (docs/design.md seam 5): job records by ID, bounded in count and time,
/// and the idempotency keys of submits.

#include <ante/core/error.hpp>
#include <ante/dispatch/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ante {

/// Where an idempotency key stands after a claim.
enum class KeyState {
    claimed,      ///< the caller owns the key now (its lease runs), under `token`
    in_progress,  ///< another caller owns it and its lease has not lapsed
    completed,    ///< the first caller finished; `value` holds what it saved
    refused,      ///< the store is full of unexpired keys: refuse the request (503)
};

/// The answer to `StatusStore::claim_key`.
struct KeyClaim {
    KeyState state = KeyState::refused;
    std::uint64_t token = 0;  ///< the owner's fence, for complete_key / release_key
    std::string fingerprint;  ///< of the request that first used the key
    std::string value;        ///< saved by complete_key (a job id, or a serialized response)
};

/// What a store holds, for its bounds and for metrics.
struct StoreStats {
    std::size_t records = 0;  ///< job records, finished or not
    std::size_t bytes = 0;    ///< their estimated size (`JobRecord::byte_estimate`)
    std::size_t keys = 0;     ///< idempotency keys held
};

/// Keeps job records. Finished records expire after a retention time; the store never drops an
/// unfinished record to make room (it refuses new ones instead). Every write after `create` is
/// a compare-and-set on the record's version, so a worker that lost its job cannot overwrite
/// the outcome of the one that took it over (the version is the fencing token).
class StatusStore {
public:
    virtual ~StatusStore() = default;
    /// Stores a new record at version 1; `Errc::store_full` when no room can be made,
    /// `Errc::conflict` when the id exists.
    virtual boost::asio::awaitable<Errc> create(JobRecord record) = 0;
    /// The record, unless it never existed or its retention passed.
    virtual boost::asio::awaitable<std::optional<JobRecord>> get(std::string id) = 0;
    /// Replaces the record when the stored version is still `record.version`; the stored copy
    /// then has version `record.version + 1`. False when another write came first or the record
    /// is gone. A final status starts the record's retention clock.
    virtual boost::asio::awaitable<bool> compare_and_set(JobRecord record) = 0;
    /// Forgets a record (a submit that could not be queued).
    virtual boost::asio::awaitable<void> erase(std::string id) = 0;

    /// Claims `key` for a request with `fingerprint`. A free key, or one whose owner's `lease`
    /// lapsed without completing, is claimed; otherwise the answer says who has it.
    virtual boost::asio::awaitable<KeyClaim> claim_key(std::string key, std::string fingerprint,
                                                       std::chrono::milliseconds lease) = 0;
    /// The owner saves `value` under its key, kept for `keep`. False when the claim was lost.
    virtual boost::asio::awaitable<bool> complete_key(std::string key, std::uint64_t token, std::string value,
                                                      std::chrono::milliseconds keep) = 0;
    /// The owner gives the key up unfinished (nothing was done): the next claim gets it.
    virtual boost::asio::awaitable<void> release_key(std::string key, std::uint64_t token) = 0;

    [[nodiscard]] virtual StoreStats stats() const = 0;
};

}  // namespace ante
