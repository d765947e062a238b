// pingpong: two Gs bounce a counter over two unbuffered channels, n round trips (default
// 1,000,000). Each side adds one, so the counter ends at 2n. bench/go/pingpong is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   pingpong system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_roundtrip=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "bench_flags.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "pingpong",
    .usage = "usage: pingpong [--n N]  (round trips, default 1000000)",
    .n = 1'000'000,
    .max_n = 1'000'000'000'000,
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  return mn::run([n]() -> int {
    mn::Chan<int64_t> ping, pong;  // unbuffered
    mn::WaitGroup wg;
    int64_t result = 0;
    wg.add(2);
    auto t0 = std::chrono::steady_clock::now();
    mn::go([&] {  // the server: every value comes back one larger
      for (int64_t v : ping) pong.send(v + 1);
      wg.done();
    });
    mn::go([&] {  // the client: n round trips
      int64_t v = 0;
      for (int64_t i = 0; i < n; i++) {
        ping.send(v + 1);
        v = *pong.recv();
      }
      ping.close();
      result = v;
      wg.done();
    });
    wg.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("pingpong system=mnsched procs=%d n=%lld ms=%.1f ns_per_roundtrip=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (result != 2 * n) {
      std::fprintf(stderr, "pingpong: counter is %lld, want %lld\n", static_cast<long long>(result),
                   static_cast<long long>(2 * n));
      return 1;
    }
    return 0;
  });
}
