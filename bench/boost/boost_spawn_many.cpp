// spawn_many, the Boost.Fiber peer of bench/spawn_many.cpp: the main fiber spawns n empty
// fibers (default 10,000) and waits for them all on a WaitGroup (boost_bench.hpp: a fiber
// mutex, condition variable and count); R rounds of that (default 100). Measures spawn + run +
// exit of a fiber, and the wait, per task. Each task marks its own slot, so every slot must
// end at R.
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh):
//   spawn_many system=boost procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
// ns_per_task is the total time over n*R.
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "boost_bench.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_spawn_many",
    .usage = "usage: boost_spawn_many [--n N] [--rounds R]  (tasks per round, default 10000; "
             "rounds, default 100)",
    .n = 10'000,
    .max_n = 10'000'000,
    .has_rounds = true,
    .rounds = 100,
    .max_rounds = 1'000'000'000,  // a task's count (int32) reaches R
};

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n, rounds = args.rounds;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  std::vector<int32_t> runs(static_cast<std::size_t>(n));  // runs[i]: times task i ran
  return boost_bench::Run(procs, [n, rounds, procs, &runs]() -> int {
    int32_t* const ran = runs.data();
    boost_bench::WaitGroup wg;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      wg.add(n);
      for (int64_t i = 0; i < n; i++) {
        boost_bench::Go([ran, i, &wg] {
          ran[i]++;
          wg.done();
        });
      }
      wg.wait();
    }
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("spawn_many system=boost procs=%d n=%lld rounds=%lld ms=%.1f ns_per_task=%.1f\n",
                procs, static_cast<long long>(n), static_cast<long long>(rounds), ns / 1e6,
                ns / (static_cast<double>(n) * static_cast<double>(rounds)));
    std::fflush(stdout);
    for (int64_t i = 0; i < n; i++) {
      if (ran[i] != rounds) {
        std::fprintf(stderr, "boost_spawn_many: task %lld ran %d times, want %lld\n",
                     static_cast<long long>(i), ran[i], static_cast<long long>(rounds));
        return 1;
      }
    }
    return 0;
  });
}
