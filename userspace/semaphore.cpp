// mn::Semaphore: golang.org/x/sync/semaphore.Weighted, with a wait queue of its own.
//
// Invariants (all state is guarded by lock_):
//  - 0 <= cur_ <= size_: cur_ counts units granted, to holders and to waiters already
//    unlinked but not yet woken.
//  - The queue is FIFO. Units are granted to the head waiter only, and only while it fits
//    (TakeReady); a newcomer gets units at once only when the queue is empty. So no waiter
//    is ever overtaken, which is what keeps large requests from starving.
//  - Whenever the queue is non-empty, its head does not fit (size_ - cur_ < head->n):
//    a waiter queues only behind a head that does not fit or, as the head, when it does
//    not fit itself; units are freed only by release(), which runs TakeReady before
//    unlocking. So no waiter sleeps while it could be served.
//  - A waiter is granted its units, and unlinked, under lock_ by someone else; it is woken
//    after the unlock, reads nothing of ours afterwards, and lives on its own stack, which
//    stays valid until Wake (it cannot return before then).
// lock_ is a spin lock: its critical sections are a few instructions and never block.
#include "mn/semaphore.hpp"

#include <stdexcept>

#include "park.hpp"
#include "sched.hpp"

namespace mn {

namespace detail {
struct SemaphoreWaiter {
  WaitSlot slot;
  int64_t n = 0;
  SemaphoreWaiter* next = nullptr;
};
}  // namespace detail

namespace {

void WakeAll(detail::SemaphoreWaiter* w) {
  while (w != nullptr) {
    detail::SemaphoreWaiter* next = w->next;  // before the wakeup: w may vanish after it
    detail::Wake(&w->slot);
    w = next;
  }
}

}  // namespace

Semaphore::Semaphore(int64_t n) : size_(n) {
  if (n < 0) throw std::logic_error("mn::Semaphore: negative capacity");
}

detail::SemaphoreWaiter* Semaphore::TakeReady() {
  detail::SemaphoreWaiter* served = nullptr;
  detail::SemaphoreWaiter** served_tail = &served;
  while (head_ != nullptr && size_ - cur_ >= head_->n) {
    detail::SemaphoreWaiter* w = head_;
    cur_ += w->n;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    w->next = nullptr;
    *served_tail = w;
    served_tail = &w->next;
  }
  // Stop at the first waiter that does not fit, even if a later one would: serving the
  // later ones could starve it forever (x/sync's choice).
  return served;
}

void Semaphore::acquire(int64_t k) {
  detail::CheckPState();
  if (k < 0) throw std::logic_error("mn::Semaphore::acquire: negative count");
  if (k > size_) {
    throw std::logic_error("mn::Semaphore::acquire: count exceeds the capacity (would block forever)");
  }
  detail::SemaphoreWaiter w;
  w.n = k;
  detail::PrepareWait(&w.slot);
  lock_.lock();
  if (head_ == nullptr && size_ - cur_ >= k) {
    cur_ += k;
    lock_.unlock();
    return;
  }
  if (tail_ != nullptr) tail_->next = &w; else head_ = &w;
  tail_ = &w;
  // The queue was empty and we did not fit, or it was not empty and its head does not
  // fit: either way the head does not fit now, so nobody else can be served yet.
  detail::Block(&w.slot, &detail::UnlockSpinLock, &lock_, detail::WaitReason::kSemaphore);
  // A releaser granted our units before waking us.
}

bool Semaphore::try_acquire(int64_t k) {
  if (k < 0) throw std::logic_error("mn::Semaphore::try_acquire: negative count");
  lock_.lock();
  bool ok = head_ == nullptr && size_ - cur_ >= k;
  if (ok) cur_ += k;
  lock_.unlock();
  return ok;
}

void Semaphore::release(int64_t k) {
  if (k < 0) throw std::logic_error("mn::Semaphore::release: negative count");
  lock_.lock();
  if (k > cur_) {
    lock_.unlock();
    throw std::logic_error("mn::Semaphore::release: released more than held");
  }
  cur_ -= k;
  detail::SemaphoreWaiter* served = TakeReady();
  lock_.unlock();
  WakeAll(served);
}

}  // namespace mn
