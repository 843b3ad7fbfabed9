#include <ante/backend/memory/memory_status_store.hpp>

namespace ante {

namespace asio = boost::asio;

MemoryStatusStore::MemoryStatusStore(MemoryStatusStoreOptions options, std::shared_ptr<const Clock> clock)
    : options_(options), clock_(std::move(clock)) {}

void MemoryStatusStore::drop(std::unordered_map<std::string, Entry>::iterator it) {
    stats_.bytes -= it->second.record.byte_estimate();
    entries_.erase(it);
}

void MemoryStatusStore::purge_expired(SteadyTime now) {
    while (!finished_.empty() && finished_.front().first <= now) {
        auto it = entries_.find(finished_.front().second);
        if (it != entries_.end() && it->second.expires_at == finished_.front().first) {
            drop(it);
            ++stats_.expired;
        }
        finished_.pop_front();
    }
}

bool MemoryStatusStore::evict_oldest_finished(std::string_view keep) {
    while (!finished_.empty()) {
        if (!keep.empty() && finished_.front().second == keep) return false;
        auto [expires_at, id] = std::move(finished_.front());
        finished_.pop_front();
        auto it = entries_.find(id);
        if (it != entries_.end() && it->second.expires_at == expires_at) {
            drop(it);
            ++stats_.evicted;
            return true;
        }
    }
    return false;
}

bool MemoryStatusStore::full(std::size_t adding) const {
    return entries_.size() >= options_.capacity || stats_.bytes + adding > options_.max_bytes;
}

asio::awaitable<Errc> MemoryStatusStore::create(JobRecord record) {
    std::lock_guard lock(mutex_);
    purge_expired(clock_->steady_now());
    while (full(record.byte_estimate())) {
        if (!evict_oldest_finished()) {
            ++stats_.refused;
            co_return Errc::store_full;
        }
    }
    stats_.bytes += record.byte_estimate();
    std::string id = record.id;
    entries_.insert_or_assign(std::move(id), Entry{std::move(record)});
    co_return Errc::ok;
}

asio::awaitable<std::optional<JobRecord>> MemoryStatusStore::get(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.expires_at <= clock_->steady_now()) co_return std::nullopt;
    co_return it->second.record;
}

asio::awaitable<void> MemoryStatusStore::update(JobRecord record) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(record.id);
    if (it == entries_.end()) co_return;  // expired or erased meanwhile: nothing to resurrect
    Entry& entry = it->second;
    stats_.bytes -= entry.record.byte_estimate();
    stats_.bytes += record.byte_estimate();
    // An accepted job's result is always kept; older finished records make room for it.
    while (stats_.bytes > options_.max_bytes && evict_oldest_finished(record.id)) {
    }
    const bool newly_final = is_final(record.status) && entry.expires_at == SteadyTime::max();
    entry.record = std::move(record);
    if (newly_final) {
        entry.expires_at = clock_->steady_now() + options_.retention;
        finished_.emplace_back(entry.expires_at, entry.record.id);
    }
    co_return;
}

asio::awaitable<void> MemoryStatusStore::erase(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it != entries_.end()) drop(it);
    co_return;
}

MemoryStatusStore::Stats MemoryStatusStore::stats() const {
    std::lock_guard lock(mutex_);
    Stats s = stats_;
    s.entries = entries_.size();
    return s;
}

}  // namespace ante
