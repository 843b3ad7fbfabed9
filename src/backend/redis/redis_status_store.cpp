// Layout ({p} is the prefix, in braces so every key hashes to one slot):
//   {p}:rec:<id>   hash  v = version, d = the CBOR record
//   {p}:records    zset  every record id, by creation time (its size is the
//   count) {p}:finished   zset  finished record ids, by finish time (retention
//   and eviction order) {p}:key:<k>    hash  idempotency key: s =
//   claimed|completed, t = token, f = fingerprint,
//                        x = value, u = lease end (claimed) or expiry
//                        (completed)
//   {p}:keys       zset  every key, by its lease end or expiry
//   {p}:token      the last token handed out
// Time comes from the injected clock (ARGV), so tests drive retention; Redis
// expiries are set as a backstop, longer by a minute.

#include <ante/backend/redis/redis_status_store.hpp>

namespace ante {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t backstop_ms = 60'000;

// Drops finished records past retention, a bounded batch per call (amortised,
// no sweeper).
constexpr const char* purge_records = R"(
local function purge(records, finished, rec_prefix, horizon)
  local old = redis.call('ZRANGEBYSCORE', finished, '-inf', horizon, 'LIMIT', 0, 64)
  for _, id in ipairs(old) do
    redis.call('DEL', rec_prefix .. id)
    redis.call('ZREM', records, id)
    redis.call('ZREM', finished, id)
  end
end
)";

const RedisScript& create_script() {
    static const RedisScript script{std::string(purge_records) + R"(
-- KEYS: records, finished; ARGV: rec prefix, id, data, now, retention ms, capacity, ttl ms
local rec = ARGV[1] .. ARGV[2]
purge(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[4]) - tonumber(ARGV[5]))
if redis.call('EXISTS', rec) == 1 then return {'conflict', redis.call('ZCARD', KEYS[1])} end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then return {'full', redis.call('ZCARD', KEYS[1])} end
  redis.call('DEL', ARGV[1] .. oldest[1])
  redis.call('ZREM', KEYS[1], oldest[1])
  redis.call('ZREM', KEYS[2], oldest[1])
end
redis.call('HSET', rec, 'v', 1, 'd', ARGV[3])
redis.call('PEXPIRE', rec, ARGV[7])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
return {'ok', redis.call('ZCARD', KEYS[1])}
)"};
    return script;
}

const RedisScript& get_script() {
    static const RedisScript script{R"(
-- KEYS: finished; ARGV: rec key, id, now, retention ms
local done = redis.call('ZSCORE', KEYS[1], ARGV[2])
if done and tonumber(done) + tonumber(ARGV[4]) <= tonumber(ARGV[3]) then return false end
return redis.call('HGET', ARGV[1], 'd')
)"};
    return script;
}

const RedisScript& compare_and_set_script() {
    static const RedisScript script{R"(
-- KEYS: finished; ARGV: rec key, id, expected version, data, final (0/1), now, ttl ms, retention ms
local v = redis.call('HGET', ARGV[1], 'v')
if not v or v ~= ARGV[3] then return 0 end
local done = redis.call('ZSCORE', KEYS[1], ARGV[2])
if done and tonumber(done) + tonumber(ARGV[8]) <= tonumber(ARGV[6]) then return 0 end  -- expired
redis.call('HSET', ARGV[1], 'v', tonumber(ARGV[3]) + 1, 'd', ARGV[4])
redis.call('PEXPIRE', ARGV[1], ARGV[7])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[1], 'NX', ARGV[6], ARGV[2]) end
return 1
)"};
    return script;
}

const RedisScript& erase_script() {
    static const RedisScript script{R"(
-- KEYS: records, finished; ARGV: rec key, id
redis.call('DEL', ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('ZCARD', KEYS[1])
)"};
    return script;
}

constexpr const char* purge_keys = R"(
local function purge_keys(keys, key_prefix, now)
  local old = redis.call('ZRANGEBYSCORE', keys, '-inf', now, 'LIMIT', 0, 64)
  for _, k in ipairs(old) do
    redis.call('DEL', key_prefix .. k)  -- a completed key past its keep, or a lapsed claim
    redis.call('ZREM', keys, k)
  end
end
)";

