#include <ante/dispatch/job.hpp>

#include <nlohmann/json.hpp>

#include <openssl/evp.h>

#include <ctime>
#include <stdexcept>

namespace ante {

std::string_view to_string(JobStatus status) noexcept {
    switch (status) {
        case JobStatus::queued: return "queued";
        case JobStatus::running: return "running";
        case JobStatus::succeeded: return "succeeded";
        case JobStatus::failed: return "failed";
        case JobStatus::dead_lettered: return "dead_lettered";
        case JobStatus::cancelled: return "cancelled";
        case JobStatus::expired: return "expired";
    }
    return "unknown";
}

bool is_final(JobStatus status) noexcept {
    return status != JobStatus::queued && status != JobStatus::running;
}

std::size_t JobRecord::byte_estimate() const noexcept {
    constexpr std::size_t fixed = sizeof(JobRecord) + 64;  // the record plus map-node overhead
    std::size_t bytes = fixed + id.size() + route.size() + correlation_id.size() + error.size() + callback_url.size();
    for (const auto& line : history) bytes += sizeof(std::string) + line.size();
    if (result) {
        bytes += sizeof(Response) + result->body.size();
        for (const auto& [name, value] : result->headers) bytes += name.size() + value.size() + 64;
    }
    return bytes;
}

void JobRecord::note(SystemTime at, std::string_view what) {
    if (history.size() >= history_limit) history.erase(history.begin());
    history.push_back(format_time(at) + " " + std::string(what));
}

std::string base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string format_time(SystemTime time) {
    using namespace std::chrono;
    auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(ms % 1000));
    return text;
}

nlohmann::json status_document(const JobRecord& record, std::string_view jobs_path) {
    nlohmann::json doc{
        {"id", record.id},
        {"route", record.route},
        {"correlation_id", record.correlation_id},
        {"status", to_string(record.status)},
        {"attempts", record.attempts},
        {"created", format_time(record.created)},
        {"updated", format_time(record.updated)},
        {"status_url", std::string(jobs_path) + "/" + record.id},
    };
    if (!record.error.empty()) doc["error"] = record.error;
    if (record.cancel_requested && !is_final(record.status)) doc["cancel_requested"] = true;
    if (!record.history.empty()) doc["history"] = record.history;
    if (record.result) doc["result_url"] = std::string(jobs_path) + "/" + record.id + "/result";
    if (record.result && record.inline_result) doc["result"] = response_document(*record.result);
    if (!record.callback_url.empty()) doc["callback_url"] = record.callback_url;
    return doc;
}

std::string status_text(const JobRecord& record, std::string_view jobs_path) {
    return status_document(record, jobs_path).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {
// Deeper JSON is embedded as text: rendering it recurses once per level, and a result is
// whatever the handler (or its upstream, or the client it echoes) sent.
constexpr int max_embedded_depth = 128;

std::optional<nlohmann::json> parse_shallow_json(const std::string& body) {
    bool too_deep = false;
    auto parsed = nlohmann::json::parse(
        body,
        [&too_deep](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
            if (depth > max_embedded_depth) too_deep = true;
            return !too_deep;
        },
        false);
    if (too_deep || parsed.is_discarded()) return std::nullopt;
    return parsed;
}
}  // namespace

nlohmann::json response_document(const Response& response) {
    nlohmann::json headers = nlohmann::json::object();
    for (const auto& [name, value] : response.headers) headers[name] = value;  // a repeated field keeps its last value
    nlohmann::json doc{{"status", response.status}, {"headers", std::move(headers)}};
    const auto type = response.headers.get("Content-Type").value_or("");
    if (type.starts_with("application/json") || type.ends_with("+json")) {
        if (auto parsed = parse_shallow_json(response.body)) {
            doc["body"] = std::move(*parsed);
            return doc;
        }
    }
    try {
        nlohmann::json text = response.body;
        (void)text.dump();  // throws on invalid UTF-8
        doc["body"] = std::move(text);
    } catch (const nlohmann::json::type_error&) {
        doc["body_base64"] = base64(response.body);
    }
    return doc;
}

namespace {
nlohmann::json headers_json(const Headers& headers) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, value] : headers) out.push_back({name, value});
    return out;
}

void read_headers(const nlohmann::json& doc, Headers& headers) {
    for (const auto& field : doc) headers.add(field.at(0).get<std::string>(), field.at(1).get<std::string>());
}

