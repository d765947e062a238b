// Timers: per-P 4-ary heaps of TimerCores (Go 1.14+), run by the scheduler.
//
// Invariants:
//  - A TimerCore is in at most one heap; `heap` and `idx` change only under that heap's
//    lock (and `heap` becomes non-null only while the timer's own `mu` is also held, by
//    AddTimer's callers), so DelTimer can find it again after locking.
//  - A heap holds one reference on every TimerCore in it; RunTimers takes that reference
//    over when it pops a timer and drops it after firing, so a Timer destroyed meanwhile
//    is not freed under the callback. A sleep's TimerCore (on the sleeping G's stack, not
//    refcounted) is not touched after its firing readies the G.
//  - `seq` changes only under `mu`, after the timer was taken out of its heap; a firing
//    records seq when it pops the timer (under the heap lock) and delivers only if it is
//    unchanged (checked under `mu`). So once stop()/reset() returns, no stale firing can
//    deliver -- Go 1.23's guarantee for timer channels.
//  - when0 mirrors the heap's earliest deadline (0: empty) for lock-free reads; it is
//    stored seq_cst after an insert and read seq_cst by an M going idle, the same pairing
//    as run queues and nmspinning (proc.cpp).
// Lock order: TimerCore::mu, then a heap's lock, then channel and scheduler locks.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "mn/chan.hpp"
#include "mn/timer.hpp"

namespace mn::detail {

struct G;
struct P;
struct Runtime;
struct TimerHeap;

struct TimerCore {
  explicit TimerCore(bool heap_allocated) : owned(heap_allocated) {}
  void Ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    // acq_rel: the last owner sees every other owner's writes before deleting.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1 && owned) delete this;
  }

  std::atomic<int32_t> refs{1};
  const bool owned;  // heap-allocated and freed at refs == 0 (a sleep's lives on its G's stack)

  std::mutex mu;
  bool pending = false;             // guarded by mu: armed and not yet delivered/stopped
  std::atomic<uint64_t> seq{0};     // changed under mu
  // Written under mu while the timer is out of every heap; read under mu (delivery) and
  // under the heap lock (re-arming a Ticker). Atomic because a one-shot timer popped by
  // RunTimers (which read it) may be re-armed before its firing has finished.
  std::atomic<int64_t> period{0};

  int64_t when = 0;                 // guarded by the heap lock while in a heap
  std::atomic<TimerHeap*> heap{nullptr};
  int idx = -1;                     // guarded by the heap lock

  // What firing does; runs without the heap lock, on an M's g0 or in a G, and must not
  // block. seq: the timer's seq when it was popped.
  void (*fire)(TimerCore*, uint64_t seq, int64_t now) = nullptr;
  G* g = nullptr;                          // sleep: the G to ready
  void* arg = nullptr;                     // netpoll deadline: the PollDesc
  std::optional<Chan<Clock::time_point>> ch;  // Timer/Ticker/after: where the time goes
  absl::AnyInvocable<void()> func;         // AfterFunc: run in a new G
};

struct TimerHeap {
  Runtime* rt = nullptr;
  std::mutex mu;
  std::vector<TimerCore*> h;       // guarded by mu
  std::atomic<int64_t> when0{0};   // earliest deadline, 0 when empty
};

// Adds t to the calling M's P's heap (or, from outside the runtime, to P0's of rt), to
// fire at `when` (CLOCK_MONOTONIC ns), and makes sure some M will wake for it.
void AddTimer(Runtime* rt, TimerCore* t, int64_t when);
// Takes t out of its heap; true if it was in one.
bool DelTimer(TimerCore* t);
// Fires every timer of `heap` due at `now`; returns how many fired.
int RunTimers(TimerHeap* heap, int64_t now);
// The earliest deadline over all Ps (0: none).
int64_t EarliestTimer(Runtime* rt);
// Drops every timer still queued (runtime teardown).
void ClearTimers(TimerHeap* heap);

}  // namespace mn::detail
