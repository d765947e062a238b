// Kernel feedback: BPF programs that tell the runtime what the kernel does to its Ms
// (docs/kernel-feedback.md).
//
// Options::kernel_feedback, or MN_KERNEL_FEEDBACK (which wins when set, so that an
// operator can switch it without rebuilding):
//   auto      (default) load the programs when the process may (root, or CAP_BPF with
//             CAP_PERFMON) and the kernel has BTF; otherwise run without them and say why
//             once, in mn::kernel_feedback_status() and in schedtrace.
//   off       never load them.
//   required  exit with code 2 and the reason when they cannot be loaded.
//   scx       as auto, and also load the sched_ext scheduler (bpf/scx.bpf.c) for this
//             runtime's Ms, which the kernel then runs ahead of its spinning Ms and other
//             tasks. When the kernel has no sched_ext, another sched_ext scheduler is
//             loaded, or the kernel ejects it later, the runtime says why once on stderr
//             and continues with telemetry only. MN_KERNEL_FEEDBACK's word is "scx"
//             ("required,scx" exits with code 2 when the scheduler cannot be loaded).
// A bad MN_KERNEL_FEEDBACK value exits with code 2 naming it, as any bad configuration.
#pragma once

#include <string>

namespace mn {

enum class KernelFeedback { kAuto, kOff, kRequired, kScx };

struct KernelFeedbackStatus {
  bool active = false;  // the telemetry programs are loaded and attached
  std::string reason;   // why they are not, when !active
  std::string pin_dir;  // where the maps are pinned (/sys/fs/bpf/mnsched/<pid>), or ""
  std::string policies; // the policies acting on the telemetry ("handoff"; "telemetry only")
  bool scx = false;     // the sched_ext scheduler is loaded and schedules the Ms
  std::string scx_reason;  // why not, when it was asked for (or why it was ejected)
};

// The active runtime's state; outside a runtime, !active with the reason "no runtime is
// active".
KernelFeedbackStatus kernel_feedback_status();

}  // namespace mn
