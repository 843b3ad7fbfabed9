// The allocation meter. The benchmark binary replaces the global operator new/delete with
// counting ones (malloc/posix_memalign and free underneath); libstdc++'s array and nothrow
// forms forward to these. Asio's recycling allocator (coroutine frames, co_spawn's state)
// bypasses operator new and calls std::aligned_alloc directly, so aligned_alloc is replaced
// too and counted apart. Together they are every heap allocation of the code under test.
#include "support.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {

struct Tally {
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> bytes{0};
    void add(std::size_t size) noexcept {
        count.fetch_add(1, std::memory_order_relaxed);
        bytes.fetch_add(size, std::memory_order_relaxed);
    }
};
Tally new_tally;      // operator new, every form
Tally aligned_tally;  // aligned_alloc called directly (Asio)

void* allocate(std::size_t size) {
    new_tally.add(size);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc{};
}

void* memalign_or_null(std::size_t alignment, std::size_t size) noexcept {
    if (alignment < sizeof(void*)) return std::malloc(size == 0 ? 1 : size);
    void* p = nullptr;
    return posix_memalign(&p, alignment, size == 0 ? 1 : size) == 0 ? p : nullptr;
}

void* allocate_aligned(std::size_t size, std::align_val_t alignment) {
    new_tally.add(size);
    if (void* p = memalign_or_null(static_cast<std::size_t>(alignment), size)) return p;
    throw std::bad_alloc{};
}

}  // namespace

extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    aligned_tally.add(size);
    return memalign_or_null(alignment, size);
}

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t alignment) { return allocate_aligned(size, alignment); }
void* operator new[](std::size_t size, std::align_val_t alignment) { return allocate_aligned(size, alignment); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace bench {

const ante::Response ok_response{200, {}, "ok", ante::Errc::ok};

AllocTotals alloc_totals() noexcept {
    const std::uint64_t asio = aligned_tally.count.load(std::memory_order_relaxed);
    return {new_tally.count.load(std::memory_order_relaxed) + asio,
            new_tally.bytes.load(std::memory_order_relaxed) + aligned_tally.bytes.load(std::memory_order_relaxed), asio};
}

}  // namespace bench

// Benchmarks register in a fixed order (compile-time pipeline first), not in link order.
int main(int argc, char** argv) {
    bench::register_pipeline_benchmarks();
    bench::register_dynamic_pipeline_benchmarks();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
