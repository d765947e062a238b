// Blocking calls: Go's entersyscall / exitsyscall, in the Go 1.26 shape. The P stays
// wired to the M for the call; the only cost is two CASes on the M's pstate word, which
// sysmon also CASes to take the P (proc.cpp, "Taking a P away"). Whoever wins that word
// owns the P:
//  - entry: 0 -> kSyscall (release: what the M did to the P is visible to a taker);
//  - exit, fast: kSyscall -> 0, the P is still ours;
//  - exit, slow: sysmon took it (kTaken): take an idle P, else wait on the global queue
//    while this M parks in the thread cache (PStateSlow).
// blocking_now hands the P off before the call, so its exit always takes the slow path.
#include "mn/blocking.hpp"

#include "sched.hpp"
#include "trace.hpp"

namespace mn::detail {

M* EnterBlocking(bool handoff_now) noexcept {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr) return nullptr;
  CheckPState();  // a safe point: honour a preemption, take back a lost P
  m = GetM();
  if (handoff_now) {
    TraceSyscall(m, m->curg, true);
    HandOffOwnP(m);
    SetHint(m->hints->blocking, 1);
    return m;
  }
  for (;;) {
    uint32_t zero = 0;
    P* pp = m->p;
    pp->Tick(pp->syscalltick);  // tells sysmon this is a new call
    if (m->pstate.compare_exchange_strong(zero, kPStateSyscall, std::memory_order_release,
                                          std::memory_order_relaxed)) {
      break;
    }
    PStateSlow(m);  // sysmon got in first (a preempt request, or taking the P)
    m = GetM();
  }
  SetHint(m->hints->blocking, 1);  // this M for good: the call runs on this thread
  TraceSyscall(m, m->curg, true);
  if (m->rt->sysmon_wait.load(std::memory_order_relaxed)) WakeSysmon(m->rt);
  return m;
}

void ExitBlocking(M* m) noexcept {
  SetHint(m->hints->blocking, 0);
  // The G runs on here (a run slice begins) until its next switch, whether or not it
  // keeps its P: without one it waits for one on this M (ReacquireP).
  TraceSyscall(m, m->curg, false);
  uint32_t s = kPStateSyscall;
  // acquire: pairs with TakeP's release store, when it lost the race to us.
  if (m->pstate.compare_exchange_strong(s, 0, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
    return;
  }
  PStateSlow(m);
}

}  // namespace mn::detail
