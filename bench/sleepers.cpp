// sleepers: 100,000 Gs asleep at once cost no CPU. All Gs sleep for the same second; the
// process's CPU time (user + system, getrusage) is measured across the middle of it.
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
    mn::WaitGroup wg;
    wg.add(n);
    auto wake_at = mn::Clock::now() + 1500ms;
    for (long i = 0; i < n; i++) {
      mn::go([&] {
        mn::sleep_until(wake_at);
        woke++;
        wg.done();
      });
    }
    // Let every G start and park, then measure a window in which all of them sleep.
    mn::sleep_for(500ms);
    double c0 = CpuMs();
    auto t0 = mn::Clock::now();
    mn::sleep_for(800ms);
    double cpu = CpuMs() - c0;
    double window = std::chrono::duration<double, std::milli>(mn::Clock::now() - t0).count();
    wg.wait();
    std::printf("sleepers n=%ld window_ms=%.0f cpu_ms=%.1f woke=%ld\n", n, window, cpu, woke.load());
    return woke.load() == n ? 0 : 1;
  });
}
