#pragma once
// Conversions between Beast messages and the core model, shared by the server and the proxy.

#include <ante/core/request.hpp>
#include <ante/core/response.hpp>

#include <boost/beast/http/fields.hpp>

#include <string_view>

namespace ante::http::detail {

/// True for the hop-by-hop fields RFC 9110 §7.6.1 names, and for those listed in `connection`
/// (the message's Connection header). A proxy must not forward them.
bool is_hop_by_hop(std::string_view name, std::string_view connection);

/// True when a header field can be written without splitting the message (no CR, LF or NUL).
bool is_safe_field(std::string_view name, std::string_view value);

/// Copies the end-to-end fields of `from` into `to`, skipping hop-by-hop ones and the fields
/// the sender sets itself (Host, Content-Length).
void copy_end_to_end(const Headers& from, boost::beast::http::fields& to);
void copy_end_to_end(const boost::beast::http::fields& from, Headers& to);

}  // namespace ante::http::detail
