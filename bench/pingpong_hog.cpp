// pingpong_hog: Go's BenchmarkPingPongHog (runtime/proc_test.go). A hog G spins on a
// non-blocking select (receive from stop, or default) while two Gs ping-pong n times over
// two unbuffered channels (default n = 100,000); the main G starts the ping-pong and waits
// for stop to be closed. At procs=1 the pair and the hog share one P, so this measures how
// the scheduler shares it: a G readied by a channel goes to runnext, and if it does not
// inherit the time slice of the G that readied it, the pair can keep the hog off the P (or
// the hog, run for a full slice each time, slows the pair). Slow by design. Go's original
// sets GOMAXPROCS to 1 itself; here MN_PROCS decides, as for the other workloads.
// The values are a counter rather than Go's bools: each side adds one, so the value the
// main G takes back at the end must be 2n. bench/go/pingponghog is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   pingpong_hog system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_op=<x.x>
// The time runs from the first ping to stop's close, as Go's b.ResetTimer / b.StopTimer;
// ns_per_op is it over n.
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>

#include "bench_flags.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "pingpong_hog",
    .usage = "usage: pingpong_hog [--n N]  (ping-pongs, default 100000)",
    .n = 100'000,
    .max_n = 1'000'000'000'000,
};

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  return mn::run([n]() -> int {
    // The CPU hog: spins until stop is closed.
    mn::Chan<bool> stop, done;  // unbuffered
    mn::go([stop, done] {
      for (bool stopped = false; !stopped;) {
        mn::select(mn::on_recv(stop, [&](std::optional<bool>) { stopped = true; }),
                   mn::on_default());
      }
      done.send(true);
    });

    // Ping-pong n times.
    mn::Chan<int64_t> ping, pong;  // unbuffered
    mn::go([n, ping, pong, stop, done] {
      for (int64_t j = 0; j < n; j++) pong.send(*ping.recv() + 1);
      stop.close();
      done.send(true);
    });
    mn::go([n, ping, pong, done] {
      for (int64_t i = 0; i < n; i++) ping.send(*pong.recv() + 1);
      done.send(true);
    });

    auto t0 = std::chrono::steady_clock::now();
    ping.send(0);  // start the ping-pong
    stop.recv();   // returns (empty) when stop is closed
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    const int64_t result = *ping.recv();      // let the last ponger exit
    for (int i = 0; i < 3; i++) done.recv();  // make sure the Gs exit
    std::printf("pingpong_hog system=mnsched procs=%d n=%lld ms=%.1f ns_per_op=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (result != 2 * n) {
      std::fprintf(stderr, "pingpong_hog: counter is %lld, want %lld\n",
                   static_cast<long long>(result), static_cast<long long>(2 * n));
      return 1;
    }
    return 0;
  });
}
