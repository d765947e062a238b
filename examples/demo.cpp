// demo: the scheduler at work. Three phases, each a kind of load a service sees:
//   1. fan-out: bursts of CPU-bound Gs spread over every P by work stealing;
//   2. contention: Gs sharing one mn::Mutex, parked (not spinning) while they wait;
//   3. a tree: 111,111 Gs in a skynet-shaped tree, spawned and joined.
// Run it with MN_SCHEDTRACE=1000 (tools/dev.sh demo does) to see a Go-style schedtrace
// line per second: how many Ps are idle, how many Ms spin, how long each P's queue is.
// With kernel telemetry on (root), phase 1 also shows what the kernel does to each M,
// through tools/mnstat run on this process (docs/kernel-feedback.md).
//   usage: demo [--seconds N]   (length of phases 1 and 2; default 3)
#include <mn/mn.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <unistd.h>

#include "skynet_tree.hpp"

namespace {

using Clock = std::chrono::steady_clock;

bool IsPrime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; d++) {
    if (n % d == 0) return false;
  }
  return true;
}

// One frame of tools/mnstat on this process, printed as it comes.
void ShowKernelView() {
#ifdef MN_MNSTAT_PATH
  std::string cmd = std::string(MN_MNSTAT_PATH) + " --once --interval=500ms " + std::to_string(getpid());
  mn::blocking([&] {
    if (FILE* f = popen(cmd.c_str(), "r")) {
      char line[512];
      while (std::fgets(line, sizeof line, f) != nullptr) std::printf("demo: | %s", line);
      pclose(f);
    }
  });
#endif
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      char* end = nullptr;
      seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(seconds > 0) || seconds > 3600) {
        std::fprintf(stderr, "demo: --seconds=\"%s\": must be a number of seconds in (0, 3600]\n", argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "demo: unknown argument \"%s\"\nusage: demo [--seconds N]\n", argv[i]);
      return 2;
    }
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep our lines in order with schedtrace's
  return mn::run([seconds] {
    std::printf("demo: %d Ps\n", mn::procs());
    mn::KernelFeedbackStatus kf = mn::kernel_feedback_status();
    if (kf.active) {
      std::printf("demo: kernel telemetry on: bpftool map dump pinned %s/m_telemetry, or tools/mnstat %d\n",
                  kf.pin_dir.c_str(), static_cast<int>(getpid()));
    } else {
      std::printf("demo: kernel telemetry off: %s\n", kf.reason.c_str());
    }
    auto phase_end = [](double s) { return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };

    // 1. Fan-out: each burst is 2,000 Gs counting primes in disjoint ranges.
    std::atomic<int64_t> primes{0};
    int64_t bursts = 0, gs = 0;
    mn::WaitGroup viewer;
    if (kf.active && !kf.pin_dir.empty()) {
      viewer.add(1);
      mn::go([&] {
        std::printf("demo: what the kernel does to our Ms during the fan-out (tools/mnstat --once):\n");
        ShowKernelView();
        viewer.done();
      });
    }
    for (auto end = phase_end(seconds); Clock::now() < end; bursts++) {
      mn::WaitGroup wg;
      for (int i = 0; i < 2000; i++, gs++) {
        wg.add(1);
        uint64_t lo = static_cast<uint64_t>(i) * 500;
        mn::go([&, lo] {
          int64_t n = 0;
          for (uint64_t x = lo; x < lo + 500; x++) n += IsPrime(x);
          primes.fetch_add(n, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    }
    viewer.wait();
    std::printf("demo: fan-out: %lld bursts, %lld Gs, %lld primes found\n",
                static_cast<long long>(bursts), static_cast<long long>(gs),
                static_cast<long long>(primes.load()));

    // 2. Contention: 64 Gs increment one counter under one Mutex.
    mn::Mutex mu;
    int64_t counter = 0;
    std::atomic<bool> stop{false};
    mn::WaitGroup wg;
    for (int i = 0; i < 64; i++) {
      wg.add(1);
      mn::go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          for (int k = 0; k < 100; k++) {
            std::lock_guard<mn::Mutex> lock(mu);
            counter++;
          }
          mn::yield();
        }
        wg.done();
      });
    }
    for (auto end = phase_end(seconds); Clock::now() < end;) mn::yield();
    stop = true;
    wg.wait();
    std::printf("demo: contention: %lld critical sections by 64 Gs\n", static_cast<long long>(counter));

    // 3. A tree of 111,111 Gs.
    auto t0 = Clock::now();
    int64_t sum = mn_bench::SkynetTree(0, 100000);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("demo: tree: 111111 Gs, sum %lld (want 4999950000) in %.1f ms\n",
                static_cast<long long>(sum), ms);
    return sum == 4999950000LL ? 0 : 1;
  });
}
