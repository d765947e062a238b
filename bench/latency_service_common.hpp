// What the latency service's sides share (bench/latency_service.cpp for mnsched; Go's is
// bench/go/latencyservice): the request schedule and the output line. Open loop: request i
// is due at start + i / rate whatever happened to the ones before it, and its latency runs
// from when it was due, so a stall shows in every request it delayed (no coordinated
// omission).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace mn_bench {

struct ServiceResult {
  int64_t requests = 0;  // measured (after the warm-up)
  double seconds = 0;    // measured span
  int64_t p50_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
};

// latency[i] for every request; those due before warmup_ns are not measured.
inline ServiceResult Summarize(std::vector<int64_t> latency, int64_t first_measured,
                               double seconds) {
  ServiceResult r;
  latency.erase(latency.begin(), latency.begin() + first_measured);
  std::sort(latency.begin(), latency.end());
  r.requests = static_cast<int64_t>(latency.size());
  r.seconds = seconds;
  if (latency.empty()) return r;
  auto at = [&](double q) {
    auto idx = static_cast<std::size_t>(q * static_cast<double>(latency.size() - 1));
    return latency[idx];
  };
  r.p50_ns = at(0.50);
  r.p99_ns = at(0.99);
  r.p999_ns = at(0.999);
  r.max_ns = latency.back();
  return r;
}

//   latency_service system=<s> procs=<p> rate=<r> work_us=<w> fanout=<f> n=<N> rps=<x>
//   p50_us=<x> p99_us=<x> p999_us=<x> max_us=<x>
inline void PrintService(const char* system, int procs, int64_t rate, int64_t work_us, int fanout,
                         const ServiceResult& r) {
  std::printf("latency_service system=%s procs=%d rate=%lld work_us=%lld fanout=%d n=%lld rps=%.0f "
              "p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
              system, procs, static_cast<long long>(rate), static_cast<long long>(work_us), fanout,
              static_cast<long long>(r.requests), static_cast<double>(r.requests) / r.seconds,
              r.p50_ns / 1e3, r.p99_ns / 1e3, r.p999_ns / 1e3, r.max_ns / 1e3);
  std::fflush(stdout);
}

}  // namespace mn_bench
