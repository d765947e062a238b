// pingpong, the Boost.Fiber peer of bench/pingpong.cpp: two fibers bounce a counter over two
// boost::fibers::unbuffered_channel, n round trips (default 1,000,000). Each side adds one,
// so the counter ends at 2n.
// Threads come from MN_PROCS (default 1): work_stealing over that many threads, or
// round_robin at 1 (see boost_bench.hpp).
// Output (one line, parsed by bench/run-compare.sh):
//   pingpong system=boost procs=<P> n=<N> ms=<wall ms> ns_per_roundtrip=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments or MN_PROCS.
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "boost_bench.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "boost_pingpong",
    .usage = "usage: boost_pingpong [--n N]  (round trips, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000'000,
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  const int procs = boost_bench::ProcsFromEnv(kFlags.program);
  return boost_bench::Run(procs, [n, procs]() -> int {
    boost::fibers::unbuffered_channel<int64_t> ping, pong;
    boost_bench::WaitGroup wg;
    int64_t result = 0;
    wg.add(2);
    auto t0 = std::chrono::steady_clock::now();
    boost_bench::Go([&] {  // the server: every value comes back one larger
      int64_t v;
      while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v + 1);
      wg.done();
    });
    boost_bench::Go([&] {  // the client: n round trips
      int64_t v = 0;
      for (int64_t i = 0; i < n; i++) {
        ping.push(v + 1);
        v = pong.value_pop();
      }
      ping.close();
      result = v;
      wg.done();
    });
    wg.wait();
    double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("pingpong system=boost procs=%d n=%lld ms=%.1f ns_per_roundtrip=%.1f\n", procs,
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (result != 2 * n) {
      std::fprintf(stderr, "boost_pingpong: counter is %lld, want %lld\n",
                   static_cast<long long>(result), static_cast<long long>(2 * n));
      return 1;
    }
    return 0;
  });
}
