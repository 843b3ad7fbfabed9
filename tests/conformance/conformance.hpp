#pragma once
// The fixture shared by the conformance tests: a backend (the test's parameter), a manual
// clock and an io_context to run the seam's coroutines on.

#include "backend.hpp"
#include "support/io_runner.hpp"
#include "support/manual_clock.hpp"

#include <gtest/gtest.h>

namespace ante::test {

class Conformance : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        if (!GetParam().make_queue && needs_queue()) GTEST_SKIP() << GetParam().name << " has no job queue yet";
    }
    /// Whether the test uses a job queue (the status store tests do not).
    virtual bool needs_queue() const { return true; }
    std::shared_ptr<JobQueue> queue(BackendLimits limits = {}) { return GetParam().make_queue(clock, limits); }
    std::shared_ptr<StatusStore> store(BackendLimits limits = {}) { return GetParam().make_store(clock, limits); }

    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
    IoRunner runner{2};
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

}  // namespace ante::test

#define ANTE_CONFORMANCE_SUITE(fixture) \
    INSTANTIATE_TEST_SUITE_P(Backends, fixture, ::testing::ValuesIn(::ante::test::backends()), \
                             ::ante::test::backend_name)
