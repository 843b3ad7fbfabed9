#include <ante/backend/memory/memory_job_queue.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace ante {

namespace asio = boost::asio;

namespace {
SystemTime after(SystemTime now, std::chrono::milliseconds delay) {
    return now + std::chrono::duration_cast<SystemTime::duration>(delay);
}

void hand_over(std::vector<std::pair<std::function<void(std::optional<Lease>)>, Lease>>& handover) {
    for (auto& [deliver, lease] : handover) deliver(std::move(lease));
}
}  // namespace

MemoryJobQueue::MemoryJobQueue(MemoryJobQueueOptions options, std::shared_ptr<const Clock> clock)
    : options_(options), clock_(std::move(clock)) {}

MemoryJobQueue::Entry* MemoryJobQueue::held(const Lease& lease) {
    auto it = jobs_.find(lease.job.id);
    if (it == jobs_.end() || it->second.state != State::leased || it->second.token != lease.token) return nullptr;
    // A lapsed lease is lost even before a scan has given its job to someone else.
    if (it->second.due <= clock_->system_now()) return nullptr;
    return &it->second;
}

void MemoryJobQueue::schedule(Entry& entry, State state, SystemTime due) {
    if (entry.state == State::ready) --ready_count_;
    if (entry.state == State::leased) --leased_count_;
    if (state == State::leased) ++leased_count_;
    entry.state = state;
    entry.due = due;
    entry.token = next_token_++;
    timers_.emplace(due, std::pair{entry.job.id, entry.token});
}

void MemoryJobQueue::make_ready(Entry& entry, Handover& handover) {
    if (entry.state == State::leased) --leased_count_;
    entry.state = State::ready;
    entry.token = next_token_++;
    if (!waiters_.empty() && !abandoned_) {  // an idle worker gets it at once
        Waiting waiting = std::move(waiters_.front());
        waiters_.pop_front();
        ++ready_count_;  // lease_entry counts it out again
        handover.emplace_back(std::move(waiting.deliver), lease_entry(entry, waiting.visibility, clock_->system_now()));
        return;
    }
    ++ready_count_;
    ready_.push_back(entry.job.id);
}

Lease MemoryJobQueue::lease_entry(Entry& entry, std::chrono::milliseconds visibility, SystemTime now) {
    ++entry.job.attempt;  // the attempt lives in the job's data, counted when it is handed out
    schedule(entry, State::leased, after(now, visibility));
    return Lease{.job = entry.job, .token = entry.token};
}

asio::awaitable<Errc> MemoryJobQueue::enqueue(Job job, std::chrono::milliseconds delay) {
    Handover handover;
    {
        std::lock_guard lock(mutex_);
        if (abandoned_) co_return Errc::shutting_down;
        if (jobs_.size() >= options_.capacity || bytes_ + job.request.size() > options_.max_bytes)
            co_return Errc::queue_full;
        if (jobs_.contains(job.id)) co_return Errc::conflict;
        bytes_ += job.request.size();
        const std::string id = job.id;
        Entry& entry = jobs_.emplace(id, Entry{.job = std::move(job)}).first->second;
        if (delay > std::chrono::milliseconds::zero())
            schedule(entry, State::delayed, after(clock_->system_now(), delay));
        else
            make_ready(entry, handover);
    }
    hand_over(handover);
    co_return Errc::ok;
}

asio::awaitable<std::optional<Lease>> MemoryJobQueue::lease(std::chrono::milliseconds visibility) {
    auto initiate = [this, visibility](auto handler) {
        auto target = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        Waiter deliver = [shared, target](std::optional<Lease> lease) {
            asio::post(target, [shared, lease = std::move(lease)]() mutable { (*shared)(std::move(lease)); });
        };
        Handover handover;
        std::optional<Lease> leased;
        {
            std::lock_guard lock(mutex_);
            const SystemTime now = clock_->system_now();
            promote_due_locked(now, handover);
            while (!abandoned_ && !ready_.empty() && !leased) {
                auto it = jobs_.find(ready_.front());
                ready_.pop_front();
                if (it != jobs_.end() && it->second.state == State::ready) leased = lease_entry(it->second, visibility, now);
            }
            if (!leased && !closed_) {
                waiters_.push_back({visibility, std::move(deliver)});  // under the lock: no lost wake-up
                deliver = nullptr;
            }
        }
        hand_over(handover);
        if (deliver) deliver(std::move(leased));
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<Lease>)>(
        initiate, asio::use_awaitable);
}

