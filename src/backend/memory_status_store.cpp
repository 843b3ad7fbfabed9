#include <ante/backend/memory/memory_status_store.hpp>

namespace ante {

namespace asio = boost::asio;

MemoryStatusStore::MemoryStatusStore(MemoryStatusStoreOptions options, std::shared_ptr<const Clock> clock)
    : options_(options), clock_(std::move(clock)) {}

void MemoryStatusStore::drop(std::unordered_map<std::string, Entry>::iterator it) {
    bytes_ -= it->second.record.byte_estimate();
    entries_.erase(it);
}

void MemoryStatusStore::purge_expired(SteadyTime now) {
    while (!finished_.empty() && finished_.front().first <= now) {
        auto it = entries_.find(finished_.front().second);
        if (it != entries_.end() && it->second.expires_at == finished_.front().first) {
            drop(it);
            ++drops_.expired;
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
            ++drops_.evicted;
            return true;
        }
    }
    return false;
}

bool MemoryStatusStore::full(std::size_t adding) const {
    return entries_.size() >= options_.capacity || bytes_ + adding > options_.max_bytes;
}

asio::awaitable<Errc> MemoryStatusStore::create(JobRecord record) {
    std::lock_guard lock(mutex_);
    purge_expired(clock_->steady_now());
    while (full(record.byte_estimate())) {
        if (!evict_oldest_finished()) {
            ++drops_.refused;
            co_return Errc::store_full;
        }
    }
    if (entries_.contains(record.id)) co_return Errc::conflict;
    record.version = 1;
    bytes_ += record.byte_estimate();
    std::string id = record.id;
    entries_.emplace(std::move(id), Entry{std::move(record)});
    co_return Errc::ok;
}

asio::awaitable<std::optional<JobRecord>> MemoryStatusStore::get(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.expires_at <= clock_->steady_now()) co_return std::nullopt;
    co_return it->second.record;
}

asio::awaitable<bool> MemoryStatusStore::compare_and_set(JobRecord record) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(record.id);
    // Expired or erased meanwhile: nothing to resurrect.
    if (it == entries_.end() || it->second.expires_at <= clock_->steady_now()) co_return false;
    Entry& entry = it->second;
    if (entry.record.version != record.version) co_return false;
    ++record.version;
    bytes_ -= entry.record.byte_estimate();
    bytes_ += record.byte_estimate();
    // An accepted job's result is always kept; older finished records make room for it.
    while (bytes_ > options_.max_bytes && evict_oldest_finished(record.id)) {
    }
    const bool newly_final = is_final(record.status) && entry.expires_at == SteadyTime::max();
    entry.record = std::move(record);
    if (newly_final) {
        entry.expires_at = clock_->steady_now() + options_.retention;
        finished_.emplace_back(entry.expires_at, entry.record.id);
    }
    co_return true;
}

asio::awaitable<void> MemoryStatusStore::erase(std::string id) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it != entries_.end()) drop(it);
    co_return;
}

void MemoryStatusStore::purge_expired_keys(SteadyTime now) {
    while (!key_expiry_.empty() && key_expiry_.begin()->first <= now) {
        auto [key, token] = std::move(key_expiry_.begin()->second);
        key_expiry_.erase(key_expiry_.begin());
        auto it = keys_.find(key);
        if (it != keys_.end() && it->second.token == token && it->second.expires_at <= now) keys_.erase(it);
    }
}

asio::awaitable<KeyClaim> MemoryStatusStore::claim_key(std::string key, std::string fingerprint,
                                                        std::chrono::milliseconds lease) {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_->steady_now();
    purge_expired_keys(now);
    auto it = keys_.find(key);
    if (it != keys_.end() && it->second.expires_at > now) {
        const Key& k = it->second;
        co_return KeyClaim{.state = k.completed ? KeyState::completed : KeyState::in_progress,
                           .token = 0, .fingerprint = k.fingerprint, .value = k.value};
    }
    if (it == keys_.end() && keys_.size() >= options_.max_keys) co_return KeyClaim{.state = KeyState::refused};
    const std::uint64_t token = next_key_token_++;
    Key& k = keys_[key];
    k = Key{.fingerprint = fingerprint, .value = {}, .completed = false, .token = token, .expires_at = now + lease};
    key_expiry_.emplace(k.expires_at, std::pair{std::move(key), token});
    co_return KeyClaim{.state = KeyState::claimed, .token = token, .fingerprint = std::move(fingerprint), .value = {}};
}

asio::awaitable<bool> MemoryStatusStore::complete_key(std::string key, std::uint64_t token, std::string value,
                                                       std::chrono::milliseconds keep) {
    std::lock_guard lock(mutex_);
    const SteadyTime now = clock_->steady_now();
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.token != token || it->second.completed || it->second.expires_at <= now)
        co_return false;
    it->second.completed = true;
    it->second.value = std::move(value);
    it->second.expires_at = now + keep;
    key_expiry_.emplace(it->second.expires_at, std::pair{std::move(key), token});
    co_return true;
}

asio::awaitable<void> MemoryStatusStore::release_key(std::string key, std::uint64_t token) {
    std::lock_guard lock(mutex_);
    auto it = keys_.find(key);
    if (it != keys_.end() && it->second.token == token && !it->second.completed) keys_.erase(it);
    co_return;
}

StoreStats MemoryStatusStore::stats() const {
    std::lock_guard lock(mutex_);
    return StoreStats{.records = entries_.size(), .bytes = bytes_, .keys = keys_.size()};
}

MemoryStatusStore::Drops MemoryStatusStore::drops() const {
    std::lock_guard lock(mutex_);
    return drops_;
}

}  // namespace ante
