#pragma once
// A real redis-server for the tests, on a free loopback port, in its own data directory,
// stopped (and its directory removed) with this object. It can be killed and started again on
// the same port and data, for restart tests.

#include "child_process.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ante::test {

class RedisServer {
public:
    /// `extra` are redis-server options ("--appendonly", "yes", ...). Throws when redis-server
    /// is not installed or does not start.
    explicit RedisServer(std::vector<std::string> extra = {});
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// SIGKILL: no shutdown save, as a crash.
    void kill();
    /// Starts it again on the same port and data directory.
    void start();

    /// Where Debian puts it, if it is installed.
    static std::optional<std::string> binary();

private:
    std::vector<std::string> extra_;
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    std::optional<ChildProcess> process_;
};

}  // namespace ante::test
