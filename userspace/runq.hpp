// RunQueue: a P's local run queue -- Go's 256-slot ring plus the runnext slot.
//
// Invariants, and why they hold:
//  - Only the owning P pushes, and only at tail_; tail_ is published with a store that
//    makes the slot written before it visible (release; seq_cst where the caller must
//    then read nmspinning, see Put). Anyone may pop, by CAS on head_; a successful CAS is
//    the only way an element leaves, so no G is taken twice.
//  - Slots are read before the CAS that commits the pop; a slot may be overwritten by a
//    wrapped push only after head_ moved past it, and then that CAS fails. So a reader
//    never returns an element it did not own. Slots are atomics so this benign
//    read-then-validate pattern is race-free in the C++ model (and to TSan).
//  - tail_ - head_ <= kSize always; a thief that reads an inconsistent pair (n > kSize/2)
//    retries.
//  - runnext is changed only by CAS/exchange; a G taken from it inherits the time slice
//    (the caller's schedtick is not advanced), so a pair of Gs readying each other cannot
//    hold a P for more than one slice once preemption exists.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <linux/types.h>

#include "g.hpp"

namespace mn::detail {
#include "../bpf/mn_telemetry.h"  // wrapped, as kfeedback.hpp does

// An intrusive FIFO of Gs linked through schedlink; owned by whoever holds its lock.
struct GQueue {
  G* head = nullptr;
  G* tail = nullptr;
  int32_t size = 0;

  bool empty() const { return head == nullptr; }
  void PushBack(G* g) {
    g->schedlink = nullptr;
    if (tail) tail->schedlink = g; else head = g;
    tail = g;
    size++;
  }
  void PushFront(G* g) {
    g->schedlink = head;
    head = g;
    if (!tail) tail = g;
    size++;
  }
  // Appends a chain already linked through schedlink.
  void PushBackAll(GQueue& q) {
    if (q.empty()) return;
    if (tail) tail->schedlink = q.head; else head = q.head;
    tail = q.tail;
    size += q.size;
    q = GQueue{};
  }
  G* PopFront() {
    G* g = head;
    if (!g) return nullptr;
    head = g->schedlink;
    if (!head) tail = nullptr;
    g->schedlink = nullptr;
    size--;
    return g;
  }
};

class RunQueue {
 public:
  static constexpr uint32_t kSize = 256;

  // Owner only. Puts g at the tail. When the ring is full it moves half of it plus g into
  // *spill (for the global queue) and returns false; the caller must queue *spill.
  bool Put(G* g, GQueue* spill);
  // Owner only. Makes g the runnext G and returns the G it displaced (or nullptr), which
  // the caller must Put.
  G* PutNext(G* g) {
    // seq_cst: this RMW both publishes g and orders the caller's following read of
    // nmspinning (wakep) -- the "submit, StoreLoad, check spinners" half of the pairing
    // in proc.cpp's header.
    return runnext_.exchange(g, std::memory_order_seq_cst);
  }
  // Owner only (but safe against concurrent thieves). *inherit is set when the G came
  // from runnext.
  G* Get(bool* inherit);
  // Moves up to half (rounded up) of victim's Gs into this queue, of which the caller
  // owns, and returns one of them to run now (nullptr if none). steal_next also allows
  // taking victim's runnext. victim_running makes the thief pause 3 µs before taking
  // runnext, giving the owner the chance to run it (Go's runqgrab).
  G* StealFrom(RunQueue& victim, bool steal_next, bool victim_running);

  // Any thread. Exact when quiescent; may be stale under concurrency.
  bool Empty() const;
  uint32_t Size() const;
  // Owner only: empties the queue into q (used when a P is torn down).
  void DrainTo(GQueue* q);

 private:
  uint32_t Grab(std::atomic<G*>* batch, uint32_t batch_head, bool steal_next,
                bool victim_running);

  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::atomic<G*> runnext_{nullptr};
  std::atomic<G*> ring_[kSize] = {};

  // The kernel-feedback program reads an M's P's queue as raw words (mn_telemetry.h).
  static void CheckLayout();
};

inline void RunQueue::CheckLayout() {
  static_assert(std::is_standard_layout_v<RunQueue>);
  static_assert(offsetof(RunQueue, head_) == MN_RUNQ_HEAD_OFF);
  static_assert(offsetof(RunQueue, tail_) == MN_RUNQ_TAIL_OFF);
  static_assert(offsetof(RunQueue, runnext_) == MN_RUNQ_NEXT_OFF);
  static_assert(sizeof(std::atomic<uint32_t>) == 4 && sizeof(std::atomic<G*>) == 8);
}

}  // namespace mn::detail
