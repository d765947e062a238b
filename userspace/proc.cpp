// The scheduler: Ms running Gs through Ps, as Go's runtime/proc.go.
//
// Roles. A G runs only on an M that holds a P. Each M has its own thread stack, g0, and
// every scheduling decision runs there: a G that stops (parks, yields, exits) first
// switches to g0 with a reason (Go's mcall), and g0 acts on it once the G is off its
// stack. That is what lets park's unlock callback release a lock after the G's context
// is saved, so that a concurrent ready() can never resume a half-saved G.
//
// Finding work (FindRunnable) follows Go's order: every 61st tick the global queue first
// (so it cannot starve behind local work), then runnext and the local ring, the global
// queue in a batch, (netpoll, later), then stealing: 4 passes over all Ps in a random
// order, skipping idle ones, taking half of a victim's ring, and its runnext only on the
// last pass. Then the M gives its P back and re-checks everything before sleeping.
//
// Spinning. An M looking for work without having found any is "spinning" and counted
// in nmspinning. We keep at most about half the busy Ps' worth of spinners
// (2*nmspinning < procs - npidle), and wakep() starts a new spinner only when there is
// an idle P and nmspinning goes 0 -> 1. A spinner that finds work stops spinning and
// calls wakep() itself, so one readied G wakes at most one M and bursts of work wake Ms
// in a chain rather than a herd.
//
// The pairing that keeps this from losing work (Go's "Worker thread parking/unparking"):
//   submitter: publish the G (seq_cst RMW or store on runnext/tail)  ->  read nmspinning
//   spinner:   decrement nmspinning (seq_cst RMW)  ->  re-read every P's queue (seq_cst)
// Both sides are seq_cst, so in the single total order one of them comes first: either
// the submitter sees the spinner still counted (and the spinner, after its decrement, is
// guaranteed to see the G), or the spinner has decremented and the submitter sees 0 and
// wakes someone. Without it (say, a release store then a plain load) both could miss.
// Work on the global queue needs none of this: it is published and checked under lock.
//
// needspinning (Go issue 43997): a spinner that found work but no idle P to hand it to
// sets needspinning, and the next M about to give its P up spins instead.
//
// Ms. Threads are created on demand (newm) up to kMaxThreads and cached when idle
// (stopm parks them on their Note); startm hands an idle M a P and wakes it.
//
// Shutdown. When the main G exits, `stopping` is set under the lock and every idle M is
// woken; every M checks `stopping` in FindRunnable and stopm (under the same lock) and
// exits its thread. Ms running a G exit at that G's next switch to g0; the G is dropped.
#include <linux/membarrier.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cxxabi.h>

#include <bitset>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"
#include "park.hpp"
#include "procs.hpp"
#include "sched.hpp"
#include "scx_runtime.hpp"
#include "trace.hpp"

__thread mn::detail::M* mn_detail_tls_m = nullptr;

namespace mn::detail {

namespace {

constexpr int32_t kMaxThreads = 10000;  // Go's default SetMaxThreads
constexpr int kStealTries = 4;
constexpr int kActiveSpin = 4;       // Go's active_spin
constexpr int kActiveSpinCnt = 30;   // Go's active_spin_cnt
constexpr int32_t kGFreeLocalMax = 64;  // spill to global above this (Go: 64)
constexpr int32_t kGFreeBatch = 32;     // moved per refill/spill (Go: 32)
constexpr uint64_t kGoidBatch = 16;     // Go's _GoidCacheBatch
constexpr std::size_t kMStackSize = 256 * 1024;
constexpr std::size_t kAltStackSize = 64 * 1024;


// libstdc++'s __cxa_eh_globals (libsupc++/unwind-cxx.h) on x86-64; the layout is part
// of its ABI, unchanged since GCC 3.
struct EhGlobals {
  void* caught;
  unsigned int uncaught;
};

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "mn: fatal: %s\n", what);
  std::abort();
}

uint64_t WyRand(uint64_t& state) {
  // wyrand: one multiply, good enough for victim selection and select's poll order.
  state += 0xa0761d6478bd642full;
  __uint128_t t = static_cast<__uint128_t>(state) * (state ^ 0xe7037ed1a0b428dbull);
  return static_cast<uint64_t>(t >> 64) ^ static_cast<uint64_t>(t);
}

uint64_t FastRand(M* m) { return WyRand(m->rand_state); }

// ---- Idle P list (lock held) ------------------------------------------------------------

void PidlePut(Runtime* rt, P* pp) {
  if (!pp->runq.Empty()) Fatal("pidleput: P has non-empty run queue");
  pp->link = rt->pidle;
  rt->pidle = pp;
  rt->idlep_mask.Set(pp->id);
  rt->npidle.fetch_add(1, std::memory_order_seq_cst);
}

P* PidleGet(Runtime* rt) {
  P* pp = rt->pidle;
  if (pp != nullptr) {
    rt->pidle = pp->link;
    rt->idlep_mask.Clear(pp->id);
    rt->npidle.fetch_sub(1, std::memory_order_seq_cst);
    // A P goes back to work: sysmon, asleep while every P was idle, must watch it.
    if (rt->sysmon_wait.load(std::memory_order_relaxed)) {
      rt->sysmon_wait.store(false, std::memory_order_relaxed);
      WakeSysmon(rt);
    }
  }
  return pp;
}

// As PidleGet, but a spinner that finds work and no P asks the next M giving up its P
// to spin instead (needspinning).
P* PidleGetSpinning(Runtime* rt) {
  P* pp = PidleGet(rt);
  if (pp == nullptr) rt->needspinning.store(1, std::memory_order_seq_cst);
  return pp;
}

// ---- Global run queue (lock held) -------------------------------------------------------

void GlobRunqPut(Runtime* rt, G* g) {
  rt->runq.PushBack(g);
  rt->runqsize.store(rt->runq.size, std::memory_order_relaxed);
}

void GlobRunqPutBatch(Runtime* rt, GQueue* q) {
  rt->runq.PushBackAll(*q);
  rt->runqsize.store(rt->runq.size, std::memory_order_relaxed);
}

// Takes a batch from the global queue: one to run, the rest into pp's ring. Batch size is
// Go's: a fair share (size/procs + 1), at most max if given, at most half a ring. Callers
// take it when pp's ring is empty, so it fits; if it did not, the spill goes straight back.
G* GlobRunqGet(Runtime* rt, P* pp, int32_t max) {
  int32_t size = rt->runq.size;
  if (size == 0) return nullptr;
  int32_t n = size / rt->procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int32_t>(RunQueue::kSize / 2)) n = RunQueue::kSize / 2;
  G* g = rt->runq.PopFront();
  for (int32_t i = 1; i < n; i++) {
    GQueue spill;
    if (!pp->runq.Put(rt->runq.PopFront(), &spill)) rt->runq.PushBackAll(spill);
  }
  rt->runqsize.store(rt->runq.size, std::memory_order_relaxed);
  return g;
}

// ---- Local run queue --------------------------------------------------------------------

void RunqPut(Runtime* rt, P* pp, G* g, bool next) {
  if (pp == nullptr) {  // an M whose P was taken: the global queue
    std::lock_guard<SchedLock> lock(rt->lock);
    GlobRunqPut(rt, g);
    return;
  }
  if (next) {
    g = pp->runq.PutNext(g);
    if (g == nullptr) return;
    // The displaced G goes to the tail.
  }
  GQueue spill;
  if (!pp->runq.Put(g, &spill)) {
    std::lock_guard<SchedLock> lock(rt->lock);
    GlobRunqPutBatch(rt, &spill);
  }
}

// ---- M lifecycle ------------------------------------------------------------------------

void AcquireP(M* m, P* pp) {
  if (pp->m.load(std::memory_order_relaxed) != nullptr ||
      pp->status.load(std::memory_order_relaxed) != PStatus::kIdle) {
    Fatal("acquirep: P already in use");
  }
  m->p = pp;
  // runq before p: the program reads runq only once it sees p >= 0 (a stale runq would
  // only cost one needless upcall, which the feedback thread checks anyway).
  SetHint(m->hints->runq, reinterpret_cast<uintptr_t>(&pp->runq));
  SetHint(m->hints->p, pp->id);
  // A new tick, so that sysmon does not count the P's idle time as a G's run time.
  pp->Tick(pp->schedtick);
  pp->status.store(PStatus::kRunning, std::memory_order_relaxed);
  // release: sysmon, finding m through pp->m, sees m->p set.
  pp->m.store(m, std::memory_order_release);
}

