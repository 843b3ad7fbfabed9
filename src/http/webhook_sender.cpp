#include <ante/core/problem.hpp>
#include <ante/http/proxy.hpp>
#include <ante/http/webhook_sender.hpp>

#include <map>
#include <mutex>

namespace ante::http {

namespace asio = boost::asio;

namespace {

// One pooled sender per receiver origin, made on first use.
class Senders {
public:
    explicit Senders(asio::any_io_executor executor) : executor_(std::move(executor)) {}

    AwaitableFn for_origin(const std::string& origin) {
        std::lock_guard lock(mutex_);
        auto& send = by_origin_[origin];
        if (!send)
            send = proxy_handler(executor_, ProxyOptions{.upstream = origin, .max_idle_connections = 4,
                                                         .response_body_limit = 64 * 1024, .status_only = true})
                       .fn;
        return send;
    }

private:
    asio::any_io_executor executor_;
    std::mutex mutex_;
    std::map<std::string, AwaitableFn> by_origin_;
};

}  // namespace

AwaitableHandler webhook_sender(asio::any_io_executor executor, WebhookOptions options) {
    auto senders = std::make_shared<Senders>(std::move(executor));
    auto secret = std::make_shared<const std::string>(std::move(options.secret));
    return AwaitableHandler{[senders, secret](Request request, Context ctx) -> asio::awaitable<Response> {
        std::string why;
        const auto url = parse_callback_url(request.target, why);
        if (!url) {  // checked at submit, so only a tampered job gets here: no retry mends it
            Response refused = problem(Errc::bad_request, why, ctx.correlation_id);
            refused.permanent = true;
            co_return refused;
        }
        AwaitableFn send = senders->for_origin(url->origin);
        request.target = url->target;
        const std::string id{request.headers.get(kWebhookId).value_or("")};
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        request.headers.set(kWebhookTimestamp, std::to_string(now));
        request.headers.set(kWebhookSignature, sign_webhook(*secret, id, now, request.body));
        Response answer = co_await send(std::move(request), ctx);
        if (answer.status >= 200 && answer.status < 300) co_return answer;
        if (answer.error != Errc::ok) co_return answer;  // unreachable, broken or timed out: the gateway's own 502/504
        co_return problem(Errc::upstream_failed, "the receiver answered " + std::to_string(answer.status),
                          ctx.correlation_id);
    }};
}

}  // namespace ante::http
