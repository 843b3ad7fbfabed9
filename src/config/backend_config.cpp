#include "backend_parse.hpp"
#include "fields.hpp"

#include <boost/asio/ip/address.hpp>

namespace ante {

using nlohmann::json;

std::optional<Role> parse_role(std::string_view text) {
    if (text == "gateway") return Role::gateway;
    if (text == "worker") return Role::worker;
    if (text == "both") return Role::both;
    return std::nullopt;
}

void check_role(const GatewayConfig& config) {
    if (config.role != Role::both && config.backend.type == BackendConfig::Type::memory)
        throw ConfigError("role", "a separate gateway or worker needs a shared backend (\"backend\": {\"type\": "
                          "\"redis\", ...}); with the in-process one, use \"both\"");
}

namespace config_detail {

BackendConfig parse_backend(const json& value) {
    const Fields f(value, "backend", {"type", "host", "port", "prefix", "connections", "connect_timeout_ms",
                                      "command_timeout_ms"});
    BackendConfig out;
    const std::string type = f.required_string("type");
    if (type == "memory") {
        for (const char* only_redis : {"host", "port", "prefix", "connections", "connect_timeout_ms", "command_timeout_ms"})
            if (f.find(only_redis)) fail(f.path(only_redis), "only a \"redis\" backend has this field");
        return out;
    }
    if (type != "redis") fail(f.path("type"), "expected \"memory\" or \"redis\", got " + json_quote(type));
    out.type = BackendConfig::Type::redis;
    RedisOptions& redis = out.redis.server;
    f.string("host", redis.host);
    if (boost::system::error_code ec; (void)boost::asio::ip::make_address(redis.host, ec), ec)
        fail(f.path("host"), "expected an IP address such as \"127.0.0.1\", got " + json_quote(redis.host));
    f.count("port", redis.port, 1, 65535);
    f.string("prefix", out.redis.prefix);
    if (out.redis.prefix.find_first_of("{}") != std::string::npos)
        fail(f.path("prefix"), "must not contain '{' or '}' (the prefix is the keys' hash tag)");
    f.count("connections", redis.connections, 1, 1024);
    f.millis("connect_timeout_ms", redis.connect_timeout, 1);
    f.millis("command_timeout_ms", redis.command_timeout, 1);
    return out;
}

Role parse_role_field(const json& value) {
    const auto role = value.is_string() ? parse_role(value.get<std::string>()) : std::nullopt;
    if (!role) fail("role", "expected \"gateway\", \"worker\" or \"both\", got " + describe(value));
    return *role;
}

}  // namespace config_detail

}  // namespace ante
