// mn::Semaphore: a weighted counting semaphore (golang.org/x/sync/semaphore.Weighted).
// It has a capacity of n units; acquire(k) takes k of them, waiting (the G parks, a plain
// thread blocks) until they are free; release(k) gives them back.
//
// Fair: waiters are served strictly in arrival order. A waiter for many units blocks every
// later one, even a small one that would fit now, so large requests cannot be starved by
// a stream of small ones (as in x/sync). try_acquire fails while anyone is waiting.
//
// Errors (docs/errors.md), thrown before anything changes:
//  - a negative capacity or k: std::logic_error;
//  - acquire(k) with k greater than the capacity: std::logic_error (x/sync would block
//    until its context is cancelled; with no context here that would be forever);
//  - release(k) of more units than are held: std::logic_error (x/sync panics).
#pragma once

#include <cstdint>

#include "mn/detail/sema.hpp"

namespace mn {

namespace detail {
struct SemaphoreWaiter;  // userspace/semaphore.cpp: one waiter, on its own stack
}  // namespace detail

class Semaphore {
 public:
  explicit Semaphore(int64_t n);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  void acquire(int64_t k = 1);
  bool try_acquire(int64_t k = 1);
  void release(int64_t k = 1);

  int64_t capacity() const { return size_; }

 private:
  // Serves queued waiters, in order, while the head one fits. Called with lock_ held;
  // returns the ones it served, unlinked, for the caller to wake after unlocking.
  detail::SemaphoreWaiter* TakeReady();

  const int64_t size_;
  detail::SpinLock lock_;
  int64_t cur_ = 0;                          // units held; guarded by lock_
  detail::SemaphoreWaiter* head_ = nullptr;  // guarded by lock_; FIFO
  detail::SemaphoreWaiter* tail_ = nullptr;  // guarded by lock_
};

}  // namespace mn
