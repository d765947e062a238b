// cpu_hog: N threads that burn CPU for S seconds (the competing process of the
// kernel-feedback evaluation). Plain threads, no runtime.
//   usage: cpu_hog [--threads N] [--seconds S]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  long threads = 2, seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    char* end = nullptr;
    long v = std::strtol(argv[i + 1], &end, 10);
    if (*end != 0 || v < 1 || v > 100000) {
      std::fprintf(stderr, "cpu_hog: %s=\"%s\": must be a positive integer\n", argv[i], argv[i + 1]);
      return 2;
    }
    if (std::strcmp(argv[i], "--threads") == 0) threads = v;
    else if (std::strcmp(argv[i], "--seconds") == 0) seconds = v;
    else {
      std::fprintf(stderr, "cpu_hog: unknown argument \"%s\"\nusage: cpu_hog [--threads N] [--seconds S]\n", argv[i]);
      return 2;
    }
  }
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> ts;
  for (long t = 0; t < threads; t++) {
    ts.emplace_back([end] {
      volatile unsigned long x = 0;
      while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 100000; i++) x = x + 1;
      }
    });
  }
  for (auto& t : ts) t.join();
  return 0;
}
