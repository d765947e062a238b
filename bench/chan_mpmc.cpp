// chan_mpmc: 4 producer Gs send the values 0..n-1 (each a contiguous quarter; default
// n = 1,000,000) into one mn::Chan of capacity 1024; 4 consumer Gs drain it and sum what
// they get. The total must be n*(n-1)/2. bench/go/chanmpmc is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   chan_mpmc system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_item=<x.x>
// Exit status: 0 on success, 1 if the sum is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr std::size_t kCapacity = 1024;

constexpr const char* kUsage = "usage: chan_mpmc [--n N]  (items in total, default 1000000)";

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr, "chan_mpmc: %s\n%s\n", msg.c_str(), kUsage);
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
  // The sum n*(n-1)/2 must fit in an int64.
  const int64_t n = ParseN(argc, argv, 1'000'000, 1'000'000'000);
  return mn::run([n]() -> int {
    const int64_t want = n * (n - 1) / 2;
    mn::Chan<int64_t> ch(kCapacity);
    mn::WaitGroup producers, consumers;
    int64_t sums[kConsumers] = {};
    producers.add(kProducers);
    consumers.add(kConsumers);
    auto t0 = std::chrono::steady_clock::now();
    for (int c = 0; c < kConsumers; c++) {
      mn::go([&, c] {
        int64_t s = 0;
        for (int64_t v : ch) s += v;
        sums[c] = s;
        consumers.done();
      });
    }
    for (int64_t p = 0; p < kProducers; p++) {
      const int64_t lo = p * n / kProducers, hi = (p + 1) * n / kProducers;
      mn::go([&, lo, hi] {
        for (int64_t v = lo; v < hi; v++) ch.send(v);
        producers.done();
      });
    }
    producers.wait();
    ch.close();
    consumers.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();

    int64_t sum = 0;
    for (int64_t s : sums) sum += s;
    std::printf("chan_mpmc system=mnsched procs=%d n=%lld ms=%.1f ns_per_item=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (sum != want) {
      std::fprintf(stderr, "chan_mpmc: sum is %lld, want %lld\n", static_cast<long long>(sum),
                   static_cast<long long>(want));
      return 1;
    }
    return 0;
  });
}
