// skynet, the Boost.Fiber peer of bench/skynet.cpp: a 10-ary tree of fibers with 1,000,000
// leaves; each leaf returns its ordinal and every node sums its children. The total is
// 499999500000.
//
// The tree is bench/skynet_tree.hpp's: a node of `size` leaves starts 10 children as fibers,
// each covering a tenth of its range and sending its sum on the node's unbuffered channel
// (boost::fibers::unbuffered_channel); a leaf sends its ordinal. The root runs on the main
// fiber and sends on a channel that holds one value (mnsched: Chan(1); Boost:
// buffered_channel(2), whose capacity must be a power of 2 and which holds capacity - 1).
// A node's channel is held by a shared_ptr that its children copy, as mn::Chan is a counted
// handle: the node may return while its last child is still leaving push().
//
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp). --runs K repeats the tree K times in one pool
// (mnsched starts a runtime per run; Boost's work_stealing can be set up once per process).
// Output (one line per run, parsed by bench/run-compare.sh):
//   skynet system=boost procs=<P> leaves=<N> sum=<S> ms=<wall ms>
// The flags (--leaves N, --runs K), the expected sum and the output line are
// bench/skynet_common.hpp's, shared with mnsched's side.
// Exit status: 0 on success, 1 if a sum is wrong, 2 on bad arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "boost_bench.hpp"
#include "skynet_common.hpp"

namespace {

using Chan = boost::fibers::unbuffered_channel<int64_t>;

template <class Out>
void Skynet(Out& out, int64_t num, int64_t size) {
  if (size == 1) {
    out.push(num);
    return;
  }
  int64_t sub = size / 10;
  auto rc = std::make_shared<Chan>();
  for (int i = 0; i < 10; i++) {
    boost_bench::Go([rc, num, sub, i] { Skynet(*rc, num + i * sub, sub); });
  }
  int64_t sum = 0;
  for (int i = 0; i < 10; i++) sum += rc->value_pop();
  out.push(sum);
}

// The sum over a tree of `size` leaves, computed by fibers.
int64_t SkynetTree(int64_t num, int64_t size) {
  boost::fibers::buffered_channel<int64_t> c(2);  // holds one value, as mnsched's Chan(1)
  Skynet(c, num, size);
  return c.value_pop();
}

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::SkynetFlags args = mn_bench::ParseSkynetFlags(argc, argv, "boost_skynet");
  const int64_t leaves = args.leaves, runs = args.runs;
  const int procs = boost_bench::ProcsFromEnv("boost_skynet");
  const int64_t want = mn_bench::SkynetWant(leaves);
  return boost_bench::Run(procs, [&] {
    int rc = 0;
    for (int64_t r = 0; r < runs; r++) {
      auto t0 = std::chrono::steady_clock::now();
      int64_t sum = SkynetTree(0, leaves);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      mn_bench::PrintSkynet("boost", procs, leaves, sum, ms);
      if (sum != want) {
        std::fprintf(stderr, "boost_skynet: sum is %lld, want %lld\n", static_cast<long long>(sum),
                     static_cast<long long>(want));
        rc = 1;
      }
    }
    return rc;
  });
}
