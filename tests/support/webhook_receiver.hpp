#pragma once
// A real HTTP receiver for webhook tests: listens on 127.0.0.1, keeps every request it gets and
// answers each with the next status the test set (200 once they run out), with a short body or
// one of `answer_bytes`.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ante::test {

class WebhookReceiver {
public:
    using Received = boost::beast::http::request<boost::beast::http::string_body>;

    explicit WebhookReceiver(std::vector<int> statuses = {}, std::size_t answer_bytes = 0);
    ~WebhookReceiver();
    WebhookReceiver(const WebhookReceiver&) = delete;
    WebhookReceiver& operator=(const WebhookReceiver&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// Waits up to `timeout` until `count` requests have come; returns all received so far.
    std::vector<Received> wait_for(std::size_t count, std::chrono::milliseconds timeout);

private:
    void accept_loop();
    void serve(boost::asio::ip::tcp::socket& socket);

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::size_t answer_bytes_ = 0;
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::deque<int> statuses_;
    std::vector<Received> received_;
    std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> open_;
    std::vector<std::thread> threads_;
    std::thread acceptor_thread_;
};

}  // namespace ante::test
