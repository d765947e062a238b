// mutex_contention, the Boost.Fiber peer of bench/mutex_contention.cpp: 8 fibers contend on
// one boost::fibers::mutex, n critical sections in total (default 1,000,000, split as evenly
// as possible), each incrementing a shared counter, which must end at n.
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh):
//   mutex system=boost procs=<P> n=<N> ms=<wall ms> ns_per_op=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>

#include "boost_bench.hpp"

namespace {

constexpr int64_t kWorkers = 8;

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_mutex_contention",
    .usage = "usage: boost_mutex_contention [--n N]  (critical sections in total, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000'000,
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  return boost_bench::Run(procs, [n, procs]() -> int {
    boost::fibers::mutex mu;
    int64_t counter = 0;  // guarded by mu
    boost_bench::WaitGroup wg;
    wg.add(kWorkers);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t w = 0; w < kWorkers; w++) {
      const int64_t k = (w + 1) * n / kWorkers - w * n / kWorkers;
      boost_bench::Go([&, k] {
        for (int64_t i = 0; i < k; i++) {
          std::lock_guard<boost::fibers::mutex> lock(mu);
          counter++;
        }
        wg.done();
      });
    }
    wg.wait();
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("mutex system=boost procs=%d n=%lld ms=%.1f ns_per_op=%.1f\n", procs,
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    std::lock_guard<boost::fibers::mutex> lock(mu);
    if (counter != n) {
      std::fprintf(stderr, "boost_mutex_contention: counter is %lld, want %lld\n",
                   static_cast<long long>(counter), static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
