// timer_storm: n Gs (default 100,000) each sleep a pseudo-random 0..10 ms with
// mn::sleep_until and measure how late they wake (actual wake time minus deadline). The
// durations come from splitmix64 with a fixed seed, the same generator as Go's side
// (bench/go/timerstorm), so both sleep the same set of durations. With a small n
// (bench/run-compare.sh runs --n 1000) it measures wake-up latency at light load: the
// "a sleeping G wakes within 1 ms" target. The durations, the percentiles and the output
// line are bench/timer_storm_common.hpp's, shared with the Boost.Fiber peer.
// Output (one line, parsed by bench/run-compare.sh; lateness percentiles by nearest rank):
//   timer_storm system=mnsched procs=<P> n=<N> ms=<total wall ms> p50_us=<x.x> p99_us=<x.x> max_us=<x.x>
// Exit status: 0 on success, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

#include "bench_flags.hpp"
#include "timer_storm_common.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "timer_storm",
    .usage =
        "usage: timer_storm [--n N] [--seed S]  (sleeping Gs, default 100000; seed, default 1)",
    .n = 100'000,
    .max_n = 100'000'000,
    .has_seed = true,
    .seed = 1,
};

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n;
  const std::vector<int64_t> sleeps = mn_bench::SleepDurations(n, args.seed);
  std::vector<int64_t> late(static_cast<std::size_t>(n));

  return mn::run([&]() -> int {
    mn::WaitGroup wg;
    wg.add(n);
    auto t0 = mn::Clock::now();
    for (int64_t i = 0; i < n; i++) {
      mn::go([&, i] {
        auto deadline = mn::Clock::now() + std::chrono::nanoseconds(sleeps[i]);
        mn::sleep_until(deadline);
        late[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(mn::Clock::now() - deadline).count();
        wg.done();
      });
    }
    wg.wait();
    double ms = std::chrono::duration<double, std::milli>(mn::Clock::now() - t0).count();

    mn_bench::PrintLateness("mnsched", mn::procs(), ms, late);
    return 0;
  });
}
