// What timer_storm's two C++ sides (bench/timer_storm.cpp for mnsched,
// bench/boost/boost_timer_storm.cpp for Boost.Fiber) share around the sleeping itself: the
// sleep durations (splitmix64 from the seed, the generator Go's bench/go/timerstorm uses
// too, so that all three sleep the same set of durations), the lateness percentiles and
// the output line. Independent of the runtime: no mnsched or Boost header.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace mn_bench {

inline constexpr int64_t kMaxSleepNs = 10'000'000;  // 10 ms

// splitmix64 (Steele, Lea, Flood 2014): advances state and returns the next value.
inline uint64_t SplitMix64(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The n tasks' sleep durations in ns, each 0..kMaxSleepNs: splitmix64 from seed.
inline std::vector<int64_t> SleepDurations(int64_t n, uint64_t seed) {
  std::vector<int64_t> sleeps(static_cast<std::size_t>(n));
  uint64_t state = seed;
  for (auto& d : sleeps) d = static_cast<int64_t>(SplitMix64(state) % (kMaxSleepNs + 1));
  return sleeps;
}

// The nearest-rank p-th percentile of the sorted v.
inline int64_t Percentile(const std::vector<int64_t>& v, int64_t p) {
  int64_t idx = (p * static_cast<int64_t>(v.size()) + 99) / 100 - 1;
  return v[static_cast<std::size_t>(std::max<int64_t>(idx, 0))];
}

// Sorts late (every task's lateness in ns: wake time minus deadline) and prints the output
// line, with n = late.size() and the lateness percentiles by nearest rank:
//   timer_storm system=<system> procs=<procs> n=<N> ms=<ms> p50_us=<x.x> p99_us=<x.x> max_us=<x.x>
inline void PrintLateness(const char* system, int procs, double ms, std::vector<int64_t>& late) {
  std::sort(late.begin(), late.end());
  std::printf("timer_storm system=%s procs=%d n=%lld ms=%.1f p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
              system, procs, static_cast<long long>(late.size()), ms, Percentile(late, 50) / 1e3,
              Percentile(late, 99) / 1e3, late.back() / 1e3);
  std::fflush(stdout);
}

}  // namespace mn_bench
