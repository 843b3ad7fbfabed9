#include <ante/dispatch/async_dispatcher.hpp>
#include <ante/metrics.hpp>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace ante {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric sample(double value, MetricType type, std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return m;
}

class AsyncMetrics final : public prometheus::Collectable {
public:
    explicit AsyncMetrics(const AsyncDispatcher& jobs) : jobs_(jobs) {}

    std::vector<MetricFamily> Collect() const override {
        MetricFamily jobs{"ante_async_jobs", "Jobs in the queue by route and state (ready, delayed, leased, dead)",
                          MetricType::Gauge, {}};
        MetricFamily lag{"ante_async_lag_seconds", "How long the oldest ready job of the route has waited",
                         MetricType::Gauge, {}};
        MetricFamily redeliveries{"ante_async_redeliveries_total",
                                  "Failed attempts sent back to the queue for another (this process)",
                                  MetricType::Counter, {}};
        MetricFamily completed{"ante_async_jobs_completed_total", "Jobs that reached a final state (this process)",
                               MetricType::Counter, {}};
        for (const AsyncRouteReport& r : jobs_.last_route_reports()) {
            const ClientMetric::Label route{"route", r.route};
            const std::pair<const char*, std::size_t> states[] = {
                {"ready", r.backlog.ready}, {"delayed", r.backlog.delayed},
                {"leased", r.backlog.leased}, {"dead", r.backlog.dead}};
            for (const auto& [state, n] : states)
                jobs.metric.push_back(sample(static_cast<double>(n), MetricType::Gauge, {route, {"state", state}}));
            lag.metric.push_back(sample(std::chrono::duration<double>(r.lag).count(), MetricType::Gauge, {route}));
            redeliveries.metric.push_back(sample(static_cast<double>(r.redelivered), MetricType::Counter, {route}));
            const std::pair<const char*, std::uint64_t> outcomes[] = {
                {"succeeded", r.succeeded}, {"failed", r.failed}, {"dead_lettered", r.dead_lettered},
                {"expired", r.expired}, {"cancelled", r.cancelled}};
            for (const auto& [outcome, n] : outcomes)
                completed.metric.push_back(
                    sample(static_cast<double>(n), MetricType::Counter, {route, {"outcome", outcome}}));
        }
        MetricFamily workers{"ante_async_workers", "Async workers wanted now", MetricType::Gauge, {}};
        workers.metric.push_back(sample(static_cast<double>(jobs_.workers()), MetricType::Gauge, {}));
        return {std::move(jobs), std::move(lag), std::move(redeliveries), std::move(completed), std::move(workers)};
    }

private:
    const AsyncDispatcher& jobs_;
};

}  // namespace

void Metrics::add(std::shared_ptr<const prometheus::Collectable> source) {
    std::lock_guard lock(mutex_);
    sources_.push_back(std::move(source));
}

std::string Metrics::text() const {
    std::vector<MetricFamily> families;
    {
        std::lock_guard lock(mutex_);
        for (const auto& source : sources_) {
            auto some = source->Collect();
            families.insert(families.end(), std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
        }
    }
    return prometheus::TextSerializer{}.Serialize(families);
}

std::shared_ptr<const prometheus::Collectable> async_metrics(const AsyncDispatcher& jobs) {
    return std::make_shared<AsyncMetrics>(jobs);
}

}  // namespace ante
