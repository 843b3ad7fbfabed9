#pragma once
// A plain blocking HTTP client for tests: a real socket on loopback, no gateway code inside.

#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ante::test {

using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// One request on a new connection to 127.0.0.1:`port`; throws on a transport error.
HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          const HeaderList& headers = {}, const std::string& body = {});

/// Writes `bytes` as they are, then returns everything the server sends until it closes
/// the connection or `timeout` passes.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

/// The status code of the first response in `raw` ("HTTP/1.1 431 ..." -> 431), or 0.
int status_of(const std::string& raw);

}  // namespace ante::test
