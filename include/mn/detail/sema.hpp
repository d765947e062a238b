// mn::detail::Sema: the one wait queue under every blocking primitive (Mutex, WaitGroup,
// and later RWMutex, Cond, Semaphore). It is Go's semaphore (runtime/sema.go) with the
// queue kept in the object itself rather than in a global address-hashed table, so a
// Sema costs 32 bytes and two Semas never share a lock.
//
// Invariants:
//  - One 64-bit word, state_, holds the token count (high 32 bits), the queue lock
//    (kLocked) and "the queue is not empty" (kQueued). Every change to any of the three is
//    one atomic read-modify-write of that word, so they are seen in one order.
//  - The queue (head_/tail_) is touched only with kLocked held. kQueued is set by the
//    waiter that enqueues, under the lock, and cleared by the releaser that empties it.
//  - release() adds a token only when nobody holds the lock and nobody is queued, in one
//    CAS; otherwise it takes the lock and hands the token straight to the queue's head.
//    A waiter re-checks the count under the lock before it queues, so a token is never
//    left in the count while a waiter sleeps (no lost wakeup).
//  - A releaser's last access to the Sema is one RMW that publishes its tokens (and
//    drops the lock). A waiter returns only on a token it took from the count or was
//    handed, that is, after that RMW. So the party that returns may destroy the Sema at
//    once (a WaitGroup on the waiter's stack, a Mutex freed by whoever locks it last),
//    as Go allows; a Sema holding its count in a separate word from its queue would be
//    read by the releaser after the waiter left.
//  - A waiter (a G, or a plain thread outside the runtime) lives on its own stack and is
//    linked in only while it waits.
#pragma once

#include <atomic>
#include <cstdint>

namespace mn::detail {

struct G;           // userspace/sched.hpp
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
  explicit Sema(uint32_t initial = 0) : state_(uint64_t{initial} << 32) {}
  Sema(const Sema&) = delete;
  Sema& operator=(const Sema&) = delete;

  // Waits for a token and takes it. lifo puts the caller at the head of the queue (a
  // Mutex waiter that was woken and lost the race goes back to the front, as in Go).
  // wait_reason is a detail::WaitReason, recorded for dumps.
  void acquire(bool lifo = false, uint8_t wait_reason = 0);
  bool try_acquire() noexcept;
  // Gives a token to the first waiter, or adds it to the count when nobody waits. With
  // handoff the caller then yields, so that the waiter runs at once (Mutex starvation
  // mode).
  void release(bool handoff = false) { release_many(1, handoff); }
  // Gives n tokens: one to each of the first n waiters, the rest to the count.
  void release_many(uint32_t n, bool handoff = false);

 private:
  static constexpr uint64_t kLocked = 1;
  static constexpr uint64_t kQueued = 2;
  static constexpr uint64_t kToken = uint64_t{1} << 32;

  uint64_t Lock() noexcept;  // returns the word as it was once locked
  static bool Unlock(G*, void* sema);  // Block's unlockf: drops kLocked

  std::atomic<uint64_t> state_;
  SemaWaiter* head_ = nullptr;  // guarded by kLocked
  SemaWaiter* tail_ = nullptr;  // guarded by kLocked
};

}  // namespace mn::detail
