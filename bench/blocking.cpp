// blocking: the cost of entering and leaving a blocking call (mn::blocking, Go's
// entersyscall / exitsyscall), measured in one G, n iterations of each loop (default
// 10,000,000). bench/go/blocking is Go's side. Three figures, each in ns per operation:
//   raw_ns       syscall(SYS_getppid) called directly in the G (Go: syscall.RawSyscall)
//   syscall_ns   mn::blocking([] { return syscall(SYS_getppid); }) (Go: syscall.Syscall,
//                which does entersyscall / exitsyscall around the call)
//   overhead_ns  mn::blocking with an empty body: entering and leaving alone. Go has no
//                way to enter a syscall without making one, so Go's side reports
//                syscall_ns - raw_ns measured in the same process instead.
// getppid, not getpid: some glibc versions cache getpid, and getppid always enters the
// kernel. Every loop is timed after a short warm-up; every getppid result is checked.
// Output (one line, parsed by bench/run-compare.sh):
//   blocking system=mnsched procs=<P> n=<N> ms=<wall ms of the timed loops> raw_ns=<x.xx> syscall_ns=<x.xx> overhead_ns=<x.xx>
// Exit status: 0 on success, 1 if a getppid result is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "bench_flags.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "blocking",
    .usage = "usage: blocking [--n N]  (iterations of each loop, default 10000000)",
    .n = 10'000'000,
    .max_n = 1'000'000'000'000,
};

// Runs body(i) for i in [0, k) after min(k, 100000) untimed warm-up calls; returns the
// timed loop's ns per call.
template <class Body>
double NsPerOp(int64_t k, Body body) {
  for (int64_t i = 0, w = std::min<int64_t>(k, 100'000); i < w; i++) body(i);
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < k; i++) body(i);
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  return ns / static_cast<double>(k);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  return mn::run([n]() -> int {
    const long want = ::getppid();
    int64_t wrong = 0;  // getppid results other than want

    const double raw_ns = NsPerOp(n, [&](int64_t) {
      if (syscall(SYS_getppid) != want) wrong++;
    });
    const double syscall_ns = NsPerOp(n, [&](int64_t) {
      if (mn::blocking([] { return syscall(SYS_getppid); }) != want) wrong++;
    });
    // The empty body: the barrier keeps the compiler from deleting the loop (and the call).
    const double overhead_ns = NsPerOp(n, [](int64_t) {
      mn::blocking([] { asm volatile("" ::: "memory"); });
    });

    const double ms = (raw_ns + syscall_ns + overhead_ns) * static_cast<double>(n) / 1e6;
    std::printf("blocking system=mnsched procs=%d n=%lld ms=%.1f raw_ns=%.2f syscall_ns=%.2f overhead_ns=%.2f\n",
                mn::procs(), static_cast<long long>(n), ms, raw_ns, syscall_ns, overhead_ns);
    std::fflush(stdout);
    if (wrong != 0) {
      std::fprintf(stderr, "blocking: %lld getppid results were not %ld\n", static_cast<long long>(wrong),
                   want);
      return 1;
    }
    return 0;
  });
}
