#include "redis_job_queue_scripts.hpp"

#include <ante/backend/redis/redis_job_queue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace ante {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

std::string millis(milliseconds d) { return std::to_string(d.count()); }

std::string nanos(SystemTime t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

SystemTime from_nanos(const std::string& text) {
    return SystemTime{std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(std::stoll(text)))};
}

// A job's fields as the scripts answer them: id, route, correlation id, request, enqueued, expires.
Job job_from(const std::vector<RedisReply>& f) {
    return Job{.id = f.at(0).text,
               .route = f.at(1).text,
               .correlation_id = f.at(2).text,
               .request = f.at(3).text,
               .attempt = 0,
               .enqueued_at = from_nanos(f.at(4).text),
               .expires_at = f.at(5).text.empty() ? SystemTime::max() : from_nanos(f.at(5).text)};
}

}  // namespace

// Idle workers of this process wait here between polls; a local change that makes a job visible
// wakes them at once. The generation closes the gap between an empty lease and the wait.
struct RedisJobQueue::Wakeup {
    using Signal = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

    std::uint64_t generation() {
        std::lock_guard lock(mutex);
        return generation_;
    }
    /// False when a wake-up came since `seen`: try again instead of waiting.
    bool add(const std::shared_ptr<Signal>& signal, std::uint64_t seen) {
        std::lock_guard lock(mutex);
        if (generation_ != seen) return false;
        waiting.push_back(signal);
        return true;
    }
    void wake() {
        std::vector<std::shared_ptr<Signal>> woken;
        {
            std::lock_guard lock(mutex);
            ++generation_;
            woken.swap(waiting);
        }
        for (auto& signal : woken) signal->try_send(boost::system::error_code{});
    }

    std::mutex mutex;
    std::uint64_t generation_ = 0;
    std::vector<std::shared_ptr<Signal>> waiting;
};

RedisJobQueue::RedisJobQueue(std::shared_ptr<RedisClient> redis, RedisJobQueueOptions options,
                             std::shared_ptr<const Clock> clock)
    : redis_(std::move(redis)),
      options_(std::move(options)),
      clock_(std::move(clock)),
      prefix_("{" + options_.prefix + "}:q:"),
      wakeup_(std::make_shared<Wakeup>()) {}

RedisJobQueue::~RedisJobQueue() { wakeup_->wake(); }

asio::awaitable<RedisReply> RedisJobQueue::run(const RedisScript& script, std::vector<std::string> args) {
    const SystemTime now = clock_->system_now();
    args.insert(args.begin(),
                {prefix_, std::to_string(std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count()),
                 nanos(now)});
    std::vector<std::string> no_keys;  // every key is under the prefix, in one hash slot
    RedisReply reply = co_await redis_->eval(script, std::move(no_keys), std::move(args));
    note_stats(reply.elements.at(1));
    RedisReply result = std::move(reply.elements.at(0));
    co_return result;
}

void RedisJobQueue::note_stats(const RedisReply& figures) {
    const auto& f = figures.elements;
    std::lock_guard lock(stats_mutex_);
    if (f.at(0).integer <= stats_seq_) return;  // an older reply, overtaken by a newer one
    stats_seq_ = f.at(0).integer;
    auto n = [&](std::size_t i) { return static_cast<std::size_t>(f.at(i).integer); };
    stats_.ready = n(1);
    stats_.delayed = n(2);
    stats_.leased = n(3);
    stats_.dead = n(4);
    stats_.lapsed = n(5);
    stats_.dead_dropped = n(6);
    stats_.oldest_ready = f.at(7).text.empty() ? std::nullopt : std::optional(from_nanos(f.at(7).text));
    next_due_ = f.at(8).integer < 0 ? std::nullopt : std::optional(SystemTime{milliseconds(f.at(8).integer)});
}

void RedisJobQueue::wake_waiters() { wakeup_->wake(); }

asio::awaitable<Errc> RedisJobQueue::enqueue(Job job, milliseconds delay) {
    if (abandoned_.load()) co_return Errc::shutting_down;
    const std::string expires = job.expires_at == SystemTime::max() ? "" : nanos(job.expires_at);
    std::vector<std::string> args{job.id,
                                  job.route,
                                  job.correlation_id,
                                  std::move(job.request),
                                  nanos(job.enqueued_at),
                                  expires,
                                  millis(delay),
                                  std::to_string(options_.capacity),
                                  std::to_string(options_.max_bytes)};
    auto reply = co_await run(redis_queue::enqueue(), std::move(args));
    if (reply.text == "full") co_return Errc::queue_full;
    if (reply.text == "conflict") co_return Errc::conflict;
    if (delay <= milliseconds::zero()) wake_waiters();
    co_return Errc::ok;
}

asio::awaitable<std::optional<Lease>> RedisJobQueue::lease(milliseconds visibility) {
    const auto wakeup = wakeup_;
    for (;;) {
        if (abandoned_.load()) co_return std::nullopt;
        const std::uint64_t seen = wakeup->generation();
        std::vector<std::string> args{millis(visibility)};
        auto reply = co_await run(redis_queue::lease(), std::move(args));
        if (reply.type == RedisReply::Type::array) {
            const auto& f = reply.elements;
            Lease leased{.job = {}, .token = static_cast<std::uint64_t>(f.at(7).integer)};
            std::optional<std::string> unreadable;
            try {
                leased.job = job_from(f);
            } catch (const std::exception& e) {  // a field lost or changed outside the gateway
                unreadable = e.what();
            }
            leased.job.id = f.at(0).text;
            leased.job.attempt = static_cast<int>(f.at(6).integer);
            if (!unreadable) co_return leased;
            co_await bury(leased, "the job could not be read", "a malformed field: " + *unreadable);
            continue;
        }
        if (closed_.load()) co_return std::nullopt;  // drained
        // Nothing visible: wait for a local wake-up, or poll again after the interval.
        auto executor = co_await asio::this_coro::executor;
        auto signal = std::make_shared<Wakeup::Signal>(executor, 1);
        if (!wakeup->add(signal, seen)) continue;
        auto timer = std::make_shared<asio::steady_timer>(executor, options_.poll_interval);
        timer->async_wait([signal, timer](boost::system::error_code) { signal->try_send(boost::system::error_code{}); });
        co_await signal->async_receive(asio::as_tuple(asio::use_awaitable));
        timer->cancel();
    }
}

