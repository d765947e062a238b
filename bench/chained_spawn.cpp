// chained_spawn: a chain of n Gs (default 1,000), each spawning the next and exiting; the
// last sends the chain's count of links run on an unbuffered channel the main G waits on.
// R rounds of that (default 1,000). Measures spawn + run + exit of a G when each is spawned
// by the one before (so it lands in that P's runnext), per spawn. Every link adds one to
// the round's count (a plain counter: each link's spawn orders it before the next), which
// must be n.
// bench/go/chainedspawn is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   chained_spawn system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_spawn=<x.x>
// ns_per_spawn is the total time over n*R (the main G spawns the first of each chain).
// Exit status: 0 on success, 1 if a chain's count is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "bench_flags.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "chained_spawn",
    .usage = "usage: chained_spawn [--n N] [--rounds R]  (chain length, default 1000; rounds, "
             "default 1000)",
    .n = 1'000,
    .max_n = 1'000'000'000,
    .has_rounds = true,
    .rounds = 1'000,
    .max_rounds = 1'000'000'000,  // n*R must fit in an int64
};

// Link k of a chain of n: counts itself in *links, then spawns link k+1, or, being the
// last, sends the count on done.
void Link(int64_t k, int64_t n, int64_t* links, const mn::Chan<int64_t>* done) {
  ++*links;
  if (k == n) {
    done->send(*links);
    return;
  }
  mn::go([k, n, links, done] { Link(k + 1, n, links, done); });
}

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags args = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = args.n, rounds = args.rounds;
  return mn::run([n, rounds]() -> int {
    mn::Chan<int64_t> done;       // unbuffered
    int64_t links = 0;            // links run in this round's chain
    int64_t wrong = 0, last = 0;  // chains whose count was not n; the last such count
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      links = 0;
      mn::go([n, l = &links, d = &done] { Link(1, n, l, d); });
      int64_t count = done.recv().value_or(-1);
      if (count != n) {
        wrong++;
        last = count;
      }
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("chained_spawn system=mnsched procs=%d n=%lld rounds=%lld ms=%.1f ns_per_spawn=%.1f\n",
                mn::procs(), static_cast<long long>(n), static_cast<long long>(rounds), ns / 1e6,
                ns / (static_cast<double>(n) * static_cast<double>(rounds)));
    std::fflush(stdout);
    if (wrong != 0) {
      std::fprintf(stderr, "chained_spawn: %lld chains ran %lld links, want %lld\n",
                   static_cast<long long>(wrong), static_cast<long long>(last),
                   static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
