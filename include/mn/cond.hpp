// mn::Cond: a condition variable bound to an mn::Mutex (Go's sync.Cond). Waiting parks the
// G, never the M; plain threads outside the runtime may wait and signal too (they block).
//
// Waiters take a ticket when they start waiting, and signal() wakes the holder of the
// oldest ticket not yet notified (Go's runtime notifyList). So a signal never wakes a
// waiter that started waiting after it, and waiters are woken in the order they arrived.
// signal() and broadcast() may be called with or without the mutex held.
//
// There are no spurious wakeups, but another party may change the condition between the
// wakeup and the re-lock, so wait in a loop (or use wait(pred)), as in Go.
#pragma once

#include <atomic>
#include <cstdint>

#include "mn/detail/sema.hpp"
#include "mn/mutex.hpp"

namespace mn {

namespace detail {
struct CondWaiter;  // userspace/cond.cpp: one waiter, on its own stack
}  // namespace detail

class Cond {
 public:
  explicit Cond(Mutex& m) : m_(m) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // Unlocks the mutex (which the caller must hold: otherwise the unlock is fatal, as for
  // Mutex), waits for a signal or broadcast, and locks the mutex again before returning.
  void wait();
  // Waits until p() is true; p is evaluated with the mutex held.
  template <class Pred>
  void wait(Pred p) {
    while (!p()) wait();
  }
  // Wakes the longest-waiting waiter, if any.
  void signal();
  // Wakes every waiter.
  void broadcast();

  Mutex& mutex() const { return m_; }

 private:
  void WaitTicket(uint32_t ticket);

  Mutex& m_;
  // Tickets wrap around; comparisons are modulo 2^32 (fine for < 2^31 waiters at once).
  std::atomic<uint32_t> wait_{0};    // the ticket the next waiter takes
  std::atomic<uint32_t> notify_{0};  // the next ticket to notify; written under lock_
  detail::SpinLock lock_;
  detail::CondWaiter* head_ = nullptr;  // guarded by lock_; queue order, not ticket order
  detail::CondWaiter* tail_ = nullptr;  // guarded by lock_
};

}  // namespace mn
