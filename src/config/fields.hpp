#pragma once
// Reading one JSON object of the configuration: known fields, typed values, and errors that
// name the field's JSON path. Internal to the config parser.

#include <ante/config/config.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ante::config_detail {

using json = nlohmann::json;

// Upper bounds that keep values sane: thread counts a machine can hold, and durations that
// cannot overflow a steady_clock deadline (10 years).
constexpr std::uint64_t max_threads = 1024;
constexpr std::uint64_t max_count = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t max_seconds = 10ULL * 365 * 24 * 3600;
constexpr std::uint64_t max_millis = max_seconds * 1000;

[[noreturn]] inline void fail(std::string field, const std::string& reason) { throw ConfigError(std::move(field), reason); }

// The offending value as JSON, cut short so a huge object does not flood the message.
inline std::string describe(const json& value) {
    std::string text = value.dump();
    if (text.size() > 60) text.replace(57, std::string::npos, "...");  // in place: no -Warray-bounds at -O3
    return text;
}

inline std::string json_quote(std::string_view s) { return describe(json(s)); }

// A key as it may appear in a message: control characters (a NUL would cut the message short)
// are escaped as \u00XX.
inline std::string printable_key(std::string_view key) {
    std::string out;
    for (unsigned char c : key) {
        if (c >= 0x20 && c != 0x7f) {
            out.push_back(static_cast<char>(c));
            continue;
        }
        char escaped[8];
        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
        out += escaped;
    }
    return out;
}

inline std::string member_path(std::string_view parent, std::string_view key) {
    return parent.empty() ? printable_key(key) : std::string(parent) + "." + printable_key(key);
}

inline std::string index_path(std::string_view parent, std::size_t i) {
    return std::string(parent) + "[" + std::to_string(i) + "]";
}

inline std::string join(const std::vector<std::string>& items, std::string_view separator = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// One JSON object with its known field names. Unknown fields are rejected up front, so a
// misspelt field is reported as such rather than as a missing required one.
class Fields {
public:
    Fields(const json& object, std::string path, std::vector<std::string> known, std::string_view context = {})
        : object_(object), path_(std::move(path)), known_(std::move(known)) {
        if (!object_.is_object())
            fail(path_.empty() ? "(document)" : path_, "expected an object, got " + describe(object_));
        for (const auto& [key, value] : object_.items()) {
            if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
            fail(member_path(path_, key),
                 "unknown field" + std::string(context) + "; known fields: " + join(known_));
        }
    }

    [[nodiscard]] std::string path(std::string_view key) const { return member_path(path_, key); }

    // The value of `key`, or nullptr when it is absent.
    [[nodiscard]] const json* find(std::string_view key) const {
        auto it = object_.find(std::string(key));
        return it == object_.end() ? nullptr : &*it;
    }

    [[nodiscard]] const json& required(std::string_view key) const {
        const json* value = find(key);
        if (!value) fail(path(key), "required field missing");
        return *value;
    }

    // An integer in lo..hi. Bounded ranges (ports, statuses) are named in full in the message;
    // open-ended ones say only the bound that was crossed.
    std::uint64_t integer(std::string_view key, const json& value, std::uint64_t lo, std::uint64_t hi,
                          bool show_range = false) const {
        const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
        if (!value.is_number_integer())
            fail(path(key), (show_range ? "expected an integer " + range : std::string("expected an integer")) +
                                ", got " + describe(value));
        const bool negative = !value.is_number_unsigned();
        const std::uint64_t n = negative ? 0 : value.get<std::uint64_t>();
        if (negative || n < lo)
            fail(path(key), (show_range ? "expected an integer " + range : "must be at least " + std::to_string(lo)) +
                                ", got " + describe(value));
        if (n > hi)
            fail(path(key), (show_range ? "expected an integer " + range : "must be at most " + std::to_string(hi)) +
                                ", got " + describe(value));
        return n;
    }

    template <class T>
    void count(std::string_view key, T& out, std::uint64_t lo, std::uint64_t hi = max_count) const {
        if (const json* v = find(key)) out = static_cast<T>(integer(key, *v, lo, hi));
    }

    void millis(std::string_view key, std::chrono::milliseconds& out, std::uint64_t lo) const {
        if (const json* v = find(key))
            out = std::chrono::milliseconds(static_cast<std::int64_t>(integer(key, *v, lo, max_millis)));
    }

    void seconds(std::string_view key, std::chrono::seconds& out, std::uint64_t lo) const {
        if (const json* v = find(key))
            out = std::chrono::seconds(static_cast<std::int64_t>(integer(key, *v, lo, max_seconds)));
    }

    void boolean(std::string_view key, bool& out) const {
        const json* v = find(key);
        if (!v) return;
        if (!v->is_boolean()) fail(path(key), "expected true or false, got " + describe(*v));
        out = v->get<bool>();
    }

    [[nodiscard]] std::string string_value(std::string_view key, const json& value, bool allow_empty) const {
        if (!value.is_string()) fail(path(key), "expected a string, got " + describe(value));
        std::string s = value.get<std::string>();
        if (!allow_empty && s.empty()) fail(path(key), "must not be empty");
        return s;
    }

    void string(std::string_view key, std::string& out, bool allow_empty = false) const {
        if (const json* v = find(key)) out = string_value(key, *v, allow_empty);
    }

    [[nodiscard]] std::string required_string(std::string_view key) const {
        return string_value(key, required(key), false);
    }

    // A number (integer or not) in lo..hi.
    void number(std::string_view key, double& out, double lo, double hi) const {
        const json* v = find(key);
        if (!v) return;
        if (!v->is_number()) fail(path(key), "expected a number, got " + describe(*v));
        const double d = v->get<double>();
        if (!(d >= lo && d <= hi))
            fail(path(key), "expected a number " + describe(json(lo)) + ".." + describe(json(hi)) + ", got " + describe(*v));
        out = d;
    }

    // A non-empty array of integers, each in lo..hi.
    void integers(std::string_view key, std::vector<int>& out, std::uint64_t lo, std::uint64_t hi) const {
        const json* v = find(key);
        if (!v) return;
        if (!v->is_array() || v->empty()) fail(path(key), "expected a non-empty array of integers, got " + describe(*v));
        out.clear();
        for (std::size_t i = 0; i < v->size(); ++i) {
            const std::string item = index_path(key, i);
            out.push_back(static_cast<int>(integer(item, (*v)[i], lo, hi, true)));
        }
    }

private:
    const json& object_;
    std::string path_;
    std::vector<std::string> known_;
};

}  // namespace ante::config_detail
