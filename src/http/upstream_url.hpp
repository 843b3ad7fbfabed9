#pragma once
// Parsing of "http://host:port[/base]" upstream addresses.

#include <string>
#include <string_view>

namespace ante::http::detail {

struct UpstreamUrl {
    std::string host;
    std::string port;       // "80" when absent
    std::string base_path;  // "" or "/base" without a trailing slash
    std::string authority;  // host[:port] as the Host header carries it
};

/// Throws std::invalid_argument naming the fault.
UpstreamUrl parse_upstream_url(std::string_view url);

}  // namespace ante::http::detail
