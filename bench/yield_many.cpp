// yield_many: 200 Gs each call mn::yield n times (default 1,000), and the main G waits for
// them on an mn::WaitGroup; R rounds of that (default 20). Measures a yield (the G goes to
// the global queue and the next runnable G runs) per call. Each G counts its yields, and
// the counts must add up to 200*n*R. bench/go/yieldmany is Go's side (runtime.Gosched).
// Output (one line, parsed by bench/run-compare.sh):
//   yield_many system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_yield=<x.x>
// ns_per_yield is the total time over 200*n*R (spawning the 200 Gs is included, and
// negligible next to n yields each).
// Exit status: 0 on success, 1 if the count of yields is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "bench_flags.hpp"

namespace {

constexpr int64_t kTasks = 200;

constexpr mn_bench::FlagSpec kFlags = {
    .program = "yield_many",
    .usage = "usage: yield_many [--n N] [--rounds R]  (yields per task, default 1000; rounds, "
             "default 20)",
    .n = 1'000,
    .max_n = 1'000'000'000,
    .has_rounds = true,
    .rounds = 20,
    .max_rounds = 1'000'000,  // 200*n*R must fit in an int64
};

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n, rounds = args.rounds;
  return mn::run([n, rounds]() -> int {
    int64_t yields[kTasks] = {};  // yields[t]: yields made by task t, over all rounds
    mn::WaitGroup wg;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      wg.add(kTasks);
      for (int64_t t = 0; t < kTasks; t++) {
        mn::go([n, count = &yields[t], &wg] {
          int64_t k = 0;
          for (int64_t i = 0; i < n; i++) {
            mn::yield();
            k++;
          }
          *count += k;
          wg.done();
        });
      }
      wg.wait();
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    const int64_t want = kTasks * n * rounds;
    std::printf("yield_many system=mnsched procs=%d n=%lld rounds=%lld ms=%.1f ns_per_yield=%.1f\n",
                mn::procs(), static_cast<long long>(n), static_cast<long long>(rounds), ns / 1e6,
                ns / static_cast<double>(want));
    std::fflush(stdout);
    int64_t total = 0;
    for (int64_t y : yields) total += y;
    if (total != want) {
      std::fprintf(stderr, "yield_many: %lld yields, want %lld\n", static_cast<long long>(total),
                   static_cast<long long>(want));
      return 1;
    }
    return 0;
  });
}
