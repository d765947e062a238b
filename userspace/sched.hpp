// The scheduler's shared state: M, P and the Runtime object that owns them.
// The algorithms that use them, and the invariants that tie them together, are in
// proc.cpp; this header only declares the data and the entry points.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "g.hpp"
#include "feedback.hpp"
#include "labels.hpp"
#include "kfeedback.hpp"
#include "netpoll.hpp"
#include "note.hpp"
#include "runq.hpp"
#include "scx.hpp"
#include "stack.hpp"
#include "timers.hpp"

namespace mn::detail {

struct P;
struct Runtime;
class Tracer;
struct TraceBuf;

enum class PStatus : uint32_t { kIdle, kRunning };

// Why a G switched to g0; g0 acts on it once the G is off its stack. kReacquire: the G
// lost its P (sysmon took it) and found no idle one; it waits on the global queue.
enum class SwitchReason : uint8_t { kNone, kPark, kGosched, kGoyield, kExit, kReacquire };

// M::pstate bits: the M's claim on its P against sysmon (proc.cpp, "Taking a P away").
inline constexpr uint32_t kPStatePreempt = 1;  // sysmon asks the running G to yield
inline constexpr uint32_t kPStateSyscall = 2;  // in a blocking call: the P may be taken
inline constexpr uint32_t kPStateTaking = 4;   // sysmon is deciding; the M must wait
inline constexpr uint32_t kPStateTaken = 8;    // the P was taken; m->p is stale

struct M {
  Runtime* rt = nullptr;
  Context g0;         // the thread's own stack: the scheduler runs here
  G* curg = nullptr;  // the G running on this M, if any
  P* p = nullptr;     // the P held, if any
  P* nextp = nullptr; // the P handed over by startm, taken on wakeup
  bool spinning = false;  // counted in Runtime::nmspinning
  Note park;
  M* schedlink = nullptr;  // idle list link; guarded by Runtime::lock
  int64_t id = 0;
  uint64_t rand_state = 0;

  // Set by a G just before it switches to g0 (Go's mcall arguments).
  SwitchReason reason = SwitchReason::kNone;
  bool (*unlockf)(G*, void*) = nullptr;
  void* unlock_arg = nullptr;

  void* altstack = nullptr;  // sigaltstack for the stack-overflow handler

  // The P-taking protocol (proc.cpp). pstate: kPState* bits, CASed by the M and sysmon.
  // in_rt: > 0 while the M may be using its P as owner (on g0, or in a G inside EnterP/
  // LeavePSection); written only by the M, read by sysmon after an asymmetric fence.
  std::atomic<uint32_t> pstate{0};
  std::atomic<uint32_t> in_rt{1};

  void* eh_globals = nullptr;  // this thread's __cxa_eh_globals (see G::eh_caught)
  G* lockedg = nullptr;      // lock_os_thread: the G wired to this M
  bool locked_idle = false;  // guarded by Runtime::lock: asleep in stoplockedm
  bool exit_thread = false;  // the locked G exited: this thread ends with it

  // For shutdown (WaitForMs): is this M inside a G, has its thread finished?
  std::atomic<bool> in_g{false};
  std::atomic<bool> exited{false};
  std::atomic<int32_t> tid{0};  // the thread's id, once it runs

  // What this M does, for the kernel's side (mn_telemetry.h): the M's slot in the hints
  // map when kernel feedback is on, else own_hints. Set before the thread starts; each
  // field is stored alone (SetHint), by the M itself, or by sysmon when it takes the P.
  mn_m_hints own_hints{.tid = 0, .p = -1, .g = 0, .spinning = 0, .blocking = 0, .parked = 0, .in_critical = 0, .runq = 0};
  mn_m_hints* hints = &own_hints;

