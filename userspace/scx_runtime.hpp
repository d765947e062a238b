// The runtime's side of the sched_ext scheduler (MN_KERNEL_FEEDBACK=scx): load it for this
// process's Ms, put each M under it as it starts, and fall back to telemetry only when
// the kernel ejects it. The scheduler itself is ScxScheduler (scx.hpp).
//
// Invariants:
//  - StartScx runs in run() after the telemetry programs are loaded and before the first
//    M starts, so every M sees scx_on settled when it starts; only run()'s own thread,
//    sysmon and the feedback thread stay in the fair class (they are not Ms).
//  - After start-up only sysmon touches rt->scx: it polls the scheduler at most every
//    kScxPollNs and, when the kernel has disabled it, says why once, clears scx_on (new
//    Ms stay in the fair class), moves the Ms back to SCHED_OTHER and drops it. A
//    scheduler that is gone costs the Ms nothing meanwhile: the kernel runs SCHED_EXT
//    tasks in the fair class while no sched_ext scheduler is loaded.
//  - StopScx runs after every M has ended and before the telemetry maps are destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace mn::detail {

struct M;
struct Runtime;

// How often sysmon asks whether the kernel still runs the scheduler.
inline constexpr int64_t kScxPollNs = 50'000'000;

// Loads the scheduler when rt->scx_wanted; on failure says why once on stderr, and exits
// with code 2 when `required`.
void StartScx(Runtime* rt, bool required);
// On M's own thread, as it starts: under the scheduler if it runs.
void ScxMStarted(Runtime* rt, M* m, pid_t tid);
// sysmon, each round.
void ScxPoll(Runtime* rt, int64_t now);
void StopScx(Runtime* rt);

}  // namespace mn::detail
