// skynet: a 10-ary tree of Gs with 1,000,000 leaves; each leaf returns its ordinal and
// every node sums its children. The total is 499999500000.
// Output (one line per run, parsed by bench/run-compare.sh):
//   skynet system=mnsched procs=<P> leaves=<N> sum=<S> ms=<wall ms>
// The flags (--leaves N, --runs K), the expected sum and the output line are
// bench/skynet_common.hpp's, shared with the Boost.Fiber peer; the tree is
// bench/skynet_tree.hpp's.
// Exit status: 0 on success, 1 if a sum is wrong, 2 on bad arguments.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>

#include "skynet_common.hpp"
#include "skynet_tree.hpp"

int main(int argc, char** argv) {
  const mn_bench::SkynetFlags args = mn_bench::ParseSkynetFlags(argc, argv, "skynet");
  const int64_t leaves = args.leaves, runs = args.runs;
  const int64_t want = mn_bench::SkynetWant(leaves);
  int rc = 0;
  for (int64_t r = 0; r < runs; r++) {
    rc |= mn::run([&] {
      auto t0 = std::chrono::steady_clock::now();
      int64_t sum = mn_bench::SkynetTree(0, leaves);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      mn_bench::PrintSkynet("mnsched", mn::procs(), leaves, sum, ms);
      return sum == want ? 0 : 1;
    });
  }
  return rc;
}
