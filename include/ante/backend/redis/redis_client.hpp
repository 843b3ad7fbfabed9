#pragma once
/// \file
/// A Redis client driven by Asio: hiredis only formats commands and parses
/// replies (its own I/O would block a thread), connections are pooled, and each
/// carries one command at a time.

#include <ante/core/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ante {

struct RedisOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::size_t connections = 8;  ///< pooled; a command waits for a free one
    std::chrono::milliseconds connect_timeout{1'000};
    std::chrono::milliseconds command_timeout{5'000};  ///< a command without a reply by then fails
    /// After a failed connect, commands fail at once for this long (doubling up
    /// to 2 s), so a down Redis costs callers no connect timeouts.
    std::chrono::milliseconds reconnect_backoff{50};
};

/// One RESP2 reply.
struct RedisReply {
    enum class Type { string, array, integer, nil, status, error };
    Type type = Type::nil;
    std::string text;  ///< string, status and error replies
    long long integer = 0;
    std::vector<RedisReply> elements;

    [[nodiscard]] bool is_nil() const noexcept { return type == Type::nil; }
    [[nodiscard]] bool is_error() const noexcept { return type == Type::error; }
};

/// Redis could not be reached, or the connection broke mid-command (which may
/// then have run).
class RedisUnavailable : public BackendUnavailable {
public:
    using BackendUnavailable::BackendUnavailable;
};

/// Redis answered with an error reply where none was expected.
class RedisError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A Lua script, run by its SHA-1 and loaded again when Redis forgot it (a
/// restart).
struct RedisScript {
    explicit RedisScript(std::string source);
    std::string source;
    std::string sha1;
};

/// Destroy it (and what holds it: a queue, a store, a gateway) before its io_context.
class RedisClient {
public:
    RedisClient(boost::asio::any_io_executor executor, RedisOptions options);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// Runs one command. Throws RedisUnavailable; an error reply is returned, not
    /// thrown.
    boost::asio::awaitable<RedisReply> command(std::vector<std::string> args);
    /// EVALSHA, falling back to EVAL when the script is not loaded. Throws
    /// RedisUnavailable, and RedisError for an error reply (a script error is a
    /// bug).
    boost::asio::awaitable<RedisReply> eval(const RedisScript& script, std::vector<std::string> keys,
                                            std::vector<std::string> args);

    [[nodiscard]] const RedisOptions& options() const noexcept;

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace ante