std::string to_cbor(const nlohmann::json& doc) {
    auto bytes = nlohmann::json::to_cbor(doc);
    return {bytes.begin(), bytes.end()};
}

nlohmann::json from_cbor(std::string_view bytes) {
    auto doc = nlohmann::json::from_cbor(bytes.begin(), bytes.end());
    if (doc.at("v").get<int>() != Job::format_version)
        throw std::invalid_argument("unsupported job format version " + doc.at("v").dump());
    return doc;
}
}  // namespace

std::string serialize(const Response& response) {
    const nlohmann::json doc{
        {"v", Job::format_version},
        {"status", response.status},
        {"headers", headers_json(response.headers)},
        {"body", nlohmann::json::binary({response.body.begin(), response.body.end()})},
    };
    return to_cbor(doc);
}

Response deserialize_response(std::string_view bytes) {
    try {
        const auto doc = from_cbor(bytes);
        Response response;
        response.status = doc.at("status").get<int>();
        read_headers(doc.at("headers"), response.headers);
        const auto& body = doc.at("body").get_binary();
        response.body.assign(body.begin(), body.end());
        return response;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("malformed serialized response: ") + e.what());
    }
}

std::string serialize(const Request& request) {
    nlohmann::json headers = headers_json(request.headers);
    nlohmann::json doc{
        {"v", Job::format_version},
        {"method", request.method},
        {"target", request.target},
        {"headers", std::move(headers)},
        {"body", nlohmann::json::binary({request.body.begin(), request.body.end()})},
        {"remote", request.remote_address},
    };
    return to_cbor(doc);
}

Request deserialize_request(std::string_view bytes) {
    try {
        const auto doc = from_cbor(bytes);
        Request request;
        request.method = doc.at("method").get<std::string>();
        request.target = doc.at("target").get<std::string>();
        read_headers(doc.at("headers"), request.headers);
        const auto& body = doc.at("body").get_binary();
        request.body.assign(body.begin(), body.end());
        request.remote_address = doc.at("remote").get<std::string>();
        return request;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("malformed serialized request: ") + e.what());
    }
}

namespace {
std::int64_t to_millis(SystemTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
SystemTime from_millis(std::int64_t ms) { return SystemTime(std::chrono::milliseconds(ms)); }
}  // namespace

std::string serialize(const JobRecord& record) {
    nlohmann::json doc{
        {"v", Job::format_version},
        {"id", record.id},
        {"route", record.route},
        {"correlation_id", record.correlation_id},
        {"status", static_cast<int>(record.status)},
        {"attempts", record.attempts},
        {"created", to_millis(record.created)},
        {"updated", to_millis(record.updated)},
        {"error", record.error},
        {"history", record.history},
        {"cancel_requested", record.cancel_requested},
        {"inline_result", record.inline_result},
        {"callback_url", record.callback_url},
        {"version", record.version},
    };
    if (record.result) {
        const std::string result = serialize(*record.result);
        doc["result"] = nlohmann::json::binary({result.begin(), result.end()});
    }
    return to_cbor(doc);
}

JobRecord deserialize_record(std::string_view bytes) {
    try {
        const auto doc = from_cbor(bytes);
        JobRecord r;
        r.id = doc.at("id").get<std::string>();
        r.route = doc.at("route").get<std::string>();
        r.correlation_id = doc.at("correlation_id").get<std::string>();
        const int status = doc.at("status").get<int>();
        if (status < 0 || status > static_cast<int>(JobStatus::expired))
            throw std::invalid_argument("unknown job status " + std::to_string(status));
        r.status = static_cast<JobStatus>(status);
        r.attempts = doc.at("attempts").get<int>();
        r.created = from_millis(doc.at("created").get<std::int64_t>());
        r.updated = from_millis(doc.at("updated").get<std::int64_t>());
        r.error = doc.at("error").get<std::string>();
        r.history = doc.at("history").get<std::vector<std::string>>();
        r.cancel_requested = doc.at("cancel_requested").get<bool>();
        r.inline_result = doc.at("inline_result").get<bool>();
        r.callback_url = doc.at("callback_url").get<std::string>();
        r.version = doc.at("version").get<std::uint64_t>();
        if (const auto it = doc.find("result"); it != doc.end()) {
            const auto& result = it->get_binary();
            r.result = deserialize_response(std::string_view(reinterpret_cast<const char*>(result.data()), result.size()));
        }
        return r;
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(std::string("malformed serialized job record: ") + e.what());
    }
}

}  // namespace ante
