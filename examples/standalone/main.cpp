// The standalone gateway: antechamber driven by a JSON configuration file.
//
//   standalone_gateway --config FILE [--role gateway|worker|both]
//
// Prints one line, "listening on ADDR:PORT admin ADDR:PORT", once both listeners are bound (a
// worker, which serves no clients, prints "worker admin ADDR:PORT").
// SIGINT or SIGTERM drains (stop accepting, finish in-flight requests and jobs within
// shutdown_grace_ms) and exits 0; a second signal stops at once. Exit codes: 0 done,
// 1 cannot listen, 2 bad command line or configuration.
#include <ante/admin.hpp>
#include <ante/backend/redis/redis_backend.hpp>
#include <ante/config/config.hpp>
#include <ante/gateway.hpp>
#include <ante/http/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;

namespace {

constexpr std::string_view program = "standalone_gateway";

void usage(std::ostream& out) {
    out << "usage: " << program << " --config FILE [--role ROLE]\n"
        << "  -c, --config FILE   the gateway's JSON configuration (see docs/configuration.md)\n"
        << "  --role ROLE         gateway (serve clients, queue jobs), worker (run jobs) or both;\n"
        << "                      overrides the file's \"role\" (see docs/operations.md)\n"
        << "  -h, --help          show this help\n";
}

// "host:port", with IPv6 literals bracketed so the last ':' always precedes the port.
std::string endpoint_text(const std::string& address, std::uint16_t port) {
    const bool v6 = address.find(':') != std::string::npos;
    return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// Everything the drain touches lives in main() until every io thread has been joined, so the
// plain references below outlive this coroutine.
asio::awaitable<void> drain(ante::http::Server& server, ante::Gateway& gateway, ante::http::Server& admin_server,
                            ante::Gateway& admin, std::chrono::milliseconds grace, asio::io_context& io) {
    spdlog::info("shutting down: draining for up to {} ms", grace.count());
    co_await server.shutdown(grace);
    co_await gateway.shutdown(grace);
    // The admin listener last, so health checks keep answering while the drain runs.
    const std::chrono::milliseconds admin_grace{500};
    co_await admin_server.shutdown(admin_grace);
    // Its workers too: a gateway whose workers were never stopped waits for them on destruction.
    co_await admin.shutdown(admin_grace);
    spdlog::info("shutdown complete");
    io.stop();
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    std::optional<ante::Role> role;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(std::cout);
            return 0;
        }
        if (arg == "-c" || arg == "--config") {
            if (i + 1 == argc) {
                std::cerr << program << ": " << arg << " needs a file name\n";
                usage(std::cerr);
                return 2;
            }
            config_path = argv[++i];
        } else if (arg.starts_with("--config=")) {
            config_path = arg.substr(std::string_view("--config=").size());
        } else if (arg == "--role" || arg.starts_with("--role=")) {
            const std::string_view text = arg == "--role" ? (i + 1 < argc ? argv[++i] : "") : arg.substr(7);
            role = ante::parse_role(text);
            if (!role) {
                std::cerr << program << ": --role expects gateway, worker or both, got '" << text << "'\n";
                return 2;
            }
        } else {
            std::cerr << program << ": unknown argument '" << arg << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    if (config_path.empty()) {
        std::cerr << program << ": no configuration given\n";
        usage(std::cerr);
        return 2;
    }

    ante::GatewayConfig config;
    try {
        config = ante::load_config(config_path);
        if (role) config.role = *role;
        ante::check_role(config);
    } catch (const ante::ConfigError& e) {
        std::cerr << program << ": config error: " << e.what() << '\n';
        return 2;
    }

    // Logs go to stderr: stdout carries only the "listening on" line that scripts read.
    spdlog::set_default_logger(spdlog::stderr_color_mt("antechamber"));
    spdlog::set_level(spdlog::level::from_str(config.log_level));

    asio::io_context io{static_cast<int>(config.io_threads)};
    // Registered before the "listening on" line: a signal sent as soon as a script reads it must
    // drain, not kill. Asio keeps a signal that arrives before async_wait.
    asio::signal_set signals{io, SIGINT, SIGTERM};
    if (config.backend.type == ante::BackendConfig::Type::redis) {
        auto redis = ante::use_redis(config.gateway, io.get_executor(), config.backend.redis);
        asio::co_spawn(io, ante::warn_unless_noeviction(redis), asio::detached);
    }
    const bool serves_clients = config.role != ante::Role::worker;
    const auto& redis = config.backend.redis;
    spdlog::info("role {}, jobs {}", config.role == ante::Role::gateway  ? "gateway (queues jobs, runs none)"
                                     : config.role == ante::Role::worker ? "worker (runs jobs, serves no clients)"
                                                                         : "both",
                 config.backend.type == ante::BackendConfig::Type::redis
                     ? "on Redis at " + redis.server.host + ":" + std::to_string(redis.server.port) + ", prefix {" +
                           redis.prefix + "}"
                     : std::string("in memory (lost on exit)"));
    if (config.role == ante::Role::gateway) {  // jobs are run by worker processes on the same backend
        config.gateway.async.workers = 0;
        config.gateway.async.scaling.enabled = false;
    }
    ante::Gateway gateway{io.get_executor(), config.gateway};
    // The gateway owns the backends now: they must go before the io_context their sockets use.
    config.gateway.queue.reset();
    config.gateway.store.reset();
    try {
        ante::add_routes(config, gateway, io.get_executor());
    } catch (const ante::ConfigError& e) {
        std::cerr << program << ": config error: " << e.what() << '\n';
        return 2;
    }

    // The admin side needs no pool of its own worth the name: inline and awaitable routes.
    ante::GatewayOptions admin_options;
    admin_options.sync.threads = 1;
    admin_options.async.workers = 1;
    ante::Gateway admin{io.get_executor(), admin_options};
    ante::add_admin_routes(admin, gateway);

    ante::http::Server server{io.get_executor(), gateway, config.listen};
    ante::http::Server admin_server{io.get_executor(), admin, config.admin};
    const auto listen = [](ante::http::Server& s, const ante::http::ServerOptions& o, std::string_view what) {
        try {
            s.start();
            return true;
        } catch (const boost::system::system_error& e) {  // bind, listen, or a malformed address
            std::cerr << program << ": cannot listen on " << endpoint_text(o.address, o.port) << " (" << what
                      << "): " << e.code().message() << '\n';
        } catch (const std::exception& e) {
            std::cerr << program << ": cannot listen on " << endpoint_text(o.address, o.port) << " (" << what
                      << "): " << e.what() << '\n';
        }
        return false;
    };
    // Bind before starting the gateways: started async workers wait for the io_context to run,
    // so an early return after start() would hang in their destructors.
    if ((serves_clients && !listen(server, config.listen, "listen")) || !listen(admin_server, config.admin, "admin"))
        return 1;
    gateway.start();
    admin.start();

    const std::string admin_at = endpoint_text(config.admin.address, admin_server.port());
    if (serves_clients)  // flush: a script waits for it
        std::cout << "listening on " << endpoint_text(config.listen.address, server.port()) << " admin " << admin_at
                  << std::endl;
    else
        std::cout << "worker admin " << admin_at << std::endl;

    bool draining = false;
    // Re-armed after the first signal so a second one can cut the drain short.
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (draining) {
                spdlog::warn("signal {} during shutdown: stopping now", signal);
                io.stop();
                return;
            }
            draining = true;
            spdlog::info("signal {} received", signal);
            asio::co_spawn(io, drain(server, gateway, admin_server, admin, config.shutdown_grace, io),
                           [&io](std::exception_ptr error) {
                               if (!error) return;
                               try {
                                   std::rethrow_exception(error);
                               } catch (const std::exception& e) {
                                   spdlog::error("shutdown failed: {}", e.what());
                               } catch (...) {
                                   spdlog::error("shutdown failed");
                               }
                               io.stop();
                           });
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);

    std::vector<std::thread> threads;
    threads.reserve(config.io_threads - 1);
    for (std::size_t i = 1; i < config.io_threads; ++i) threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : threads) t.join();
    return 0;
}
