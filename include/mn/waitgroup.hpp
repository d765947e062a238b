// mn::WaitGroup: waits for a collection of Gs to finish, as Go's sync.WaitGroup.
// Usable from Gs (parks the G) and from plain threads (blocks the thread).
#pragma once

#include <atomic>
#include <cstdint>

#include "mn/detail/sema.hpp"

namespace mn {

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (may be negative) to the counter. When it reaches zero every waiter is
  // released. Throws std::logic_error if the counter goes negative, or if add() with a
  // positive delta races with wait() while the counter is zero (Go panics on both).
  void add(int64_t delta);
  void done() { add(-1); }
  // Blocks until the counter is zero.
  void wait();

 private:
  // High 32 bits: the counter. Low 32 bits: the number of waiters. One word, so that add()
  // sees "counter hit zero" and "how many to wake" atomically, as Go's does.
  std::atomic<uint64_t> state_{0};
  detail::Sema sema_;
};

}  // namespace mn