const RedisScript& claim_script() {
    static const RedisScript script{std::string(purge_keys) + R"(
-- KEYS: keys, token; ARGV: key prefix, key, fingerprint, now, lease ms, max keys
local key = ARGV[1] .. ARGV[2]
local now = tonumber(ARGV[4])
local h = redis.call('HMGET', key, 's', 't', 'f', 'x', 'u')
local lapsed = h[1] == 'claimed' and tonumber(h[5]) <= now
local expired = h[1] == 'completed' and tonumber(h[5]) <= now
if h[1] and not lapsed and not expired then
  if h[1] == 'completed' then return {'completed', 0, h[3], h[4], redis.call('ZCARD', KEYS[1])} end
  return {'in_progress', 0, h[3], '', redis.call('ZCARD', KEYS[1])}
end
purge_keys(KEYS[1], ARGV[1], now)
if not h[1] and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[6]) then
  return {'refused', 0, '', '', redis.call('ZCARD', KEYS[1])}
end
local token = redis.call('INCR', KEYS[2])
local until_ = now + tonumber(ARGV[5])
redis.call('DEL', key)
redis.call('HSET', key, 's', 'claimed', 't', token, 'f', ARGV[3], 'x', '', 'u', until_)
redis.call('PEXPIRE', key, tonumber(ARGV[5]) + 60000)
redis.call('ZADD', KEYS[1], until_, ARGV[2])
return {'claimed', token, ARGV[3], '', redis.call('ZCARD', KEYS[1])}
)"};
    return script;
}

const RedisScript& complete_script() {
    static const RedisScript script{R"(
-- KEYS: keys; ARGV: key prefix, key, token, value, now, keep ms
local key = ARGV[1] .. ARGV[2]
local h = redis.call('HMGET', key, 's', 't')
if h[1] ~= 'claimed' or h[2] ~= ARGV[3] then return 0 end
local until_ = tonumber(ARGV[5]) + tonumber(ARGV[6])
redis.call('HSET', key, 's', 'completed', 'x', ARGV[4], 'u', until_)
redis.call('PEXPIRE', key, tonumber(ARGV[6]) + 60000)
redis.call('ZADD', KEYS[1], until_, ARGV[2])
return 1
)"};
    return script;
}

const RedisScript& release_script() {
    static const RedisScript script{R"(
-- KEYS: keys; ARGV: key prefix, key, token
local key = ARGV[1] .. ARGV[2]
local h = redis.call('HMGET', key, 's', 't')
if h[1] ~= 'claimed' or h[2] ~= ARGV[3] then return redis.call('ZCARD', KEYS[1]) end
redis.call('DEL', key)
redis.call('ZREM', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
)"};
    return script;
}

std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()); }

}  // namespace

RedisStatusStore::RedisStatusStore(std::shared_ptr<RedisClient> redis, RedisStatusStoreOptions options,
                                   std::shared_ptr<const Clock> clock)
    : redis_(std::move(redis)), options_(std::move(options)), clock_(std::move(clock)) {
    const std::string p = "{" + options_.prefix + "}:";
    records_ = p + "records";
    finished_ = p + "finished";
    keys_ = p + "keys";
    token_ = p + "token";
}

std::string RedisStatusStore::now_ms() const {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_->system_now().time_since_epoch()).count());
}

asio::awaitable<Errc> RedisStatusStore::create(JobRecord record) {
    record.version = 1;
    const std::string p = "{" + options_.prefix + "}:rec:";
    const auto retention = std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention);
    std::vector<std::string> keys{records_, finished_};
    std::vector<std::string> args{
        p,
        record.id,
        serialize(record),
        now_ms(),
        millis(retention),
        std::to_string(options_.capacity),
        millis(std::chrono::duration_cast<std::chrono::milliseconds>(options_.unfinished_ttl))};
    auto reply = co_await redis_->eval(create_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    records_count_ = static_cast<std::size_t>(reply.elements.at(1).integer);
    const std::string& outcome = reply.elements.at(0).text;
    co_return outcome == "ok" ? Errc::ok : outcome == "conflict" ? Errc::conflict : Errc::store_full;
}

