// Note: a one-shot event an M sleeps on (Go's note, lock_futex.go), plus the raw futex
// calls the rest of the runtime uses to block plain threads.
//
// Invariants: Wakeup() is called at most once between Clear()s (a second call is a
// runtime bug and aborts); Sleep() returns only after Wakeup(); the key's release store
// in Wakeup pairs with the acquire load in Sleep, so whatever the waker wrote before
// waking (e.g. m->nextp) is visible to the sleeper.
#pragma once

#include <atomic>
#include <cstdint>

namespace mn::detail {

void FutexWait(std::atomic<uint32_t>* addr, uint32_t expected, int64_t timeout_ns = -1);
void FutexWake(std::atomic<uint32_t>* addr, int count);

class Note {
 public:
  void Clear() { key_.store(0, std::memory_order_relaxed); }
  void Wakeup();
  void Sleep();
  // Sleeps until woken or timeout_ns passes; returns true if woken.
  bool SleepFor(int64_t timeout_ns);
  bool Woken() const { return key_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<uint32_t> key_{0};
};

int64_t NanoTime();  // CLOCK_MONOTONIC

}  // namespace mn::detail
