#pragma once
// Parsers of the backend and role parts of the configuration (backend_config.cpp). Internal.

#include <ante/config/config.hpp>

#include <nlohmann/json.hpp>

namespace ante::config_detail {

/// The top-level `backend` object.
BackendConfig parse_backend(const nlohmann::json& value);
/// The top-level `role` string.
Role parse_role_field(const nlohmann::json& value);

}  // namespace ante::config_detail
