// What spawn_many and spawn_remote (bench/spawn_many.cpp, bench/spawn_remote.cpp) share:
// everything but who spawns the tasks. Both take -n N (tasks per round, default 10,000)
// and --rounds R (default 100) with bench_flags.hpp's rules, keep a slot per task that
// counts the rounds it ran in, and time R rounds in which the main G adds n to an
// mn::WaitGroup, has the round's n empty tasks spawned, and waits for them. Then they print
//   <program> system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
// (ns_per_task is the total time over n*R) and check that every slot ends at R.
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
#pragma once

#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_flags.hpp"

namespace mn_bench {

// A task's body: counts the round in task i's slot and tells the round's WaitGroup.
struct SpawnTask {
  int32_t* ran;       // ran[i]: times task i ran
  mn::WaitGroup* wg;  // the round's

  void operator()(int64_t i) const {
    ran[i]++;
    wg->done();
  }
};

// The main of a spawn_* program named `program`. Inside mn::run, and before the clock
// starts, it constructs Spawner(n, task); spawner.round(r) must have the n tasks of round r
// spawned, the i-th running task(i), for i from 0 to n-1, without waiting for them;
// spawner.finish() is called once after the clock stops.
template <class Spawner>
int SpawnRounds(int argc, char** argv, const char* program) {
  const std::string usage = std::string("usage: ") + program +
                            " [--n N] [--rounds R]  (tasks per round, default 10000; rounds, "
                            "default 100)";
  const FlagSpec spec = {
      .program = program,
      .usage = usage.c_str(),
      .n = 10'000,
      .max_n = 10'000'000,
      .has_rounds = true,
      .rounds = 100,
      .max_rounds = 1'000'000'000,  // a task's count (int32) reaches R
  };
  const Flags args = ParseFlags(argc, argv, spec);
  const int64_t n = args.n, rounds = args.rounds;
  std::vector<int32_t> runs(static_cast<std::size_t>(n));  // runs[i]: times task i ran
  return mn::run([program, n, rounds, &runs]() -> int {
    int32_t* const ran = runs.data();
    mn::WaitGroup wg;
    Spawner spawner(n, SpawnTask{ran, &wg});
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      wg.add(n);  // before the round's tasks are spawned, so that wait() cannot pass early
      spawner.round(r);
      wg.wait();
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    spawner.finish();
    std::printf("%s system=mnsched procs=%d n=%lld rounds=%lld ms=%.1f ns_per_task=%.1f\n",
                program, mn::procs(), static_cast<long long>(n), static_cast<long long>(rounds),
                ns / 1e6, ns / (static_cast<double>(n) * static_cast<double>(rounds)));
    std::fflush(stdout);
    for (int64_t i = 0; i < n; i++) {
      if (ran[i] != rounds) {
        std::fprintf(stderr, "%s: task %lld ran %d times, want %lld\n", program,
                     static_cast<long long>(i), ran[i], static_cast<long long>(rounds));
        return 1;
      }
    }
    return 0;
  });
}

}  // namespace mn_bench
