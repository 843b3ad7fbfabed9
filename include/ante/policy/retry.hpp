#pragma once
/// \file
/// Retry: backoff schedules, `Retry-After`, and a retry budget that keeps a failing upstream
/// from a retry storm.

#include <ante/core/clock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <utility>

namespace ante {

/// How long to wait before each retry. Defaults follow Envoy: fully jittered exponential from
/// 25 ms, capped at ten times the base.
struct Backoff {
    enum class Kind {
        constant,             ///< always `base`
        exponential,          ///< base × multiplier^(n-1), capped
        full_jitter,          ///< uniform in [0, exponential(n)]
        decorrelated_jitter,  ///< uniform in [base, previous × 3], capped (AWS's "decorrelated")
    };
    Kind kind = Kind::full_jitter;
    std::chrono::milliseconds base{25};
    std::chrono::milliseconds max{250};
    double multiplier = 2.0;

    /// The wait before retry number `retry` (1 for the first retry). `previous` is the last wait
    /// (decorrelated jitter builds on it).
    [[nodiscard]] std::chrono::milliseconds delay(int retry, std::chrono::milliseconds previous,
                                                  std::mt19937_64& random) const;
};

/// The delay a `Retry-After` value asks for: delta-seconds, or an IMF-fixdate (RFC 9110 §10.2.3)
/// relative to `now`. Nothing when it cannot be parsed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, SystemTime now);

/// Caps retries in flight (waiting in backoff included) at a share of the requests in flight,
/// with a floor so a quiet service can still retry. Envoy's default: 20%, at least 3.
/// Lock-free and thread-safe.
class RetryBudget {
public:
    explicit RetryBudget(double ratio = 0.2, std::size_t min_concurrent = 3) noexcept
        : ratio_(ratio), min_(min_concurrent) {}

    /// Counts one request in flight for the lifetime of the guard.
    class Active {
    public:
        explicit Active(RetryBudget& b) noexcept : budget_(&b) { b.active_.fetch_add(1, std::memory_order_relaxed); }
        Active(Active&& o) noexcept : budget_(std::exchange(o.budget_, nullptr)) {}
        Active& operator=(Active&&) = delete;
        ~Active() {
            if (budget_) budget_->active_.fetch_sub(1, std::memory_order_relaxed);
        }

    private:
        RetryBudget* budget_;
    };

    /// One retry in flight, from the start of its backoff to the end of its attempt.
    class Retry {
    public:
        Retry(Retry&& o) noexcept : budget_(std::exchange(o.budget_, nullptr)) {}
        Retry& operator=(Retry&&) = delete;
        ~Retry() {
            if (budget_) budget_->retrying_.fetch_sub(1, std::memory_order_acq_rel);
        }

    private:
        friend class RetryBudget;
        explicit Retry(RetryBudget* b) noexcept : budget_(b) {}
        RetryBudget* budget_;
    };

    /// A retry permit, or nothing when the budget is spent (the refusal is counted).
    [[nodiscard]] std::optional<Retry> try_retry() noexcept;

    /// Retries allowed at once right now.
    [[nodiscard]] std::size_t limit() const noexcept;
    [[nodiscard]] std::size_t retrying() const noexcept { return retrying_.load(std::memory_order_acquire); }
    [[nodiscard]] std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

private:
    const double ratio_;
    const std::size_t min_;
    std::atomic<std::size_t> active_{0};
    std::atomic<std::size_t> retrying_{0};
    std::atomic<std::uint64_t> refused_{0};
};

}  // namespace ante
