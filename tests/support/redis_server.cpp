#include "redis_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <csignal>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace ante::test {

namespace {

std::uint16_t free_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return probe.local_endpoint().port();
}

}  // namespace

std::optional<std::string> RedisServer::binary() {
    for (const char* path : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"})
        if (::access(path, X_OK) == 0) return path;
    return std::nullopt;
}

RedisServer::RedisServer(std::vector<std::string> extra) : extra_(std::move(extra)) {
    if (!binary()) throw std::runtime_error("redis-server is not installed (apt-get install redis-server)");
    dir_ = std::filesystem::temp_directory_path() /
           ("ante-redis-" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    for (int tries = 0; tries < 5; ++tries) {  // another process may take the port between probe and bind
        port_ = free_port();
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            process_.reset();
        }
    }
    throw std::runtime_error("redis-server did not start");
}

RedisServer::~RedisServer() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

void RedisServer::start() {
    // Under setpriv --pdeathsig: a test process killed outright (a ctest timeout) takes its
    // redis-server with it instead of leaving it running.
    std::vector<std::string> args{"--pdeathsig", "KILL", *binary(), "--port", std::to_string(port_), "--bind",
                                  "127.0.0.1", "--dir", dir_.string(), "--save", "", "--logfile", "", "--daemonize", "no"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    process_ = ChildProcess::start("/usr/bin/setpriv", args);
    for (;;) {  // its log goes to stdout; read_line throws when it exits or stays silent
        if (process_->read_line(std::chrono::seconds(10)).find("Ready to accept connections") != std::string::npos) return;
    }
}

void RedisServer::kill() {
    process_->signal(SIGKILL);
    process_->wait();
    process_.reset();
}

}  // namespace ante::test
