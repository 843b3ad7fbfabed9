#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ante::test {

// A helper program (e.g. the example upstream) run by a test, with its stdout
// piped back to us. RAII so a failing test never leaks a running server.
class ChildProcess {
public:
    // Runs `path` (no PATH lookup) with `args` as argv[1..]; stderr stays the parent's.
    static ChildProcess start(std::string path, std::vector<std::string> args);

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(ChildProcess const&) = delete;
    ChildProcess& operator=(ChildProcess const&) = delete;
    // SIGTERM, up to 2 s grace, then SIGKILL; always reaps.
    ~ChildProcess();

    // One line of stdout without its '\n'; throws std::runtime_error on timeout or EOF.
    std::string read_line(std::chrono::milliseconds timeout);
    // Skips lines until "listening on <addr>:<port>" and returns the port.
    int wait_for_port(std::chrono::milliseconds timeout);

    void signal(int sig);
    // Blocks until exit; returns the exit code, or -N if killed by signal N.
    int wait();
    bool running();
    pid_t pid() const noexcept { return pid_; }

private:
    ChildProcess(std::string path, pid_t pid, int out_fd) noexcept;
    void record(int raw_status) noexcept;
    void terminate() noexcept;

    std::string path_;  // for error messages
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string pending_;  // bytes read past the last returned line
    std::optional<int> status_;  // set once reaped; the pid must not be signalled after that
};

}  // namespace ante::test
