// schedtrace: MN_SCHEDTRACE=<ms> prints one line per period to stderr, in Go's format
// (GODEBUG=schedtrace) plus the handoff, preemption and kernel-feedback counters; sysmon
// prints it, and RunMain prints a last one at exit ("SCHED exit"), with the process's CPU
// time, once every M has stopped (so spin times are complete). The numbers are read
// without stopping the world, so a line is a sample, not a snapshot: counts may be off
// by the Gs moving while it is printed.
#include <sys/resource.h>

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
  std::string scx;
  if (rt->scx_on.load(std::memory_order_relaxed)) {
    scx = ", sched_ext scheduler on";
  } else if (rt->scx_wanted) {
    std::lock_guard<std::mutex> lock(rt->scx_mu);
    scx = ", sched_ext scheduler off: " + rt->scx_reason;
  }
  if (!rt->kf_pin_error.empty()) {
    return "mn: kernel feedback: on" + scx + ", not pinned: " + rt->kf_pin_error;
  }
  return "mn: kernel feedback: on (" + PolicyNames(rt->kf_policies) + ")" + scx +
         ", maps pinned in " + rt->ktel->pin_dir();
}

std::string SchedTraceLine(Runtime* rt, bool at_exit) {
  int64_t since_ms = (NanoTime() - rt->start_ns) / 1'000'000;
  SpinCounters spin = SumSpins(rt);
  std::string tail;
  if (at_exit) {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    double cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    tail = absl::StrFormat(" cpums=%.1f", cpu_ms);
  }
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
      "SCHED %s%dms: procs=%d idleprocs=%d threads=%d spinningthreads=%d needspinning=%d "
      "idlethreads=%d runqueue=%d gcount=%d handoffs=%d preemptreqs=%d hogs=%d kfhandoffs=%d "
      "spins=%d spinms=%.1f spindeclined=%d wakedeclined=%d idlewakeups=%d backstops=%d%s [%s]",
      at_exit ? "exit " : "", since_ms, rt->procs, rt->npidle.load(std::memory_order_relaxed),
      rt->mcount.load(std::memory_order_relaxed),
      rt->nmspinning.load(std::memory_order_relaxed),
      rt->needspinning.load(std::memory_order_relaxed), nmidle, runqsize,
      GCount(rt), rt->handoffs.load(std::memory_order_relaxed),
      rt->preempt_requests.load(std::memory_order_relaxed),
      rt->hogs.load(std::memory_order_relaxed),
      rt->kernel_handoffs.load(std::memory_order_relaxed), spin.spins, spin.spin_ns / 1e6,
      spin.spins_declined, spin.wakes_declined,
      rt->idle_wakeups.load(std::memory_order_relaxed),
      rt->spin_backstops.load(std::memory_order_relaxed), tail, per_p);
}

}  // namespace mn::detail
