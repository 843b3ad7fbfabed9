// `GET {jobs_path}/{id}/events`: a job's status changes as Server-Sent Events (WHATWG HTML
// §9.2), until it is final.

#include <ante/core/body_stream.hpp>
#include <ante/core/problem.hpp>
#include <ante/dispatch/async_dispatcher.hpp>

#include <boost/asio/this_coro.hpp>

#include <nlohmann/json.hpp>

#include <charconv>

namespace ante {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// Re-reads the record when this process changes it (the watch) and at least every poll
// interval (another process may have); sends an event for each new version.
class JobEventStream final : public BodyStream {
public:
    JobEventStream(AsyncDispatcher& jobs, std::string id, std::uint64_t last_sent)
        : jobs_(jobs), id_(std::move(id)), last_sent_(last_sent), last_piece_(std::chrono::steady_clock::now()) {}

    asio::awaitable<std::optional<std::string>> next() override {
        if (done_) {
            watcher_.reset();  // a finished stream stops watching, even while its response lives on
            co_return std::nullopt;
        }
        if (!watcher_) watcher_ = std::make_unique<StatusWatch::Watcher>(jobs_.watch(), id_, co_await asio::this_coro::executor);
        auto record = co_await jobs_.store().get(id_);
        if (!record) {  // its retention passed while we watched
            done_ = true;
            watcher_.reset();
            co_return std::nullopt;
        }
        if (record->version > last_sent_) {
            last_sent_ = record->version;
            done_ = is_final(record->status);
            co_return piece(event(*record));
        }
        if (is_final(record->status)) {  // the client had the final event already (Last-Event-ID)
            done_ = true;
            watcher_.reset();
            co_return std::nullopt;
        }
        const auto& options = jobs_.options();
        const auto quiet = std::chrono::steady_clock::now() - last_piece_;
        if (quiet >= options.events_heartbeat) co_return piece(": keep-alive\n\n");
        const auto until_heartbeat = std::chrono::duration_cast<milliseconds>(options.events_heartbeat - quiet);
        const milliseconds wait = std::min(std::min(options.poll_interval, until_heartbeat), milliseconds(1'000));
        co_await watcher_->wait(wait);
        co_return std::string{};  // nothing yet: the server may check for shutdown
    }

private:
    std::string event(const JobRecord& record) {
        std::string text;
        if (first_) text = "retry: " + std::to_string(jobs_.options().retry_after.count() * 1000) + "\n";
        first_ = false;
        text += "id: " + std::to_string(record.version) + "\nevent: status\ndata: " +
                status_text(record, jobs_.options().jobs_path) + "\n\n";
        return text;
    }

    std::string piece(std::string text) {
        last_piece_ = std::chrono::steady_clock::now();
        return text;
    }

    AsyncDispatcher& jobs_;
    std::string id_;
    std::uint64_t last_sent_;
    std::chrono::steady_clock::time_point last_piece_;
    std::unique_ptr<StatusWatch::Watcher> watcher_;
    bool first_ = true;
    bool done_ = false;
};

}  // namespace

asio::awaitable<Response> AsyncDispatcher::events(std::string id, std::string last_event_id, std::string correlation_id) {
    auto record = co_await store_->get(id);
    if (!record) co_return problem(Errc::not_found, "no job with this id (or its retention passed)", correlation_id);
    // A malformed Last-Event-ID, or one this job never sent, starts from the beginning.
    std::uint64_t last_sent = 0;
    const char* end = last_event_id.data() + last_event_id.size();
    auto [parsed_to, ec] = std::from_chars(last_event_id.data(), end, last_sent);
    if (ec != std::errc{} || parsed_to != end || last_sent > record->version) last_sent = 0;
    Response r;
    r.status = 200;
    r.headers.set("Content-Type", "text/event-stream");
    r.headers.set("Cache-Control", "no-store");
    r.headers.set("X-Accel-Buffering", "no");  // tells nginx in front not to buffer the stream
    r.stream = std::make_shared<JobEventStream>(*this, std::move(id), last_sent);
    co_return r;
}

}  // namespace ante
