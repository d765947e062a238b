// chained_spawn, the Boost.Fiber peer of bench/chained_spawn.cpp: a chain of n fibers
// (default 1,000), each spawning the next and exiting; the last sends the chain's count of
// links run on a boost::fibers::unbuffered_channel the main fiber waits on. R rounds of that
// (default 1,000). Measures spawn + run + exit of a fiber when each is spawned by the one
// before, per spawn. Every link adds one to the round's count (a plain counter: each link's
// spawn orders it before the next), which must be n.
// Boost queues a spawned fiber at the back of the spawning thread's ready queue (there is no
// runnext slot), where another thread may steal it.
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh):
//   chained_spawn system=boost procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_spawn=<x.x>
// ns_per_spawn is the total time over n*R (the main fiber spawns the first of each chain).
// Exit status: 0 on success, 1 if a chain's count is wrong, 2 on bad arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "boost_bench.hpp"

namespace {

using Chan = boost::fibers::unbuffered_channel<int64_t>;

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_chained_spawn",
    .usage = "usage: boost_chained_spawn [--n N] [--rounds R]  (chain length, default 1000; "
             "rounds, default 1000)",
    .n = 1'000,
    .max_n = 1'000'000'000,
    .has_rounds = true,
    .rounds = 1'000,
    .max_rounds = 1'000'000'000,  // n*R must fit in an int64
};

// Link k of a chain of n: counts itself in *links, then spawns link k+1, or, being the
// last, sends the count on done.
void Link(int64_t k, int64_t n, int64_t* links, Chan* done) {
  ++*links;
  if (k == n) {
    done->push(*links);
    return;
  }
  boost_bench::Go([k, n, links, done] { Link(k + 1, n, links, done); });
}

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n, rounds = args.rounds;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  // Unbuffered. It outlives the pool's threads: the last link of the last chain may still be
  // inside push() (about to release the channel's lock) when the main fiber has its value.
  Chan done;
  return boost_bench::Run(procs, [n, rounds, procs, &done]() -> int {
    int64_t links = 0;            // links run in this round's chain
    int64_t wrong = 0, last = 0;  // chains whose count was not n; the last such count
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      links = 0;
      boost_bench::Go([n, l = &links, d = &done] { Link(1, n, l, d); });
      int64_t count = -1;
      if (done.pop(count) != boost::fibers::channel_op_status::success) count = -1;
      if (count != n) {
        wrong++;
        last = count;
      }
    }
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("chained_spawn system=boost procs=%d n=%lld rounds=%lld ms=%.1f ns_per_spawn=%.1f\n",
                procs, static_cast<long long>(n), static_cast<long long>(rounds), ns / 1e6,
                ns / (static_cast<double>(n) * static_cast<double>(rounds)));
    std::fflush(stdout);
    if (wrong != 0) {
      std::fprintf(stderr, "boost_chained_spawn: %lld chains ran %lld links, want %lld\n",
                   static_cast<long long>(wrong), static_cast<long long>(last),
                   static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
