// latency_service: a service at a fixed request rate (open loop), each request a few
// microseconds to a few hundred of CPU work split over `fanout` Gs, for the kernel-feedback
// evaluation (docs/kernel-feedback.md): run it beside bench/cpu_hog, with feedback off and on.
//   usage: latency_service [--rate R] [--seconds S] [--warmup S] [--work-us W] [--fanout F]
#include <mn/mn.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "latency_service_common.hpp"

namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU work: spins until ns have passed on this thread's clock... of the wall clock, as a
// request's handler would compute for that long if it ran undisturbed.
void Work(int64_t ns) {
  int64_t end = Now() + ns;
  while (Now() < end) {
  }
}

[[noreturn]] void Usage(const char* what) {
  std::fprintf(stderr, "latency_service: %s\nusage: latency_service [--rate R] [--seconds S] "
                       "[--warmup S] [--work-us W] [--fanout F]\n", what);
  std::exit(2);
}

int64_t IntFlag(const char* name, const char* v, int64_t lo, int64_t hi) {
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != 0 || x < lo || x > hi) {
    Usage((std::string(name) + "=\"" + v + "\": must be an integer in [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "]").c_str());
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rate = 20000, seconds = 5, warmup = 1, work_us = 20, fanout = 2;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--rate") rate = IntFlag("--rate", value(), 1, 1'000'000);
    else if (a == "--seconds") seconds = IntFlag("--seconds", value(), 1, 3600);
    else if (a == "--warmup") warmup = IntFlag("--warmup", value(), 0, 3600);
    else if (a == "--work-us") work_us = IntFlag("--work-us", value(), 0, 1'000'000);
    else if (a == "--fanout") fanout = IntFlag("--fanout", value(), 1, 64);
    else Usage(("unknown argument \"" + a + "\"").c_str());
  }
  const int64_t total = rate * (seconds + warmup);
  const int64_t period = 1'000'000'000 / rate;
  std::vector<int64_t> latency(static_cast<std::size_t>(total));
  int procs = 0;
  mn::run([&] {
    procs = mn::procs();
    mn::WaitGroup all;
    all.add(total);
    const int64_t start = Now() + 1'000'000;
    for (int64_t i = 0; i < total; i++) {
      int64_t due = start + i * period;
      if (int64_t ahead = due - Now(); ahead > 0) mn::sleep_for(std::chrono::nanoseconds(ahead));
      mn::go([&, i, due] {
        mn::WaitGroup parts;
        parts.add(fanout);
        for (int64_t k = 0; k < fanout; k++) {
          mn::go([&] {
            Work(work_us * 1000 / fanout);
            parts.done();
          });
        }
        parts.wait();
        latency[static_cast<std::size_t>(i)] = Now() - due;
        all.done();
      });
    }
    all.wait();
  });
  mn_bench::ServiceResult r = mn_bench::Summarize(latency, rate * warmup, static_cast<double>(seconds));
  mn_bench::PrintService("mnsched", procs, rate, work_us, static_cast<int>(fanout), r);
  return 0;
}