  // Spinning, counted by the M itself (proc.cpp, SpinBegin); read by stats and sysmon.
  int64_t spin_since = 0;            // when the current spin began, or 0
  std::atomic<int64_t> spins{0};     // spins begun
  std::atomic<int64_t> spin_ns{0};   // time spent spinning
  // The spin policy's declines by this M (per M, as a shared counter would bounce between
  // CPUs at every declined wakeup: millions a second in a channel ping-pong).
  std::atomic<int64_t> spins_declined{0};  // parked instead of spinning
  std::atomic<int64_t> wakes_declined{0};  // readied work without waking a spinner
  // Events of the Gs this M ran (mn::Stats; trace.hpp counts the same points).
  std::atomic<int64_t> spawns{0};
  std::atomic<int64_t> parks{0};
  std::atomic<int64_t> readies{0};

  // Execution tracing (trace.hpp). tbuf: the buffer this M records into, written only by
  // the M (release) and read by the tracer's flusher (acquire); tseq numbers this M's
  // buffers within trace generation tseq_gen. preempt_switch: the G's next switch to g0
  // is sysmon's preemption (PStateSlow), for the run slice's `end`. trace_raw: the clock
  // read of this M's latest event; trace_warm: the M has not waited (slept, polled, spun)
  // since, so a run begin may take trace_raw as its time (trace.hpp). trace_taken_raw:
  // the clock reading of the handoff that took this M's P (0: untraced), written by the
  // taker before its release store of kPStateTaken, read by the M once it has seen that
  // store (acquire), so that its P's track ends where the P went (Tracer::TakenMark).
  std::atomic<TraceBuf*> tbuf{nullptr};
  uint64_t tseq = 0;
  uint64_t tseq_gen = 0;
  int64_t trace_raw = 0;
  bool trace_warm = false;
  int64_t trace_taken_raw = 0;
  bool preempt_switch = false;
};

// Bumps a counter only its M writes (no RMW: readers sample it).
inline void BumpOwn(std::atomic<int64_t>& c, int64_t d = 1) {
  c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

// The in_critical word of the calling thread's M's hints while the sched_ext scheduler
// runs the Ms (scx_runtime.cpp), else null. Read with a volatile asm, as GetM reads its
// M (below): a G can move to another thread across a switch, and a cached thread-local
// address would be another thread's.
extern "C" __thread uint32_t* mn_detail_tls_critical __attribute__((tls_model("initial-exec")));

inline uint32_t* CriticalHint() noexcept {
  uint32_t* c;
  asm volatile(
      "movq mn_detail_tls_critical@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(c));
  return c;
}

// One word of an M's hints. Relaxed: each field is read alone, as a sample.
template <typename T, typename V>
inline void SetHint(T& field, V v) {
  std::atomic_ref<T>(field).store(static_cast<T>(v), std::memory_order_relaxed);
}

struct P {
  int32_t id = 0;
  std::atomic<PStatus> status{PStatus::kIdle};
  std::atomic<M*> m{nullptr};  // owning M while running; read by sysmon
  P* link = nullptr;     // idle list; guarded by Runtime::lock
  // Written by the owner only (load + store), read by sysmon: schedtick moves on every
  // schedule that does not inherit a slice, syscalltick on every blocking call.
  std::atomic<uint32_t> schedtick{0};
  std::atomic<uint32_t> syscalltick{0};
  void Tick(std::atomic<uint32_t>& t) {
    t.store(t.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  RunQueue runq;
  // Dead Gs (Go's gFree) and free stacks, owner only.
  G* gfree = nullptr;
  int32_t ngfree = 0;
  static constexpr int kStackCacheMax = 64;
  StackSlot stack_cache[kStackCacheMax];
  int nstack = 0;
  // Goroutine ids are handed out in batches so spawns do not share one counter.
  uint64_t goid_next = 0;
  uint64_t goid_end = 0;
  // Gs made minus Gs exited on this P. Written only by the owner (load + store, no RMW);
  // read racily by schedtrace.
  std::atomic<int64_t> gcount_delta{0};
  TimerHeap timers;
  // For tools (mnstat, through the p_state map): Gs this P stole, and times it was
  // taken from its M. Relaxed counters, read as samples.
  std::atomic<uint64_t> steals{0};
  std::atomic<uint64_t> handoffs{0};
  void AddG(int64_t d) {
    gcount_delta.store(gcount_delta.load(std::memory_order_relaxed) + d,
                       std::memory_order_relaxed);
  }
};

// The scheduler lock: Go's lock_futex. A futex word (0 free, 1 held, 2 held with sleepers)
// that spins a little before it sleeps: 4 rounds of 30 pauses, one sched_yield, then the
// futex. Its critical sections are a few dozen instructions, so a waiter that sleeps at
// once pays a futex round trip of microseconds for a wait of nanoseconds (a std::mutex
// did: some 10,000 sleeps a second per M with Gs yielding through the global queue on 2
// Ps), and glibc's mutex costs twice the instructions of this one uncontended.
//
// While the sched_ext scheduler runs the Ms, a lock held by an M is also counted in its
// hints' in_critical word, so that the kernel extends the M's slice rather than preempt it
// with others spinning on the lock. Without it, that costs one thread-local load.
class SchedLock {
 public:
  void lock() {
    if (!TryAcquire()) LockSlow();
    EnterCritical(1);
  }
  bool try_lock() {
    if (!TryAcquire()) return false;
    EnterCritical(1);
    return true;
  }
  void unlock() {
    // The hint first: the lock is still held, so the kernel may yet extend the slice.
    EnterCritical(-1);
    if (key_.exchange(0, std::memory_order_release) == 2) FutexWake(&key_, 1);
  }

 private:
  static void EnterCritical(int d) {
    // Only the M's own thread writes its word, and the kernel reads it alone: relaxed.
    if (uint32_t* c = CriticalHint()) SetHint(*c, *c + d);
  }
  bool TryAcquire() {
    uint32_t v = 0;
    // acquire pairs with unlock's release exchange.
    return key_.compare_exchange_strong(v, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void LockSlow() {
    for (int i = 0; i < 5; i++) {
      if (key_.load(std::memory_order_relaxed) == 0 && TryAcquire()) return;
      if (i < 4) {
        for (int j = 0; j < 30; j++) __builtin_ia32_pause();
      } else {
        sched_yield();
      }
    }
    // Mark "sleepers" whenever we may sleep, so the holder's unlock wakes one.
    while (key_.exchange(2, std::memory_order_acquire) != 0) FutexWait(&key_, 2);
  }

  std::atomic<uint32_t> key_{0};
};

// Visits all Ps in a random order: a random start and a stride coprime with their number,
// so every P is visited exactly once (Go's randomOrder).
class RandomOrder {
 public:
  void Reset(uint32_t count);
  struct Enum {
    uint32_t i, count, pos, inc;
    bool Done() const { return i == count; }
    void Next() { i++; pos = (pos + inc) % count; }
  };
  Enum Start(uint32_t r) const {
    return Enum{0, count_, r % count_, coprimes_[(r / count_) % coprimes_.size()]};
  }

 private:
  uint32_t count_ = 0;
  std::vector<uint32_t> coprimes_;
};

// One bit per P: set while the P is on the idle list. Read without the lock by spinners.
class PMask {
 public:
  void Reset(int n) { words_ = std::vector<std::atomic<uint32_t>>((n + 31) / 32); }
  bool Read(int id) const {
    return (words_[id / 32].load(std::memory_order_relaxed) >> (id % 32)) & 1;
  }
  void Set(int id) { words_[id / 32].fetch_or(1u << (id % 32), std::memory_order_relaxed); }
  void Clear(int id) { words_[id / 32].fetch_and(~(1u << (id % 32)), std::memory_order_relaxed); }

 private:
  std::vector<std::atomic<uint32_t>> words_;
};

struct Runtime {
  Runtime(int procs, std::size_t stack_size);
  ~Runtime();

  const int procs;
  StackAllocator stacks;
  std::vector<std::unique_ptr<P>> allp;
  RandomOrder steal_order;
  PMask idlep_mask;

  // lock guards the global run queue, the idle P and M lists and M creation.
  SchedLock lock;
  GQueue runq;                        // guarded by lock
  std::atomic<int32_t> runqsize{0};   // mirror of runq.size for lock-free emptiness checks
  P* pidle = nullptr;                 // guarded by lock
  std::atomic<int32_t> npidle{0};
  M* midle = nullptr;                 // guarded by lock
  int32_t nmidle = 0;                 // guarded by lock
  std::vector<std::unique_ptr<M>> allm;  // guarded by lock; Ms live until the runtime dies
  std::atomic<int32_t> nmspinning{0};
  std::atomic<uint32_t> needspinning{0};
  std::atomic<int32_t> mcount{0};     // threads created
  int32_t nmidlelocked = 0;           // guarded by lock: locked Ms waiting for their G
  int32_t nmexited = 0;               // guarded by lock: threads that ended (locked G exit)

  // Global pools of dead Gs and free stacks, refilled from and spilled to by Ps.
  std::mutex gfree_lock;
  G* gfree = nullptr;    // guarded by gfree_lock
  int32_t ngfree = 0;    // guarded by gfree_lock
  std::vector<StackSlot> free_stacks;  // guarded by gfree_lock
  std::vector<G*> allg;  // guarded by gfree_lock; every G ever made, for teardown and dumps
  std::vector<G*> gblocks;  // guarded by gfree_lock; the arrays Gs are allocated in
  std::atomic<uint64_t> goid_gen{0};
  // Gs created and not yet exited = gcount_outside + the sum of every P's gcount_delta.
  // Per-P counts keep an atomic RMW off the spawn and exit paths.
  std::atomic<int64_t> gcount_outside{0};

  // Shutdown: set once main returns; every M exits at its next scheduling point.
  std::atomic<bool> stopping{false};
  Note main_done;
  int main_result = 0;
  std::exception_ptr main_exception;

  // One per M thread, one for run(), one per outside caller of go() while it spawns.
  // The last to drop it deletes the runtime (threads of a stopped runtime may still be
  // running a G when run() returns).
  std::atomic<int32_t> refs{1};

  // The poller (netpoll_epoll.cpp): at most one idle M blocks in epoll_wait, until the
  // earliest timer or an fd event; the others sleep until handed a P.
  std::shared_ptr<Netpoll> netpoll;  // shared with the sockets, which may outlive the runtime
  std::atomic<int64_t> lastpoll{1};     // 0 while an M blocks in the poller, else when one last did
  std::atomic<int64_t> poll_until{0};   // its deadline (0: none)

  int64_t start_ns = 0;
  int64_t schedtrace_ms = 0;

  // sysmon (sysmon.cpp): a thread with no P.
  std::thread* sysmon_thread = nullptr;
  std::atomic<uint32_t> sysmon_wake{0};   // futex word that breaks its sleep
  std::atomic<bool> sysmon_wait{false};   // it sleeps deeply (every P idle); set under lock
  std::atomic<uint32_t> sigquit{0};       // SIGQUIT arrived: sysmon dumps every G
  // sysmon's clock, stamped each tick, so that a parking G records when it began to wait
  // without reading the clock itself. Alone on its line: every park reads it.
  alignas(64) std::atomic<int64_t> coarse_now{0};
  alignas(64) std::atomic<int64_t> handoffs{0};
  std::atomic<int64_t> preempt_requests{0};
  // Tests only: false keeps sysmon from taking Ps (blocking calls, hogs) and from starting
  // the spin policy's backstop spinner, so that a test of another path (kernel feedback)
  // is the only one that can act.
  std::atomic<bool> sysmon_retake{true};
  std::atomic<int64_t> hogs{0};
  // Without membarrier(2) sysmon cannot take a hog's P (proc.cpp, "Taking a P away").
  bool has_membarrier = false;

  // Deadlock detection (checkdead.cpp): on unless turned off, and off for good once a
  // thread that is not the runtime's was seen (it may feed the runtime later).
  bool detect_deadlock = true;
  bool foreign_threads_seen = false;  // guarded by lock
  int32_t run_tid = 0;                // the thread blocked in run()
  sigset_t sigmask{};                 // its signal mask, which every M takes
  // Its scheduling policy, which every M takes too, whoever creates it: the feedback
  // thread runs SCHED_FIFO, and an M inheriting that would starve the threads it waits for.
  int sched_policy = SCHED_OTHER;
  sched_param sched_param_{};
  std::atomic<uint32_t> sysmon_tid{0};  // a futex word until sysmon has started

  // Kernel telemetry (kfeedback.hpp): loaded before the first M starts, or null with the
  // reason in kf_reason; kf_pin_error says why the maps are not pinned, if they are not.
  std::unique_ptr<KernelTelemetry> ktel;
  std::string kf_reason;
  std::string kf_pin_error;
  uint32_t kf_policies = 0;              // MN_POLICY_* in force (0 without ktel)
  std::unique_ptr<Feedback> feedback;    // the policies' thread, when any policy is on
  std::atomic<int64_t> kernel_handoffs{0};  // Ps taken from Ms the kernel switched out
  std::atomic<uint32_t> feedback_tid{0};    // its thread, one of ours (a futex word until set)
  // The spin policy is in force: `feedback` is set, and FindRunnable and WakeP ask it.
  std::atomic<bool> kf_spin{false};
  std::atomic<int64_t> idle_wakeups{0};     // Ms started by an idle-CPU upcall
  std::atomic<int64_t> spin_backstops{0};   // Ms sysmon started for work left waiting
  std::atomic<int64_t> wakes_declined{0};   // HandoffP's (the Ms count theirs: SumSpins)

  // The sched_ext scheduler (scx_runtime.cpp): loaded before the first M starts when
  // asked for (MN_KERNEL_FEEDBACK=scx), and dropped by sysmon if the kernel ejects it.
  // scx_on says whether new Ms join it; scx and scx_reason are sysmon's after start-up,
  // and read under the registry lock by kernel_feedback_status.
  std::unique_ptr<ScxScheduler> scx;
  std::atomic<bool> scx_on{false};
  bool scx_wanted = false;
  std::string scx_reason;
  std::mutex scx_mu;            // guards scx_reason against kernel_feedback_status
  int64_t scx_next_poll = 0;    // sysmon's

  // Execution tracing (trace.hpp). `tracing` is read by every hook, relaxed, as the one
  // branch tracing costs when off: alone on its line, which is written only when a trace
  // starts or stops. `tracer` is made at the first trace and lives as long as the runtime,
  // so that a hook that saw `tracing` a moment before it turned off still finds it.
  alignas(64) std::atomic<bool> tracing{false};
  std::unique_ptr<Tracer> tracer;       // set under tracer_mu, before the first start
  std::mutex tracer_mu;                 // serialises trace_start / trace_stop
  std::atomic<uint32_t> tracer_tid{0};  // the flusher thread, one of ours (checkdead)
  // Events made on threads that are not Ms (Ms count theirs in M).
  std::atomic<int64_t> spawns_outside{0};
  std::atomic<int64_t> readies_outside{0};
  // Names given to mn::go_named, for the runtime's life.
  LabelTable labels;
};

}  // namespace mn::detail

// The calling thread's M (initial-exec TLS: one load from %fs). Named in C so that GetM's
// assembly can spell it.
extern "C" __thread mn::detail::M* mn_detail_tls_m __attribute__((tls_model("initial-exec")));

namespace mn::detail {

// The M running the calling thread, or nullptr. The read is a volatile asm so that the
// compiler can neither merge two reads nor keep the thread pointer in a register across
// one: a G can move to another thread across any call that may switch, and a plain
// thread-local read could be answered from before the switch.
inline M* GetM() noexcept {
  M* m;
  asm volatile(
      "movq mn_detail_tls_m@gottpoff(%%rip), %0\n\t"
      "movq %%fs:(%0), %0"
      : "=r"(m));
  return m;
}
void SetM(M* m) noexcept;
inline G* CurrentG() noexcept {
  M* m = GetM();
  return m != nullptr ? m->curg : nullptr;
}

// proc.cpp
void Park(bool (*unlockf)(G*, void*), void* arg, WaitReason reason);
void Ready(G* g);
void Gosched();
[[noreturn]] void GoExit();
void Goyield();

bool CanSpin(int iter);
// A random number in [0, n): the M's generator, or a per-thread one outside the runtime.
uint32_t CheapRandN(uint32_t n);
void DoSpin();
void StartMainM(Runtime* rt);
void StopRuntime(Runtime* rt);
void WaitForMs(Runtime* rt);
void Unref(Runtime* rt);
G* NewG(Runtime* rt, P* pp);  // a G without a stack, from pp's pool (pp may be nullptr)
void FreeG(Runtime* rt, P* pp, G* g);
int64_t GCount(Runtime* rt);  // g has no stack (any stack was released first)
[[noreturn]] void GEntry(void* g);     // api.cpp: runs a G's callable, then exits it
// Makes g runnable where the caller is: m's P's runnext, or the global queue when m is
// nullptr (a thread outside the runtime); then wakep().
void QueueRunnable(Runtime* rt, M* m, G* g);
void InstallSignalHandlers();
// A timer at `when` was added: make sure an M will be awake for it (Go's wakeNetPoller).
void WakeForTimer(Runtime* rt, int64_t when);
// Makes the kWaiting Gs in q runnable and queues them (Go's injectglist): with m holding a
// P, one per idle P onto the global queue with an M started for each and the rest onto
// m's P; with m == nullptr or without a P, all onto the global queue.
void InjectGList(Runtime* rt, M* m, GQueue* q);

// The P-taking protocol (proc.cpp). EnterP pins the caller's P for use as owner and
// returns it, or nullptr when the M has none (its P was taken: act as an outside thread).
// Every EnterP is paired with LeaveP. CheckPState: at a safe point in a G (no runtime lock
// held), honours a preempt request and takes back a lost P; inlined fast path below.
P* EnterPSlow(M* m);
inline P* EnterP(M* m) {
  m->in_rt.store(m->in_rt.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // The M's half of the asymmetric fence: only the compiler must not move the pstate load
  // above the in_rt store; sysmon's membarrier() orders them in hardware.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if ((m->pstate.load(std::memory_order_acquire) &
       (kPStateTaking | kPStateTaken | kPStateSyscall)) != 0) [[unlikely]] {
    return EnterPSlow(m);
  }
  return m->p;
}
inline void LeaveP(M* m) {
  // release: pairs with TakeP's acquire load of in_rt.
  m->in_rt.store(m->in_rt.load(std::memory_order_relaxed) - 1, std::memory_order_release);
}
void PStateSlow(M* m);
inline void CheckPState() {
  M* m = GetM();
  if (m != nullptr && m->pstate.load(std::memory_order_relaxed) != 0) [[unlikely]] PStateSlow(m);
}
// Gives a P that no M holds to whoever needs it (Go's handoffp).
void HandoffP(Runtime* rt, P* pp);
// sysmon's side: takes pp from m if it still can, and hands it off. kBlockingCall: m is in
// mn::blocking (the CAS half of the protocol). kHog: m runs a G that has not reached a
// safe point since it was asked to yield (the membarrier half); an M the kernel has
// descheduled while holding a P (kernel feedback) will be taken the same way.
// kDescheduled: the kernel switched the M out while it ran a G (feedback.cpp).
enum class TakeReason { kBlockingCall, kHog, kDescheduled };
// Work that waits behind pp's M: its queue, its due timers, or global work with no P free.
bool PHasWork(Runtime* rt, P* pp, int64_t now);
bool TakeP(Runtime* rt, P* pp, M* m, TakeReason why);
// wakep() from outside proc.cpp: a spinning M on an idle P, if none spins; true if started.
bool WakeIdleP(Runtime* rt);
// Every M's own counters so far, and the runtime's for the same events off the Ms (under
// the runtime's lock, as allm grows under it).
struct SpinCounters {
  int64_t spins = 0, spin_ns = 0, spins_declined = 0, wakes_declined = 0;
  int64_t spawns = 0, parks = 0, readies = 0;
};
SpinCounters SumSpins(Runtime* rt);
// blocking_now: hands the caller's P off before the call.
void HandOffOwnP(M* m);
// The active runtime for a signal handler (no lock); may be nullptr.
Runtime* ActiveRuntimeForSignal() noexcept;

// sysmon.cpp
void StartSysmon(Runtime* rt);
void StopSysmon(Runtime* rt);
void WakeSysmon(Runtime* rt);
// checkdead.cpp
void CheckDead(Runtime* rt);  // lock held
void DumpGs(Runtime* rt, const char* header);
void InstallQuitHandler();

}  // namespace mn::detail
