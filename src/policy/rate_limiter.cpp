#include <ante/policy/rate_limiter.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace ante {

RateLimiter::RateLimiter(RateLimiterOptions options, std::shared_ptr<const Clock> clock)
    : options_(options), clock_(std::move(clock)), shared_{options_.burst, clock_->steady_now()} {}

void RateLimiter::refill(Bucket& bucket, SteadyTime now) const {
    const std::chrono::duration<double> elapsed = now - bucket.updated;
    if (elapsed.count() > 0) {
        bucket.tokens = std::min(options_.burst, bucket.tokens + elapsed.count() * options_.rate_per_second);
        bucket.updated = now;
    }
}

void RateLimiter::make_room(SteadyTime now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        refill(it->second, now);
        it = it->second.tokens >= options_.burst ? buckets_.erase(it) : std::next(it);
    }
    if (buckets_.size() < options_.max_keys || buckets_.empty()) return;
    auto fullest = std::max_element(buckets_.begin(), buckets_.end(),
                                    [](const auto& a, const auto& b) { return a.second.tokens < b.second.tokens; });
    buckets_.erase(fullest);
}

RateLimiter::Decision RateLimiter::try_acquire(std::string_view key) { return try_acquire(key, clock_->steady_now()); }

RateLimiter::Decision RateLimiter::try_acquire(std::string_view key, SteadyTime now) {
    std::lock_guard lock(mutex_);
    Bucket* found = &shared_;
    if (!key.empty()) {
        auto it = buckets_.find(key);
        if (it == buckets_.end()) {
            if (buckets_.size() >= options_.max_keys) make_room(now);
            it = buckets_.emplace(std::string(key), Bucket{options_.burst, now}).first;
        }
        found = &it->second;
    }
    Bucket& bucket = *found;
    refill(bucket, now);
    if (bucket.tokens >= 1.0) {
        bucket.tokens -= 1.0;
        return {true, {}};
    }
    ++rejected_;
    const double seconds = (1.0 - bucket.tokens) / options_.rate_per_second;
    return {false, std::chrono::milliseconds{static_cast<std::int64_t>(std::ceil(seconds * 1000.0))}};
}

std::size_t RateLimiter::keys() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

std::uint64_t RateLimiter::rejected() const {
    std::lock_guard lock(mutex_);
    return rejected_;
}

}  // namespace ante
