#include <ante/policy/retry.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace ante {

using std::chrono::milliseconds;

milliseconds Backoff::delay(int retry, milliseconds previous, std::mt19937_64& random) const {
    const double base_ms = static_cast<double>(base.count());
    const double cap_ms = static_cast<double>(max.count());
    auto uniform = [&](double lo, double hi) {
        return hi <= lo ? lo : std::uniform_real_distribution<double>{lo, hi}(random);
    };
    double ms = base_ms;
    switch (kind) {
        case Kind::constant: break;
        case Kind::exponential:
            ms = std::min(cap_ms, base_ms * std::pow(multiplier, std::max(0, retry - 1)));
            break;
        case Kind::full_jitter:
            ms = uniform(0.0, std::min(cap_ms, base_ms * std::pow(multiplier, std::max(0, retry - 1))));
            break;
        case Kind::decorrelated_jitter:
            ms = std::min(cap_ms, uniform(base_ms, std::max(base_ms, static_cast<double>(previous.count()) * 3.0)));
            break;
    }
    return milliseconds{static_cast<milliseconds::rep>(std::llround(ms))};
}

std::optional<milliseconds> parse_retry_after(std::string_view value, SystemTime now) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    std::int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec == std::errc{} && end == value.data() + value.size()) {
        // Clamped so that no arithmetic on the wait can overflow; callers cap it further.
        constexpr std::int64_t ten_years = std::int64_t{10} * 366 * 24 * 3600;
        return seconds < 0 ? std::nullopt : std::optional{milliseconds{std::min(seconds, ten_years) * 1000}};
    }
    if (ec == std::errc::result_out_of_range && value.find_first_not_of("0123456789") == std::string_view::npos)
        return milliseconds{std::int64_t{10} * 366 * 24 * 3600 * 1000};
    std::tm tm{};
    const std::string text{value};
    const char* rest = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!rest || *rest != '\0') return std::nullopt;
    const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
    return at <= now ? milliseconds{0} : std::chrono::duration_cast<milliseconds>(at - now);
}

std::size_t RetryBudget::limit() const noexcept {
    const auto share = static_cast<std::size_t>(ratio_ * static_cast<double>(active_.load(std::memory_order_relaxed)));
    return std::max(min_, share);
}

std::optional<RetryBudget::Retry> RetryBudget::try_retry() noexcept {
    std::size_t now = retrying_.load(std::memory_order_relaxed);
    do {
        if (now >= limit()) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            return std::nullopt;
        }
    } while (!retrying_.compare_exchange_weak(now, now + 1, std::memory_order_acq_rel));
    return Retry{this};
}

}  // namespace ante
