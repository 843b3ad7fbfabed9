#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

extern char** environ;

namespace ante::test {
namespace {

using steady = std::chrono::steady_clock;

std::runtime_error sys_error(std::string const& what, int err) {
    return std::runtime_error("ChildProcess: " + what + ": " + std::strerror(err));
}

std::chrono::milliseconds remaining(steady::time_point deadline) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());  // ceil: never wake early
    return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace

ChildProcess::ChildProcess(std::string path, pid_t pid, int out_fd) noexcept
    : path_(std::move(path)), pid_(pid), out_fd_(out_fd) {}

ChildProcess ChildProcess::start(std::string path, std::vector<std::string> args) {
    int fds[2];
    // O_CLOEXEC on both ends, atomically: a child spawned concurrently by another
    // test thread must not inherit our write end (it would hide EOF).
    if (::pipe2(fds, O_CLOEXEC) != 0) throw sys_error("pipe2", errno);

    std::vector<char*> argv;
    argv.push_back(path.data());
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears FD_CLOEXEC on the child's stdout; both pipe fds close on exec.
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    pid_t pid = -1;
    int const err = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);  // only the child writes; keeping it open would prevent EOF
    if (err != 0) {
        ::close(fds[0]);
        throw sys_error("cannot start '" + path + "'", err);
    }
    return ChildProcess(std::move(path), pid, fds[0]);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : path_(std::move(other.path_)),
      pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      pending_(std::move(other.pending_)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        terminate();
        path_ = std::move(other.path_);
        pid_ = std::exchange(other.pid_, -1);
        out_fd_ = std::exchange(other.out_fd_, -1);
        pending_ = std::move(other.pending_);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

ChildProcess::~ChildProcess() { terminate(); }

std::string ChildProcess::read_line(std::chrono::milliseconds timeout) {
    if (out_fd_ < 0) throw std::runtime_error("ChildProcess: read_line on an empty (moved-from) object");
    auto const deadline = steady::now() + timeout;
    for (;;) {
        if (auto nl = pending_.find('\n'); nl != std::string::npos) {
            std::string line = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            return line;
        }
        pollfd pfd{out_fd_, POLLIN, 0};
        int const ready = ::poll(&pfd, 1, static_cast<int>(remaining(deadline).count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) throw sys_error("poll", errno);
        if (ready == 0) {
            throw std::runtime_error("ChildProcess: timed out after " + std::to_string(timeout.count()) +
                                     " ms waiting for a line from '" + path_ + "' (pid " + std::to_string(pid_) +
                                     "), partial output: '" + pending_ + "'");
        }
        char buf[4096];
        ssize_t const n = ::read(out_fd_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw sys_error("read", errno);
        if (n == 0) {
            throw std::runtime_error("ChildProcess: '" + path_ + "' (pid " + std::to_string(pid_) +
                                     ") closed stdout (EOF) before a full line" +
                                     (running() ? "" : ", exit status " + std::to_string(*status_)) +
                                     ", partial output: '" + pending_ + "'");
        }
        pending_.append(buf, static_cast<std::size_t>(n));
    }
}

int ChildProcess::wait_for_port(std::chrono::milliseconds timeout) {
    constexpr std::string_view prefix = "listening on ";
    auto const deadline = steady::now() + timeout;
    for (;;) {
        std::string line;
        try {
            line = read_line(remaining(deadline));
        } catch (std::runtime_error const&) {
            if (steady::now() < deadline) throw;  // EOF: read_line's message says it best
            throw std::runtime_error("ChildProcess: timed out after " + std::to_string(timeout.count()) +
                                     " ms waiting for 'listening on <addr>:<port>' from '" + path_ + "'");
        }
        if (!line.starts_with(prefix)) continue;
        // rfind: the address itself may contain ':' (IPv6).
        auto const colon = line.rfind(':');
        if (colon == std::string::npos || colon < prefix.size()) continue;
        int port = 0;
        auto const* first = line.data() + colon + 1;
        auto const* last = line.data() + line.size();
        auto [ptr, ec] = std::from_chars(first, last, port);
        if (ec == std::errc{} && ptr == last && port > 0 && port <= 65535) return port;
    }
}

void ChildProcess::signal(int sig) {
    if (pid_ <= 0 || status_) return;  // already reaped: the pid may belong to someone else now
    if (::kill(pid_, sig) != 0 && errno != ESRCH) throw sys_error("kill", errno);
}

void ChildProcess::record(int raw_status) noexcept {
    status_ = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : -WTERMSIG(raw_status);
}

int ChildProcess::wait() {
    if (status_) return *status_;
    if (pid_ <= 0) throw std::runtime_error("ChildProcess: wait on an empty (moved-from) object");
    int raw = 0;
    while (::waitpid(pid_, &raw, 0) < 0) {
        if (errno != EINTR) throw sys_error("waitpid", errno);
    }
    record(raw);
    return *status_;
}

bool ChildProcess::running() {
    if (pid_ <= 0 || status_) return false;
    int raw = 0;
    pid_t const r = ::waitpid(pid_, &raw, WNOHANG);
    if (r == 0) return true;
    if (r == pid_) record(raw);
    return false;
}

void ChildProcess::terminate() noexcept {
    if (running()) {
        ::kill(pid_, SIGTERM);
        auto const deadline = steady::now() + std::chrono::seconds(2);
        while (running() && steady::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (running()) {
            ::kill(pid_, SIGKILL);
            int raw = 0;
            while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
            }
            record(raw);
        }
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    pid_ = -1;
    status_.reset();
    pending_.clear();
}

}  // namespace ante::test
