// mn::stats(): the scheduler's counters, as schedtrace prints them.
#pragma once

#include <cstdint>

namespace mn {

struct Stats {
  int procs = 0;                  // Ps
  int idle_procs = 0;             // Ps on the idle list
  int64_t gs = 0;                 // Gs created and not yet exited
  int64_t threads = 0;            // Ms created (threads that ran or run Gs)
  int64_t idle_threads = 0;       // Ms parked in the thread cache
  int64_t spinning_threads = 0;   // Ms looking for work
  int64_t handoffs = 0;           // Ps handed off from blocking calls and hogs
  int64_t preempt_requests = 0;   // cooperative preemptions requested by sysmon
  int64_t hogs = 0;               // Gs that ran 10 ms without a runtime call; their P was taken
  int64_t kernel_handoffs = 0;    // Ps taken from Ms the kernel switched out (kernel feedback)
  int64_t spins = 0;              // times an M started spinning (looking for work to steal)
  int64_t spin_ns = 0;            // wall time Ms spent spinning, up to their last spin's end
  int64_t spins_declined = 0;     // spin policy: Ms that parked at once, no CPU being free
  int64_t wakes_declined = 0;     // spin policy: spinners not woken, no CPU being free
  int64_t idle_wakeups = 0;       // spin policy: Ms started because a CPU turned idle
  int64_t spin_backstops = 0;     // spin policy: Ms sysmon started for work left waiting 1 ms
  int64_t spawns = 0;             // Gs started (mn::go, timers' functions, and run()'s main)
  int64_t parks = 0;              // times a G parked (waited on a channel, lock, timer, fd, ...)
  int64_t readies = 0;            // times a parked G was made runnable again
};

// A sample of the active runtime's counters (all zero when no runtime is active). Read
// without stopping anything: the fields are each exact but not taken at one instant.
Stats stats();

}  // namespace mn
