// mn::Mutex: a mutual-exclusion lock that parks the G, never the M (Go's sync.Mutex,
// including its starvation mode). Meets the Lockable requirements, so std::lock_guard and
// std::unique_lock work. Usable from plain threads outside the runtime too (they block).
#pragma once

#include <atomic>
#include <cstdint>

#include "mn/detail/sema.hpp"

namespace mn {

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() {
    int32_t expected = 0;
    // acquire pairs with the release in unlock(): the critical sections are ordered.
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    LockSlow();
  }
  bool try_lock();
  // Throws std::logic_error when the mutex is not locked (Go: "unlock of unlocked mutex").
  void unlock() {
    // release pairs with lock()'s acquire.
    int32_t next = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (next != 0) UnlockSlow(next);
  }

 private:
  static constexpr int32_t kLocked = 1;
  static constexpr int32_t kWoken = 2;
  static constexpr int32_t kStarving = 4;
  static constexpr int kWaiterShift = 3;

  void LockSlow();
  void UnlockSlow(int32_t next);

  std::atomic<int32_t> state_{0};
  detail::Sema sema_;
};

}  // namespace mn
