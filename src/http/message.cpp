#include "message.hpp"

#include <array>

namespace ante::http::detail {

namespace {

constexpr std::array<std::string_view, 11> hop_by_hop_fields{
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "proxy-authenticate", "proxy-authorization",
    // Not hop-by-hop, but each side frames and addresses its own message.
    "content-length", "host"};

// True when the comma-separated token list `list` names `token` (case-insensitively).
bool lists_token(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (iequals(item, token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

template <class Fields>
std::string_view connection_of(const Fields& fields);

template <>
std::string_view connection_of(const Headers& fields) {
    return fields.get("Connection").value_or("");
}

template <>
std::string_view connection_of(const boost::beast::http::fields& fields) {
    auto it = fields.find(boost::beast::http::field::connection);
    return it == fields.end() ? std::string_view{} : std::string_view{it->value()};
}

}  // namespace

bool is_hop_by_hop(std::string_view name, std::string_view connection) {
    for (auto f : hop_by_hop_fields)
        if (iequals(name, f)) return true;
    return !connection.empty() && lists_token(connection, name);
}

bool is_safe_field(std::string_view name, std::string_view value) {
    auto bad = [](char c) { return c == '\r' || c == '\n' || c == '\0'; };
    for (char c : name)
        if (bad(c) || c == ':' || c == ' ') return false;
    for (char c : value)
        if (bad(c)) return false;
    return !name.empty();
}

void copy_end_to_end(const Headers& from, boost::beast::http::fields& to) {
    auto connection = connection_of(from);
    for (const auto& [name, value] : from)
        if (!is_hop_by_hop(name, connection) && is_safe_field(name, value)) to.insert(name, value);
}

void copy_end_to_end(const boost::beast::http::fields& from, Headers& to) {
    auto connection = connection_of(from);
    for (const auto& field : from)
        if (!is_hop_by_hop(field.name_string(), connection)) to.add(field.name_string(), field.value());
}

}  // namespace ante::http::detail
