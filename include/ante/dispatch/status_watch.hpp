#pragma once
/// \file
/// Wakes whoever watches a job (a Server-Sent Events stream) when its record changes here.
/// Changes made by other processes are seen by the watchers' periodic re-read.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ante {

class StatusWatch {
public:
    /// One watcher of one job. Waits on the executor it was made with.
    class Watcher {
    public:
        Watcher(StatusWatch& hub, std::string id, boost::asio::any_io_executor executor);
        Watcher(const Watcher&) = delete;
        Watcher& operator=(const Watcher&) = delete;
        ~Watcher();
        /// Returns at the next change since the previous call (at once if one came meanwhile),
        /// or after `longest`.
        boost::asio::awaitable<void> wait(std::chrono::milliseconds longest);

    private:
        friend class StatusWatch;
        struct Signal {
            explicit Signal(boost::asio::any_io_executor ex) : timer(std::move(ex)) {}
            boost::asio::steady_timer timer;
            std::atomic<bool> changed{false};
        };
        StatusWatch& hub_;
        std::string id_;
        std::shared_ptr<Signal> signal_;
    };

    /// Wakes the job's watchers.
    void notify(const std::string& id);
    /// Jobs watched now.
    [[nodiscard]] std::size_t watched() const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::vector<std::shared_ptr<Watcher::Signal>>> signals_;
};

}  // namespace ante