P* ReleaseP(M* m) {
  P* pp = m->p;
  if (pp == nullptr || pp->m.load(std::memory_order_relaxed) != m) {
    Fatal("releasep: invalid P state");
  }
  pp->m.store(nullptr, std::memory_order_relaxed);
  pp->status.store(PStatus::kIdle, std::memory_order_relaxed);
  m->p = nullptr;
  SetHint(m->hints->p, -1);
  return pp;
}

void* MThreadMain(void* arg);

void SetupAltStack(M* m) {
  m->altstack = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m->altstack == MAP_FAILED) {
    m->altstack = nullptr;
    return;
  }
  stack_t ss{};
  ss.ss_sp = m->altstack;
  ss.ss_size = kAltStackSize;
  sigaltstack(&ss, nullptr);
}

void TeardownAltStack(M* m) {
  if (m->altstack == nullptr) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(m->altstack, kAltStackSize);
  m->altstack = nullptr;
}

// Creates a thread that starts with pp (and as a spinner if spinning). The M is counted
// before the thread exists so that shutdown never misses it.
void NewM(Runtime* rt, P* pp, bool spinning) {
  M* m;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (rt->mcount.load(std::memory_order_relaxed) >= kMaxThreads) {
      Fatal("thread limit exceeded (10000 Ms)");
    }
    rt->allm.push_back(std::make_unique<M>());
    m = rt->allm.back().get();
    m->id = rt->mcount.fetch_add(1, std::memory_order_relaxed);
  }
  m->rt = rt;
  m->nextp = pp;
  m->spinning = spinning;
  SetHint(m->hints->spinning, spinning);
  m->rand_state = reinterpret_cast<uintptr_t>(m) ^ static_cast<uint64_t>(NanoTime());
  if (rt->ktel != nullptr) {
    if (mn_m_hints* h = rt->ktel->hints(static_cast<int>(m->id))) {
      *h = m->own_hints;  // the thread, not yet started, is the only other party
      m->hints = h;
    }
  }
  rt->refs.fetch_add(1, std::memory_order_relaxed);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kMStackSize);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // run()'s thread's policy, not the creator's (proc.cpp may run on the feedback thread).
  pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
  pthread_attr_setschedpolicy(&attr, rt->sched_policy);
  pthread_attr_setschedparam(&attr, &rt->sched_param_);
  // The new thread starts with every signal blocked and unblocks them once its signal
  // stack is in place (MThreadMain), so a stack overflow is always reported.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t tid;
  int err = pthread_create(&tid, &attr, &MThreadMain, m);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    std::fprintf(stderr, "mn: fatal: cannot create M thread: %s\n", std::strerror(err));
    std::abort();
  }
}

// Hands pp to an idle M (or a new one) and wakes it.
void StartM(Runtime* rt, P* pp, bool spinning) {
  M* m;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    m = rt->midle;
    if (m != nullptr) {
      rt->midle = m->schedlink;
      rt->nmidle--;
    }
  }
  if (m == nullptr) {
    NewM(rt, pp, spinning);
    return;
  }
  if (m->spinning || m->nextp != nullptr) Fatal("startm: M is spinning or has a P");
  m->spinning = spinning;
  SetHint(m->hints->spinning, spinning);
  m->nextp = pp;
  m->park.Wakeup();  // release: nextp and spinning are visible to the woken M
}

// Spin time, for mn::stats() and the spin policy's evaluation: from when a spinning M
// runs (BecomeSpinning, or waking as a spinner) until it stops spinning. Each M counts its
// own, so the hot path has no shared write. A spinner that dropped its spinning state
// only to take it back at once (it found work on another queue after giving its P up)
// goes on with the same spin: `resumed` times it without counting a new one.
void SpinBegin(M* m, bool resumed = false) {
  m->spin_since = NanoTime();
  if (!resumed) BumpOwn(m->spins);
}

void SpinEnd(M* m) {
  if (m->spin_since == 0) return;
  int64_t d = NanoTime() - m->spin_since;
  m->spin_since = 0;
  BumpOwn(m->spin_ns, d);
}

// Parks the M in the thread cache until startm hands it a P. Returns false when the
// runtime is stopping and the thread should exit.
bool StopM(M* m) {
  Runtime* rt = m->rt;
  if (m->p != nullptr || m->spinning) Fatal("stopm: holding P or spinning");
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (rt->stopping.load(std::memory_order_relaxed)) return false;
    m->schedlink = rt->midle;
    rt->midle = m;
    rt->nmidle++;
    CheckDead(rt);
  }
  SetHint(m->hints->parked, 1);
  TraceMWaits(m);
  m->park.Sleep();
  SetHint(m->hints->parked, 0);
  m->park.Clear();
  P* pp = m->nextp;
  if (pp == nullptr) return false;  // woken by StopRuntime
  m->nextp = nullptr;
  AcquireP(m, pp);
  if (m->spinning) SpinBegin(m);  // woken as a spinner: its spin starts now it runs
  return true;
}

void BecomeSpinning(M* m, bool resumed = false) {
  TraceMWaits(m);
  m->spinning = true;
  SetHint(m->hints->spinning, true);
  m->rt->nmspinning.fetch_add(1, std::memory_order_seq_cst);
  m->rt->needspinning.store(0, std::memory_order_seq_cst);
  SpinBegin(m, resumed);
}

// The spin policy (feedback.hpp): may this M start spinning? Declines are counted.
bool SpinAllowed(M* m) {
  Runtime* rt = m->rt;
  // acquire pairs with the release store that turns the policy on after `feedback` is set.
  if (!rt->kf_spin.load(std::memory_order_acquire)) return true;
  if (rt->feedback->MaySpin(sched_getcpu())) return true;
  BumpOwn(m->spins_declined);
  return false;
}

// The spin policy for HandoffP's spinner, whose caller (sysmon, the feedback thread, an M
// entering a blocking call) gives its P away: any idle CPU will do.
bool HandoffMaySpin(Runtime* rt) {
  if (!rt->kf_spin.load(std::memory_order_acquire) || rt->feedback->MayWake(-1)) return true;
  rt->wakes_declined.fetch_add(1, std::memory_order_relaxed);  // rare: a shared counter
  return false;
}

// Starts one spinning M if there is an idle P and nobody spins yet; true if it did.
bool WakeP(Runtime* rt) {
  // seq_cst loads: the second half of "publish work, then look for spinners".
  if (rt->npidle.load(std::memory_order_seq_cst) == 0) return false;
  if (rt->nmspinning.load(std::memory_order_seq_cst) != 0) return false;
  // The spin policy: a new spinner only where a CPU is free. Only for a caller that holds a
  // P, whose M runs the work later if nobody else does (or the idle-CPU upcall wakes an M
  // first): work readied from outside, by the feedback thread, or by an M whose P was
  // taken (m->p is stale then, and the work went to the global queue), always wakes. A P
  // taken after this check is handed off with its queue (HandoffP starts an M for it).
  if (rt->kf_spin.load(std::memory_order_acquire)) {
    M* self = GetM();
    if (self != nullptr && self->p != nullptr &&
        (self->pstate.load(std::memory_order_acquire) & kPStateTaken) == 0 &&
        !rt->feedback->MayWake(sched_getcpu())) {
      BumpOwn(self->wakes_declined);
      return false;
    }
  }
  int32_t zero = 0;
  if (!rt->nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return false;
  P* pp;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    pp = PidleGetSpinning(rt);
    if (pp == nullptr) {
      if (rt->nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
        Fatal("wakep: negative nmspinning");
      }
      return false;
    }
  }
  StartM(rt, pp, true);
  return true;
}

