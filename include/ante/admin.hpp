#pragma once
/// \file
/// The admin API: health and dead-letter operations, served by a second (loopback) gateway so
/// that operators' endpoints never share a port with clients.

#include <ante/gateway.hpp>

namespace ante {

/// Adds to `admin`:
/// - `GET /healthz`
/// - `GET /dead-letters[?route=R&limit=N]`, `GET /dead-letters/{id}`
/// - `POST /dead-letters/{id}/redrive`, `POST /dead-letters/redrive[?route=R]`
/// - `DELETE /dead-letters/{id}`, `DELETE /dead-letters[?route=R]` (purge)
/// - `GET /metrics`: `served`'s metrics, Prometheus text format
/// - `GET /async/routes`: each async route's backlog, lag and outcomes
/// - `GET /async/workers`, `PUT /async/workers` with `{"workers": N}`
/// operating on `served`'s async dispatcher, which must outlive `admin`.
void add_admin_routes(Gateway& admin, Gateway& served);

/// The value of query parameter `name` in `query` (percent-decoded, '+' as space), or "".
std::string query_param(std::string_view query, std::string_view name);

}  // namespace ante
