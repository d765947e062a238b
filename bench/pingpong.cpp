// pingpong: two Gs bounce a counter over two unbuffered channels, n round trips (default
// 1,000,000). Each side adds one, so the counter ends at 2n. bench/go/pingpong is Go's side.
// Output (one line, parsed by bench/run-compare.sh):
//   pingpong system=mnsched procs=<P> n=<N> ms=<wall ms> ns_per_roundtrip=<x.x>
// Exit status: 0 on success, 1 if the counter is wrong, 2 on bad arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr const char* kUsage = "usage: pingpong [--n N]  (round trips, default 1000000)";

[[noreturn]] void Usage(const std::string& msg) {
  std::fprintf(stderr, "pingpong: %s\n%s\n", msg.c_str(), kUsage);
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
    mn::Chan<int64_t> ping, pong;  // unbuffered
    mn::WaitGroup wg;
    int64_t result = 0;
    wg.add(2);
    auto t0 = std::chrono::steady_clock::now();
    mn::go([&] {  // the server: every value comes back one larger
      for (int64_t v : ping) pong.send(v + 1);
      wg.done();
    });
    mn::go([&] {  // the client: n round trips
      int64_t v = 0;
      for (int64_t i = 0; i < n; i++) {
        ping.send(v + 1);
        v = *pong.recv();
      }
      ping.close();
      result = v;
      wg.done();
    });
    wg.wait();
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    std::printf("pingpong system=mnsched procs=%d n=%lld ms=%.1f ns_per_roundtrip=%.1f\n", mn::procs(),
                static_cast<long long>(n), ns / 1e6, ns / static_cast<double>(n));
    std::fflush(stdout);
    if (result != 2 * n) {
      std::fprintf(stderr, "pingpong: counter is %lld, want %lld\n", static_cast<long long>(result),
                   static_cast<long long>(2 * n));
      return 1;
    }
    return 0;
  });
}
