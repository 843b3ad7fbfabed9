#include <ante/router.hpp>

#include <algorithm>
#include <stdexcept>

namespace ante {

namespace {

// Splits "/a/b/c" into {"a","b","c"}; a trailing slash yields a final empty segment.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    if (path.empty() || path.front() != '/') return parts;
    path.remove_prefix(1);
    for (;;) {
        auto slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return parts;
}

bool method_matches(std::string_view route_method, std::string_view method) {
    // HEAD is GET without the body (RFC 9110 §9.3.2): a GET route serves it too.
    return route_method == "*" || route_method == method || (method == "HEAD" && route_method == "GET");
}

// "." or "..", also percent-encoded ("%2e", "%2E.", …).
bool is_dot_segment(std::string_view segment) {
    std::size_t dots = 0;
    while (!segment.empty()) {
        if (segment.front() == '.') {
            segment.remove_prefix(1);
        } else if (segment.size() >= 3 && segment[0] == '%' && segment[1] == '2' && (segment[2] == 'e' || segment[2] == 'E')) {
            segment.remove_prefix(3);
        } else {
            return false;
        }
        ++dots;
    }
    return dots == 1 || dots == 2;
}

}  // namespace

bool has_dot_segment(std::string_view path) {
    // Some servers take a backslash for '/' and drop ";params" from a segment ("..;/" reaches the parent
    // on Tomcat), so both count as ways of writing a dot segment.
    for (std::string_view backslash : {"\\", "%5c", "%5C"})
        if (path.find(backslash) != std::string_view::npos) return true;
    const auto parts = split_path(path);
    return std::any_of(parts.begin(), parts.end(), [](std::string_view part) {
        for (std::string_view semicolon : {";", "%3b", "%3B"})
            part = part.substr(0, part.find(semicolon));
        return is_dot_segment(part);
    });
}

PathPattern::PathPattern(std::string_view pattern) : text_(pattern) {
    if (pattern.empty() || pattern.front() != '/')
        throw std::invalid_argument("path pattern '" + text_ + "' must start with '/'");
    if (std::any_of(pattern.begin(), pattern.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; }))
        throw std::invalid_argument("path pattern '" + text_ + "' must not contain spaces or control characters");
    auto parts = split_path(pattern);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::string_view part = parts[i];
        Segment seg;
        if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
            std::string_view name = part.substr(1, part.size() - 2);
            if (name.size() > 3 && name.substr(name.size() - 3) == "...") {
                if (i + 1 != parts.size())
                    throw std::invalid_argument("path pattern '" + text_ + "': '{" + std::string(name) +
                                                "}' must be the last segment");
                name.remove_suffix(3);
                seg.is_rest = true;
            }
            if (name.empty() || name.find_first_of("{}/") != std::string_view::npos)
                throw std::invalid_argument("path pattern '" + text_ + "': bad parameter name '" +
                                            std::string(name) + "'");
            if (std::any_of(segments_.begin(), segments_.end(), [&](const Segment& s) { return s.is_param && s.text == name; }))
                throw std::invalid_argument("path pattern '" + text_ + "': parameter '" + std::string(name) +
                                            "' appears twice");
            seg.is_param = true;
            seg.text = name;
        } else {
            if (part.find_first_of("{}") != std::string_view::npos)
                throw std::invalid_argument("path pattern '" + text_ + "': a parameter must fill a whole segment");
            seg.text = part;
        }
        segments_.push_back(std::move(seg));
    }
}

bool PathPattern::match(std::string_view path, PathParams& params) const {
    auto parts = split_path(path);
    if (parts.empty()) return false;
    PathParams found;
    for (std::size_t i = 0; i < segments_.size(); ++i) {
        const Segment& seg = segments_[i];
        if (seg.is_rest) {
            if (i >= parts.size()) return false;
            // The rest of the path, slashes included, from this segment on.
            std::string_view rest{parts[i].data(), static_cast<std::size_t>(path.data() + path.size() - parts[i].data())};
            found.emplace(seg.text, rest);
            params = std::move(found);
            return true;
        }
        if (i >= parts.size()) return false;
        if (seg.is_param) {
            if (parts[i].empty()) return false;
            found.emplace(seg.text, parts[i]);
        } else if (parts[i] != seg.text) {
            return false;
        }
    }
    if (parts.size() != segments_.size()) return false;
    params = std::move(found);
    return true;
}

std::size_t Router::add(std::string method, std::string_view pattern) {
    entries_.push_back(Entry{std::move(method), PathPattern{pattern}});
    return entries_.size() - 1;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
    RouteMatch result;
    std::vector<std::string_view> allowed;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        PathParams params;
        if (!entries_[i].pattern.match(path, params)) continue;
        if (method_matches(entries_[i].method, method)) {
            result.kind = RouteMatch::Kind::found;
            result.index = i;
            result.params = std::move(params);
            return result;
        }
        result.kind = RouteMatch::Kind::method_not_allowed;
        if (std::find(allowed.begin(), allowed.end(), entries_[i].method) == allowed.end())
            allowed.push_back(entries_[i].method);
    }
    for (std::string_view m : allowed) {
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += m;
    }
    return result;
}

}  // namespace ante
