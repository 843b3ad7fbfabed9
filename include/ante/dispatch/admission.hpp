#pragma once
/// \file
/// A counting admission limit: try to enter, refuse at once when full.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace ante {

/// Admits at most `limit` holders at once. Never waits: overload is refused, not queued.
class AdmissionLimit {
public:
    /// A held place; releasing it (destruction) lets the next caller in. Move-only.
    class Permit {
    public:
        Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
        Permit& operator=(Permit&&) = delete;
        ~Permit() {
            if (owner_) owner_->in_use_.fetch_sub(1, std::memory_order_acq_rel);
        }

    private:
        friend class AdmissionLimit;
        explicit Permit(AdmissionLimit* owner) noexcept : owner_(owner) {}
        AdmissionLimit* owner_;
    };

    explicit AdmissionLimit(std::size_t limit) noexcept : limit_(limit) {}

    /// A permit, or nothing when `limit` permits are out (the refusal is counted).
    std::optional<Permit> try_acquire() noexcept {
        std::size_t now = in_use_.load(std::memory_order_relaxed);
        do {
            if (now >= limit_) {
                rejected_.fetch_add(1, std::memory_order_relaxed);
                return std::nullopt;
            }
        } while (!in_use_.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel));
        return Permit{this};
    }

    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_.load(std::memory_order_acquire); }
    [[nodiscard]] std::size_t limit() const noexcept { return limit_; }
    [[nodiscard]] std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }

private:
    const std::size_t limit_;
    std::atomic<std::size_t> in_use_{0};
    std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace ante
