// sysmon: the runtime's watchdog, a thread with no P (Go's sysmon, proc.go).
//
// Each tick it
//  - takes Ps from Ms in blocking calls: after one tick if the P has work (or nobody is
//    idle or spinning to pick up new work), after 10 ms in any case;
//  - asks a G that has held its P for 10 ms without a new time slice to yield (the
//    preempt bit, honoured at the G's next runtime call); if the G is still there a tick
//    later it has made no runtime call, and if its P has work sysmon takes the P away from
//    it (the hog keeps its thread; TakeP in proc.cpp);
//  - polls the network when Gs wait on it and no M has polled for 10 ms (every M busy
//    running Gs, none idle to block in epoll_wait), so their readiness is not left until a
//    P runs out of work;
//  - stamps the coarse clock that parking Gs record, prints schedtrace lines when due,
//    and serves SIGQUIT.
// It sleeps 20 us, doubling after 50 rounds in which it did nothing, up to 10 ms. When
// every P is idle there is nothing to watch, so it sleeps until a P is taken from the
// idle list (PidleGet) or a blocking call starts.
//
// Invariants: sysmon reads Ps and Ms only through atomics, and changes who holds a P only
// through TakeP's CAS protocol. Its per-P records are its own.
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sched.hpp"
#include "scx_runtime.hpp"

