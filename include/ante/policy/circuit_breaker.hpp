#pragma once
/// \file
/// A circuit breaker in the manner of Resilience4j: closed, open, half-open, plus forced-open
/// and disabled; count- or time-based sliding windows; failure-rate and slow-call-rate trips.

#include <ante/core/clock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ante {

struct CircuitBreakerOptions {
    enum class Window { count, time };
    Window window = Window::count;
    /// Calls (count window) or seconds (time window) the rates are computed over.
    std::size_t window_size = 100;
    /// No trip before this many calls are in the window.
    std::size_t minimum_calls = 100;
    double failure_rate_threshold = 0.5;    ///< trips at or above this share of failures
    double slow_call_rate_threshold = 1.0;  ///< trips at or above this share of slow calls
    std::chrono::milliseconds slow_call_duration{60'000};
    std::chrono::milliseconds wait_in_open{60'000};
    /// Each consecutive opening waits this many times longer than the last, up to `max_wait_in_open`.
    double wait_multiplier = 1.0;
    std::chrono::milliseconds max_wait_in_open{600'000};
    /// Probes let through in half-open; all of them decide whether it closes or reopens.
    std::size_t half_open_probes = 10;
    /// A probe that has not reported after this long counts as failed, so it cannot wedge the breaker.
    std::chrono::milliseconds probe_timeout{60'000};
};

/// Guards calls to one dependency. Thread-safe; shareable by several routes (one per upstream).
/// Rejections are values: `try_acquire` answers with a permit or with the time left open.
class CircuitBreaker {
public:
    enum class State { closed, open, half_open, forced_open, disabled };
    /// How a call ended, as the caller's failure predicate judged it. `ignored` (a client error,
    /// the caller's own cancellation) is neither success nor failure.
    enum class Outcome { success, failure, ignored };

    /// Permission for one call. Results of calls admitted before the last state change carry an
    /// older generation and are ignored, so they cannot decide the new state.
    struct Permit {
        std::uint64_t generation = 0;
        SteadyTime started{};
        std::uint64_t probe = 0;  ///< non-zero for a half-open probe
    };
    struct Decision {
        std::optional<Permit> permit;
        std::chrono::milliseconds retry_after{0};  ///< when refused: time until a call may pass
        explicit operator bool() const noexcept { return permit.has_value(); }
    };
    using Listener = std::function<void(const std::string& name, State from, State to)>;

    CircuitBreaker(std::string name, CircuitBreakerOptions options = {},
                   std::shared_ptr<const Clock> clock = Clock::real());

    [[nodiscard]] Decision try_acquire();
    /// `try_acquire` at a time the caller has read already (a pipeline reads it once per attempt).
    [[nodiscard]] Decision try_acquire(SteadyTime now);
    /// Reports a call's end; its duration (from `permit.started`) decides whether it was slow.
    void record(const Permit& permit, Outcome outcome);
    void record(const Permit& permit, Outcome outcome, SteadyTime now);

    void force_open();
    /// Back to closed with an empty window (also leaves forced-open and disabled).
    void reset();
    void disable();

    [[nodiscard]] State state() const;
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// Called after every state change, outside the breaker's lock.
    void on_transition(Listener listener);

    struct Stats {
        std::size_t calls = 0;      ///< in the window
        std::size_t failures = 0;
        std::size_t slow = 0;
        std::uint64_t rejected = 0;
        std::uint64_t transitions = 0;
    };
    [[nodiscard]] Stats stats() const;

private:
    struct Bucket {
        std::int64_t epoch = -1;  // second (time window) or unused (count window)
        std::uint32_t calls = 0, failures = 0, slow = 0;
    };
    struct Transition {
        State from, to;
    };

    void add_to_window(SteadyTime now, bool failure, bool slow);
    Bucket window_totals(SteadyTime now) const;
    void clear_window();
    void move_to(State to, SteadyTime now, std::vector<Transition>& out);
    void expire_stale_probes(SteadyTime now, std::vector<Transition>& out);
    void count_probe(bool failure, bool slow, SteadyTime now, std::vector<Transition>& out);
    void notify(const std::vector<Transition>& transitions);

    const std::string name_;
    const CircuitBreakerOptions options_;
    const std::shared_ptr<const Clock> clock_;
    mutable std::mutex mutex_;
    State state_ = State::closed;
    std::uint64_t generation_ = 1;
    // generation_ while calls pass freely (closed, disabled), else 0: admission without the lock.
    std::atomic<std::uint64_t> passing_generation_{1};
    // Closed-state window: a ring of per-call buckets (count) or per-second buckets (time).
    std::vector<Bucket> ring_;
    std::size_t next_ = 0;
    Bucket totals_;  // running totals of the count ring
    // Open state.
    SteadyTime open_until_{};
    std::uint32_t consecutive_openings_ = 0;
    // Half-open state.
    std::uint64_t next_probe_ = 1;
    std::vector<std::pair<std::uint64_t, SteadyTime>> outstanding_;  // probe id, start
    std::size_t probes_issued_ = 0, probes_done_ = 0, probe_failures_ = 0, probe_slow_ = 0;
    std::uint64_t rejected_ = 0, transitions_ = 0;
    std::vector<Listener> listeners_;
};

std::string_view to_string(CircuitBreaker::State state) noexcept;

}  // namespace ante
