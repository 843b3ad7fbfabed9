#pragma once
/// \file
/// Sends webhook deliveries over pooled keep-alive connections, one pool per receiver.

#include <ante/dispatch/webhook.hpp>
#include <ante/handler.hpp>

#include <boost/asio/any_io_executor.hpp>

namespace ante::http {

/// The handler of the gateway's webhook route. A delivery's request names the callback URL as
/// its target; each try is signed afresh with the current time. A 2xx answer is a success and
/// is kept as the delivery's result; any other answer, or none, fails the try with 502 so it is
/// tried again after the backoff.
AwaitableHandler webhook_sender(boost::asio::any_io_executor executor, WebhookOptions options);

}  // namespace ante::http
