// StackAllocator: where G stacks come from.
//
// A million blocked Gs must fit under the default vm.max_map_count (65530) while stack
// overflows are never silent. A guard page costs two mappings per stack (the PROT_NONE
// page splits the region), so guards are spent only while a budget lasts:
//
//  - Stacks are carved from segments of one mmap each (MAP_NORESERVE, no huge pages:
//    only touched 4 KiB pages cost memory). Every segment starts with a guard page of its
//    own, so even an unguarded runaway stops at the segment's edge.
//  - Guarded segments, made while the guard budget lasts (a quarter of
//    vm.max_map_count, leaving the rest to malloc, libraries and up to 10,000 M thread
//    stacks), give each slot a PROT_NONE page below its stack: an overflow faults at once
//    and the SIGSEGV handler (proc.cpp) names the G.
//  - Unguarded segments pack page-aligned slots back to back and keep a 64-byte canary
//    below each stack, in the top 64 bytes of the slot below: the page a running stack's
//    first frames touch anyway, so checking it costs no page fault and no memory.
//    The runtime checks it each time the G switches out; a G that ran past its stack has
//    overwritten it. A frame that skips over the canary and returns before the G switches
//    is the case this cannot see (docs/design.md, "Stacks").
//
// Slots are never returned one by one: a G gets a stack when it first runs and gives it
// back to its P's stack cache when it exits; the whole arena is unmapped when the runtime
// is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace mn::detail {

struct StackSlot {
  char* zone;  // guarded: the guard page; unguarded: the canary (zone + kCanaryBytes == lo)
  char* lo;    // lowest usable byte
  char* hi;    // one past the highest usable byte
  bool guarded;
};

class StackAllocator {
 public:
  static constexpr std::size_t kCanaryBytes = 64;
  static constexpr uint64_t kCanaryWord = 0x216b6174735f6e6dull;  // "mn_stak!"

  // usable_size is rounded up to whole pages. guard_budget < 0: DefaultGuardBudget().
  explicit StackAllocator(std::size_t usable_size, int64_t guard_budget = -1);
  ~StackAllocator();
  StackAllocator(const StackAllocator&) = delete;
  StackAllocator& operator=(const StackAllocator&) = delete;

  // Hands out up to n fresh slots (at least one). Thread-safe. Ends the process with a
  // message if the kernel refuses memory, as Go does when it cannot grow the heap.
  std::size_t Allocate(StackSlot* out, std::size_t n);

  std::size_t usable_size() const { return usable_; }
  int64_t guarded_stacks() const;

  // An unguarded slot's canary: still intact?
  static bool CanaryIntact(const StackSlot& s) {
    uint64_t w[kCanaryBytes / 8];
    std::memcpy(w, s.zone, sizeof w);
    uint64_t diff = 0;
    for (uint64_t x : w) diff |= x ^ kCanaryWord;
    return diff == 0;
  }

  static int64_t DefaultGuardBudget();

 private:
  struct Segment {
    char* base;
    std::size_t bytes;
  };
  void NewSegment();

  std::size_t page_;
  std::size_t usable_;
  std::size_t guarded_slot_bytes_;    // guard page + stack
  std::size_t unguarded_slot_bytes_;  // stack + the canary of the slot above, page-rounded
  mutable std::mutex mu_;
  std::vector<Segment> segments_;  // guarded by mu_
  char* cursor_ = nullptr;         // next free slot's lowest byte; guarded by mu_
  std::size_t left_ = 0;           // slots left in the newest segment; guarded by mu_
  bool cursor_guarded_ = false;    // guarded by mu_
  int64_t guard_budget_;           // guarded by mu_
  int64_t guarded_ = 0;            // guarded by mu_
};

}  // namespace mn::detail
