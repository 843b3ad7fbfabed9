#pragma once
// Runs an io_context on background threads so a test can wait for coroutines.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>
#include <vector>

namespace ante::test {

class IoRunner {
public:
    explicit IoRunner(int threads = 2) : guard_(io_.get_executor()) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
    }
    ~IoRunner() { stop(); }
    IoRunner(const IoRunner&) = delete;
    IoRunner& operator=(const IoRunner&) = delete;

    boost::asio::io_context& io() noexcept { return io_; }
    boost::asio::any_io_executor executor() { return io_.get_executor(); }

    /// Runs `task` on the io_context and blocks until it ends (rethrowing its exception).
    template <class T>
    T wait(boost::asio::awaitable<T> task) {
        return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future).get();
    }

    void stop() {
        guard_.reset();
        io_.stop();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;
};

}  // namespace ante::test
