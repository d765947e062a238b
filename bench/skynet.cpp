// skynet: a 10-ary tree of Gs with 1,000,000 leaves; each leaf returns its ordinal and
// every node sums its children. The total is 499999500000.
// Output (one line per run, parsed by bench/run-compare.sh):
//   skynet system=mnsched procs=<P> leaves=<N> sum=<S> ms=<wall ms>
#include <mn/mn.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "skynet_tree.hpp"

namespace {

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr, "skynet: %s\nusage: skynet [--leaves N (a power of 10)] [--runs K]\n", msg);
  std::exit(2);
}

int64_t ParsePositive(const char* flag, const char* v) {
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x <= 0) {
    Usage((std::string(flag) + "=\"" + v + "\": not a positive integer").c_str());
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t leaves = 1'000'000;
  int64_t runs = 1;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--leaves") == 0 && i + 1 < argc) {
      leaves = ParsePositive("--leaves", argv[++i]);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = ParsePositive("--runs", argv[++i]);
    } else {
      Usage((std::string("unknown argument \"") + argv[i] + "\"").c_str());
    }
  }
  for (int64_t x = leaves; x > 1; x /= 10) {
    if (x % 10 != 0) Usage("--leaves must be a power of 10");
  }
  const int64_t want = leaves * (leaves - 1) / 2;
  int rc = 0;
  for (int64_t r = 0; r < runs; r++) {
    rc |= mn::run([&] {
      auto t0 = std::chrono::steady_clock::now();
      int64_t sum = mn_bench::SkynetTree(0, leaves);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("skynet system=mnsched procs=%d leaves=%lld sum=%lld ms=%.1f\n", mn::procs(),
                  static_cast<long long>(leaves), static_cast<long long>(sum), ms);
      std::fflush(stdout);
      return sum == want ? 0 : 1;
    });
  }
  return rc;
}
