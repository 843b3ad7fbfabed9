#include "webhook_receiver.hpp"

#include <boost/beast/core/flat_buffer.hpp>

namespace ante::test {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

WebhookReceiver::WebhookReceiver(std::vector<int> statuses, std::size_t answer_bytes)
    : acceptor_(io_, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}),
      answer_bytes_(answer_bytes),
      statuses_(statuses.begin(), statuses.end()) {
    port_ = acceptor_.local_endpoint().port();
    acceptor_thread_ = std::thread([this] { accept_loop(); });
}

WebhookReceiver::~WebhookReceiver() {
    boost::system::error_code ignored;
    stopping_ = true;
    {
        tcp::socket wake{io_};  // a blocking accept is not ended by close: connect to end it
        wake.connect(acceptor_.local_endpoint(), ignored);
    }
    acceptor_thread_.join();
    {
        std::lock_guard lock(mutex_);
        for (auto& socket : open_) socket->shutdown(tcp::socket::shutdown_both, ignored);  // ends blocking reads
    }
    for (auto& t : threads_) t.join();
}

void WebhookReceiver::accept_loop() {
    for (;;) {
        boost::system::error_code ec;
        auto socket = std::make_shared<tcp::socket>(io_);
        acceptor_.accept(*socket, ec);
        if (ec || stopping_) return;
        std::lock_guard lock(mutex_);  // listed before its thread starts, so the destructor can end it
        open_.push_back(socket);
        threads_.emplace_back([this, socket] { serve(*socket); });
    }
}

void WebhookReceiver::serve(tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
        Received request;
        boost::system::error_code ec;
        bhttp::read(socket, buffer, request, ec);
        if (ec) return;
        int status = 200;
        {
            std::lock_guard lock(mutex_);
            if (!statuses_.empty()) {
                status = statuses_.front();
                statuses_.pop_front();
            }
            received_.push_back(request);
        }
        arrived_.notify_all();
        bhttp::response<bhttp::string_body> answer{static_cast<bhttp::status>(status), 11};
        answer.body() = answer_bytes_ ? std::string(answer_bytes_, 'x') : "receiver " + std::to_string(status);
        answer.prepare_payload();
        bhttp::write(socket, answer, ec);
        if (ec) return;
    }
}

std::vector<WebhookReceiver::Received> WebhookReceiver::wait_for(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    arrived_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
    return received_;
}

}  // namespace ante::test