// Starts up to n Ms on idle Ps (Go's startIdle), for work just put on the global queue.
void StartIdle(Runtime* rt, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    P* pp;
    {
      std::lock_guard<SchedLock> lock(rt->lock);
      if (rt->stopping.load(std::memory_order_relaxed)) return;
      pp = PidleGet(rt);
    }
    if (pp == nullptr) return;
    StartM(rt, pp, false);
  }
}

// kWaiting -> kRunnable, for Ready and for the Gs the netpoller readies in batches.
void MakeRunnable(G* g) {
  GStatus expect = GStatus::kWaiting;
  // acquire pairs with the release store of kWaiting in AfterSwitch.
  if (!g->status.compare_exchange_strong(expect, GStatus::kRunnable, std::memory_order_acquire)) {
    Fatal("ready: G is not waiting");
  }
  g->wait_reason.store(WaitReason::kNone, std::memory_order_relaxed);
  // The event before the count (a spawn's too): a recorded event means the hook saw
  // `tracing` set, after Start's snapshot of the counts, so its count falls inside the
  // trace's interval as well (otherData.counters, trace.cpp).
  TraceReady(g->rt, g);
  if (M* m = GetM()) {
    BumpOwn(m->readies);
  } else {
    g->rt->readies_outside.fetch_add(1, std::memory_order_relaxed);
  }
}

void ResetSpinning(M* m) {
  if (!m->spinning) Fatal("resetspinning: not a spinning M");
  SpinEnd(m);
  m->spinning = false;
  SetHint(m->hints->spinning, false);
  if (m->rt->nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
    Fatal("resetspinning: negative nmspinning");
  }
  // The spinner found work: there may be more, so hand the search on (the chain).
  WakeP(m->rt);
}

// ---- Finding work -----------------------------------------------------------------------

G* StealWork(M* m) {
  Runtime* rt = m->rt;
  P* pp = m->p;
  for (int i = 0; i < kStealTries; i++) {
    bool last = i == kStealTries - 1;
    for (RandomOrder::Enum e = rt->steal_order.Start(static_cast<uint32_t>(FastRand(m)));
         !e.Done(); e.Next()) {
      if (rt->stopping.load(std::memory_order_relaxed)) return nullptr;
      P* p2 = rt->allp[e.pos].get();
      if (p2 == pp) continue;
      // The last pass also runs other Ps' due timers, idle Ps' included: nobody else would.
      if (last) {
        int64_t w = p2->timers.when0.load(std::memory_order_relaxed);
        if (w != 0 && w <= NanoTime() && RunTimers(&p2->timers, NanoTime()) > 0) {
          bool inherit;
          if (G* g = pp->runq.Get(&inherit)) return g;
        }
      }
      if (rt->idlep_mask.Read(e.pos)) continue;  // nothing to take from an idle P
      bool running = p2->status.load(std::memory_order_relaxed) == PStatus::kRunning;
      if (G* g = pp->runq.StealFrom(p2->runq, last, running)) {
        pp->steals.fetch_add(1, std::memory_order_relaxed);
        TraceSteal(m, p2);
        return g;
      }
    }
  }
  return nullptr;
}

// After the M gave up its P: is there a non-idle P with work? Then take an idle P.
P* CheckRunqsNoP(Runtime* rt, const std::bitset<kMaxProcs>& idle_snapshot) {
  for (int id = 0; id < rt->procs; id++) {
    if (idle_snapshot[id]) continue;
    if (!rt->allp[id]->runq.Empty()) {
      std::lock_guard<SchedLock> lock(rt->lock);
      return PidleGetSpinning(rt);  // nullptr: no P free, no point checking the rest
    }
  }
  return nullptr;
}

// Blocks until there is a G to run on m's P (which may change), or returns nullptr when
// the runtime is stopping. *inherit: the G came from runnext and keeps the time slice.
G* FindRunnable(M* m, bool* inherit) {
  Runtime* rt = m->rt;
top:
  *inherit = false;
  if (rt->stopping.load(std::memory_order_acquire)) return nullptr;
  P* pp = m->p;

  // Due timers of this P first: they ready Gs into this P's queue.
  if (int64_t w = pp->timers.when0.load(std::memory_order_relaxed); w != 0 && w <= NanoTime()) {
    RunTimers(&pp->timers, NanoTime());
  }

  // Every 61st tick, the global queue first, so it cannot starve behind local work.
  if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 && rt->runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (G* g = GlobRunqGet(rt, pp, 1)) return g;
  }
  if (G* g = pp->runq.Get(inherit)) return g;
  if (rt->runqsize.load(std::memory_order_relaxed) != 0) {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (G* g = GlobRunqGet(rt, pp, 0)) return g;
  }
  // The network, without blocking, when Gs wait on it and no M is blocked polling (that
  // M would get these events anyway). Go's findrunnable does the same, before stealing.
  if (rt->netpoll->waiters.load(std::memory_order_relaxed) > 0 &&
      rt->lastpoll.load(std::memory_order_relaxed) != 0) {
    GQueue list;
    NetpollPoll(rt, 0, &list);
    if (G* g = list.PopFront()) {
      InjectGList(rt, m, &list);
      MakeRunnable(g);
      return g;
    }
  }

  // Due timers on other Ps, idle ones included. Go leaves them to a spinner's last steal
  // pass (and sysmon); but an M that may not spin (enough others do) would then go idle
  // and, as the poller, wake at once for a timer it never runs, while the spinner
  // is busy elsewhere. Running them here costs one load per P when none is due.
  if (int64_t e = EarliestTimer(rt); e != 0 && e <= NanoTime()) {
    int64_t now = NanoTime();
    int fired = 0;
    for (const auto& p2 : rt->allp) {
      int64_t w = p2->timers.when0.load(std::memory_order_relaxed);
      if (w != 0 && w <= now) fired += RunTimers(&p2->timers, now);
    }
    if (fired > 0) {
      if (G* g = pp->runq.Get(inherit)) return g;
    }
  }

  // Spin only while few Ms do: at most half the busy Ps, so that a burst of readies on
  // many Ps does not put every idle M to work burning CPU.
  // And, with the spin policy, only where a CPU is free (SpinAllowed).
  if (m->spinning || (2 * rt->nmspinning.load(std::memory_order_relaxed) <
                          rt->procs - rt->npidle.load(std::memory_order_relaxed) &&
                      SpinAllowed(m))) {
    if (!m->spinning) BecomeSpinning(m);
    if (G* g = StealWork(m)) return g;
  }

  // Nothing found. Snapshot which Ps are idle before ours joins them: those are the ones
  // whose queues the re-check below may skip.
  std::bitset<kMaxProcs> idle_snapshot;
  for (int id = 0; id < rt->procs; id++) idle_snapshot[id] = rt->idlep_mask.Read(id);

  {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (rt->stopping.load(std::memory_order_relaxed)) return nullptr;
    if (rt->runq.size != 0) {
      G* g = GlobRunqGet(rt, pp, 0);
      return g;
    }
    if (!m->spinning && rt->needspinning.load(std::memory_order_seq_cst) == 1 &&
        SpinAllowed(m)) {
      // A spinner found work it could not place: spin instead of sleeping.
      BecomeSpinning(m);
      goto top;  // leaving the scope releases the lock
    }
    if (ReleaseP(m) != pp) Fatal("findrunnable: wrong P");
    PidlePut(rt, pp);
  }
  TraceMWaits(m);  // idle from here, whatever P it takes next

  bool was_spinning = m->spinning;
  if (m->spinning) {
    SpinEnd(m);
    m->spinning = false;
    SetHint(m->hints->spinning, false);
    // seq_cst RMW: the spinner's half of the pairing. Everything read below is read
    // after it in the total order, so work published before a submitter saw our count
    // drop is found here.
    if (rt->nmspinning.fetch_sub(1, std::memory_order_seq_cst) <= 0) {
      Fatal("findrunnable: negative nmspinning");
    }
    {
      std::unique_lock<SchedLock> lock(rt->lock);
      if (rt->runq.size != 0) {
        if (P* p2 = PidleGetSpinning(rt)) {
          G* g = GlobRunqGet(rt, p2, 0);
          lock.unlock();
          AcquireP(m, p2);
          BecomeSpinning(m, /*resumed=*/true);
          return g;
        }
      }
    }
    if (P* p2 = CheckRunqsNoP(rt, idle_snapshot)) {
      AcquireP(m, p2);
      BecomeSpinning(m, /*resumed=*/true);
      goto top;
    }
  }

  // The poller: one idle M blocks in epoll_wait until an fd event or the earliest timer
  // (the others sleep until handed a P). EarliestTimer's and waiters' seq_cst reads come
  // after our P went idle (seq_cst npidle RMW), and AddTimer's when0 store comes before its
  // WakeForTimer reads: one side sees the other. A G that waits on the network was
  // counted by the M that parked it, before that M looked for work.
  int64_t until = EarliestTimer(rt);
  if (rt->netpoll->waiters.load(std::memory_order_seq_cst) > 0 || until != 0) {
    // A swap, not a CAS (Go's lastpoll.Swap(0)): sysmon moves lastpoll forward when it
    // polls, and a CAS that lost to it would leave nobody polling.
    if (rt->lastpoll.exchange(0, std::memory_order_seq_cst) != 0) {
      rt->poll_until.store(until, std::memory_order_seq_cst);
      int64_t delay = -1;
      if (until != 0) delay = std::max<int64_t>(0, until - NanoTime());
      GQueue list;
      if (!rt->stopping.load(std::memory_order_acquire)) {
        SetHint(m->hints->parked, 1);  // idle, in epoll_wait: no P, waiting for work
        TraceMWaits(m);
        NetpollPoll(rt, delay, &list);
        SetHint(m->hints->parked, 0);
      }
      rt->poll_until.store(0, std::memory_order_seq_cst);
      rt->lastpoll.store(NanoTime(), std::memory_order_seq_cst);
      P* p2;
      {
        std::lock_guard<SchedLock> lock(rt->lock);
        p2 = rt->stopping.load(std::memory_order_relaxed) ? nullptr : PidleGet(rt);
      }
      if (p2 == nullptr) {
        // Every P runs (and runs its own timers when it schedules): the readied Gs wait on
        // the global queue for one of them.
        InjectGList(rt, nullptr, &list);
      } else {
        AcquireP(m, p2);
        G* g = list.PopFront();
        if (g != nullptr) {
          InjectGList(rt, m, &list);
          MakeRunnable(g);
        }
        if (was_spinning) BecomeSpinning(m, /*resumed=*/true);
        if (g != nullptr) return g;
        goto top;
      }
    } else if (until != 0) {
      int64_t poller_until = rt->poll_until.load(std::memory_order_seq_cst);
      if (poller_until == 0 || poller_until > until) NetpollBreak(rt);
    }
  }

  if (!StopM(m)) return nullptr;
  goto top;
}

