// mn::detail::Sema: the one wait queue under every blocking primitive (Mutex, WaitGroup,
// and later RWMutex, Cond, Semaphore). It is Go's semaphore (runtime/sema.go) with the
// queue kept in the object itself rather than in a global address-hashed table, so a
// Sema costs 32 bytes and two Semas never share a lock.
//
// Invariants:
//  - count_ is the number of tokens; acquire() consumes one, release() adds one.
//  - nwait_ counts waiters queued or about to queue; release() skips the lock when it is
//    0. A waiter increments it under lock_ before re-checking count_, and release()
//    increments count_ before reading nwait_; both are seq_cst, so one of the two sides
//    always sees the other (no lost wakeup).
//  - A waiter (a G, or a plain thread outside the runtime) lives on its own stack and is
//    linked in only while it waits.
#pragma once

#include <atomic>
#include <cstdint>

namespace mn::detail {

struct SemaWaiter;  // userspace/sema.cpp: one waiting party, on the waiter's stack

// A test-and-test-and-set lock for the few instructions that guard a wait queue.
class SpinLock {
 public:
  void lock() noexcept;
  void unlock() noexcept { v_.store(0, std::memory_order_release); }  // pairs with lock()'s acquire
 private:
  std::atomic<uint32_t> v_{0};
};

class Sema {
 public:
  explicit Sema(uint32_t initial = 0) : count_(initial) {}
  Sema(const Sema&) = delete;
  Sema& operator=(const Sema&) = delete;

  // Waits for a token and takes it. lifo puts the caller at the head of the queue (a
  // Mutex waiter that was woken and lost the race goes back to the front, as in Go).
  // wait_reason is a detail::WaitReason, recorded for dumps.
  void acquire(bool lifo = false, uint8_t wait_reason = 0);
  bool try_acquire() noexcept;
  // Adds a token and wakes the first waiter. With handoff, the token goes straight to
  // that waiter and the caller yields so that it runs at once (Mutex starvation mode).
  void release(bool handoff = false);
  // Adds n tokens and wakes up to n waiters, touching the Sema only before the first
  // wakeup: a woken waiter may destroy the object that holds it (WaitGroup::wait's caller).
  void release_many(uint32_t n);

 private:
  std::atomic<uint32_t> count_;
  std::atomic<uint32_t> nwait_{0};
  SpinLock lock_;
  SemaWaiter* head_ = nullptr;  // guarded by lock_
  SemaWaiter* tail_ = nullptr;  // guarded by lock_
};

}  // namespace mn::detail
