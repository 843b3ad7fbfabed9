#pragma once
/// \file
/// A response body sent in pieces as they come (Server-Sent Events), over chunked encoding.

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace ante {

class BodyStream {
public:
    virtual ~BodyStream() = default;
    /// The next piece; nothing at the end. An empty piece sends nothing and only lets the
    /// server check whether it is shutting down, so a quiet producer should return one now
    /// and then (at least every second).
    virtual boost::asio::awaitable<std::optional<std::string>> next() = 0;
};

}  // namespace ante
