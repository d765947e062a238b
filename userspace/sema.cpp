// Sema: see include/mn/detail/sema.hpp for the invariants.
#include "mn/detail/sema.hpp"

#include <sched.h>

#include "park.hpp"
#include "sched.hpp"

namespace mn::detail {

struct SemaWaiter {
  WaitSlot slot;
  SemaWaiter* next = nullptr;
  bool handoff = false;  // release() passed its token straight to this waiter
};

void SpinLock::lock() noexcept {
  for (int spins = 0;; spins++) {
    // acquire pairs with unlock()'s release.
    if (v_.load(std::memory_order_relaxed) == 0 &&
        v_.exchange(1, std::memory_order_acquire) == 0) {
      return;
    }
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      // The holder's thread may have been descheduled by the kernel.
      sched_yield();
    }
  }
}

bool Sema::try_acquire() noexcept {
  uint32_t v = count_.load(std::memory_order_relaxed);
  while (v > 0) {
    // acquire pairs with release()'s increment: what the releaser did happens before.
    if (count_.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void Sema::acquire(bool lifo, uint8_t wait_reason) {
  CheckPState();  // contended locks and waits are calls into the runtime
  if (try_acquire()) return;
  SemaWaiter w;
  for (;;) {
    PrepareWait(&w.slot);
    lock_.lock();
    // seq_cst: pairs with release()'s seq_cst increment of count_ and load of nwait_.
    nwait_.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire()) {
      nwait_.fetch_sub(1, std::memory_order_seq_cst);
      lock_.unlock();
      return;
    }
    w.next = nullptr;
    w.handoff = false;
    if (lifo) {
      w.next = head_;
      head_ = &w;
      if (tail_ == nullptr) tail_ = &w;
    } else {
      if (tail_ != nullptr) tail_->next = &w; else head_ = &w;
      tail_ = &w;
    }
    Block(&w.slot, &UnlockSpinLock, &lock_, static_cast<WaitReason>(wait_reason));
    if (w.handoff || try_acquire()) return;
    // Woken, but another taker got the token first: queue again, as Go does.
  }
}

void Sema::release_many(uint32_t n) {
  // seq_cst: the same pairing as release().
  count_.fetch_add(n, std::memory_order_seq_cst);
  if (nwait_.load(std::memory_order_seq_cst) == 0) return;
  SemaWaiter* wake = nullptr;
  SemaWaiter** tail = &wake;
  lock_.lock();
  for (uint32_t i = 0; i < n && head_ != nullptr; i++) {
    SemaWaiter* w = head_;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    nwait_.fetch_sub(1, std::memory_order_seq_cst);
    w->next = nullptr;
    *tail = w;
    tail = &w->next;
  }
  lock_.unlock();
  while (wake != nullptr) {
    SemaWaiter* next = wake->next;  // read before the waiter may vanish
    Wake(&wake->slot);
    wake = next;
  }
}

void Sema::release(bool handoff) {
  // seq_cst: pairs with acquire()'s nwait_ increment then count_ re-check.
  count_.fetch_add(1, std::memory_order_seq_cst);
  if (nwait_.load(std::memory_order_seq_cst) == 0) return;
  lock_.lock();
  if (nwait_.load(std::memory_order_relaxed) == 0 || head_ == nullptr) {
    lock_.unlock();
    return;
  }
  SemaWaiter* w = head_;
  head_ = w->next;
  if (head_ == nullptr) tail_ = nullptr;
  nwait_.fetch_sub(1, std::memory_order_seq_cst);
  lock_.unlock();
  bool direct = handoff && try_acquire();
  w->handoff = direct;
  // After the wakeup the waiter may return and its stack frame (w) be gone.
  Wake(&w->slot);
  // Starvation mode: let the waiter run now, on this P, rather than after our slice.
  if (direct && CurrentG() != nullptr) Goyield();
}

}  // namespace mn::detail