// ---- Running Gs ---------------------------------------------------------------------------

[[noreturn]] void FatalStackOverflow(G* g, const char* how) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf,
                        "mn: fatal: stack overflow in G %llu (%zu-byte stack; %s). "
                        "Raise mn::Options::stack_size.\n",
                        static_cast<unsigned long long>(g->id),
                        static_cast<std::size_t>(g->stack.hi - g->stack.lo), how);
  if (n > 0) (void)!write(2, buf, static_cast<std::size_t>(n));
  std::abort();
}

void AttachStack(Runtime* rt, P* pp, G* g);
void StackPut(Runtime* rt, P* pp, const StackSlot& s);

void Execute(M* m, G* g, bool inherit) {
  if (g->stack.lo == nullptr) AttachStack(m->rt, m->p, g);
  m->curg = g;
  SetHint(m->hints->g, g->id);
  g->m.store(m, std::memory_order_relaxed);
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
  if (!inherit) {
    m->p->Tick(m->p->schedtick);
    // A fresh time slice: a preemption asked of the previous slice is moot.
    if (m->pstate.load(std::memory_order_relaxed) & kPStatePreempt) {
      m->pstate.fetch_and(~kPStatePreempt, std::memory_order_relaxed);
    }
  }
  m->in_g.store(true, std::memory_order_relaxed);
  // From here the G's code runs and sysmon may take the P (it sees in_rt == 0).
  // release: pairs with TakeP's acquire load, so what this M did to the P happens before
  // whoever sysmon hands it to.
  m->in_rt.store(0, std::memory_order_release);
  // The G's exception state in, g0's (always empty: the scheduler is never in a catch
  // block) out, and back after the switch.
  auto* eh = static_cast<EhGlobals*>(m->eh_globals);
  eh->caught = g->eh_caught;
  eh->uncaught = g->eh_uncaught;
  TraceRunBegin(m, g);
  SwitchContext(&m->g0, &g->ctx);
  TraceRunEnd(m, g);  // before AfterSwitch, which may free g
  g->eh_caught = eh->caught;
  g->eh_uncaught = eh->uncaught;
  eh->caught = nullptr;
  eh->uncaught = 0;
  // Back on g0 (SwitchToG0 set in_rt): g stopped, for m->reason. release: pairs with
  // WaitForMs' acquire, so what g did happens before run() returns if this M is what
  // run() waited on.
  m->in_g.store(false, std::memory_order_release);
  m->curg = nullptr;
  SetHint(m->hints->g, 0);
  if (!g->stack.guarded && !StackAllocator::CanaryIntact(g->stack)) {
    FatalStackOverflow(g, "detected on switch: it wrote below its stack");
  }
}

// Acts on why g switched to g0. Returns g again if it must resume at once (its unlock
// callback refused to park it, or it got its P back). m may have no P here: sysmon took
// it while g ran; every case then works through the global queue and pools.
G* AfterSwitch(M* m, G* g) {
  Runtime* rt = m->rt;
  if (m->pstate.load(std::memory_order_acquire) & kPStateTaken) {
    // No P points at this M any more, so sysmon cannot touch pstate: a plain reset.
    m->p = nullptr;
    m->pstate.store(0, std::memory_order_relaxed);
  }
  SwitchReason reason = m->reason;
  m->reason = SwitchReason::kNone;
  switch (reason) {
    case SwitchReason::kPark: {
      auto unlockf = m->unlockf;
      void* arg = m->unlock_arg;
      m->unlockf = nullptr;
      m->unlock_arg = nullptr;
      // release: pairs with ready()'s CAS; the saved context is complete.
      g->status.store(GStatus::kWaiting, std::memory_order_release);
      if (unlockf != nullptr && !unlockf(g, arg)) {
        g->status.store(GStatus::kRunning, std::memory_order_relaxed);
        if (m->p == nullptr) {  // it may not run here without a P
          g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
          {
            std::lock_guard<SchedLock> lock(rt->lock);
            GlobRunqPut(rt, g);
          }
          WakeP(rt);
          return nullptr;
        }
        return g;
      }
      // g may already be running elsewhere now: do not touch it.
      return nullptr;
    }
    case SwitchReason::kGosched: {
      g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      {
        std::lock_guard<SchedLock> lock(rt->lock);
        GlobRunqPut(rt, g);
      }
      WakeP(rt);
      return nullptr;
    }
    case SwitchReason::kGoyield:
      g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      RunqPut(rt, m->p, g, false);
      if (m->p == nullptr) WakeP(rt);  // it went to the global queue
      return nullptr;
    case SwitchReason::kReacquire: {
      // g lost its P and found none idle on its own stack; try once more under the lock,
      // else it waits on the global queue for any M with a P (Go's exitsyscall0).
      std::lock_guard<SchedLock> lock(rt->lock);
      if (P* pp = PidleGet(rt)) {
        AcquireP(m, pp);
        return g;
      }
      g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      GlobRunqPut(rt, g);
      return nullptr;
    }
    case SwitchReason::kExit: {
      g->status.store(GStatus::kDead, std::memory_order_relaxed);
      bool is_main = g->is_main;
      if (g->lockedm != nullptr) {
        // A G that exits locked takes its thread with it (Go: the thread may be in a
        // state nobody else should inherit).
        g->lockedm = nullptr;
        g->lock_count = 0;
        m->lockedg = nullptr;
        m->exit_thread = true;
      }
      StackPut(rt, m->p, g->stack);
      g->stack = StackSlot{};
      // The context's sanitizer state (a TSan fiber) lives as long as the stack: TSan
      // counts fibers as threads and allows only some thousands at once.
      DestroyContext(&g->ctx);
      FreeG(rt, m->p, g);
      if (is_main) {
        {
          std::lock_guard<SchedLock> lock(rt->lock);
          rt->stopping.store(true, std::memory_order_release);
        }
        rt->main_done.Wakeup();
      }
      return nullptr;
    }
    case SwitchReason::kNone:
      break;
  }
  Fatal("g0 resumed with no switch reason");
}

