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
  uint64_t v = state_.load(std::memory_order_relaxed);
  while (v >= kToken) {
    // acquire pairs with release_many()'s acq_rel RMW that added the token: what the
    // releaser did happens before. The lock bits ride along unchanged.
    if (state_.compare_exchange_weak(v, v - kToken, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

uint64_t Sema::Lock() noexcept {
  for (int spins = 0;; spins++) {
    uint64_t v = state_.load(std::memory_order_relaxed);
    // acquire pairs with the release half of whichever RMW dropped kLocked last.
    if ((v & kLocked) == 0 &&
        state_.compare_exchange_weak(v, v | kLocked, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
      return v | kLocked;
    }
    if (spins < 64) {
      __builtin_ia32_pause();
    } else {
      sched_yield();  // the holder's thread may have been descheduled by the kernel
    }
  }
}

bool Sema::Unlock(G*, void* sema) {
  // release pairs with Lock()'s acquire: the queue as the waiter left it is seen.
  static_cast<Sema*>(sema)->state_.fetch_sub(kLocked, std::memory_order_release);
  return true;
}

void Sema::acquire(bool lifo, uint8_t wait_reason) {
  CheckPState();  // contended locks and waits are calls into the runtime
  if (try_acquire()) return;
  SemaWaiter w;
  for (;;) {
    PrepareWait(&w.slot);
    uint64_t v = Lock();
    // Under the lock a releaser cannot slip a token into the count unseen: it either
    // added it before our Lock (we take it here) or will find us queued.
    if (v >= kToken) {
      // acq_rel: takes the token (acquire, as try_acquire) and drops the lock (release).
      state_.fetch_sub(kToken + kLocked, std::memory_order_acq_rel);
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
    if ((v & kQueued) == 0) state_.fetch_or(kQueued, std::memory_order_relaxed);  // lock held
    Block(&w.slot, &Sema::Unlock, this, static_cast<WaitReason>(wait_reason));
    // release_many() hands every dequeued waiter its token; the loop only guards
    // against a wakeup that carried none.
    if (w.handoff) return;
  }
}

void Sema::release_many(uint32_t n, bool handoff) {
  if (n == 0) return;
  uint64_t v = state_.load(std::memory_order_relaxed);
  while ((v & (kLocked | kQueued)) == 0) {
    // Nobody queued and nobody about to queue: the tokens go to the count, and this
    // CAS is our last access. release pairs with try_acquire()'s acquire.
    if (state_.compare_exchange_weak(v, v + n * kToken, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      return;
    }
  }
  Lock();
  SemaWaiter* wake = nullptr;
  SemaWaiter** tail = &wake;
  uint32_t given = 0;
  for (; given < n && head_ != nullptr; given++) {
    SemaWaiter* w = head_;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    w->next = nullptr;
    w->handoff = true;
    *tail = w;
    tail = &w->next;
  }
  // One RMW publishes the leftover tokens, clears kQueued if the queue emptied and drops
  // the lock: our last access to the Sema (see the invariants). acq_rel: release pairs
  // with the next Lock() or try_acquire(); acquire orders it after Lock().
  uint64_t delta = (n - given) * kToken - kLocked;
  if (head_ == nullptr && given > 0) delta -= kQueued;
  state_.fetch_add(delta, std::memory_order_acq_rel);
  while (wake != nullptr) {
    SemaWaiter* next = wake->next;  // read before the waiter may vanish
    Wake(&wake->slot);
    wake = next;
  }
  // Starvation mode: let the waiter run now, on this P, rather than after our slice.
  if (handoff && given > 0 && CurrentG() != nullptr) Goyield();
}

}  // namespace mn::detail
