#pragma once
/// \file
/// Async jobs are data (docs/design.md seam 4): a route name, the serialized request and metadata.
/// No closure crosses the queue, so a queue can live in another process.

#include <ante/core/clock.hpp>
#include <ante/core/request.hpp>
#include <ante/core/response.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ante {

/// One unit of async work.
struct Job {
    static constexpr int format_version = 1;  ///< bumped when the serialized form changes

    std::string id;              ///< unguessable, also the status resource's name
    std::string route;           ///< the route whose handler runs the job
    std::string correlation_id;  ///< the submitting request's, carried into the worker's logs
    std::string request;         ///< the request, as `serialize(Request)` wrote it
    int attempt = 0;             ///< attempts started so far (the queue counts one per lease)
    SystemTime enqueued_at{};
    /// A job still queued at this time ends `expired` and never runs; max for no expiry.
    SystemTime expires_at = SystemTime::max();
};

/// The lifecycle of a job as clients see it.
enum class JobStatus { queued, running, succeeded, failed, dead_lettered, cancelled, expired };

std::string_view to_string(JobStatus status) noexcept;
/// True once the job will not change any more.
bool is_final(JobStatus status) noexcept;

/// What the status store keeps about a job.
struct JobRecord {
    std::string id;
    std::string route;
    std::string correlation_id;       ///< the submitting request's
    JobStatus status = JobStatus::queued;
    int attempts = 0;
    SystemTime created{};
    SystemTime updated{};
    std::string error;                ///< why it failed, when it did
    std::optional<Response> result;   ///< the handler's response, once there is one
    /// What happened to earlier attempts and series, oldest first, at most `history_limit`.
    std::vector<std::string> history;
    bool cancel_requested = false;    ///< DELETE reached it while it ran
    /// The route's choice: the status document carries the result itself (200), instead of
    /// pointing to it with 303 See Other.
    bool inline_result = false;
    /// Where the gateway POSTs the final status document (a webhook), if the client asked.
    std::string callback_url;
    std::uint64_t version = 0;        ///< the store's write counter: the fence of compare_and_set

    static constexpr std::size_t history_limit = 32;
    /// Appends `what` to the history, stamped with `at`, dropping the oldest past the limit.
    void note(SystemTime at, std::string_view what);

    /// A rough size in bytes, so caps can bound memory without measuring the process.
    [[nodiscard]] std::size_t byte_estimate() const noexcept;
};

/// The status document `GET {jobs_path}/{id}` answers (also the body of webhooks and of
/// Server-Sent Events).
nlohmann::json status_document(const JobRecord& record, std::string_view jobs_path);
/// `status_document` as JSON text; bytes that are not UTF-8 (in a result's headers) become U+FFFD.
std::string status_text(const JobRecord& record, std::string_view jobs_path);

/// A stored response as JSON: status, headers, and the body as JSON (a JSON body), text
/// (valid UTF-8) or base64 (`body_base64`, anything else).
nlohmann::json response_document(const Response& response);

/// Requests travel in jobs as CBOR, so binary bodies survive unchanged.
std::string serialize(const Request& request);
/// Throws std::invalid_argument when `bytes` is not a serialized request.
Request deserialize_request(std::string_view bytes);

/// Saved responses (idempotent replays) are stored the same way.
std::string serialize(const Response& response);
/// Throws std::invalid_argument when `bytes` is not a serialized response.
Response deserialize_response(std::string_view bytes);

/// Standard base64 (RFC 4648 §4) with padding.
std::string base64(std::string_view bytes);

/// Records travel to a shared store as CBOR too; `version` is kept as written.
std::string serialize(const JobRecord& record);
/// Throws std::invalid_argument when `bytes` is not a serialized record.
JobRecord deserialize_record(std::string_view bytes);

/// RFC 3339 UTC time with milliseconds, e.g. 2026-12-03T19:53:04.123Z.
std::string format_time(SystemTime time);

}  // namespace ante
