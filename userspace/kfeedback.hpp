// KernelTelemetry: one runtime's instance of the BPF telemetry programs (bpf/telemetry.bpf.c)
// and its maps, mapped into this process.
//
// Invariants:
//  - Loaded before the first M starts and destroyed with the Runtime, after every M
//    thread has ended (the last Unref), so an M's hints pointer never outlives the map.
//  - Reading telemetry is plain loads from the mmapped maps: no system call. Registering
//    an M (a map update) is one system call on the M's thread start, never on a
//    scheduling path.
//  - Pins live under /sys/fs/bpf/mnsched/<pid>/; a runtime removes its own when it is
//    destroyed and, when it starts, those of processes that no longer hold the maps.
#pragma once

#include <linux/types.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "mn/kernel_feedback.hpp"

struct mn_telemetry_bpf;  // the skeleton (build/<preset>/bpf/telemetry.skel.h)

namespace mn::detail {
#include "../bpf/mn_telemetry.h"

// Every policy (MN_POLICY_*): the word "all".
inline constexpr uint32_t kAllPolicies = MN_POLICY_HANDOFF | MN_POLICY_SPIN;
// Not a policy of the telemetry programs but a word of MN_KERNEL_FEEDBACK all the same:
// load the sched_ext scheduler (scx_runtime.cpp). "all" does not include it.
inline constexpr uint32_t kPolicyScx = 1u << 16;
// The policies when none is named: none yet. They are opt-in until their evaluation
// (docs/kernel-feedback.md, "Evaluation") shows a gain: so far they cut spinning beside a
// CPU hog but do not lower its tail latency, and handoff costs throughput without one.
inline constexpr uint32_t kDefaultPolicies = 0;

// MN_KERNEL_FEEDBACK: comma-separated words, a mode (auto, required or off; auto if none)
// and policies (telemetry = none, handoff, spin, all, scx; kDefaultPolicies if none). False with
// *error naming the value and what is wrong.
bool ParseKernelFeedback(const char* text, KernelFeedback* mode, uint32_t* policies,
                         std::string* error);
// "handoff,spin", "scx", ..., or "telemetry only".
std::string PolicyNames(uint32_t policies);

class KernelTelemetry {
 public:
  // Loads, attaches, maps and pins for a runtime of `procs` Ps. On failure returns null
  // and sets *why_not. A failure to pin only clears pin_dir() and sets *pin_error.
  static std::unique_ptr<KernelTelemetry> Open(int procs, uint32_t policies,
                                               std::string* why_not, std::string* pin_error);
  ~KernelTelemetry();
  KernelTelemetry(const KernelTelemetry&) = delete;
  KernelTelemetry& operator=(const KernelTelemetry&) = delete;

  // The M in `slot` runs as thread `tid` (call from that thread), or has ended.
  void RegisterM(int slot, pid_t tid);
  void UnregisterM(int slot, pid_t tid);

  // The hints record the runtime writes for an M, or null when slot is not tracked.
  mn_m_hints* hints(int slot) const;
  mn_p_state* p_state(int p) const;
  // A consistent copy of an M's / a CPU's record; false if the slot is out of range or
  // no consistent copy could be taken (a writer kept it busy).
  bool ReadM(int slot, mn_m_telemetry* out) const;
  bool ReadCpu(int cpu, mn_cpu_state* out) const;
  int ncpus() const { return ncpus_; }
  // The mmapped arrays themselves, for the spin policy's hot path: cpu_state by CPU (its
  // nr_waiting and idle words read alone), and the runtime's own record.
  const mn_cpu_state* cpus() const { return cpu_; }
  mn_rt_state* rt_state() const { return rt_; }
  // The upcall ring buffer (mn_event records), for the feedback thread.
  int events_fd() const { return events_fd_; }
  // The execution trace's ring buffer (mn_trace_record records), for TraceKernel.
  int trace_events_fd() const { return trace_events_fd_; }
  // The fd of one of the programs' maps by its name in telemetry.bpf.c ("tracked",
  // "hints", ...), for the sched_ext scheduler's outer maps; -1 if there is none.
  int MapFd(const char* name) const;
  const std::string& pin_dir() const { return pin_dir_; }

 private:
  KernelTelemetry() = default;
  std::string Pin();

  ::mn_telemetry_bpf* skel_ = nullptr;
  mn_m_telemetry* m_ = nullptr;
  mn_cpu_state* cpu_ = nullptr;
  mn_m_hints* hints_ = nullptr;
  mn_p_state* p_ = nullptr;
  mn_rt_state* rt_ = nullptr;
  std::size_t m_len_ = 0, cpu_len_ = 0, hints_len_ = 0, p_len_ = 0, rt_len_ = 0;
  int ncpus_ = 0;
  int procs_ = 0;
  int tracked_fd_ = -1;
  int events_fd_ = -1;
  int trace_events_fd_ = -1;
  std::string pin_dir_;
};

}  // namespace mn::detail
