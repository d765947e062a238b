// million: one million Gs blocked at once, then released. Prints the process's peak RSS
// and its mapping count at the peak (the system's vm.max_map_count is left as it is).
//   million blocked=<N> peak_rss_mib=<R> maps=<M> ms=<wall ms>
#include <mn/mn.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {
long StatusKiB(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key, 0) == 0) return std::atol(line.c_str() + std::string(key).size());
  }
  return -1;
}
long MapCount() {
  std::ifstream f("/proc/self/maps");
  std::string line;
  long n = 0;
  while (std::getline(f, line)) n++;
  return n;
}
}  // namespace

int main(int argc, char** argv) {
  long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  if (n <= 0) {
    std::fprintf(stderr, "million: the count must be a positive integer\nusage: million [N]\n");
    return 2;
  }
  return mn::run([n] {
    auto t0 = std::chrono::steady_clock::now();
    mn::WaitGroup gate, done;
    std::atomic<long> started{0};
    gate.add(1);
    done.add(n);
    for (long i = 0; i < n; i++) {
      mn::go([&] {
        started.fetch_add(1, std::memory_order_relaxed);
        gate.wait();
        done.done();
      });
    }
    // Wait until every G has started and blocked.
    while (started.load() < n) mn::yield();
    mn::yield();
    long rss = StatusKiB("VmHWM:");
    long maps = MapCount();
    gate.done();
    done.wait();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("million blocked=%ld peak_rss_mib=%.1f maps=%ld ms=%.1f\n", n, rss / 1024.0, maps, ms);
    return 0;
  });
}
