// schedtrace: MN_SCHEDTRACE=<ms> prints one line per period to stderr, in Go's format
// (GODEBUG=schedtrace) plus the handoff and preemption counters; sysmon prints it. The numbers are read
// without stopping the world, so a line is a sample, not a snapshot: counts may be off
// by the Gs moving while it is printed.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sched.hpp"

namespace mn::detail {

absl::StatusOr<int64_t> SchedTraceFromEnv() {
  const char* v = std::getenv("MN_SCHEDTRACE");
  if (v == nullptr) return 0;
  int64_t ms = 0;
  // One hour is far beyond any useful period; a larger value is almost surely a typo.
  if (!absl::SimpleAtoi(v, &ms) || ms < 0 || ms > 3'600'000 || std::string(v).find_first_of(" +\t") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "MN_SCHEDTRACE=\"%s\": must be a period in milliseconds, 0 to 3600000 (0 = off)", v));
  }
  return ms;
}

std::string KernelFeedbackLine(Runtime* rt) {
  if (rt->ktel == nullptr) return "mn: kernel feedback: off: " + rt->kf_reason;
  if (!rt->kf_pin_error.empty()) return "mn: kernel feedback: on, not pinned: " + rt->kf_pin_error;
  return "mn: kernel feedback: on (" + PolicyNames(rt->kf_policies) + "), maps pinned in " +
         rt->ktel->pin_dir();
}

std::string SchedTraceLine(Runtime* rt) {
  int64_t since_ms = (NanoTime() - rt->start_ns) / 1'000'000;
  std::string per_p;
  for (int i = 0; i < rt->procs; i++) {
    absl::StrAppend(&per_p, i == 0 ? "" : " ", rt->allp[i]->runq.Size());
  }
  int32_t nmidle;
  int32_t runqsize;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    nmidle = rt->nmidle;
    runqsize = rt->runq.size;
  }
  return absl::StrFormat(
      "SCHED %dms: procs=%d idleprocs=%d threads=%d spinningthreads=%d needspinning=%d "
      "idlethreads=%d runqueue=%d gcount=%d handoffs=%d preemptreqs=%d hogs=%d kfhandoffs=%d [%s]",
      since_ms, rt->procs, rt->npidle.load(std::memory_order_relaxed),
      rt->mcount.load(std::memory_order_relaxed),
      rt->nmspinning.load(std::memory_order_relaxed),
      rt->needspinning.load(std::memory_order_relaxed), nmidle, runqsize,
      GCount(rt), rt->handoffs.load(std::memory_order_relaxed),
      rt->preempt_requests.load(std::memory_order_relaxed),
      rt->hogs.load(std::memory_order_relaxed),
      rt->kernel_handoffs.load(std::memory_order_relaxed), per_p);
}

}  // namespace mn::detail
