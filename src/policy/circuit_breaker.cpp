#include <ante/policy/circuit_breaker.hpp>

#include <algorithm>
#include <cmath>

namespace ante {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

milliseconds until(SteadyTime later, SteadyTime now) {
    return later <= now ? milliseconds{0} : std::chrono::ceil<milliseconds>(later - now);
}

}  // namespace

std::string_view to_string(CircuitBreaker::State state) noexcept {
    switch (state) {
        case CircuitBreaker::State::closed: return "closed";
        case CircuitBreaker::State::open: return "open";
        case CircuitBreaker::State::half_open: return "half_open";
        case CircuitBreaker::State::forced_open: return "forced_open";
        case CircuitBreaker::State::disabled: return "disabled";
    }
    return "unknown";
}

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerOptions options, std::shared_ptr<const Clock> clock)
    : name_(std::move(name)), options_(options), clock_(std::move(clock)),
      ring_(std::max<std::size_t>(options.window_size, 1)) {}

void CircuitBreaker::clear_window() {
    std::fill(ring_.begin(), ring_.end(), Bucket{});
    totals_ = {};
    next_ = 0;
}

void CircuitBreaker::add_to_window(SteadyTime now, bool failure, bool slow) {
    if (options_.window == CircuitBreakerOptions::Window::count) {
        Bucket& b = ring_[next_];
        totals_.calls -= b.calls;
        totals_.failures -= b.failures;
        totals_.slow -= b.slow;
        b = Bucket{0, 1, failure ? 1u : 0u, slow ? 1u : 0u};
        totals_.calls += 1;
        totals_.failures += b.failures;
        totals_.slow += b.slow;
        if (++next_ == ring_.size()) next_ = 0;  // no division on the hot path
        return;
    }
    const auto second = duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    Bucket& b = ring_[static_cast<std::size_t>(second) % ring_.size()];
    if (b.epoch != second) b = Bucket{second, 0, 0, 0};  // a bucket from an older lap is stale
    b.calls += 1;
    b.failures += failure ? 1u : 0u;
    b.slow += slow ? 1u : 0u;
}

CircuitBreaker::Bucket CircuitBreaker::window_totals(SteadyTime now) const {
    if (options_.window == CircuitBreakerOptions::Window::count) return totals_;
    const auto second = duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    Bucket sum;
    for (const Bucket& b : ring_) {
        if (b.epoch < 0 || second - b.epoch >= static_cast<std::int64_t>(ring_.size())) continue;
        sum.calls += b.calls;
        sum.failures += b.failures;
        sum.slow += b.slow;
    }
    return sum;
}

void CircuitBreaker::move_to(State to, SteadyTime now, std::vector<Transition>& out) {
    if (to == state_) return;
    out.push_back({state_, to});
    state_ = to;
    ++generation_;
    ++transitions_;
    passing_generation_.store(to == State::closed || to == State::disabled ? generation_ : 0,
                              std::memory_order_release);
    outstanding_.clear();
    probes_issued_ = probes_done_ = probe_failures_ = probe_slow_ = 0;
    if (to == State::open) {
        double factor = std::pow(options_.wait_multiplier, static_cast<double>(consecutive_openings_));
        auto wait = milliseconds{static_cast<milliseconds::rep>(
            std::min(static_cast<double>(options_.wait_in_open.count()) * factor,
                     static_cast<double>(options_.max_wait_in_open.count())))};
        open_until_ = now + wait;
        ++consecutive_openings_;
    }
    if (to == State::closed) {
        consecutive_openings_ = 0;
        clear_window();
    }
}

void CircuitBreaker::count_probe(bool failure, bool slow, SteadyTime now, std::vector<Transition>& out) {
    ++probes_done_;
    probe_failures_ += failure ? 1 : 0;
    probe_slow_ += slow ? 1 : 0;
    if (probes_done_ < options_.half_open_probes) return;
    const double n = static_cast<double>(probes_done_);
    const bool bad = static_cast<double>(probe_failures_) / n >= options_.failure_rate_threshold ||
                     static_cast<double>(probe_slow_) / n >= options_.slow_call_rate_threshold;
    move_to(bad ? State::open : State::closed, now, out);
}

void CircuitBreaker::expire_stale_probes(SteadyTime now, std::vector<Transition>& out) {
    while (state_ == State::half_open) {
        auto stale = std::find_if(outstanding_.begin(), outstanding_.end(),
                                  [&](const auto& p) { return now - p.second >= options_.probe_timeout; });
        if (stale == outstanding_.end()) return;
        outstanding_.erase(stale);
        count_probe(/*failure=*/true, /*slow=*/true, now, out);
    }
}

CircuitBreaker::Decision CircuitBreaker::try_acquire() { return try_acquire(clock_->steady_now()); }

