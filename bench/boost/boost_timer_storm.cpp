// timer_storm, the Boost.Fiber peer of bench/timer_storm.cpp: n fibers (default 100,000) each
// sleep a pseudo-random 0..10 ms with boost::this_fiber::sleep_until and measure how late
// they wake (actual wake time minus deadline). The durations come from splitmix64 with a
// fixed seed, the same generator as mnsched's and Go's sides, so all three sleep the same set
// of durations. With a small n (bench/run-compare.sh runs --n 1000) it measures wake-up
// latency at light load. The durations, the percentiles and the output line are
// bench/timer_storm_common.hpp's, shared with mnsched's side.
//
// A sleeping fiber waits in the sleep queue of the thread it last ran on, and only that
// thread's dispatcher wakes it; once awake it can be stolen. Threads come from MN_PROCS
// (default 1): work_stealing over that many threads (idle threads spin, so they notice
// deadlines without sleeping), or round_robin at 1, whose idle thread sleeps on a
// condition variable until the next deadline (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh; lateness percentiles by nearest rank):
//   timer_storm system=boost procs=<P> n=<N> ms=<total wall ms> p50_us=<x.x> p99_us=<x.x> max_us=<x.x>
// Exit status: 0 on success, 1 if not every fiber woke and reported (a check mnsched's side
// does not make), 2 on bad arguments or MN_PROCS.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "boost_bench.hpp"
#include "timer_storm_common.hpp"

namespace {

using Clock = std::chrono::steady_clock;  // mnsched's mn::Clock

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_timer_storm",
    .usage = "usage: boost_timer_storm [--n N] [--seed S]  (sleeping fibers, default 100000; "
             "seed, default 1)",
    .n = 100'000,
    .max_n = 100'000'000,
    .has_seed = true,
    .seed = 1,
};

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  const std::vector<int64_t> sleeps = mn_bench::SleepDurations(n, args.seed);
  std::vector<int64_t> late(static_cast<std::size_t>(n));
  std::atomic<int64_t> woke{0};

  return boost_bench::Run(procs, [&]() -> int {
    boost_bench::WaitGroup wg;
    wg.add(n);
    auto t0 = Clock::now();
    for (int64_t i = 0; i < n; i++) {
      boost_bench::Go([&, i] {
        auto deadline = Clock::now() + std::chrono::nanoseconds(sleeps[i]);
        boost::this_fiber::sleep_until(deadline);
        late[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - deadline).count();
        woke.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

    mn_bench::PrintLateness("boost", procs, ms, late);
    if (woke.load() != n) {
      std::fprintf(stderr, "boost_timer_storm: %lld fibers woke, want %lld\n",
                   static_cast<long long>(woke.load()), static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
