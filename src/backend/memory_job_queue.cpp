#include <ante/backend/memory/memory_job_queue.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace ante {

namespace asio = boost::asio;

asio::awaitable<Errc> MemoryJobQueue::enqueue(Job job) {
    Waiter waiter;
    {
        std::lock_guard lock(mutex_);
        if (closed_) co_return Errc::shutting_down;
        if (waiters_.empty()) {
            if (jobs_.size() >= capacity_ || bytes_ + job.request.size() > max_bytes_) co_return Errc::queue_full;
            bytes_ += job.request.size();
            jobs_.push_back(std::move(job));
            co_return Errc::ok;
        }
        waiter = std::move(waiters_.front());
        waiters_.pop_front();
    }
    waiter(std::move(job));  // hand over directly: an idle worker gets it without queueing
    co_return Errc::ok;
}

asio::awaitable<std::optional<Job>> MemoryJobQueue::take() {
    auto initiate = [this](auto handler) {
        auto target = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        Waiter deliver = [shared, target](std::optional<Job> job) {
            asio::post(target, [shared, job = std::move(job)]() mutable { (*shared)(std::move(job)); });
        };
        std::unique_lock lock(mutex_);
        if (jobs_.empty() && !closed_) {
            waiters_.push_back(std::move(deliver));  // registered under the lock: no lost wake-up
            return;
        }
        std::optional<Job> job;
        if (!jobs_.empty() && !abandoned_) {  // a closed queue is drained first
            job = std::move(jobs_.front());
            jobs_.pop_front();
            bytes_ -= job->request.size();
        }
        lock.unlock();
        deliver(std::move(job));
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<Job>)>(
        initiate, asio::use_awaitable);
}

void MemoryJobQueue::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    wake_all_waiters();  // a waiter exists only while the queue is empty: nothing is left to drain
}

std::size_t MemoryJobQueue::abandon() {
    std::size_t left = 0;
    {
        std::lock_guard lock(mutex_);
        closed_ = abandoned_ = true;
        left = jobs_.size();
    }
    wake_all_waiters();
    return left;
}

void MemoryJobQueue::wake_all_waiters() {
    std::deque<Waiter> waiters;
    {
        std::lock_guard lock(mutex_);
        waiters.swap(waiters_);
    }
    for (auto& waiter : waiters) waiter(std::nullopt);
}

std::size_t MemoryJobQueue::size() const {
    std::lock_guard lock(mutex_);
    return jobs_.size();
}

}  // namespace ante
