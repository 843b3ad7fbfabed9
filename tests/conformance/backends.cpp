#include "backend.hpp"

#include <ante/backend/memory/memory_job_queue.hpp>
#include <ante/backend/memory/memory_status_store.hpp>

namespace ante::test {

std::vector<Backend> backends() {
    return {Backend{
        .name = "memory",
        .make_queue =
            [](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<JobQueue> {
            return std::make_shared<MemoryJobQueue>(
                MemoryJobQueueOptions{.capacity = limits.queue_capacity, .max_bytes = limits.queue_bytes,
                                      .dead_capacity = limits.dead_capacity},
                std::move(clock));
        },
        .make_store =
            [](std::shared_ptr<const Clock> clock, BackendLimits limits) -> std::shared_ptr<StatusStore> {
            return std::make_shared<MemoryStatusStore>(
                MemoryStatusStoreOptions{.retention = limits.retention, .capacity = limits.records,
                                         .max_keys = limits.keys},
                std::move(clock));
        },
    }};
}

}  // namespace ante::test