namespace mn::detail {

std::string SchedTraceLine(Runtime* rt, bool at_exit);  // schedtrace.cpp
std::string KernelFeedbackLine(Runtime* rt);  // schedtrace.cpp

namespace {

constexpr int64_t kForcePreemptNs = 10'000'000;  // Go's forcePreemptNS
constexpr int64_t kSyscallRetakeNs = 10'000'000; // past this a blocking call loses its P anyway
constexpr int64_t kMinDelayUs = 20;
constexpr int64_t kMaxDelayUs = 10'000;
constexpr int kIdleRoundsBeforeBackoff = 50;
constexpr int64_t kPollStaleNs = 10'000'000;      // Go's sysmon: poll if not polled for 10 ms
constexpr int64_t kRtPublishNs = 10'000'000;     // rt_state counters for tools
constexpr int64_t kDeepSleepMaxNs = 60'000'000'000;  // bounded, as Go's forcegcperiod/2

// What sysmon last saw of a P (Go's sysmontick).
struct PRecord {
  uint32_t schedtick = 0;
  int64_t schedwhen = 0;
  uint32_t syscalltick = 0;
  int64_t syscallwhen = 0;
};

}  // namespace

bool PHasWork(Runtime* rt, P* pp, int64_t now) {
  if (!pp->runq.Empty()) return true;
  int64_t w = pp->timers.when0.load(std::memory_order_relaxed);
  if (w != 0 && w <= now) return true;
  return rt->runqsize.load(std::memory_order_relaxed) != 0 &&
         rt->npidle.load(std::memory_order_relaxed) == 0;
}

namespace {

int Retake(Runtime* rt, std::vector<PRecord>& recs, int64_t now) {
  int n = 0;
  if (!rt->sysmon_retake.load(std::memory_order_relaxed)) return 0;
  for (int i = 0; i < rt->procs; i++) {
    P* pp = rt->allp[i].get();
    PRecord& pd = recs[i];
    if (pp->status.load(std::memory_order_relaxed) != PStatus::kRunning) continue;
    M* m = pp->m.load(std::memory_order_acquire);
    if (m == nullptr) continue;
    uint32_t s = m->pstate.load(std::memory_order_acquire);
    if (s & kPStateSyscall) {
      uint32_t t = pp->syscalltick.load(std::memory_order_relaxed);
      if (pd.syscalltick != t) {  // a call sysmon has not seen yet: give it a tick
        pd.syscalltick = t;
        pd.syscallwhen = now;
        continue;
      }
      // Nothing waits and someone is free to pick up new work: leave the P wired, unless
      // the call is long (10 ms), which would keep sysmon from resting.
      if (!PHasWork(rt, pp, now) &&
          rt->nmspinning.load(std::memory_order_relaxed) +
                  rt->npidle.load(std::memory_order_relaxed) > 0 &&
          now - pd.syscallwhen < kSyscallRetakeNs) {
        continue;
      }
      if (TakeP(rt, pp, m, TakeReason::kBlockingCall)) n++;
      continue;
    }
    uint32_t t = pp->schedtick.load(std::memory_order_relaxed);
    if (pd.schedtick != t) {
      pd.schedtick = t;
      pd.schedwhen = now;
      continue;
    }
    if (now - pd.schedwhen < kForcePreemptNs) continue;
    if (s == 0) {
      // The slice is over: ask the G to yield at its next runtime call.
      // Not counted as an action (Go's retake does not either): a busy program whose Gs
      // share runnext slices would otherwise keep sysmon at its 20 us pace forever.
      m->pstate.fetch_or(kPStatePreempt, std::memory_order_relaxed);
      rt->preempt_requests.fetch_add(1, std::memory_order_relaxed);
    } else if (s == kPStatePreempt && m->in_rt.load(std::memory_order_relaxed) == 0 &&
               PHasWork(rt, pp, now)) {
      // Asked a tick ago and no runtime call since: a hog. Others wait: take its P.
      if (TakeP(rt, pp, m, TakeReason::kHog)) n++;
    }
  }
  return n;
}

// Sleeps up to ns, or until WakeSysmon.
void SysmonSleep(Runtime* rt, int64_t ns) {
  // acquire pairs with WakeSysmon's release exchange.
  if (rt->sysmon_wake.exchange(0, std::memory_order_acquire) != 0) return;
  FutexWait(&rt->sysmon_wake, 0, ns);
  rt->sysmon_wake.exchange(0, std::memory_order_acquire);
}

// A sample of every P for tools (the p_state map); a few relaxed stores per P.
void PublishPState(Runtime* rt, int64_t now) {
  for (int i = 0; i < rt->procs; i++) {
    P* pp = rt->allp[i].get();
    mn_p_state* ps = rt->ktel->p_state(i);
    if (ps == nullptr) continue;
    M* owner = pp->m.load(std::memory_order_acquire);  // pairs with AcquireP: owner->id
    SetHint(ps->running, pp->status.load(std::memory_order_relaxed) == PStatus::kRunning);
    SetHint(ps->m, owner != nullptr ? owner->id : -1);
    SetHint(ps->runq, pp->runq.Size());
    SetHint(ps->steals, pp->steals.load(std::memory_order_relaxed));
    SetHint(ps->handoffs, pp->handoffs.load(std::memory_order_relaxed));
    SetHint(ps->schedtick, pp->schedtick.load(std::memory_order_relaxed));
    SetHint(ps->sample_ns, now);
  }
}

// The spin policy's backstop (feedback.hpp, kSpinBackstopNs): true if it started an M.
bool SpinBackstop(Runtime* rt, int64_t now, int64_t* starved_since) {
  if (!rt->kf_spin.load(std::memory_order_acquire) ||
      !rt->sysmon_retake.load(std::memory_order_relaxed) ||
      rt->nmspinning.load(std::memory_order_relaxed) != 0 ||
      rt->npidle.load(std::memory_order_relaxed) == 0 || !QueuedWork(rt)) {
    *starved_since = 0;
    return false;
  }
  if (*starved_since == 0) {
    *starved_since = now;
    return false;
  }
  if (now - *starved_since < kSpinBackstopNs) return false;
  *starved_since = 0;
  // Counted before the M starts, so that a reader who has seen its spin sees the count
  // (tests compare the two); taken back if no P was left.
  rt->spin_backstops.fetch_add(1, std::memory_order_relaxed);
  if (WakeIdleP(rt)) return true;  // sysmon holds no P: the policy does not decline
  rt->spin_backstops.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

// The runtime's counters, for tools (mnstat). Less often than the Ps: summing the Ms'
// spin counters takes the scheduler's lock.
void PublishRtState(Runtime* rt, int64_t now) {
  mn_rt_state* st = rt->ktel->rt_state();
  if (st == nullptr) return;
  SpinCounters spin = SumSpins(rt);
  auto& c = st->counters;
  SetHint(c.kernel_handoffs, rt->kernel_handoffs.load(std::memory_order_relaxed));
  SetHint(c.idle_wakeups, rt->idle_wakeups.load(std::memory_order_relaxed));
  SetHint(c.spins, spin.spins);
  SetHint(c.spins_declined, spin.spins_declined);
  SetHint(c.wakes_declined, spin.wakes_declined);
  SetHint(c.spin_ns, spin.spin_ns);
  SetHint(c.spin_backstops, rt->spin_backstops.load(std::memory_order_relaxed));
  SetHint(c.sample_ns, now);
}

void SysmonMain(Runtime* rt) {
  uint32_t tid = static_cast<uint32_t>(gettid());
  // For the sched_ext scheduler (mn_rt_state.sysmon_tid), read alone: relaxed.
  if (rt->ktel != nullptr && rt->ktel->rt_state() != nullptr) {
    __atomic_store_n(&rt->ktel->rt_state()->sysmon_tid, tid, __ATOMIC_RELAXED);
  }
  rt->sysmon_tid.store(tid, std::memory_order_release);
  FutexWake(&rt->sysmon_tid, 1);
  std::vector<PRecord> recs(static_cast<std::size_t>(rt->procs));
  int idle = 0;
  int64_t delay_us = kMinDelayUs;
  int64_t trace_ns = rt->schedtrace_ms * 1'000'000;
  int64_t next_trace = trace_ns > 0 ? NanoTime() + trace_ns : 0;
  int64_t next_rt_publish = 0;
  int64_t starved_since = 0;  // SpinBackstop: since when work has waited with a P idle
  if (trace_ns > 0) std::fputs((KernelFeedbackLine(rt) + "\n").c_str(), stderr);  // once
  for (;;) {
    if (idle == 0) {
      delay_us = kMinDelayUs;
    } else if (idle > kIdleRoundsBeforeBackoff) {
      delay_us = std::min(delay_us * 2, kMaxDelayUs);
    }
    SysmonSleep(rt, delay_us * 1000);
    if (rt->stopping.load(std::memory_order_acquire)) return;
    int64_t now = NanoTime();
    rt->coarse_now.store(now, std::memory_order_relaxed);
    if (rt->sigquit.load(std::memory_order_relaxed) != 0) {
      DumpGs(rt, "SIGQUIT: quit");
      _exit(2);
    }
    if (next_trace != 0 && now >= next_trace) {
      std::string line = SchedTraceLine(rt, false) + "\n";
      std::fputs(line.c_str(), stderr);
      next_trace = now + trace_ns;
    }
    int64_t lastpoll = rt->lastpoll.load(std::memory_order_relaxed);
    if (lastpoll != 0 && now - lastpoll > kPollStaleNs &&
        rt->netpoll->waiters.load(std::memory_order_relaxed) > 0) {
      rt->lastpoll.compare_exchange_strong(lastpoll, now, std::memory_order_relaxed);
      GQueue list;
      NetpollPoll(rt, 0, &list);
      if (!list.empty()) {
        InjectGList(rt, nullptr, &list);  // no P here: the global queue, and idle Ps woken
        idle = 0;
      }
    }
    if (rt->ktel != nullptr) {
      ScxPoll(rt, now);
      PublishPState(rt, now);
      if (now >= next_rt_publish) {
        PublishRtState(rt, now);
        next_rt_publish = now + kRtPublishNs;
      }
    }
    // Every P idle: nothing to retake or preempt until one is taken again. (Unless work
    // waits behind a wakeup the spin policy declined: then SpinBackstop is due.)
    if (rt->npidle.load(std::memory_order_relaxed) == rt->procs &&
        !(rt->kf_spin.load(std::memory_order_relaxed) && QueuedWork(rt))) {
      bool slept = false;
      {
        std::unique_lock<SchedLock> lock(rt->lock);
        if (rt->npidle.load(std::memory_order_relaxed) == rt->procs &&
            !rt->stopping.load(std::memory_order_relaxed)) {
          rt->sysmon_wait.store(true, std::memory_order_relaxed);
          lock.unlock();
          int64_t sleep = next_trace != 0 ? std::max<int64_t>(next_trace - now, 0) : kDeepSleepMaxNs;
          SysmonSleep(rt, sleep);
          lock.lock();
          rt->sysmon_wait.store(false, std::memory_order_relaxed);
          slept = true;
        }
      }
      if (slept) {
        idle = 0;
        continue;
      }
    }
    if (SpinBackstop(rt, now, &starved_since) || Retake(rt, recs, now) > 0) {
      idle = 0;
    } else {
      idle++;
    }
  }
}

}  // namespace

void WakeSysmon(Runtime* rt) {
  // release pairs with SysmonSleep's acquire exchange. Async-signal-safe (SIGQUIT).
  if (rt->sysmon_wake.exchange(1, std::memory_order_release) == 0) {
    FutexWake(&rt->sysmon_wake, 1);
  }
}

void StartSysmon(Runtime* rt) {
  // The hog half of the P-taking protocol needs an asymmetric fence (proc.cpp). Register
  // once; without it (old kernel, seccomp) hogs are only preempted cooperatively.
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  rt->has_membarrier =
      cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  rt->coarse_now.store(NanoTime(), std::memory_order_relaxed);
  rt->sysmon_thread = new std::thread([rt] { SysmonMain(rt); });
  // Wait for its tid: until it is known, deadlock detection would take sysmon for a
  // thread that is not the runtime's, and turn itself off.
  while (rt->sysmon_tid.load(std::memory_order_acquire) == 0) {
    FutexWait(&rt->sysmon_tid, 0);
  }
}

void StopSysmon(Runtime* rt) {
  if (rt->sysmon_thread == nullptr) return;
  WakeSysmon(rt);  // stopping is already set
  rt->sysmon_thread->join();
  delete rt->sysmon_thread;
  rt->sysmon_thread = nullptr;
}

}  // namespace mn::detail
