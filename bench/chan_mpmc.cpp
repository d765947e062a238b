// chan_mpmc: 4 producer Gs send the values 0..n-1 (each a contiguous quarter; default
// n = 1,000,000) into one mn::Chan of capacity 1024; 4 consumer Gs drain it and sum what
// they get. The total must be n*(n-1)/2. bench/go/chanmpmc is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   chan_mpmc system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_item=<x.x>
// Exit status: 0 on success, 1 if the sum is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "bench_flags.hpp"

namespace {

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr std::size_t kCapacity = 1024;

constexpr mn_bench::FlagSpec kFlags = {
    .program = "chan_mpmc",
    .usage = "usage: chan_mpmc [--n N]  (items in total, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000,  // the sum n*(n-1)/2 must fit in an int64
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  return mn::run([n]() -> int {
    const int64_t want = n * (n - 1) / 2;
    mn::Chan<int64_t> ch(kCapacity);
    mn::WaitGroup producers, consumers;
    int64_t sums[kConsumers] = {};
    producers.add(kProducers);
    consumers.add(kConsumers);
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < kConsumers; c++) {
      mn::go([&, c] {
        int64_t s = 0;
        for (int64_t v : ch) s += v;
        sums[c] = s;
        consumers.done();
      });
    }
    for (int64_t p = 0; p < kProducers; p++) {
      const int64_t lo = p * n / kProducers, hi = (p + 1) * n / kProducers;
      mn::go([&, lo, hi] {
        for (int64_t v = lo; v < hi; v++) ch.send(v);
        producers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();

    int64_t sum = 0;
    for (int64_t s : sums) sum += s;
    std::printf("chan_mpmc system=mnsched procs=%d n=%lld ms=%.1f ns_per_item=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (sum != want) {
      std::fprintf(stderr, "chan_mpmc: sum is %lld, want %lld\n", static_cast<long long>(sum),
                   static_cast<long long>(want));
      return 1;
    }
    return 0;
  });
}