// The M's locked G stopped: give the P away and sleep until an M that found the G
// runnable hands it back with a P (Go's stoplockedm). Returns the G, or nullptr when the
// runtime stops.
G* StopLockedM(M* m) {
  Runtime* rt = m->rt;
  if (m->spinning) Fatal("stoplockedm: spinning");
  if (m->p != nullptr) HandoffP(rt, ReleaseP(m));
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    if (rt->stopping.load(std::memory_order_relaxed)) return nullptr;
    // StartLockedM may have come first (the G was readied while we handed off the P).
    if (!m->park.Woken()) {
      m->locked_idle = true;
      rt->nmidlelocked++;
      CheckDead(rt);
    }
  }
  SetHint(m->hints->parked, 1);
  TraceMWaits(m);
  m->park.Sleep();
  SetHint(m->hints->parked, 0);
  m->park.Clear();
  P* pp = m->nextp;
  if (pp == nullptr) return nullptr;  // woken by StopRuntime
  m->nextp = nullptr;
  AcquireP(m, pp);
  return m->lockedg;
}

// g, just taken from a queue, is locked to another M: hand that M our P and wake it
// (Go's startlockedm). We are left without a P (unless the runtime is stopping).
void StartLockedM(M* m, G* g) {
  Runtime* rt = m->rt;
  M* lm = g->lockedm;
  std::lock_guard<SchedLock> lock(rt->lock);
  // Stopping: StopRuntime has woken lm already, or will; we keep our P and exit.
  if (rt->stopping.load(std::memory_order_relaxed)) return;
  P* pp = ReleaseP(m);
  if (lm->locked_idle) {
    lm->locked_idle = false;
    rt->nmidlelocked--;
  }
  lm->nextp = pp;
  lm->park.Wakeup();  // release: nextp is visible to the woken M
}

void Schedule(M* m) {
  Runtime* rt = m->rt;
  G* g = nullptr;
  bool inherit = false;
  for (;;) {
    if (g == nullptr) {
      if (m->lockedg != nullptr) {
        g = StopLockedM(m);
        if (g == nullptr) return;
        inherit = false;
      } else {
        if (m->p == nullptr && !StopM(m)) return;
        g = FindRunnable(m, &inherit);
        if (g == nullptr) return;
        if (m->spinning) ResetSpinning(m);
        if (rt->stopping.load(std::memory_order_acquire)) return;  // g is dropped
        if (g->lockedm != nullptr && g->lockedm != m) {
          StartLockedM(m, g);
          g = nullptr;
          continue;
        }
      }
    }
    Execute(m, g, inherit);
    inherit = true;
    g = AfterSwitch(m, g);
    if (m->exit_thread) {
      if (m->p != nullptr) HandoffP(rt, ReleaseP(m));
      return;
    }
  }
}

void* MThreadMain(void* arg) {
  M* m = static_cast<M*>(arg);
  Runtime* rt = m->rt;
  SetM(m);
  const auto tid = static_cast<int32_t>(gettid());
  m->tid.store(tid, std::memory_order_relaxed);
  if (rt->ktel != nullptr) rt->ktel->RegisterM(static_cast<int>(m->id), tid);
  ScxMStarted(rt, m, tid);
  m->eh_globals = abi::__cxa_get_globals();
  InitThreadContext(&m->g0);
  SetupAltStack(m);
  // Ms run user code, so they take the signals the program's threads take: the mask of
  // the thread that called run() (as Go's Ms start with the process's initial mask), so
  // that a signal blocked for signalfd or sigwait is not delivered to an M instead.
  pthread_sigmask(SIG_SETMASK, &rt->sigmask, nullptr);
  P* pp = m->nextp;
  m->nextp = nullptr;
  AcquireP(m, pp);
  if (m->spinning) SpinBegin(m);
  Schedule(m);
  // Exiting: the runtime is stopping (nobody will take the P), or a locked G exited.
  if (m->spinning) {
    SpinEnd(m);
    m->spinning = false;
    SetHint(m->hints->spinning, false);
    rt->nmspinning.fetch_sub(1, std::memory_order_relaxed);
  }
  if (m->p != nullptr) ReleaseP(m);
  if (m->exit_thread) {
    std::lock_guard<SchedLock> lock(rt->lock);
    rt->nmexited++;
  }
  TeardownAltStack(m);
  mn_detail_tls_critical = nullptr;
  if (rt->ktel != nullptr) rt->ktel->UnregisterM(static_cast<int>(m->id), tid);
  SetM(nullptr);
  // release: everything this M (and the Gs it ran) did happens before WaitForMs returns.
  m->exited.store(true, std::memory_order_release);
  Unref(rt);
  return nullptr;
}

// Waits while sysmon decides whether to take this M's P; returns the settled pstate.
uint32_t WaitTaking(M* m) {
  uint32_t s;
  for (int i = 0; ((s = m->pstate.load(std::memory_order_acquire)) & kPStateTaking) != 0; i++) {
    if (i < 100) {
      __builtin_ia32_pause();
    } else {
      sched_yield();  // sysmon itself may be off its CPU
    }
  }
  return s;
}

// Switches the current G to g0 with `reason`. Returns when the G is resumed (never for
// kExit).
void SwitchToG0(M* m, G* g, SwitchReason reason) {
  // g0 uses the P as owner: claim it before leaving the G (in_rt is 0 here: Gs never
  // switch inside a P section).
  m->in_rt.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);  // see EnterP
  if (m->pstate.load(std::memory_order_acquire) & kPStateTaking) WaitTaking(m);
  m->reason = reason;
  SwitchContext(&g->ctx, &m->g0, reason == SwitchReason::kExit);
}

void StackOverflowHandler(int sig, siginfo_t* info, void* uctx);
struct sigaction g_prev_segv;  // the handler we displaced; set once, then read-only
std::once_flag g_signals_once;

void StackOverflowHandler(int sig, siginfo_t* info, void* uctx) {
  M* m = GetM();
  G* g = m != nullptr ? m->curg : nullptr;
  // si_code <= 0: sent by kill(2) or tgkill(2), not a fault; si_addr means nothing then.
  bool fault = info->si_code > 0;
  if (g != nullptr && fault) {
    auto* addr = static_cast<char*>(info->si_addr);
    if (addr >= g->stack.zone && addr < g->stack.lo) {
      FatalStackOverflow(g, "hit the guard page below it");
    }
    // An unguarded stack's runaway ends at its segment's bottom guard page, at most a
    // segment (16 MiB) below, having overwritten the stacks between.
    if (!g->stack.guarded && addr < g->stack.lo && g->stack.lo - addr <= (32 << 20)) {
      FatalStackOverflow(g, "ran past its stack into other Gs' stacks");
    }
  }
  // Not ours: behave as if we were never here.
  if (g_prev_segv.sa_flags & SA_SIGINFO) {
    if (g_prev_segv.sa_sigaction != nullptr) {
      g_prev_segv.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (g_prev_segv.sa_handler != SIG_DFL && g_prev_segv.sa_handler != SIG_IGN) {
    g_prev_segv.sa_handler(sig);
    return;
  }
  signal(sig, SIG_DFL);  // re-executing the faulting instruction now kills us normally
  // A sent signal has no instruction to re-execute: send it again. It is blocked while
  // this handler runs, so it arrives, with the default action, as the handler returns.
  if (!fault) raise(sig);
}

}  // namespace

// ---- Exported to the rest of the runtime ------------------------------------------------

void SetM(M* m) noexcept { mn_detail_tls_m = m; }


void InstallSignalHandlers() {
  std::call_once(g_signals_once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &StackOverflowHandler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_prev_segv);
  });
}

