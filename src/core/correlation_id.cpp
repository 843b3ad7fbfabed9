#include <ante/core/clock.hpp>
#include <ante/core/correlation_id.hpp>

#include <array>
#include <random>

namespace ante {

bool is_valid_correlation_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (c <= ' ' || c > '~') return false;
    return true;
}

std::string generate_id() {
    thread_local std::mt19937_64 engine{[] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64{seq};
    }()};
    static constexpr char digits[] = "0123456789abcdef";
    std::string id(32, '0');
    for (int half = 0; half < 2; ++half) {
        std::uint64_t bits = engine();
        for (int i = 0; i < 16; ++i, bits >>= 4) id[static_cast<std::size_t>(half * 16 + i)] = digits[bits & 0xf];
    }
    return id;
}

std::shared_ptr<const Clock> Clock::real() {
    static const auto clock = std::make_shared<const Clock>();
    return clock;
}

}  // namespace ante
