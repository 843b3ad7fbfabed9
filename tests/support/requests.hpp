#pragma once
// Small builders the unit tests share: requests, quick retry options, a peak counter.

#include <ante/core/request.hpp>
#include <ante/policy/layers.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace ante::test {

inline Request get(std::string target) {
    Request r;
    r.target = std::move(target);
    return r;
}

inline Request post(std::string target, std::string body = "{}") {
    Request r;
    r.method = "POST";
    r.target = std::move(target);
    r.body = std::move(body);
    return r;
}

/// Retries that wait `backoff` exactly (no jitter, no Retry-After), so tests stay fast and exact.
inline std::shared_ptr<const RetryOptions> quick_retries(int attempts,
                                                         std::chrono::milliseconds backoff = std::chrono::milliseconds(1)) {
    auto o = std::make_shared<RetryOptions>();
    o->max_attempts = attempts;
    o->backoff = Backoff{.kind = Backoff::Kind::constant, .base = backoff, .max = backoff};
    o->honour_retry_after = false;
    return o;
}

/// Raises `peak` to `now` if `now` is higher, atomically (for "never above the limit" checks).
template <class T>
void raise_peak(std::atomic<T>& peak, T now) {
    for (T p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
}

}  // namespace ante::test
