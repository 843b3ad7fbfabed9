#pragma once
/// \file
/// A token-bucket rate limiter, optionally one bucket per key (client address, API key …).

#include <ante/core/clock.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ante {

struct RateLimiterOptions {
    double rate_per_second = 100.0;  ///< tokens added per second
    double burst = 100.0;            ///< bucket size: calls that may pass at once after a quiet spell
    /// Most keys tracked. Past it, buckets that have refilled completely are dropped first (they
    /// are indistinguishable from new ones); then the fullest one, so memory stays bounded.
    std::size_t max_keys = 10'000;
};

/// Admits calls at `rate_per_second` with bursts of up to `burst`. Thread-safe. A refusal says
/// how long until the next token (for `Retry-After`).
class RateLimiter {
public:
    struct Decision {
        bool allowed = false;
        std::chrono::milliseconds retry_after{0};
        explicit operator bool() const noexcept { return allowed; }
    };

    explicit RateLimiter(RateLimiterOptions options = {}, std::shared_ptr<const Clock> clock = Clock::real());

    /// Takes one token from the bucket of `key` ("" for the shared bucket, which `keys` does not count).
    [[nodiscard]] Decision try_acquire(std::string_view key = {});
    /// `try_acquire` at a time the caller has read already.
    [[nodiscard]] Decision try_acquire(std::string_view key, SteadyTime now);

    [[nodiscard]] std::size_t keys() const;
    [[nodiscard]] std::uint64_t rejected() const;

private:
    struct Bucket {
        double tokens;
        SteadyTime updated;
    };
    void refill(Bucket& bucket, SteadyTime now) const;
    void make_room(SteadyTime now);

    const RateLimiterOptions options_;
    const std::shared_ptr<const Clock> clock_;
    mutable std::mutex mutex_;
    // Found by string_view: a lookup allocates nothing, whatever the key's length.
    struct KeyHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
    };
    std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets_;
    Bucket shared_;  // the bucket of the empty key: an unkeyed limiter skips the map
    std::uint64_t rejected_ = 0;
};

}  // namespace ante
