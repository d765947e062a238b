// ScxScheduler: the sched_ext scheduler of bpf/scx.bpf.c, loaded and attached from user
// space, shared by the runtime (MN_KERNEL_FEEDBACK=scx, scx_runtime.cpp) and
// tools/mnsched-scx. See bpf/mn_scx.h for what it shares and docs/kernel-feedback.md.
//
// Invariants:
//  - At most one sched_ext scheduler runs on a machine. Load() fails, naming the one
//    loaded, when /sys/kernel/sched_ext/state is not "disabled" (after a short wait: one
//    that is being disabled is not "another scheduler").
//  - Registration is link-backed (a BPF_F_LINK struct_ops map and a BPF_STRUCT_OPS
//    link): the kernel unregisters the scheduler when the last fd of the link is closed,
//    so a process that dies, even by abort, never leaves it behind.
//  - The destructor closes the link and waits (up to 2 s) until the kernel has finished
//    disabling, so that the next Load() in this process or another is not refused.
//  - Tasks are switched to SCHED_EXT by whoever owns them (SetSchedExt); the scheduler
//    never picks tasks itself in partial mode. In full mode it schedules every task.
#pragma once

#include <linux/types.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct mn_scx_bpf;

namespace mn::detail {
#include "../bpf/mn_scx.h"

enum class ScxMode {
  kPartial,  // SCX_OPS_SWITCH_PARTIAL: only SCHED_EXT tasks (the Ms) are scheduled by it
  kFull,     // every task in the system: for experiments (tools/mnsched-scx --full)
};

class ScxScheduler {
 public:
  // Why this machine cannot run a sched_ext scheduler now, or "": no sched_ext in the
  // kernel, no permission, or another scheduler loaded (named by its ops).
  static std::string Preflight();
  // /sys/kernel/sched_ext/state ("enabled", "disabled", ...), or "" when absent.
  static std::string State();
  // /sys/kernel/sched_ext/root/ops: the loaded scheduler's name, or "".
  static std::string OpsName();

  // Loads and attaches the scheduler ("mnsched" in partial mode, "mnsched_all" in full).
  // With MN_SCX_DEBUG=1 in the environment, libbpf's messages (the verifier's log on a
  // failure) go to stderr. `other_slice_ns` is the slice of the tasks it ranks OTHER
  // (bpf/scx.bpf.c); 0 keeps the scheduler's default (3 ms).
  static absl::StatusOr<std::unique_ptr<ScxScheduler>> Load(ScxMode mode, uint64_t other_slice_ns = 0);
  ~ScxScheduler();
  ScxScheduler(const ScxScheduler&) = delete;
  ScxScheduler& operator=(const ScxScheduler&) = delete;

  // Enters one runtime's telemetry maps (fds of its tracked, hints, m_telemetry and
  // rt_state maps, as created by bpf/telemetry.bpf.c) under its process id, so that the
  // scheduler recognises its Ms and reads their hints. trace_fd, its trace_events ring,
  // is optional (-1, or a map the kernel refuses: a runtime older than it): without it
  // the scheduler sends no trace records for the runtime. The fds are not kept.
  absl::Status AddRuntime(uint32_t tgid, int tracked_fd, int hints_fd, int telemetry_fd,
                          int rt_state_fd, int trace_fd = -1);
  void RemoveRuntime(uint32_t tgid);

  // Whether the kernel still runs this scheduler. When it does not, *exit (if not null)
  // holds the kernel's reason, as the scheduler's `exit` op recorded it (kind 0 if it
  // has not within 1 s: the kernel calls the op at the end of disabling).
  bool Alive(mn_scx_exit* exit) const;
  // The counters, summed over CPUs.
  mn_scx_stats Stats() const;
  ScxMode mode() const { return mode_; }

 private:
  ScxScheduler() = default;
  ::mn_scx_bpf* skel_ = nullptr;
  int link_fd_ = -1;
  ScxMode mode_ = ScxMode::kPartial;
};

// Moves thread `tid` into (or out of) the sched_ext class: sched_setattr with SCHED_EXT
// (7), or SCHED_OTHER. Errors name the thread and errno.
absl::Status SetSchedExt(pid_t tid);
absl::Status SetSchedOther(pid_t tid);

// The scheduling policy of a thread (SCHED_OTHER = 0, SCHED_EXT = 7, ...), or -1.
int SchedPolicyOf(pid_t tid);

}  // namespace mn::detail
