#include <ante/dispatch/status_watch.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace ante {

namespace asio = boost::asio;

StatusWatch::Watcher::Watcher(StatusWatch& hub, std::string id, asio::any_io_executor executor)
    : hub_(hub), id_(std::move(id)), signal_(std::make_shared<Signal>(std::move(executor))) {
    std::lock_guard lock(hub_.mutex_);
    hub_.signals_[id_].push_back(signal_);
}

StatusWatch::Watcher::~Watcher() {
    std::lock_guard lock(hub_.mutex_);
    auto it = hub_.signals_.find(id_);
    if (it == hub_.signals_.end()) return;
    std::erase(it->second, signal_);
    if (it->second.empty()) hub_.signals_.erase(it);
}

asio::awaitable<void> StatusWatch::Watcher::wait(std::chrono::milliseconds longest) {
    // A change that came since the last call is not slept through: `changed` remembers it, and
    // a cancel posted by notify runs on this executor only once this coroutine is suspended.
    if (!signal_->changed.exchange(false)) {
        signal_->timer.expires_after(longest);
        boost::system::error_code ec;
        co_await signal_->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        signal_->changed = false;
    }
}

void StatusWatch::notify(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto it = signals_.find(id);
    if (it == signals_.end()) return;
    for (const auto& signal : it->second) {
        signal->changed = true;
        asio::post(signal->timer.get_executor(), [signal] { signal->timer.cancel(); });
    }
}

std::size_t StatusWatch::watched() const {
    std::lock_guard lock(mutex_);
    return signals_.size();
}

}  // namespace ante
