#pragma once
// Holds handler threads until the test opens it, so saturation is exact rather than timed.

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace ante::test {

class Gate {
public:
    /// Blocks the calling thread until `release`; counts the threads that arrived.
    void wait() {
        entered_.fetch_add(1);
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return open_; });
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        cv_.notify_all();
    }
    /// Threads that reached `wait` so far.
    [[nodiscard]] int entered() const noexcept { return entered_.load(); }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
    std::atomic<int> entered_{0};
};

}  // namespace ante::test