CircuitBreaker::Decision CircuitBreaker::try_acquire(SteadyTime now) {
    // Closed or disabled: a permit of the current generation, with no lock. A transition racing
    // with this bumps the generation, so the permit's result is ignored, as if admitted before it.
    if (const std::uint64_t generation = passing_generation_.load(std::memory_order_acquire); generation != 0) {
        Decision passing;
        passing.permit = Permit{generation, now, 0};
        return passing;
    }
    std::vector<Transition> changes;
    Decision decision;
    {
        std::lock_guard lock(mutex_);
        if (state_ == State::open && now >= open_until_) move_to(State::half_open, now, changes);
        expire_stale_probes(now, changes);
        switch (state_) {
            case State::closed:
            case State::disabled: decision.permit = Permit{generation_, now, 0}; break;
            case State::open: decision.retry_after = until(open_until_, now); break;
            case State::forced_open: decision.retry_after = options_.wait_in_open; break;
            case State::half_open:
                if (probes_issued_ < options_.half_open_probes) {
                    ++probes_issued_;
                    const std::uint64_t id = next_probe_++;
                    outstanding_.emplace_back(id, now);
                    decision.permit = Permit{generation_, now, id};
                } else {
                    // Every probe is out: the earliest a verdict can come is when the oldest times out.
                    auto oldest = std::min_element(outstanding_.begin(), outstanding_.end(),
                                                   [](const auto& a, const auto& b) { return a.second < b.second; });
                    decision.retry_after =
                        oldest == outstanding_.end() ? milliseconds{1} : until(oldest->second + options_.probe_timeout, now);
                }
                break;
        }
        if (!decision.permit) ++rejected_;
    }
    notify(changes);
    return decision;
}

void CircuitBreaker::record(const Permit& permit, Outcome outcome) { record(permit, outcome, clock_->steady_now()); }

void CircuitBreaker::record(const Permit& permit, Outcome outcome, SteadyTime now) {
    std::vector<Transition> changes;
    {
        std::lock_guard lock(mutex_);
        if (permit.generation != generation_) return;  // admitted under an earlier state
        const bool slow = now - permit.started >= options_.slow_call_duration;
        const bool failure = outcome == Outcome::failure;
        if (state_ == State::half_open && permit.probe != 0) {
            auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                                   [&](const auto& p) { return p.first == permit.probe; });
            if (it == outstanding_.end()) return;  // already counted as timed out
            outstanding_.erase(it);
            if (outcome == Outcome::ignored) {
                --probes_issued_;  // it told us nothing: let another probe go in its place
            } else {
                count_probe(failure, slow, now, changes);
            }
        } else if (state_ == State::closed && outcome != Outcome::ignored) {
            add_to_window(now, failure, slow);
            const Bucket t = window_totals(now);
            if (t.calls >= options_.minimum_calls && t.calls > 0) {
                // rate >= threshold, as products: no division per call
                const double n = static_cast<double>(t.calls);
                if (static_cast<double>(t.failures) >= options_.failure_rate_threshold * n ||
                    static_cast<double>(t.slow) >= options_.slow_call_rate_threshold * n)
                    move_to(State::open, now, changes);
            }
        }
    }
    notify(changes);
}

void CircuitBreaker::force_open() {
    std::vector<Transition> changes;
    {
        std::lock_guard lock(mutex_);
        move_to(State::forced_open, clock_->steady_now(), changes);
    }
    notify(changes);
}

void CircuitBreaker::reset() {
    std::vector<Transition> changes;
    {
        std::lock_guard lock(mutex_);
        move_to(State::closed, clock_->steady_now(), changes);
        clear_window();
        consecutive_openings_ = 0;
    }
    notify(changes);
}

void CircuitBreaker::disable() {
    std::vector<Transition> changes;
    {
        std::lock_guard lock(mutex_);
        move_to(State::disabled, clock_->steady_now(), changes);
    }
    notify(changes);
}

CircuitBreaker::State CircuitBreaker::state() const {
    std::lock_guard lock(mutex_);
    if (state_ == State::open && clock_->steady_now() >= open_until_) return State::half_open;
    return state_;
}

void CircuitBreaker::on_transition(Listener listener) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(listener));
}

void CircuitBreaker::notify(const std::vector<Transition>& transitions) {
    if (transitions.empty()) return;
    std::vector<Listener> listeners;
    {
        std::lock_guard lock(mutex_);
        listeners = listeners_;
    }
    for (const auto& t : transitions)
        for (const auto& l : listeners) l(name_, t.from, t.to);
}

CircuitBreaker::Stats CircuitBreaker::stats() const {
    std::lock_guard lock(mutex_);
    const Bucket t = window_totals(clock_->steady_now());
    return Stats{t.calls, t.failures, t.slow, rejected_, transitions_};
}

}  // namespace ante
