#pragma once
/// \file
/// The status store seam (docs/design.md seam 5): job records by ID, bounded in count and time.

#include <ante/core/error.hpp>
#include <ante/dispatch/job.hpp>

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace ante {

/// Keeps job records. Finished records expire after a retention time; the store never drops an
/// unfinished record to make room (it refuses new ones instead).
class StatusStore {
public:
    virtual ~StatusStore() = default;
    /// Stores a new record; `Errc::store_full` when no room can be made.
    virtual boost::asio::awaitable<Errc> create(JobRecord record) = 0;
    /// The record, unless it never existed or its retention passed.
    virtual boost::asio::awaitable<std::optional<JobRecord>> get(std::string id) = 0;
    /// Replaces an existing record; a final status starts its retention clock.
    virtual boost::asio::awaitable<void> update(JobRecord record) = 0;
    /// Forgets a record (a submit that could not be queued).
    virtual boost::asio::awaitable<void> erase(std::string id) = 0;
};

}  // namespace ante
