#include "upstream_url.hpp"

#include <charconv>
#include <stdexcept>

namespace ante::http::detail {

UpstreamUrl parse_upstream_url(std::string_view url) {
    auto fail = [&](const char* why) {
        throw std::invalid_argument("expected \"http://host:port[/path]\" (" + std::string(why) + "), got \"" +
                                    std::string(url) + "\"");
    };
    constexpr std::string_view scheme = "http://";
    if (url.substr(0, scheme.size()) != scheme) fail("only http:// is supported");
    std::string_view rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (path.find_first_of("?#") != std::string_view::npos) fail("no query or fragment allowed");
    if (authority.find('@') != std::string_view::npos) fail("no user information allowed");

    UpstreamUrl out;
    std::string_view host = authority, port = "80";
    if (!authority.empty() && authority.front() == '[') {  // [v6]:port
        auto close = authority.find(']');
        if (close == std::string_view::npos) fail("unclosed IPv6 bracket");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') fail("junk after the IPv6 address");
            port = after.substr(1);
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) fail("no host");
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
        fail("port must be 1..65535");
    out.host = host;
    out.port = port;
    out.base_path = path;
    out.authority = authority;
    return out;
}

}  // namespace ante::http::detail