asio::awaitable<bool> RedisJobQueue::extend(const Lease& lease, milliseconds visibility) {
    std::vector<std::string> args{lease.job.id, std::to_string(lease.token), millis(visibility)};
    auto reply = co_await run(redis_queue::extend(), std::move(args));
    co_return reply.integer == 1;
}

asio::awaitable<bool> RedisJobQueue::ack(const Lease& lease) {
    std::vector<std::string> args{lease.job.id, std::to_string(lease.token)};
    auto reply = co_await run(redis_queue::ack(), std::move(args));
    co_return reply.integer == 1;
}

asio::awaitable<bool> RedisJobQueue::release(const Lease& lease, milliseconds delay, bool refund) {
    std::vector<std::string> args{lease.job.id, std::to_string(lease.token), millis(delay), refund ? "1" : "0"};
    auto reply = co_await run(redis_queue::release(), std::move(args));
    const bool released = reply.integer == 1;
    if (released && delay <= milliseconds::zero()) wake_waiters();
    co_return released;
}

asio::awaitable<bool> RedisJobQueue::bury(const Lease& lease, std::string reason, std::string last_error) {
    std::vector<std::string> args{lease.job.id,
                                  std::to_string(lease.token),
                                  std::move(reason),
                                  std::move(last_error),
                                  std::to_string(options_.dead_capacity),
                                  std::to_string(options_.max_bytes)};
    auto reply = co_await run(redis_queue::bury(), std::move(args));
    co_return reply.integer == 1;
}

asio::awaitable<bool> RedisJobQueue::remove(std::string id) {
    std::vector<std::string> args{std::move(id)};
    auto reply = co_await run(redis_queue::remove(), std::move(args));
    co_return reply.integer == 1;
}

asio::awaitable<std::size_t> RedisJobQueue::promote_due() {
    std::vector<std::string> none;
    auto reply = co_await run(redis_queue::promote_due(), std::move(none));
    if (reply.integer > 0) wake_waiters();
    co_return static_cast<std::size_t>(reply.integer);
}

std::optional<SystemTime> RedisJobQueue::next_due() {
    std::lock_guard lock(stats_mutex_);
    return next_due_;
}

asio::awaitable<std::vector<DeadLetter>> RedisJobQueue::dead_letters(DeadLetterSelector which) {
    std::vector<std::string> args{which.id, which.route, std::to_string(std::min<std::size_t>(which.limit, 1u << 30))};
    auto reply = co_await run(redis_queue::dead_letters(), std::move(args));
    std::vector<DeadLetter> out;
    for (const auto& e : reply.elements) {
        const auto& f = e.elements;  // id, route, cid, request, enqueued, expires, attempt, reason, error, dead at
        DeadLetter dead{.job = job_from(f), .reason = f.at(7).text, .last_error = f.at(8).text,
                        .dead_at = from_nanos(f.at(9).text)};
        dead.job.attempt = std::stoi(f.at(6).text);
        out.push_back(std::move(dead));
    }
    co_return out;
}

asio::awaitable<std::vector<Job>> RedisJobQueue::redrive(DeadLetterSelector which) {
    std::vector<std::string> args{which.id, which.route, std::to_string(std::min<std::size_t>(which.limit, 1u << 30)),
                                  std::to_string(options_.capacity), std::to_string(options_.max_bytes)};
    auto reply = co_await run(redis_queue::redrive(), std::move(args));
    std::vector<Job> out;
    for (const auto& e : reply.elements) out.push_back(job_from(e.elements));
    if (!out.empty()) wake_waiters();
    co_return out;
}

asio::awaitable<std::size_t> RedisJobQueue::purge(DeadLetterSelector which) {
    std::vector<std::string> args{which.id, which.route, std::to_string(std::min<std::size_t>(which.limit, 1u << 30))};
    auto reply = co_await run(redis_queue::purge(), std::move(args));
    co_return static_cast<std::size_t>(reply.integer);
}

void RedisJobQueue::close() {
    closed_ = true;
    wake_waiters();
}

std::size_t RedisJobQueue::abandon() {
    closed_ = abandoned_ = true;
    wake_waiters();
    const QueueStats s = stats();
    return s.ready + s.delayed;
}

QueueStats RedisJobQueue::stats() const {
    std::lock_guard lock(stats_mutex_);
    return stats_;
}

asio::awaitable<std::map<std::string, RouteBacklog>> RedisJobQueue::backlog() {
    std::vector<std::string> none;
    auto reply = co_await run(redis_queue::backlog(), std::move(none));
    std::map<std::string, RouteBacklog> out;
    for (const auto& e : reply.elements) {
        const auto& f = e.elements;  // route, ready, delayed, leased, dead, oldest ready
        auto n = [&](std::size_t i) { return static_cast<std::size_t>(f.at(i).integer); };
        out[f.at(0).text] = RouteBacklog{
            .ready = n(1), .delayed = n(2), .leased = n(3), .dead = n(4),
            .oldest_ready = f.at(5).text.empty() ? std::nullopt : std::optional(from_nanos(f.at(5).text))};
    }
    co_return out;
}

}  // namespace ante