void Park(bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  M* m = GetM();
  G* g = m->curg;
  g->wait_reason.store(reason, std::memory_order_relaxed);
  // Not a clock read, which would cost more than the rest of a channel handoff: sysmon's
  // clock, good to a tick, is enough for dumps.
  g->wait_since_ns.store(m->rt->coarse_now.load(std::memory_order_relaxed),
                         std::memory_order_relaxed);
  BumpOwn(m->parks);  // the trace's park event is its run slice's end (TraceRunEnd)
  m->unlockf = unlockf;
  m->unlock_arg = arg;
  SwitchToG0(m, g, SwitchReason::kPark);
}

void Ready(G* g) {
  MakeRunnable(g);
  QueueRunnable(g->rt, GetM(), g);
}

void PrepareWait(WaitSlot* slot) {
  slot->g = CurrentG();
  slot->woken.store(0, std::memory_order_relaxed);
}

void Block(WaitSlot* slot, bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  if (slot->g != nullptr) {
    Park(unlockf, arg, reason);
    return;
  }
  unlockf(nullptr, arg);
  // acquire pairs with Wake's release store.
  while (slot->woken.load(std::memory_order_acquire) == 0) FutexWait(&slot->woken, 0);
}

bool UnlockSpinLock(G*, void* spinlock) {
  static_cast<SpinLock*>(spinlock)->unlock();
  return true;
}

void Wake(WaitSlot* slot) {
  if (G* g = slot->g) {
    Ready(g);
    return;
  }
  slot->woken.store(1, std::memory_order_release);
  // The waiter may return (and its slot vanish) before this call; a futex wake on memory
  // that is no longer a waiter's is harmless.
  FutexWake(&slot->woken, 1);
}

void Gosched() {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr) {
    sched_yield();
    return;
  }
  SwitchToG0(m, m->curg, SwitchReason::kGosched);
}

void Goyield() {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr) {
    sched_yield();
    return;
  }
  SwitchToG0(m, m->curg, SwitchReason::kGoyield);
}

[[noreturn]] void GoExit() {
  M* m = GetM();
  SwitchToG0(m, m->curg, SwitchReason::kExit);
  Fatal("dead G resumed");
}

bool CanSpin(int iter) {
  // As Go's sync_runtime_canSpin: a Mutex is cooperative, so spin only a few times, only
  // with more than one P, only if another P is running (it may be the lock holder), and
  // only if nothing else waits to run here.
  M* m = GetM();
  if (iter >= kActiveSpin || m == nullptr || m->p == nullptr) return false;
  Runtime* rt = m->rt;
  if (rt->procs <= rt->npidle.load(std::memory_order_relaxed) +
                       rt->nmspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  return m->p->runq.Empty();
}

uint32_t CheapRandN(uint32_t n) {
  M* m = GetM();
  uint64_t r;
  if (m != nullptr) {
    r = FastRand(m);
  } else {
    thread_local uint64_t state = 0;
    if (state == 0) state = reinterpret_cast<uintptr_t>(&state) ^ static_cast<uint64_t>(NanoTime());
    r = WyRand(state);
  }
  // Lemire's multiply-shift: unbiased enough for n far below 2^32.
  return static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(r)) * n) >> 32);
}

void DoSpin() {
  for (int i = 0; i < kActiveSpinCnt; i++) __builtin_ia32_pause();
}

void StartMainM(Runtime* rt) {
  P* pp;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    pp = PidleGet(rt);
  }
  // Every P already taken: sysmon (the spin policy's backstop) or the feedback thread saw
  // main queued with Ps idle and started Ms first, and they run it.
  if (pp == nullptr) return;
  StartM(rt, pp, false);
}

void StopRuntime(Runtime* rt) {
  std::lock_guard<SchedLock> lock(rt->lock);
  rt->stopping.store(true, std::memory_order_release);
  while (M* m = rt->midle) {
    rt->midle = m->schedlink;
    rt->nmidle--;
    m->nextp = nullptr;
    m->park.Wakeup();
  }
  for (const auto& m : rt->allm) {  // Ms waiting for their locked G
    if (m->locked_idle) {
      m->locked_idle = false;
      rt->nmidlelocked--;
      m->nextp = nullptr;
      m->park.Wakeup();
    }
  }
  NetpollBreak(rt);
}

