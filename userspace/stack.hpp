// StackAllocator: where G stacks come from.
//
// A million blocked Gs must fit under the default vm.max_map_count (65530) while stack
// overflows are never silent. A guard page costs two mappings per stack (the PROT_NONE
// page splits the region), so guards are spent only while a budget lasts:
//
//  - Stacks are carved from segments of one mmap each (MAP_NORESERVE: only touched pages
//    cost memory). Every slot is [zone page | usable stack]; every segment starts with a
//    guard page of its own, so even an unguarded runaway stops at the segment's edge.
//  - Guarded segments mprotect each slot's zone page to PROT_NONE. They are made while the
//    guard budget lasts: a quarter of vm.max_map_count, leaving the other three quarters
//    to malloc, libraries and up to 10,000 M thread stacks.
//  - In unguarded segments the zone page stays mapped, untouched and therefore zero
//    (reading it maps the shared zero page: no memory). The runtime checks that the
//    64 bytes just below the stack are still zero each time the G switches out; a G that
//    ran past its stack has written there. Gs that skip over 64 bytes with one big frame
//    and return before switching are the case this cannot see (docs/design.md).
//
// Slots are never returned one by one: a dead G keeps its stack on a free list and the
// whole arena is unmapped when the runtime is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace mn::detail {

struct StackSlot {
  char* zone;   // start of the zone page (guard or canary zone) below the stack
  char* lo;     // lowest usable byte
  char* hi;     // one past the highest usable byte
  bool guarded;
};

class StackAllocator {
 public:
  // usable_size is rounded up to whole pages.
  explicit StackAllocator(std::size_t usable_size, int64_t guard_budget = -1);
  ~StackAllocator();
  StackAllocator(const StackAllocator&) = delete;
  StackAllocator& operator=(const StackAllocator&) = delete;

  // Hands out up to n fresh slots (at least one). Thread-safe. Ends the process with a
  // message if the kernel refuses memory, as Go does when it cannot grow the heap.
  std::size_t Allocate(StackSlot* out, std::size_t n);

  std::size_t usable_size() const { return usable_; }
  int64_t guarded_stacks() const;

  static constexpr std::size_t kZoneCheckBytes = 64;
  // The canary zone of an unguarded slot: still all zero?
  static bool ZoneClean(const StackSlot& s) {
    const auto* p = reinterpret_cast<const uint64_t*>(s.lo - kZoneCheckBytes);
    uint64_t acc = 0;
    for (std::size_t i = 0; i < kZoneCheckBytes / 8; i++) acc |= p[i];
    return acc == 0;
  }

  static int64_t DefaultGuardBudget();

 private:
  struct Segment {
    char* base;
    std::size_t bytes;
  };
  std::size_t page_;
  std::size_t usable_;
  std::size_t slot_bytes_;
  std::size_t slots_per_segment_;
  mutable std::mutex mu_;
  std::vector<Segment> segments_;  // guarded by mu_
  char* cursor_ = nullptr;         // next free slot in the newest segment; guarded by mu_
  std::size_t left_ = 0;           // slots left in the newest segment; guarded by mu_
  bool cursor_guarded_ = false;    // guarded by mu_
  int64_t guard_budget_;           // guarded stacks still allowed; guarded by mu_
  int64_t guarded_ = 0;            // guarded by mu_
};

}  // namespace mn::detail
