// mn::RWMutex: Go's sync.RWMutex algorithm on two Semas and a Mutex.
//
// Invariants:
//  - reader_count_ = (readers holding or waiting for the read lock) - (kMaxReaders if a
//    writer holds or waits for the write lock). A reader's fetch_add that returns a
//    non-negative value holds the lock at once; a negative one means a writer is there, and
//    the reader waits on reader_sem_ (it is counted, so the writer's unlock knows to wake
//    it).
//  - w_ is held by exactly one writer from the start of lock() to the end of unlock(), so at
//    most one writer ever makes reader_count_ negative and there is no writer-writer race
//    on reader_wait_ or writer_sem_.
//  - When a writer announces itself, the r readers it saw in reader_count_ are the only
//    ones it must wait for ("departing" readers): every later reader sees the negative
//    count and queues. reader_wait_ counts departing readers still inside. Both the writer
//    (adding r) and each departing reader (subtracting 1) touch it exactly once, in either
//    order; whoever brings it to 0 after both sides acted decides: the reader releases
//    writer_sem_ if it hit 0, and the writer skips waiting if its add hit 0. Exactly one
//    token is released per wait, so writer_sem_ never holds a stale token.
//  - unlock() releases reader_sem_ once per reader that queued while the writer held the
//    lock; each release wakes one of them (Sema keeps surplus tokens for readers that
//    counted themselves but have not yet queued).
//
// All operations on reader_count_ and reader_wait_ are seq_cst read-modify-writes, as Go's
// atomics are: each RMW reads the latest value in the modification order, which is what the
// counting arguments above need, and the acquire/release half of each RMW orders the
// critical sections (a reader that gets in without waiting synchronizes with the writer's
// unlock through reader_count_; a writer that does not wait synchronizes with the last
// departing reader through reader_wait_ or reader_count_; the Semas order the others).
#include <cstdio>
#include <cstdlib>

#include "g.hpp"
#include "mn/rwmutex.hpp"

namespace mn {

namespace {

[[noreturn]] void Fatal(const char* what) {
  // Go makes these fatal errors, not panics: the counters are already corrupt.
  std::fprintf(stderr, "mn: fatal: sync: %s\n", what);
  std::abort();
}

}  // namespace

void RWMutex::lock_shared() {
  // seq_cst RMW: acquire half pairs with the release half of unlock()'s fetch_add, so the
  // last writer's critical section happens before ours when we do not wait.
  if (reader_count_.fetch_add(1, std::memory_order_seq_cst) + 1 < 0) {
    // A writer holds or waits for the lock: it will release reader_sem_ once for us.
    reader_sem_.acquire(false, static_cast<uint8_t>(detail::WaitReason::kRWMutexR));
  }
}

bool RWMutex::try_lock_shared() {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  for (;;) {
    if (c < 0) return false;  // a writer holds or waits: do not overtake it
    // seq_cst as in lock_shared (pairs with unlock()'s fetch_add).
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_seq_cst,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
}

void RWMutex::unlock_shared() {
  // seq_cst RMW: release half publishes our reads to a writer that later reads the count.
  int32_t r = reader_count_.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (r >= 0) return;
  if (r + 1 == 0 || r + 1 == -kMaxReaders) Fatal("RUnlock of unlocked RWMutex");
  // A writer is waiting and we are one of the readers it waits for. seq_cst RMW: pairs
  // with the writer's fetch_add on reader_wait_; the one that reaches 0 second wins.
  if (reader_wait_.fetch_sub(1, std::memory_order_seq_cst) - 1 == 0) {
    writer_sem_.release(false);  // the last departing reader lets the writer in
  }
}

void RWMutex::lock() {
  // Writers queue on w_ first, so only one of them at a time deals with readers.
  w_.lock();
  // seq_cst RMW: from here on new readers see a negative count and queue; r is the number
  // of readers already in (acquire half pairs with their unlock_shared fetch_sub).
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_seq_cst);
  // seq_cst RMW: pairs with departing readers' fetch_sub on reader_wait_.
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_seq_cst) + r != 0) {
    writer_sem_.acquire(false, static_cast<uint8_t>(detail::WaitReason::kRWMutexW));
  }
}

bool RWMutex::try_lock() {
  if (!w_.try_lock()) return false;
  int32_t zero = 0;
  // seq_cst: only when no reader is in or queued (pairs as lock()'s fetch_sub).
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_seq_cst,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  // seq_cst RMW: release half pairs with the acquire half of readers' fetch_add (those
  // that get in without waiting); r is the number of readers that queued meanwhile.
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_seq_cst) + kMaxReaders;
  if (r >= kMaxReaders) Fatal("Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) reader_sem_.release(false);
  // Only now may the next writer announce itself: the readers released above are in.
  w_.unlock();
}

}  // namespace mn
