// mutex_contention: 8 Gs contend on one mn::Mutex, n critical sections in total (default
// 1,000,000, split as evenly as possible), each incrementing a shared counter, which must
// end at n. bench/go/mutex is Go's side (sync.Mutex).
// Output (one line, parsed by bench/run-compare.sh):
//   mutex system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_op=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "bench_flags.hpp"

namespace {

constexpr int64_t kWorkers = 8;

constexpr mn_bench::FlagSpec kFlags = {
    .program = "mutex_contention",
    .usage = "usage: mutex_contention [--n N]  (critical sections in total, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000'000,
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  return mn::run([n]() -> int {
    mn::Mutex mu;
    int64_t counter = 0;  // guarded by mu
    mn::WaitGroup wg;
    wg.add(kWorkers);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t w = 0; w < kWorkers; w++) {
      const int64_t k = (w + 1) * n / kWorkers - w * n / kWorkers;
      mn::go([&, k] {
        for (int64_t i = 0; i < k; i++) {
          std::lock_guard<mn::Mutex> lock(mu);
          counter++;
        }
        wg.done();
      });
    }
    wg.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("mutex system=mnsched procs=%d n=%lld ms=%.1f ns_per_op=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (counter != n) {
      std::fprintf(stderr, "mutex_contention: counter is %lld, want %lld\n",
                   static_cast<long long>(counter), static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