void WaitForMs(Runtime* rt) {
  // Shutdown only: poll until every M has exited or is inside a G that has not come back
  // to the scheduler (such an M exits when it does; run() cannot wait for it).
  for (;;) {
    bool busy = false;
    {
      std::lock_guard<SchedLock> lock(rt->lock);
      for (const auto& m : rt->allm) {
        // acquire pairs with the release stores of exited / in_g.
        if (!m->exited.load(std::memory_order_acquire) &&
            !m->in_g.load(std::memory_order_acquire)) {
          busy = true;
          break;
        }
      }
    }
    if (!busy) return;
    timespec ts{0, 50'000};
    nanosleep(&ts, nullptr);
  }
}

// ---- Taking a P away ----------------------------------------------------------------------
//
// sysmon takes a P from an M that cannot use it: one in a blocking call, or one running a
// hog (a G that ran 10 ms without a runtime call). Both cases are one protocol on the M's
// pstate word, so that the kernel-feedback issue's "M preempted while holding a P" can use
// it too.
//
//  - Blocking call: the M CASes pstate 0 -> kSyscall on entry and kSyscall -> 0 on exit;
//    sysmon CASes kSyscall -> kTaking. Whoever wins the one word wins the P (Go's
//    _Psyscall). An exit that loses finds kTaking/kTaken and takes the slow path.
//  - Hog: the M does not CAS anything on the hot paths. It marks "using my P" in in_rt
//    (a plain store) and then reads pstate; sysmon CASes pstate to kTaking, then reads
//    in_rt. This is Dekker's pattern, so each side needs a store-load fence; the M's is
//    free because sysmon pays for both with membarrier(2), which runs a full barrier on
//    every CPU running a thread of this process. So either sysmon sees in_rt != 0 and
//    backs off, or the M sees kTaking and waits for the verdict (WaitTaking). Without
//    membarrier (old kernels, seccomp) sysmon never takes a hog's P: cooperative
//    preemption still works, and the M's hot paths stay fence-free.
//  - Only the M ever writes in_rt; it is 1 on g0 (the scheduler always owns its P) and
//    0 while G code runs, except inside EnterP/LeaveP. Gs never switch inside a section.
//  - A taken P is handed off (HandoffP); its old M keeps m->p until it notices kTaken: at
//    EnterP (then it acts as a thread outside the runtime: global queue, global pools),
//    at its next switch to g0 (AfterSwitch drops the P), or at a safe point
//    (CheckPState), where it takes an idle P or waits on the global queue.
//  - sysmon finds the M through pp->m and checks m->p == pp after freezing the M with
//    kTaking: the M may have moved on to another P since pp->m was read.

P* EnterPSlow(M* m) {
  uint32_t s = m->pstate.load(std::memory_order_acquire);
  for (;;) {
    if (s & kPStateTaking) {
      s = WaitTaking(m);
    } else if (s & kPStateTaken) {
      return nullptr;
    } else if (s & kPStateSyscall) {
      // A blocking call's body called into the runtime: the call is over for us.
      if (m->pstate.compare_exchange_weak(s, s & ~kPStateSyscall, std::memory_order_acquire)) {
        s &= ~kPStateSyscall;
      }
    } else {
      return m->p;
    }
  }
}

namespace {

// At a safe point in a G whose P was taken: take an idle P, or wait on the global queue
// until an M with a P runs it (Go's exitsyscall slow path).
void ReacquireP(M* m) {
  Runtime* rt = m->rt;
  G* g = m->curg;
  // No P points at this M, so sysmon cannot reach it: plain resets. in_rt brackets the
  // AcquireP so sysmon's acquire of in_rt orders it (as any P section).
  m->in_rt.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  m->p = nullptr;
  m->pstate.store(0, std::memory_order_relaxed);
  P* pp;
  {
    std::lock_guard<SchedLock> lock(rt->lock);
    pp = PidleGet(rt);
  }
  if (pp != nullptr) AcquireP(m, pp);
  TracePMoved(m, g);
  m->in_rt.store(0, std::memory_order_release);
  if (pp == nullptr) SwitchToG0(m, g, SwitchReason::kReacquire);
}

}  // namespace

void PStateSlow(M* m) {
  for (;;) {
    uint32_t s = m->pstate.load(std::memory_order_acquire);
    // Not at a safe point: on g0 (timers fire there), or inside a P section.
    if (s == 0 || m->curg == nullptr || m->in_rt.load(std::memory_order_relaxed) != 0) return;
    if (s & kPStateTaking) {
      WaitTaking(m);
    } else if (s & kPStateSyscall) {
      m->pstate.compare_exchange_strong(s, s & ~kPStateSyscall, std::memory_order_acquire);
    } else if (s & kPStateTaken) {
      ReacquireP(m);
      m = GetM();
    } else if (s & kPStatePreempt) {
      m->pstate.fetch_and(~kPStatePreempt, std::memory_order_relaxed);
      if (Tracing(m->rt)) m->preempt_switch = true;  // the run slice's end: preempt
      Gosched();
      m = GetM();
    }
  }
}

void HandoffP(Runtime* rt, P* pp) {
  // Local or global work: an M to run it now.
  if (!pp->runq.Empty() || rt->runqsize.load(std::memory_order_relaxed) != 0) {
    StartM(rt, pp, false);
    return;
  }
  // Nobody spins and no P is idle: this one is the only chance to find new work soon. Not
  // with the spin policy and no CPU free: work readied later wakes an M through wakep(),
  // and a CPU that turns idle through the upcall.
  if (rt->nmspinning.load(std::memory_order_seq_cst) + rt->npidle.load(std::memory_order_seq_cst) == 0 &&
      HandoffMaySpin(rt)) {
    int32_t zero = 0;
    if (rt->nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
      rt->needspinning.store(0, std::memory_order_seq_cst);
      StartM(rt, pp, true);
      return;
    }
  }
  {
    std::unique_lock<SchedLock> lock(rt->lock);
    if (rt->runq.size != 0 && !rt->stopping.load(std::memory_order_relaxed)) {
      lock.unlock();
      StartM(rt, pp, false);
      return;
    }
    // The last running P, with Gs waiting on the network and nobody polling: an M must
    // poll for them (Go's handoffp).
    if (rt->npidle.load(std::memory_order_seq_cst) == rt->procs - 1 &&
        rt->lastpoll.load(std::memory_order_seq_cst) != 0 &&
        rt->netpoll->waiters.load(std::memory_order_seq_cst) > 0 &&
        !rt->stopping.load(std::memory_order_relaxed)) {
      lock.unlock();
      StartM(rt, pp, false);
      return;
    }
    PidlePut(rt, pp);
  }
  // Its timers now need an idle M to sleep for them.
  if (int64_t when = pp->timers.when0.load(std::memory_order_seq_cst); when != 0) {
    WakeForTimer(rt, when);
  }
}

bool TakeP(Runtime* rt, P* pp, M* m, TakeReason why) {
  uint32_t s = m->pstate.load(std::memory_order_acquire);
  bool hog = why == TakeReason::kHog;
  if (hog || why == TakeReason::kDescheduled) {
    // A hog: only a G that has not reached a safe point since it was asked to yield.
    // Switched out by the kernel: a G in its own code (not in a blocking call, whose
    // protocol is the other branch), asked to yield or not.
    bool ok = hog ? s == kPStatePreempt : (s & ~kPStatePreempt) == 0;
    if (!ok || !rt->has_membarrier) return false;
    if (!m->pstate.compare_exchange_strong(s, s | kPStateTaking, std::memory_order_acq_rel)) {
      return false;
    }
    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    // acquire: pairs with LeaveP's / Execute's release store of 0.
    if (m->in_rt.load(std::memory_order_acquire) != 0 || m->p != pp) {
      m->pstate.fetch_and(~kPStateTaking, std::memory_order_release);
      return false;
    }
  } else {
    if (s != kPStateSyscall) return false;
    if (!m->pstate.compare_exchange_strong(s, kPStateTaking, std::memory_order_acq_rel)) {
      return false;
    }
    if (m->p != pp) {
      m->pstate.fetch_and(~kPStateTaking, std::memory_order_release);
      return false;
    }
  }
  // The P is ours: the M cannot use it until it has seen kTaken.
  pp->m.store(nullptr, std::memory_order_relaxed);
  pp->status.store(PStatus::kIdle, std::memory_order_relaxed);
  SetHint(m->hints->p, -1);  // before kTaken: after it the M may take another P at once
  // Before kTaken too: the M reads the handoff's time once it sees kTaken (trace.hpp).
  TraceHandoff(rt, pp, m, hog ? HandoffWhy::kHog
                              : why == TakeReason::kDescheduled ? HandoffWhy::kKernel
                                                                : HandoffWhy::kSyscall);
  m->pstate.store(kPStateTaken, std::memory_order_release);
  rt->handoffs.fetch_add(1, std::memory_order_relaxed);
  pp->handoffs.fetch_add(1, std::memory_order_relaxed);
  if (hog) rt->hogs.fetch_add(1, std::memory_order_relaxed);
  HandoffP(rt, pp);
  return true;
}

void HandOffOwnP(M* m) {
  // blocking_now: give the P away before the call; the exit finds kTaken and reacquires.
  P* pp = EnterP(m);
  if (pp != nullptr) {
    ReleaseP(m);
    m->pstate.store(kPStateTaken, std::memory_order_relaxed);  // no P points here now
  }
  LeaveP(m);
  if (pp != nullptr) {
    m->rt->handoffs.fetch_add(1, std::memory_order_relaxed);
    pp->handoffs.fetch_add(1, std::memory_order_relaxed);
    TraceHandoff(m->rt, pp, m, HandoffWhy::kSyscall);
    HandoffP(m->rt, pp);
  }
}

void WakeForTimer(Runtime* rt, int64_t when) {
  if (rt->lastpoll.load(std::memory_order_seq_cst) == 0) {
    // An M sleeps for timers; break its sleep if it would sleep past this one.
    int64_t until = rt->poll_until.load(std::memory_order_seq_cst);
    if (until == 0 || until > when) NetpollBreak(rt);
  } else {
    // Nobody polls: get an M going, which will become the poller.
    WakeP(rt);
  }
}

void Unref(Runtime* rt) {
  // acq_rel: the last owner sees everything the others did before deleting.
  if (rt->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rt;
}

// ---- G and stack pools -------------------------------------------------------------------

namespace {

constexpr int32_t kGBlock = 64;  // Gs allocated per block

void GFreePushGlobal(Runtime* rt, G* g) {  // gfree_lock held
  g->schedlink = rt->gfree;
  rt->gfree = g;
  rt->ngfree++;
}

// Takes up to n Gs from the global pool, or makes a block of new ones; returns them linked.
G* RefillGs(Runtime* rt, int32_t n, int32_t* got) {
  G* list = nullptr;
  *got = 0;
  std::lock_guard<std::mutex> lock(rt->gfree_lock);
  while (*got < n && rt->gfree != nullptr) {
    G* g = rt->gfree;
    rt->gfree = g->schedlink;
    rt->ngfree--;
    g->schedlink = list;
    list = g;
    (*got)++;
  }
  if (*got > 0) return list;
  G* block = new G[kGBlock];
  rt->gblocks.push_back(block);
  for (int32_t i = 0; i < kGBlock; i++) {
    G* g = &block[i];
    g->rt = rt;
    g->status.store(GStatus::kDead, std::memory_order_relaxed);
    rt->allg.push_back(g);
    g->schedlink = list;
    list = g;
  }
  *got = kGBlock;
  return list;
}

uint64_t NextGoid(Runtime* rt, P* pp) {
  if (pp == nullptr) return rt->goid_gen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goid_next == pp->goid_end) {
    pp->goid_next = rt->goid_gen.fetch_add(kGoidBatch, std::memory_order_relaxed) + 1;
    pp->goid_end = pp->goid_next + kGoidBatch;
  }
  return pp->goid_next++;
}

StackSlot StackGet(Runtime* rt, P* pp) {
  if (pp->nstack == 0) {
    {
      std::lock_guard<std::mutex> lock(rt->gfree_lock);
      while (pp->nstack < P::kStackCacheMax / 2 && !rt->free_stacks.empty()) {
        pp->stack_cache[pp->nstack++] = rt->free_stacks.back();
        rt->free_stacks.pop_back();
      }
    }
    if (pp->nstack == 0) {
      // Fresh stacks one at a time: a slot is only worth touching when a G needs it.
      rt->stacks.Allocate(&pp->stack_cache[0], 1);
      pp->nstack = 1;
    }
  }
  return pp->stack_cache[--pp->nstack];
}

void StackPut(Runtime* rt, P* pp, const StackSlot& s) {
  if (pp != nullptr && pp->nstack < P::kStackCacheMax) {
    pp->stack_cache[pp->nstack++] = s;
    return;
  }
  std::lock_guard<std::mutex> lock(rt->gfree_lock);
  rt->free_stacks.push_back(s);
  if (pp != nullptr) {
    // Keep the most recently used half (top of the LIFO) here; spill the colder half.
    int keep = P::kStackCacheMax / 2;
    for (int i = 0; i < pp->nstack - keep; i++) rt->free_stacks.push_back(pp->stack_cache[i]);
    for (int i = 0; i < keep; i++) pp->stack_cache[i] = pp->stack_cache[pp->nstack - keep + i];
    pp->nstack = keep;
  }
}

// Gives g a stack and a first frame that enters GEntry.
void AttachStack(Runtime* rt, P* pp, G* g) {
  g->stack = StackGet(rt, pp);
#if MN_ASAN
  // A previous G's frames that never returned (its final switch) left poisoned shadow.
  ASAN_UNPOISON_MEMORY_REGION(g->stack.lo, static_cast<std::size_t>(g->stack.hi - g->stack.lo));
#endif
  MakeContext(&g->ctx, g->stack.hi, &GEntry, g);
  g->ctx.stack_lo = g->stack.lo;
  g->ctx.stack_size = static_cast<std::size_t>(g->stack.hi - g->stack.lo);
}

}  // namespace

G* NewG(Runtime* rt, P* pp) {
  G* g;
  if (pp != nullptr) {
    if (pp->gfree == nullptr) {
      int32_t got;
      pp->gfree = RefillGs(rt, kGFreeBatch, &got);
      pp->ngfree += got;
    }
    g = pp->gfree;
    pp->gfree = g->schedlink;
    pp->ngfree--;
  } else {
    int32_t got;
    g = RefillGs(rt, 1, &got);
    // A fresh block hands back many: keep the rest in the global pool.
    if (G* rest = g->schedlink) {
      std::lock_guard<std::mutex> lock(rt->gfree_lock);
      while (rest != nullptr) {
        G* next = rest->schedlink;
        GFreePushGlobal(rt, rest);
        rest = next;
      }
    }
  }
  g->schedlink = nullptr;
  g->id = NextGoid(rt, pp);
  g->is_main = false;
  g->fn_on_heap = false;
  g->fn = nullptr;
  g->destroy = nullptr;
  g->m.store(nullptr, std::memory_order_relaxed);
  g->stack = StackSlot{};
  g->eh_caught = nullptr;
  g->eh_uncaught = 0;
  g->status.store(GStatus::kIdle, std::memory_order_relaxed);
  if (pp != nullptr) pp->AddG(1); else rt->gcount_outside.fetch_add(1, std::memory_order_relaxed);
  return g;
}

int64_t GCount(Runtime* rt) {
  int64_t n = rt->gcount_outside.load(std::memory_order_relaxed);
  for (const auto& pp : rt->allp) n += pp->gcount_delta.load(std::memory_order_relaxed);
  return n;
}

void FreeG(Runtime* rt, P* pp, G* g) {
  if (pp != nullptr) pp->AddG(-1); else rt->gcount_outside.fetch_sub(1, std::memory_order_relaxed);
  g->status.store(GStatus::kDead, std::memory_order_relaxed);
  g->m.store(nullptr, std::memory_order_relaxed);
  if (pp == nullptr) {
    std::lock_guard<std::mutex> lock(rt->gfree_lock);
    GFreePushGlobal(rt, g);
    return;
  }
  g->schedlink = pp->gfree;
  pp->gfree = g;
  pp->ngfree++;
  if (pp->ngfree >= kGFreeLocalMax) {
    std::lock_guard<std::mutex> lock(rt->gfree_lock);
    while (pp->ngfree > kGFreeBatch) {
      G* x = pp->gfree;
      pp->gfree = x->schedlink;
      pp->ngfree--;
      GFreePushGlobal(rt, x);
    }
  }
}

void InjectGList(Runtime* rt, M* m, GQueue* q) {
  if (q->empty()) return;
  int32_t n = 0;
  for (G* g = q->head; g != nullptr; g = g->schedlink, n++) MakeRunnable(g);
  P* pp = m != nullptr ? EnterP(m) : nullptr;
  if (pp == nullptr) {
    {
      std::lock_guard<SchedLock> lock(rt->lock);
      GlobRunqPutBatch(rt, q);
    }
    StartIdle(rt, n);
    if (m != nullptr) LeaveP(m);
    return;
  }
  // One G per idle P goes where an idle P's M will find it, the rest stay here.
  int32_t npidle = rt->npidle.load(std::memory_order_relaxed);
  GQueue globq;
  int32_t moved = 0;
  for (; moved < npidle && !q->empty(); moved++) globq.PushBack(q->PopFront());
  if (moved > 0) {
    {
      std::lock_guard<SchedLock> lock(rt->lock);
      GlobRunqPutBatch(rt, &globq);
    }
    StartIdle(rt, moved);
  }
  while (G* g = q->PopFront()) RunqPut(rt, pp, g, false);
  LeaveP(m);
  // Some Ps may have gone idle since npidle was read.
  WakeP(rt);
}

void QueueRunnable(Runtime* rt, M* m, G* g) {
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  if (m != nullptr && m->rt == rt) {
    // RunqPut copes with no P (taken by sysmon): the global queue.
    RunqPut(rt, EnterP(m), g, true);
    LeaveP(m);
  } else {
    std::lock_guard<SchedLock> lock(rt->lock);
    GlobRunqPut(rt, g);
  }
  WakeP(rt);
}

// ---- RandomOrder ------------------------------------------------------------------------

void RandomOrder::Reset(uint32_t count) {
  count_ = count;
  coprimes_.clear();
  auto gcd = [](uint32_t a, uint32_t b) {
    while (b != 0) {
      uint32_t t = a % b;
      a = b;
      b = t;
    }
    return a;
  };
  for (uint32_t i = 1; i <= count; i++) {
    if (gcd(i, count) == 1) coprimes_.push_back(i);
  }
}

bool WakeIdleP(Runtime* rt) { return WakeP(rt); }

SpinCounters SumSpins(Runtime* rt) {
  SpinCounters c;
  c.wakes_declined = rt->wakes_declined.load(std::memory_order_relaxed);
  std::lock_guard<SchedLock> lock(rt->lock);
  for (const auto& m : rt->allm) {
    c.spins += m->spins.load(std::memory_order_relaxed);
    c.spin_ns += m->spin_ns.load(std::memory_order_relaxed);
    c.spins_declined += m->spins_declined.load(std::memory_order_relaxed);
    c.wakes_declined += m->wakes_declined.load(std::memory_order_relaxed);
    c.spawns += m->spawns.load(std::memory_order_relaxed);
    c.parks += m->parks.load(std::memory_order_relaxed);
    c.readies += m->readies.load(std::memory_order_relaxed);
  }
  c.spawns += rt->spawns_outside.load(std::memory_order_relaxed);
  c.readies += rt->readies_outside.load(std::memory_order_relaxed);
  return c;
}

}  // namespace mn::detail
