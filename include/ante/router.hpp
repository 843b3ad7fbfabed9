#pragma once
/// \file
/// Path patterns with named parameters, and the route table that tells 404 from 405.

#include <ante/core/context.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ante {

/// A compiled path pattern such as `/orders/{id}` or `/files/{rest...}`. A `{name}` segment
/// matches one non-empty segment; a final `{name...}` matches the rest of the path.
class PathPattern {
public:
    /// Throws std::invalid_argument naming the fault when `pattern` is malformed.
    explicit PathPattern(std::string_view pattern);

    /// True when `path` matches; the named segments are written into `params`.
    bool match(std::string_view path, PathParams& params) const;
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

private:
    struct Segment {
        std::string text;  // literal text, or the parameter's name
        bool is_param = false;
        bool is_rest = false;
    };
    std::string text_;
    std::vector<Segment> segments_;
};

/// True when `path` has a "." or ".." segment, plain or percent-encoded, with ";params" after
/// it, or has a backslash (which some servers read as '/'). Such paths are refused
/// rather than forwarded: an upstream that resolves them could be reached outside a route's prefix.
bool has_dot_segment(std::string_view path);

/// The outcome of matching a request against the route table.
struct RouteMatch {
    enum class Kind { found, not_found, method_not_allowed } kind = Kind::not_found;
    std::size_t index = 0;   ///< the matched entry (found)
    PathParams params;       ///< its named parameters (found)
    std::string allow;       ///< methods the path accepts, for the Allow header (method_not_allowed)
};

/// An ordered table of (method, pattern) entries; the first entry that matches wins.
class Router {
public:
    /// Adds an entry and returns its index. `method` "*" accepts any method.
    std::size_t add(std::string method, std::string_view pattern);
    [[nodiscard]] RouteMatch match(std::string_view method, std::string_view path) const;

private:
    struct Entry {
        std::string method;
        PathPattern pattern;
    };
    std::vector<Entry> entries_;
};

}  // namespace ante
