// mn::Mutex and mn::WaitGroup, both on Sema (include/mn/detail/sema.hpp).
//
// Mutex is Go's sync.Mutex algorithm. The state word holds: locked (bit 0), woken (bit 1:
// a waiter has been woken or a spinner is about to take the lock, so unlock need not wake
// another), starving (bit 2: the lock is handed directly from unlocker to the first
// waiter), and the waiter count above them.
//  - Normal mode: a woken waiter competes with newly arriving Gs, which usually win (they
//    are already on a CPU). That gives throughput.
//  - A waiter that fails to get the lock for more than 1 ms switches the mutex to
//    starvation mode: unlock hands the lock to the queue's head, newcomers queue at the
//    tail and neither spin nor barge. The mode ends when the last waiter gets the lock or
//    one waited less than 1 ms. That bounds tail latency.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "mn/mutex.hpp"
#include "mn/waitgroup.hpp"
#include "sched.hpp"

namespace mn {

namespace {
constexpr int64_t kStarvationThresholdNs = 1'000'000;
}  // namespace

bool Mutex::try_lock() {
  int32_t old = state_.load(std::memory_order_relaxed);
  if (old & (kLocked | kStarving)) return false;
  // acquire pairs with unlock()'s release.
  return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

void Mutex::LockSlow() {
  int64_t wait_start = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the lock is held in normal mode and spinning may pay off.
    if ((old & (kLocked | kStarving)) == kLocked && detail::CanSpin(iter)) {
      // Set woken so that unlock does not wake another waiter while we spin.
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken)) {
        awoke = true;
      }
      detail::DoSpin();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t next = old;
    // In starvation mode newcomers do not barge: the lock belongs to the queue.
    if ((old & kStarving) == 0) next |= kLocked;
    if (old & (kLocked | kStarving)) next += 1 << kWaiterShift;
    // Switch to starvation mode, but only if still locked (unlock expects waiters then).
    if (starving && (old & kLocked)) next |= kStarving;
    if (awoke) {
      if ((next & kWoken) == 0) {
        std::fprintf(stderr, "mn: fatal: sync: inconsistent mutex state\n");
        std::abort();
      }
      next &= ~kWoken;
    }
    // seq_cst (acquire at least): taking the lock pairs with unlock()'s release.
    if (state_.compare_exchange_strong(old, next)) {
      if ((old & (kLocked | kStarving)) == 0) return;  // locked it
      bool lifo = wait_start != 0;  // waited before: back to the front of the queue
      if (wait_start == 0) wait_start = detail::NanoTime();
      sema_.acquire(lifo, static_cast<uint8_t>(detail::WaitReason::kMutex));
      starving = starving || detail::NanoTime() - wait_start > kStarvationThresholdNs;
      old = state_.load(std::memory_order_relaxed);
      if (old & kStarving) {
        // The lock was handed to us; state still counts us as a waiter.
        if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0) {
          std::fprintf(stderr, "mn: fatal: sync: inconsistent mutex state\n");
          std::abort();
        }
        int32_t delta = kLocked - (1 << kWaiterShift);
        if (!starving || (old >> kWaiterShift) == 1) {
          // Leave starvation mode: we waited briefly, or we are the last waiter (staying
          // would make the next lock/unlock pair pay for handoffs with nobody waiting).
          delta -= kStarving;
        }
        state_.fetch_add(delta);
        return;
      }
      awoke = true;
      iter = 0;
    } else {
      old = state_.load(std::memory_order_relaxed);
    }
  }
}

void Mutex::UnlockSlow(int32_t next) {
  if (((next + kLocked) & kLocked) == 0) {
    // Go makes this a fatal error rather than a panic: the state is already corrupt.
    std::fprintf(stderr, "mn: fatal: sync: unlock of unlocked mutex\n");
    std::abort();
  }
  if ((next & kStarving) == 0) {
    int32_t old = next;
    for (;;) {
      // Nobody to wake, or someone already woken / holding / handed the lock.
      if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
      int32_t n = (old - (1 << kWaiterShift)) | kWoken;
      if (state_.compare_exchange_strong(old, n)) {
        sema_.release(false);
        return;
      }
    }
  }
  // Starvation mode: hand the lock to the first waiter and let it run at once. The
  // locked bit stays clear; the waiter sets it, and newcomers see starving and queue.
  sema_.release(true);
}

void WaitGroup::add(int64_t delta) {
  // seq_cst: pairs with wait()'s CAS on the same word.
  uint64_t state = state_.fetch_add(static_cast<uint64_t>(delta) << 32) +
                   (static_cast<uint64_t>(delta) << 32);
  auto v = static_cast<int32_t>(state >> 32);
  auto w = static_cast<uint32_t>(state);
  if (v < 0) throw std::logic_error("mn::WaitGroup: negative counter");
  if (w != 0 && delta > 0 && v == static_cast<int32_t>(delta)) {
    throw std::logic_error("mn::WaitGroup misuse: add called concurrently with wait");
  }
  if (v > 0 || w == 0) return;
  // The counter is 0 and there are waiters: nobody may touch the state now but us.
  if (state_.load() != state) {
    throw std::logic_error("mn::WaitGroup misuse: add called concurrently with wait");
  }
  state_.store(0);
  // One call for all waiters: once the first wakes, it may destroy this WaitGroup.
  sema_.release_many(w);
}

void WaitGroup::wait() {
  uint64_t state = state_.load();
  for (;;) {
    if ((state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1)) {
      sema_.acquire(false, static_cast<uint8_t>(detail::WaitReason::kWaitGroup));
      if (state_.load() != 0) {
        throw std::logic_error("mn::WaitGroup is reused before previous wait has returned");
      }
      return;
    }
  }
}

}  // namespace mn
