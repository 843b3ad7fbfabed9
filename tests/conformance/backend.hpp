#pragma once
// The backends the conformance suite runs against. Every backend gets the same tests: the suite
// is the contract of the JobQueue and StatusStore seam (docs/design.md seam 5).

#include <ante/backend/job_queue.hpp>
#include <ante/backend/status_store.hpp>
#include <ante/core/clock.hpp>

#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

namespace ante::test {

/// The bounds a test asks of a backend.
struct BackendLimits {
    std::size_t queue_capacity = 10'000;
    std::size_t queue_bytes = std::size_t{256} << 20;  ///< of requests, live and dead apart
    std::size_t dead_capacity = 10'000;
    std::chrono::seconds retention{3600};
    std::size_t records = 100'000;
    std::size_t keys = 100'000;
};

struct Backend {
    std::string name;
    std::function<std::shared_ptr<JobQueue>(std::shared_ptr<const Clock>, BackendLimits)> make_queue;
    std::function<std::shared_ptr<StatusStore>(std::shared_ptr<const Clock>, BackendLimits)> make_store;
};

/// Every backend this build can run (the in-memory one always).
std::vector<Backend> backends();

/// GoogleTest names the parameter by this instead of dumping its bytes.
inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

}  // namespace ante::test