asio::awaitable<bool> MemoryJobQueue::extend(const Lease& lease, std::chrono::milliseconds visibility) {
    std::lock_guard lock(mutex_);
    Entry* entry = held(lease);
    if (!entry) co_return false;
    entry->due = after(clock_->system_now(), visibility);
    timers_.emplace(entry->due, std::pair{entry->job.id, entry->token});  // the old timer is now stale
    co_return true;
}

asio::awaitable<bool> MemoryJobQueue::ack(const Lease& lease) {
    std::lock_guard lock(mutex_);
    if (!held(lease)) co_return false;
    --leased_count_;
    drop(lease.job.id);
    co_return true;
}

asio::awaitable<bool> MemoryJobQueue::release(const Lease& lease, std::chrono::milliseconds delay, bool refund) {
    Handover handover;
    {
        std::lock_guard lock(mutex_);
        Entry* entry = held(lease);
        if (!entry) co_return false;
        if (refund) entry->job.attempt = std::max(0, entry->job.attempt - 1);
        if (delay > std::chrono::milliseconds::zero())
            schedule(*entry, State::delayed, after(clock_->system_now(), delay));
        else
            make_ready(*entry, handover);
    }
    hand_over(handover);
    co_return true;
}

asio::awaitable<bool> MemoryJobQueue::bury(const Lease& lease, std::string reason, std::string last_error) {
    std::lock_guard lock(mutex_);
    Entry* entry = held(lease);
    if (!entry) co_return false;
    dead_bytes_ += entry->job.request.size();
    dead_.push_back(DeadLetter{.job = entry->job, .reason = std::move(reason), .last_error = std::move(last_error),
                               .dead_at = clock_->system_now()});
    // Bounded in count and in bytes (as the live jobs are), oldest first.
    while (dead_.size() > options_.dead_capacity || dead_bytes_ > options_.max_bytes) {
        dead_bytes_ -= dead_.front().job.request.size();
        dead_.pop_front();
        ++dead_dropped_;
    }
    --leased_count_;
    drop(lease.job.id);
    co_return true;
}

asio::awaitable<bool> MemoryJobQueue::remove(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.state == State::leased) co_return false;
    if (it->second.state == State::ready) --ready_count_;
    drop(id);  // its id in ready_ or timers_ is stale now and will be skipped
    co_return true;
}

void MemoryJobQueue::drop(const std::string& id) {
    auto it = jobs_.find(id);
    bytes_ -= it->second.job.request.size();
    jobs_.erase(it);
}

std::size_t MemoryJobQueue::promote_due_locked(SystemTime now, Handover& handover) {
    std::size_t promoted = 0;
    while (!timers_.empty() && timers_.begin()->first <= now) {
        auto [id, token] = std::move(timers_.begin()->second);
        timers_.erase(timers_.begin());
        auto it = jobs_.find(id);
        if (it == jobs_.end() || it->second.token != token || it->second.state == State::ready || it->second.due > now)
            continue;  // stale: acked, released, extended or already visible
        if (it->second.state == State::leased) ++lapsed_;
        make_ready(it->second, handover);
        ++promoted;
    }
    return promoted;
}

asio::awaitable<std::size_t> MemoryJobQueue::promote_due() {
    Handover handover;
    std::size_t promoted = 0;
    {
        std::lock_guard lock(mutex_);
        promoted = promote_due_locked(clock_->system_now(), handover);
    }
    hand_over(handover);
    co_return promoted;
}

std::optional<SystemTime> MemoryJobQueue::next_due() {
    std::lock_guard lock(mutex_);
    while (!timers_.empty()) {
        const auto& [due, ref] = *timers_.begin();
        auto it = jobs_.find(ref.first);
        if (it != jobs_.end() && it->second.token == ref.second && it->second.state != State::ready &&
            it->second.due == due)
            return due;
        timers_.erase(timers_.begin());  // stale
    }
    return std::nullopt;
}

