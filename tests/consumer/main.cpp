// Dispatches one request through an installed antechamber, without any socket.
#include <ante/gateway.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <thread>

int main() {
    boost::asio::io_context io;
    ante::Gateway gateway{io.get_executor()};
    gateway.route("GET", "/ping/{who}", ante::inline_handler([](const ante::Request&, ante::Context& ctx) {
                      return ante::Response::text(200, "pong " + std::string(ctx.param("who")));
                  }));
    gateway.start();
    ante::Request request;
    request.target = "/ping/consumer";
    auto answer = gateway.async_dispatch(request, boost::asio::use_future);
    std::thread runner{[&] { io.run_for(std::chrono::seconds(5)); }};
    ante::Response response = answer.get();
    io.stop();
    runner.join();
    std::cout << response.status << " " << response.body << "\n";
    return response.status == 200 && response.body == "pong consumer" ? 0 : 1;
}
