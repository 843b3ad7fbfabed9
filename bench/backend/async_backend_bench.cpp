// Async jobs per second, submit -> complete, through the in-process backend and through Redis
// (ANTE_REDIS_PORT; bench/backend/run.sh starts a redis-server and measures its raw XADD rate
// in the same run). Each iteration submits a batch of jobs to an async route whose handler
// answers at once, and waits until the workers have finished them all.

#include <ante/backend/redis/redis_backend.hpp>
#include <ante/gateway.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <cstdlib>
#include <spdlog/spdlog.h>

#include <thread>

namespace {

namespace asio = boost::asio;
constexpr int batch = 1'000;

void submit_to_complete(benchmark::State& state, bool redis) {
    spdlog::set_level(spdlog::level::warn);  // a line per job would measure the logger
    const char* port = std::getenv("ANTE_REDIS_PORT");
    if (redis && !port) {
        state.SkipWithError("ANTE_REDIS_PORT is not set (bench/backend/run.sh sets it)");
        return;
    }
    asio::io_context io;
    auto guard = asio::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });
    {
        ante::GatewayOptions options;
        options.async.workers = static_cast<std::size_t>(state.range(0));
        options.async.queue_capacity = 2 * batch;
        if (redis) {
            ante::RedisBackendOptions backend;
            backend.server.port = static_cast<std::uint16_t>(std::atoi(port));
            backend.server.connections = static_cast<std::size_t>(state.range(1));
            backend.prefix = "bench-" + std::to_string(std::rand());
            ante::use_redis(options, io.get_executor(), std::move(backend));
        }
        ante::Gateway gw{io.get_executor(), options};
        gw.route("POST", "/job", ante::inline_handler([](const ante::Request&, ante::Context&) { return ante::Response{}; }),
                 ante::Dispatch::async);
        gw.start();
        std::uint64_t done = 0;
        for (auto _ : state) {
            std::vector<std::future<ante::Response>> submits;
            for (int i = 0; i < batch; ++i) {
                ante::Request r;
                r.method = "POST";
                r.target = "/job";
                submits.push_back(asio::co_spawn(io, gw.dispatch(std::move(r)), asio::use_future));
            }
            for (auto& s : submits)
                if (s.get().status != 202) state.SkipWithError("a submit was refused");
            done += batch;
            while (gw.async_dispatcher().stats().succeeded < done) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        state.SetItemsProcessed(static_cast<std::int64_t>(done));
        asio::co_spawn(io, gw.shutdown(std::chrono::seconds(1)), asio::use_future).get();
    }
    guard.reset();
    for (auto& t : threads) t.join();
}

void BM_SubmitToComplete_Memory(benchmark::State& state) { submit_to_complete(state, false); }
void BM_SubmitToComplete_Redis(benchmark::State& state) { submit_to_complete(state, true); }

// Arguments: workers, and for Redis the client's pooled connections.
BENCHMARK(BM_SubmitToComplete_Memory)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SubmitToComplete_Redis)->Args({4, 8})->Args({4, 32})->Args({16, 32})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
