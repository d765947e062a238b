// spawn_remote: a plain std::thread outside the runtime spawns n empty Gs (default 10,000)
// with mn::go while the main G waits for them on an mn::WaitGroup; R rounds of that
// (default 100). From outside the runtime mn::go puts each G on the global queue and wakes
// an M, so this measures that path: spawn from outside + run + exit, per task. The thread
// is started before the clock and does every round: the main G adds n to the WaitGroup,
// sends the round on an unbuffered channel the thread waits on, and waits. Each task marks
// its own slot, so every slot must end at R. bench/go/spawnremote is Go's side (a
// goroutine locked to its thread: Go has no threads outside its runtime).
// Output (one line, parsed by bench/run-compare.sh):
//   spawn_remote system=mnsched procs=<P> n=<N> rounds=<R> ms=<wall ms> ns_per_task=<x.x>
// ns_per_task is the total time over n*R.
// Exit status: 0 on success, 1 if a task did not run exactly once per round, 2 on bad
// arguments.
// MN_PROCS sets the number of Ps, as for any mnsched program.
#include <mn/mn.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_flags.hpp"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "spawn_remote",
    .usage = "usage: spawn_remote [--n N] [--rounds R]  (tasks per round, default 10000; rounds, "
             "default 100)",
    .n = 10'000,
    .max_n = 10'000'000,
};
constexpr int64_t kRounds = 100;
constexpr int64_t kMaxRounds = 1'000'000'000;  // a task's count (int32) reaches R

// bench_flags.hpp knows -n (and --seed) only. This takes --rounds out of argv, accepted in
// the same four forms (-rounds V, --rounds V, -rounds=V, --rounds=V), and leaves the rest
// to mn_bench::ParseFlags. A bad --rounds is reported after any error (or -h) before it,
// as the flags are read in order.
int64_t TakeRounds(int& argc, char** argv, const mn_bench::FlagSpec& spec, int64_t rounds,
                   int64_t max_rounds) {
  int out = 1;
  auto fail = [&](const std::string& msg) {
    argv[out] = nullptr;
    mn_bench::ParseFlags(out, argv, spec);  // exits on an earlier bad argument or -h
    mn_bench::Usage(spec, msg);
  };
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i], name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name.rfind("--", 0) == 0) name.erase(0, 1);  // --flag is -flag
    if (name == "-rounds") {
      if (!has_value) {
        if (i + 1 >= argc) fail("flag -rounds needs a value");
        value = argv[++i];
      }
      char* end = nullptr;
      errno = 0;
      long long x = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || x < 1 || x > max_rounds) {
        fail("invalid value \"" + value + "\" for flag -rounds: want an integer from 1 to " +
             std::to_string(max_rounds));
      }
      rounds = x;
      continue;
    }
    argv[out++] = argv[i];
    if (name == "-n" && !has_value && i + 1 < argc) argv[out++] = argv[++i];  // -n's value
  }
  argv[out] = nullptr;
  argc = out;
  return rounds;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rounds = TakeRounds(argc, argv, kFlags, kRounds, kMaxRounds);
  const int64_t n = mn_bench::ParseFlags(argc, argv, kFlags).n;
  std::vector<int32_t> runs(static_cast<std::size_t>(n));  // runs[i]: times task i ran
  return mn::run([n, rounds, &runs]() -> int {
    int32_t* const ran = runs.data();
    mn::WaitGroup wg;
    mn::Chan<int64_t> start;  // unbuffered: round r starts when the spawner takes r
    std::thread spawner([n, ran, &wg, start] {  // outside the runtime: mn::go from a thread
      for (int64_t r : start) {
        (void)r;
        for (int64_t i = 0; i < n; i++) {
          mn::go([ran, i, &wg] {
            ran[i]++;
            wg.done();
          });
        }
      }
    });
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t r = 0; r < rounds; r++) {
      wg.add(n);  // before the spawner starts the round, so that wait() cannot pass early
      start.send(r);
      wg.wait();
    }
    double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    start.close();
    mn::blocking_now([&spawner] { spawner.join(); });
    std::printf("spawn_remote system=mnsched procs=%d n=%lld rounds=%lld ms=%.1f ns_per_task=%.1f\n",
                mn::procs(), static_cast<long long>(n), static_cast<long long>(rounds), ns / 1e6,
                ns / (static_cast<double>(n) * static_cast<double>(rounds)));
    std::fflush(stdout);
    for (int64_t i = 0; i < n; i++) {
      if (ran[i] != rounds) {
        std::fprintf(stderr, "spawn_remote: task %lld ran %d times, want %lld\n",
                     static_cast<long long>(i), ran[i], static_cast<long long>(rounds));
        return 1;
      }
    }
    return 0;
  });
}
