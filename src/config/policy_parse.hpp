#pragma once
// Parsers of the policy parts of the configuration (policy_config.cpp). Internal.

#include <ante/config/config.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace ante::config_detail {

/// The top-level `breakers` object.
std::map<std::string, CircuitBreakerOptions, std::less<>> parse_breakers(const nlohmann::json& value);

/// A route's `policies` object at `path`; `breakers` are the names it may refer to.
PolicyConfig parse_policies(const nlohmann::json& value, const std::string& path, Dispatch dispatch,
                            const std::map<std::string, CircuitBreakerOptions, std::less<>>& breakers);

}  // namespace ante::config_detail
