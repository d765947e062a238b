// The scheduler's shared state: M, P and the Runtime object that owns them.
// The algorithms that use them, and the invariants that tie them together, are in
// proc.cpp; this header only declares the data and the entry points.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "g.hpp"
#include "note.hpp"
#include "runq.hpp"
#include "stack.hpp"
#include "timers.hpp"

namespace mn::detail {

struct P;
struct Runtime;

enum class PStatus : uint32_t { kIdle, kRunning };

// Why a G switched to g0; g0 acts on it once the G is off its stack.
enum class SwitchReason : uint8_t { kNone, kPark, kGosched, kGoyield, kExit };

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

  // For shutdown (WaitForMs): is this M inside a G, has its thread finished?
  std::atomic<bool> in_g{false};
  std::atomic<bool> exited{false};
};

struct P {
  int32_t id = 0;
  std::atomic<PStatus> status{PStatus::kIdle};
  M* m = nullptr;        // owning M while running
  P* link = nullptr;     // idle list; guarded by Runtime::lock
  uint32_t schedtick = 0;  // incremented on every schedule that does not inherit a slice
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
  void AddG(int64_t d) {
    gcount_delta.store(gcount_delta.load(std::memory_order_relaxed) + d,
                       std::memory_order_relaxed);
  }
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
  std::mutex lock;
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

  // The timer sleeper (Go's netpoller role until the netpoller issue): at most one idle M
  // sleeps until the earliest timer; the others sleep until handed a P.
  std::atomic<int64_t> lastpoll{1};     // 0 while an M is the timer sleeper
  std::atomic<int64_t> poll_until{0};   // its deadline (0: none)
  std::atomic<uint32_t> poll_wake{0};   // futex word that breaks its sleep

  int64_t start_ns = 0;
  int64_t schedtrace_ms = 0;
  std::thread* schedtrace_thread = nullptr;
  Note schedtrace_stop;
};

// The M running the calling thread, or nullptr. Never inlined, and opaque to the
// optimizer: a G can move between threads across any call, so the thread-local must be
// re-read every time rather than cached in a register.
M* GetM() noexcept;
void SetM(M* m) noexcept;

// proc.cpp
void Park(bool (*unlockf)(G*, void*), void* arg, WaitReason reason);
void Ready(G* g);
void Gosched();
[[noreturn]] void GoExit();
void Goyield();
G* CurrentG() noexcept;
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

}  // namespace mn::detail
