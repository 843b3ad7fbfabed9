#pragma once
/// \file
/// The three kinds of handler (docs/design.md seam 3).

#include <ante/core/context.hpp>
#include <ante/core/request.hpp>
#include <ante/core/response.hpp>

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <variant>

namespace ante {

/// A plain function handler. As `Inline` it runs on the I/O thread and must not block;
/// as `Blocking` it runs on a bounded thread pool and may block.
using HandlerFn = std::function<Response(const Request&, Context&)>;
/// A coroutine handler (such as the upstream proxy). Arguments by value: GCC 12 coroutines
/// must not keep references to the caller's frame.
using AwaitableFn = std::function<boost::asio::awaitable<Response>(Request, Context)>;

/// Runs on the I/O thread: the cheapest path, for work that never blocks.
struct InlineHandler { HandlerFn fn; };
/// Runs on the dispatcher's thread pool, never on an I/O thread.
struct BlockingHandler { HandlerFn fn; };
/// A coroutine on the I/O executor, bounded by the concurrency limit.
struct AwaitableHandler { AwaitableFn fn; };

/// One of the three kinds.
using Handler = std::variant<InlineHandler, BlockingHandler, AwaitableHandler>;

inline Handler inline_handler(HandlerFn fn) { return InlineHandler{std::move(fn)}; }
inline Handler blocking_handler(HandlerFn fn) { return BlockingHandler{std::move(fn)}; }
inline Handler awaitable_handler(AwaitableFn fn) { return AwaitableHandler{std::move(fn)}; }

}  // namespace ante