bool MemoryJobQueue::selected(const DeadLetter& dead, const DeadLetterSelector& which) const {
    if (!which.id.empty()) return dead.job.id == which.id;
    return which.route.empty() || dead.job.route == which.route;
}

asio::awaitable<std::vector<DeadLetter>> MemoryJobQueue::dead_letters(DeadLetterSelector which) {
    std::lock_guard lock(mutex_);
    std::vector<DeadLetter> out;
    for (const auto& dead : dead_)
        if (out.size() < which.limit && selected(dead, which)) out.push_back(dead);
    co_return out;
}

asio::awaitable<std::vector<Job>> MemoryJobQueue::redrive(DeadLetterSelector which) {
    std::vector<Job> redriven;
    Handover handover;
    {
        std::lock_guard lock(mutex_);
        for (auto it = dead_.begin(); it != dead_.end() && redriven.size() < which.limit;) {
            if (!selected(*it, which) || jobs_.size() >= options_.capacity || jobs_.contains(it->job.id) ||
                bytes_ + it->job.request.size() > options_.max_bytes) {
                ++it;
                continue;
            }
            Job job = std::move(it->job);
            dead_bytes_ -= job.request.size();
            it = dead_.erase(it);
            job.attempt = 0;  // a new series of attempts; the history stays in the job's record
            bytes_ += job.request.size();
            Entry& entry = jobs_.emplace(job.id, Entry{.job = job}).first->second;
            make_ready(entry, handover);
            redriven.push_back(std::move(job));
        }
    }
    hand_over(handover);
    co_return redriven;
}

asio::awaitable<std::size_t> MemoryJobQueue::purge(DeadLetterSelector which) {
    std::lock_guard lock(mutex_);
    std::size_t purged = 0;
    for (auto it = dead_.begin(); it != dead_.end();) {
        if (purged < which.limit && selected(*it, which)) {
            dead_bytes_ -= it->job.request.size();
            it = dead_.erase(it);
            ++purged;
        } else {
            ++it;
        }
    }
    co_return purged;
}

void MemoryJobQueue::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    wake_all_waiters();  // a waiter exists only while nothing is visible: nothing is left to drain
}

std::size_t MemoryJobQueue::abandon() {
    std::size_t left = 0;
    {
        std::lock_guard lock(mutex_);
        closed_ = abandoned_ = true;
        left = jobs_.size() - leased_count_;
    }
    wake_all_waiters();
    return left;
}

void MemoryJobQueue::wake_all_waiters() {
    std::deque<Waiting> waiters;
    {
        std::lock_guard lock(mutex_);
        waiters.swap(waiters_);
    }
    for (auto& waiting : waiters) waiting.deliver(std::nullopt);
}

QueueStats MemoryJobQueue::stats() const {
    std::lock_guard lock(mutex_);
    QueueStats s{.ready = ready_count_,
                 .delayed = jobs_.size() - ready_count_ - leased_count_,
                 .leased = leased_count_,
                 .dead = dead_.size(),
                 .lapsed = lapsed_,
                 .dead_dropped = dead_dropped_,
                 .oldest_ready = {}};
    for (const auto& id : ready_) {  // the first live id is the oldest visible job
        auto it = jobs_.find(id);
        if (it != jobs_.end() && it->second.state == State::ready) {
            s.oldest_ready = it->second.job.enqueued_at;
            break;
        }
    }
    return s;
}

asio::awaitable<std::map<std::string, RouteBacklog>> MemoryJobQueue::backlog() {
    std::lock_guard lock(mutex_);
    std::map<std::string, RouteBacklog> routes;
    for (const auto& [id, entry] : jobs_) {
        RouteBacklog& b = routes[entry.job.route];
        switch (entry.state) {
            case State::ready:
                ++b.ready;
                if (!b.oldest_ready || entry.job.enqueued_at < *b.oldest_ready) b.oldest_ready = entry.job.enqueued_at;
                break;
            case State::delayed: ++b.delayed; break;
            case State::leased: ++b.leased; break;
        }
    }
    for (const auto& dead : dead_) ++routes[dead.job.route].dead;
    co_return routes;
}

}  // namespace ante
