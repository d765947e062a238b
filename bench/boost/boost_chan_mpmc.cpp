// chan_mpmc, the Boost.Fiber peer of bench/chan_mpmc.cpp: 4 producer fibers send the values
// 0..n-1 (each a contiguous quarter; default n = 1,000,000) into one
// boost::fibers::buffered_channel; 4 consumer fibers drain it and sum what they get. The total
// must be n*(n-1)/2.
//
// Capacity: mnsched's channel holds 1024 values. Boost's buffered_channel takes a power of 2
// and holds one less than it (a ring buffer with one slot kept empty), so
// buffered_channel(1024) holds 1023 values: the nearest Boost can do.
//
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh):
//   chan_mpmc system=boost procs=<P> n=<N> ms=<wall ms> ns_per_item=<x.x>
// Exit status: 0 on success, 1 if the sum is wrong, 2 on bad arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "boost_bench.hpp"

namespace {

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr std::size_t kCapacity = 1024;  // holds 1023 values (see above)

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_chan_mpmc",
    .usage = "usage: boost_chan_mpmc [--n N]  (items in total, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000,  // the sum n*(n-1)/2 must fit in an int64
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  return boost_bench::Run(procs, [n, procs]() -> int {
    const int64_t want = n * (n - 1) / 2;
    boost::fibers::buffered_channel<int64_t> ch(kCapacity);
    boost_bench::WaitGroup producers, consumers;
    int64_t sums[kConsumers] = {};
    int64_t counts[kConsumers] = {};
    producers.add(kProducers);
    consumers.add(kConsumers);
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < kConsumers; c++) {
      boost_bench::Go([&, c] {
        int64_t s = 0, k = 0, v;
        while (ch.pop(v) == boost::fibers::channel_op_status::success) {
          s += v;
          k++;
        }
        sums[c] = s;
        counts[c] = k;
        consumers.done();
      });
    }
    for (int64_t p = 0; p < kProducers; p++) {
      const int64_t lo = p * n / kProducers, hi = (p + 1) * n / kProducers;
      boost_bench::Go([&, lo, hi] {
        for (int64_t v = lo; v < hi; v++) ch.push(v);
        producers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();

    int64_t sum = 0, count = 0;
    for (int c = 0; c < kConsumers; c++) {
      sum += sums[c];
      count += counts[c];
    }
    std::printf("chan_mpmc system=boost procs=%d n=%lld ms=%.1f ns_per_item=%.1f\n", procs,
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (sum != want || count != n) {
      std::fprintf(stderr, "boost_chan_mpmc: sum is %lld over %lld items, want %lld over %lld\n",
                   static_cast<long long>(sum), static_cast<long long>(count),
                   static_cast<long long>(want), static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
