#pragma once
// A clock that moves only when the test says so: TTLs and deadlines become exact.

#include <ante/core/clock.hpp>

#include <atomic>

namespace ante::test {

class ManualClock final : public Clock {
public:
    SteadyTime steady_now() const noexcept override { return SteadyTime{offset()}; }
    SystemTime system_now() const noexcept override {
        return SystemTime{std::chrono::duration_cast<SystemTime::duration>(offset())};
    }
    void advance(std::chrono::nanoseconds by) noexcept { nanos_.fetch_add(by.count()); }

private:
    std::chrono::nanoseconds offset() const noexcept {
        return std::chrono::nanoseconds{nanos_.load()} + std::chrono::hours(24 * 365 * 50);
    }
    std::atomic<std::int64_t> nanos_{0};
};

}  // namespace ante::test
