// mn::Once: runs a function exactly once (Go's sync.Once). Callers that arrive while it runs
// wait (a G parks, a plain thread blocks) until it has finished, so when call() returns,
// the function's effects are visible to the caller, whichever call ran it.
//
// Differs from Go: if f throws, the Once is not marked done and the exception propagates
// to that caller; the next call (or a waiting one) runs f again. In Go, a panicking f
// counts as done and later calls do nothing, which in C++ would leave the Once's users
// with a half-initialized result and no way to retry.
//
// Calling call() on the same Once from inside f deadlocks, as in Go.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <utility>

#include "mn/mutex.hpp"

namespace mn {

class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  template <class F>
  void call(F&& f) {
    // Fast path: acquire pairs with the release store in CallSlow, so f's effects are
    // visible to everyone who sees done_.
    if (done_.load(std::memory_order_acquire)) return;
    CallSlow(std::forward<F>(f));
  }

  // True once f has returned normally.
  bool done() const { return done_.load(std::memory_order_acquire); }  // as call()

 private:
  template <class F>
  void CallSlow(F&& f) {
    // Under m_, so that a concurrent caller does not return before f has finished (a CAS
    // on done_ alone would let it return early, as Go's comment on Do explains).
    std::lock_guard<Mutex> lock(m_);
    // relaxed: done_ is only written under m_, which we hold.
    if (done_.load(std::memory_order_relaxed)) return;
    std::invoke(std::forward<F>(f));
    // release pairs with the acquire loads on the fast path: set only after f returned.
    done_.store(true, std::memory_order_release);
  }

  std::atomic<bool> done_{false};
  Mutex m_;
};

}  // namespace mn
