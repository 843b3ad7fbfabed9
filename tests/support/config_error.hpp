#pragma once
// The ConfigError message a configuration text produces, for tests of the config parser.

#include <ante/config/config.hpp>

#include <string>

namespace ante::test {

/// The message of the ConfigError `text` raises, or "" when it parses.
inline std::string config_error_of(const std::string& text) {
    try {
        parse_config(text);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace ante::test
