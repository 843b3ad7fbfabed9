#pragma once
/// \file
/// The metrics a gateway exposes, in Prometheus' text format (prometheus-cpp underneath).
/// Figures that are cheap to read at scrape time (queue depths, counters kept anyway) are read
/// then, so recording them costs the request path nothing.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Collectable;
}

namespace ante {

class AsyncDispatcher;

class Metrics {
public:
    /// Adds a source of metric families, read at each scrape.
    void add(std::shared_ptr<const prometheus::Collectable> source);
    /// Every source's families in the Prometheus text exposition format (version 0.0.4).
    [[nodiscard]] std::string text() const;

private:
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<const prometheus::Collectable>> sources_;
};

/// The async routes' backlog and outcomes, and the worker count, as read from `jobs` at each
/// scrape: `ante_async_jobs{route,state}`, `ante_async_lag_seconds{route}`,
/// `ante_async_redeliveries_total{route}`, `ante_async_jobs_completed_total{route,outcome}`,
/// `ante_async_workers`. `jobs` must outlive the source.
std::shared_ptr<const prometheus::Collectable> async_metrics(const AsyncDispatcher& jobs);

}  // namespace ante
