// sleepers: 100,000 Gs asleep at once cost no CPU. All Gs sleep until the same instant;
// once all have started, the process's CPU time (user + system, getrusage) is measured
// across an 800 ms window before it.
//   sleepers n=<N> window_ms=<W> cpu_ms=<C> woke=<N>
#include <mn/mn.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {
double CpuMs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}
}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 100000;
  if (n <= 0) {
    std::fprintf(stderr, "sleepers: the count must be a positive integer\nusage: sleepers [N]\n");
    return 2;
  }
  return mn::run([n] {
    using namespace std::chrono_literals;
    std::atomic<long> woke{0};
    std::atomic<long> asleep{0};
    mn::WaitGroup wg;
    wg.add(n);
    // Far enough ahead for every G to start and for the window to end before any wakes.
    auto wake_at = mn::Clock::now() + 3000ms;
    for (long i = 0; i < n; i++) {
      mn::go([&] {
        asleep++;
        mn::sleep_until(wake_at);
        woke++;
        wg.done();
      });
    }
    // Wait until every G has started (main shares the Ps with them, and sysmon preempts
    // it while it spawns), give the last ones time to park, then measure.
    while (asleep.load() < n) mn::sleep_for(10ms);
    mn::sleep_for(100ms);
    double c0 = CpuMs();
    auto t0 = mn::Clock::now();
    mn::sleep_for(800ms);
    double cpu = CpuMs() - c0;
    double window = std::chrono::duration<double, std::milli>(mn::Clock::now() - t0).count();
    if (mn::Clock::now() >= wake_at) {
      std::fprintf(stderr, "sleepers: the Gs took too long to start; the window overlaps their wake-up\n");
      return 1;
    }
    wg.wait();
    std::printf("sleepers n=%ld window_ms=%.0f cpu_ms=%.1f woke=%ld\n", n, window, cpu, woke.load());
    return woke.load() == n ? 0 : 1;
  });
}
