// mutex_contention: 8 Gs contend on one mn::Mutex, n critical sections in total (default
// 1,000,000, split as evenly as possible), each incrementing a shared counter, which must
// end at n. bench/go/mutex is Go's side (sync.Mutex).
// Output (one line, parsed by bench/run-compare.sh):
//   mutex system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_op=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace {

constexpr int64_t kWorkers = 8;

constexpr const char* kUsage =
    "usage: mutex_contention [--n N]  (critical sections in total, default 1000000)";

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr, "mutex_contention: %s\n%s\n", msg.c_str(), kUsage);
  std::exit(2);
}

// Accepts -n N, --n N, -n=N and --n=N, as Go's flag package does.
int64_t ParseN(int argc, char** argv, int64_t n, int64_t max) {
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("%s\n", kUsage);
      std::exit(0);
    }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name != "-n" && name != "--n") Usage("unknown argument \"" + arg + "\"");
    if (!has_value) {
      if (i + 1 >= argc) Usage("flag -n needs a value");
      value = argv[++i];
    }
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || errno != 0 || x < 1 || x > max) {
      Usage("invalid value \"" + value + "\" for flag -n: want an integer from 1 to " +
            std::to_string(max));
    }
    n = x;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = ParseN(argc, argv, 1'000'000, 1'000'000'000'000);
  return mn::run([n]() -> int {
    mn::Mutex mu;
    int64_t counter = 0;  // guarded by mu
    mn::WaitGroup wg;
    wg.add(kWorkers);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t w = 0; w < kWorkers; w++) {
      const int64_t k = (w + 1) * n / kWorkers - w * n / kWorkers;
      mn::go([&, k] {
        for (int64_t i = 0; i < k; i++) {
          std::lock_guard<mn::Mutex> lock(mu);
          counter++;
        }
        wg.done();
      });
    }
    wg.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("mutex system=mnsched procs=%d n=%lld ms=%.1f ns_per_op=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (counter != n) {
      std::fprintf(stderr, "mutex_contention: counter is %lld, want %lld\n",
                   static_cast<long long>(counter), static_cast<long long>(n));
      return 1;
    }
    return 0;
  });
}
