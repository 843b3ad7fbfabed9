#pragma once
/// \file
/// The clock seam: time-dependent logic reads time through a `Clock` so tests can set it.

#include <chrono>
#include <memory>

namespace ante {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

/// A source of time. The default reads the real clocks; tests inject a `ManualClock`.
class Clock {
public:
    virtual ~Clock() = default;
    [[nodiscard]] virtual SteadyTime steady_now() const noexcept { return std::chrono::steady_clock::now(); }
    [[nodiscard]] virtual SystemTime system_now() const noexcept { return std::chrono::system_clock::now(); }
    /// The process-wide real clock.
    static std::shared_ptr<const Clock> real();
};

}  // namespace ante
