// mn::Options: how a runtime is configured.
//
// Configuration errors follow the project's rule (docs/errors.md): validate() returns an
// absl::Status naming the bad field; mn::run() prints that message and exits with code 2,
// as it does for a bad MN_PROCS or MN_SCHEDTRACE.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "mn/kernel_feedback.hpp"

namespace mn {

// Default size of a G's stack. C++ cannot move stacks, so a G's stack is fixed for its
// life; only the pages a G touches cost memory, so a generous virtual size is cheap.
// 64 KiB holds the usual C++ call depths (iostreams, std::format, small recursion) while
// keeping a million Gs inside 64 GiB of address space. See docs/design.md, "Stacks".
inline constexpr std::size_t kDefaultStackSize = 64 * 1024;
inline constexpr std::size_t kMinStackSize = 16 * 1024;
inline constexpr std::size_t kMaxStackSize = 256 * 1024 * 1024;

struct Options {
  // Number of Ps. 0 means: MN_PROCS if set, else the CPUs this process may use (the
  // affinity mask, capped by the cgroup CPU quota rounded up, as Go 1.25 does).
  int procs = 0;
  // Usable stack bytes per G, rounded up to whole pages. 0 means kDefaultStackSize.
  std::size_t stack_size = 0;
  // When every G is parked on a runtime object with no timer, blocking call or running
  // thread left to wake one, print "mn: all Gs are asleep - deadlock!" with the blocked
  // Gs and exit with code 2, as Go does. The runtime cannot see what other threads of
  // the process will do, so it never calls a deadlock while a thread that is not its own
  // exists (the caller of run() aside), and once it has seen one it stops checking.
  bool detect_deadlock = true;
  // Kernel telemetry through BPF (mn/kernel_feedback.hpp). MN_KERNEL_FEEDBACK overrides.
  KernelFeedback kernel_feedback = KernelFeedback::kAuto;
  // Execution tracing (mn/trace.hpp, docs/tracing.md): record the whole run into this file.
  // MN_TRACE overrides. A file that cannot be written stops run() with exit code 2. Read
  // only as run() starts. (A pointer: a std::string member would make every designated
  // initializer that leaves it out a -Wmissing-field-initializers warning.)
  const char* trace_path = nullptr;
  // With a trace: keep only about the last trace_ring_mib MiB of events (0: every event,
  // streamed to the file as it goes). MN_TRACE_RING overrides.
  std::size_t trace_ring_mib = 0;
};

// Checks `opts` without starting anything. The message names the field and its value.
absl::Status Validate(const Options& opts);

}  // namespace mn