asio::awaitable<std::optional<JobRecord>> RedisStatusStore::get(std::string id) {
    const auto retention = std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention);
    std::vector<std::string> keys{finished_};
    std::vector<std::string> args{"{" + options_.prefix + "}:rec:" + id, id, now_ms(), millis(retention)};
    auto reply = co_await redis_->eval(get_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    if (reply.type != RedisReply::Type::string) co_return std::nullopt;
    co_return deserialize_record(reply.text);
}

asio::awaitable<bool> RedisStatusStore::compare_and_set(JobRecord record) {
    const std::uint64_t expected = record.version;
    record.version = expected + 1;
    const bool final = is_final(record.status);
    const auto ttl = final ? std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention) +
                                 std::chrono::milliseconds(backstop_ms)
                           : std::chrono::duration_cast<std::chrono::milliseconds>(options_.unfinished_ttl);
    std::vector<std::string> keys{finished_};
    std::vector<std::string> args{"{" + options_.prefix + "}:rec:" + record.id,
                                  record.id,
                                  std::to_string(expected),
                                  serialize(record),
                                  final ? "1" : "0",
                                  now_ms(),
                                  millis(ttl),
                                  millis(std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention))};
    auto reply = co_await redis_->eval(compare_and_set_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    co_return reply.integer == 1;
}

asio::awaitable<void> RedisStatusStore::erase(std::string id) {
    std::vector<std::string> keys{records_, finished_};
    std::vector<std::string> args{"{" + options_.prefix + "}:rec:" + id, id};
    auto reply = co_await redis_->eval(erase_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    records_count_ = static_cast<std::size_t>(reply.integer);
}

asio::awaitable<KeyClaim> RedisStatusStore::claim_key(std::string key, std::string fingerprint,
                                                      std::chrono::milliseconds lease) {
    std::vector<std::string> keys{keys_, token_};
    std::vector<std::string> args{"{" + options_.prefix + "}:key:", key, fingerprint, now_ms(), millis(lease),
                                  std::to_string(options_.max_keys)};
    auto reply = co_await redis_->eval(claim_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    const auto& e = reply.elements;
    keys_count_ = static_cast<std::size_t>(e.at(4).integer);
    const std::string& state = e.at(0).text;
    KeyClaim claim;
    claim.state = state == "claimed"       ? KeyState::claimed
                  : state == "completed"   ? KeyState::completed
                  : state == "in_progress" ? KeyState::in_progress
                                           : KeyState::refused;
    claim.token = static_cast<std::uint64_t>(e.at(1).integer);
    claim.fingerprint = e.at(2).text;
    claim.value = e.at(3).text;
    co_return claim;
}

asio::awaitable<bool> RedisStatusStore::complete_key(std::string key, std::uint64_t token, std::string value,
                                                     std::chrono::milliseconds keep) {
    std::vector<std::string> keys{keys_};
    std::vector<std::string> args{
        "{" + options_.prefix + "}:key:", key, std::to_string(token), value, now_ms(), millis(keep)};
    auto reply = co_await redis_->eval(complete_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    co_return reply.integer == 1;
}

asio::awaitable<void> RedisStatusStore::release_key(std::string key, std::uint64_t token) {
    std::vector<std::string> keys{keys_};
    std::vector<std::string> args{"{" + options_.prefix + "}:key:", key, std::to_string(token)};
    auto reply = co_await redis_->eval(release_script(), std::move(keys),
                                       std::move(args));  // named: GCC 12 and co_await temporaries
    keys_count_ = static_cast<std::size_t>(reply.integer);
}

StoreStats RedisStatusStore::stats() const {
    return StoreStats{.records = records_count_.load(), .bytes = 0, .keys = keys_count_.load()};
}

}  // namespace ante
