#pragma once
/// \file
/// What policies tell the outside: events (a rejection, a retry, a timeout) as they happen.
/// State changes of a breaker come from `CircuitBreaker::on_transition`; counters are each
/// policy's `stats()`.

#include <functional>
#include <memory>
#include <string_view>

namespace ante {

struct PolicyEvent {
    enum class Kind {
        rejected,   ///< the policy refused the call (rate limited, bulkhead full, breaker open)
        retried,    ///< another attempt follows after `detail`'s wait
        timed_out,  ///< an attempt or the whole call passed its deadline
    };
    Kind kind;
    std::string_view policy;          ///< "rate_limit", "bulkhead", "retry", "circuit_breaker", "attempt_timeout"
    std::string_view correlation_id;  ///< of the call
    std::string_view detail;          ///< a short human-readable account
};

/// Receives events. Called on the calling thread, so keep it short (log, count). Only events
/// are reported, never successes, so a quiet pipeline pays nothing but a null check.
using PolicyListener = std::function<void(const PolicyEvent&)>;
using PolicyEvents = std::shared_ptr<const PolicyListener>;

/// Calls `events` when it is set.
inline void publish(const PolicyEvents& events, PolicyEvent::Kind kind, std::string_view policy,
                    std::string_view correlation_id, std::string_view detail) {
    if (events) (*events)(PolicyEvent{kind, policy, correlation_id, detail});
}

}  // namespace ante
