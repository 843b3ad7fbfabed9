#pragma once
/// \file
/// Correlation IDs and job IDs.

#include <string>
#include <string_view>

namespace ante {

/// True when a client-sent X-Request-Id may be reused: 1..128 visible ASCII characters (no
/// spaces or controls), so it is safe in headers and log lines.
bool is_valid_correlation_id(std::string_view id) noexcept;

/// A new random identifier: 32 lowercase hex digits (128 random bits from a per-thread
/// generator seeded by std::random_device), unguessable enough to serve as a job ID.
std::string generate_id();

}  // namespace ante
