#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <ante/backend/redis/redis_client.hpp>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdio>
#include <mutex>

#include <spdlog/spdlog.h>

namespace ante {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

RedisReply convert(const redisReply& r) {
    RedisReply out;
    switch (r.type) {
        case REDIS_REPLY_STRING:
            out.type = RedisReply::Type::string;
            break;
        case REDIS_REPLY_STATUS:
            out.type = RedisReply::Type::status;
            break;
        case REDIS_REPLY_ERROR:
            out.type = RedisReply::Type::error;
            break;
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::array;
            break;
        default:
            out.type = RedisReply::Type::nil;
            break;
    }
    if (r.str) out.text.assign(r.str, r.len);
    out.integer = r.integer;
    for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
    return out;
}

std::string format(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
    }
    char* command = nullptr;
    const int n = redisFormatCommandArgv(&command, static_cast<int>(args.size()), argv.data(), lengths.data());
    if (n < 0) throw std::bad_alloc();
    std::string out(command, static_cast<std::size_t>(n));
    redisFreeCommand(command);
    return out;
}

// One connection: a socket (with a deadline per command) and a hiredis reply
// parser.
struct Connection {
    explicit Connection(asio::any_io_executor ex) : stream(asio::make_strand(ex)), reader(redisReaderCreate()) {}
    ~Connection() { redisReaderFree(reader); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    beast::tcp_stream stream;
    redisReader* reader;
};

}  // namespace

RedisScript::RedisScript(std::string text) : source(std::move(text)) {
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), digest.data());
    for (unsigned char byte : digest) {
        char hex[3];
        std::snprintf(hex, sizeof hex, "%02x", byte);
        sha1 += hex;
    }
}

// The pool is a channel of slots: taking one is receiving it, giving it back is
// sending it. An empty slot connects on first use, so a broken connection is
// simply given back empty.
struct RedisClient::State {
    using Slot = std::shared_ptr<Connection>;
    using Pool = asio::experimental::concurrent_channel<void(error_code, Slot)>;

    State(asio::any_io_executor ex, RedisOptions opts)
        : executor(std::move(ex)), options(std::move(opts)), pool(executor, options.connections) {
        for (std::size_t i = 0; i < options.connections; ++i) pool.try_send(error_code{}, Slot{});
    }

    asio::awaitable<Slot> connect();
    asio::awaitable<RedisReply> run(Connection& c, const std::string& wire);

    asio::any_io_executor executor;
    RedisOptions options;
    Pool pool;
    std::mutex mutex;
    std::chrono::steady_clock::time_point down_until{};
    std::chrono::milliseconds backoff{0};
};

asio::awaitable<RedisClient::State::Slot> RedisClient::State::connect() {
    {
        std::lock_guard lock(mutex);
        if (std::chrono::steady_clock::now() < down_until)
            throw RedisUnavailable("Redis at " + options.host + ":" + std::to_string(options.port) +
                                   " is unreachable (retrying shortly)");
    }
    auto c = std::make_shared<Connection>(executor);
    c->stream.expires_after(options.connect_timeout);
    tcp::endpoint endpoint{asio::ip::make_address(options.host), options.port};
    auto [ec] = co_await c->stream.async_connect(endpoint, use_tuple);
    // The caller gave up (its attempt was cancelled): that says nothing about Redis.
    if (ec == asio::error::operation_aborted) throw RedisUnavailable("a Redis command was cancelled");
    std::lock_guard lock(mutex);
    if (ec) {
        backoff = std::clamp(backoff * 2, options.reconnect_backoff, std::chrono::milliseconds(2'000));
        down_until = std::chrono::steady_clock::now() + backoff;
        spdlog::warn("Redis at {}:{} unreachable ({}); commands fail at once for the next {} ms", options.host,
                     options.port, ec.message(), backoff.count());
        throw RedisUnavailable("cannot connect to Redis at " + options.host + ":" + std::to_string(options.port) +
                               ": " + ec.message());
    }
    backoff = std::chrono::milliseconds(0);
    c->stream.socket().set_option(tcp::no_delay(true));
    co_return c;
}

asio::awaitable<RedisReply> RedisClient::State::run(Connection& c, const std::string& wire) {
    c.stream.expires_after(options.command_timeout);
    auto [wec, wn] = co_await asio::async_write(c.stream, asio::buffer(wire), use_tuple);
    if (wec) throw RedisUnavailable("lost the connection to Redis: " + wec.message());
    std::array<char, 16 * 1024> buffer;
    for (;;) {
        void* parsed = nullptr;
        if (redisReaderGetReply(c.reader, &parsed) != REDIS_OK)
            throw RedisUnavailable(std::string("unreadable reply from Redis: ") + c.reader->errstr);
        if (parsed) {
            std::unique_ptr<redisReply, void (*)(void*)> reply{static_cast<redisReply*>(parsed), freeReplyObject};
            co_return convert(*reply);
        }
        auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(buffer), use_tuple);
        if (rec) throw RedisUnavailable("lost the connection to Redis: " + rec.message());
        redisReaderFeed(c.reader, buffer.data(), n);
    }
}

RedisClient::RedisClient(asio::any_io_executor executor, RedisOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

RedisClient::~RedisClient() { state_->pool.close(); }

const RedisOptions& RedisClient::options() const noexcept { return state_->options; }

asio::awaitable<RedisReply> RedisClient::command(std::vector<std::string> args) {
    auto s = state_;
    const std::string wire = format(args);
    auto [ec, slot] = co_await s->pool.async_receive(use_tuple);
    if (ec) throw RedisUnavailable("the Redis client is closed");
    try {
        if (!slot) slot = co_await s->connect();
        RedisReply reply = co_await s->run(*slot, wire);
        s->pool.try_send(error_code{}, std::move(slot));
        co_return reply;
    } catch (...) {
        s->pool.try_send(error_code{}, State::Slot{});  // broken or never made: the next use reconnects
        throw;
    }
}

asio::awaitable<RedisReply> RedisClient::eval(const RedisScript& script, std::vector<std::string> keys,
                                              std::vector<std::string> args) {
    std::vector<std::string> command{"EVALSHA", script.sha1, std::to_string(keys.size())};
    command.insert(command.end(), keys.begin(), keys.end());
    command.insert(command.end(), args.begin(), args.end());
    RedisReply reply = co_await this->command(command);
    if (reply.is_error() && reply.text.starts_with("NOSCRIPT")) {  // Redis restarted, or never had it
        command[0] = "EVAL";
        command[1] = script.source;
        reply = co_await this->command(std::move(command));
    }
    if (reply.is_error()) {
        // Redis refusing for now (loading its data, out of memory, a busy script, a replica
        // that cannot write...) is unavailability: the caller answers 503 and tries again.
        for (std::string_view transient : {"LOADING", "OOM", "BUSY", "MASTERDOWN", "READONLY", "MISCONF", "NOAUTH",
                                           "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN"})
            if (reply.text.starts_with(transient)) throw RedisUnavailable("Redis refused: " + reply.text);
        throw RedisError("Redis script failed: " + reply.text);
    }
    co_return reply;
}

}  // namespace ante
