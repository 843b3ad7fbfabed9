#pragma once
/// \file
/// A bulkhead: at most N calls run at once, with an optional bounded wait for a free place.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace ante {

/// Defaults follow Resilience4j's semaphore bulkhead: 25 at once, no waiting.
struct BulkheadOptions {
    std::size_t max_concurrent = 25;
    /// How long a call may wait for a place before it is refused; 0 refuses at once.
    std::chrono::milliseconds max_wait{0};
};

/// Limits concurrent calls to one route or upstream. A `Permit` is held until the work really
/// ends (it can travel with a blocking handler that outlives its caller's timeout), and is
/// released exactly once. Thread-safe.
class Bulkhead {
public:
    class Permit {
    public:
        Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
        Permit& operator=(Permit&& other) noexcept {
            if (this != &other) {
                reset();
                owner_ = std::exchange(other.owner_, nullptr);
            }
            return *this;
        }
        ~Permit() { reset(); }
        void reset() noexcept {
            if (auto* owner = std::exchange(owner_, nullptr)) owner->release();
        }

    private:
        friend class Bulkhead;
        explicit Permit(Bulkhead* owner) noexcept : owner_(owner) {}
        Bulkhead* owner_;
    };

    explicit Bulkhead(std::string name, BulkheadOptions options = {});
    Bulkhead(const Bulkhead&) = delete;
    Bulkhead& operator=(const Bulkhead&) = delete;

    /// A place now, or nothing (counted as rejected).
    [[nodiscard]] std::optional<Permit> try_acquire() noexcept;
    /// A place, waiting up to `max_wait` and blocking this thread meanwhile.
    [[nodiscard]] std::optional<Permit> acquire();
    /// A place, waiting up to `max_wait` without blocking a thread.
    [[nodiscard]] boost::asio::awaitable<std::optional<Permit>> async_acquire();

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const BulkheadOptions& options() const noexcept { return options_; }

    struct Stats {
        std::size_t in_use = 0;
        std::size_t waiting = 0;
        std::uint64_t rejected = 0;
    };
    [[nodiscard]] Stats stats() const noexcept;

private:
    struct AsyncWaiter;
    [[nodiscard]] bool try_take() noexcept;
    void release() noexcept;
    void wake_one();
    void pass_on_wake();

    const std::string name_;
    const BulkheadOptions options_;
    std::atomic<std::size_t> in_use_{0};
    std::atomic<std::size_t> waiting_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::mutex mutex_;  // guards the waiter lists; taken only when someone waits
    std::condition_variable freed_;
    std::deque<std::weak_ptr<AsyncWaiter>> async_waiters_;
};

}  // namespace ante
