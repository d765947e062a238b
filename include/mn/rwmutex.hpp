// mn::RWMutex: a reader/writer lock that parks the G, never the M (Go's sync.RWMutex).
// Any number of readers or one writer hold it. It prefers writers: once a writer is
// waiting, new readers wait behind it, so a stream of readers cannot starve writers (and,
// as in Go, a reader must not lock_shared recursively: a writer queued between the two
// calls deadlocks them).
//
// Meets SharedLockable, so std::unique_lock and std::shared_lock work. Usable from plain
// threads outside the runtime too (they block). As with mn::Mutex, a lock is not owned by
// a G: one G may lock it and another unlock it.
//
// Errors (docs/errors.md): unlock() of a mutex not locked for writing and unlock_shared()
// of one not locked for reading corrupt its state, so they are fatal, as in Go: a message
// starting "mn: fatal: sync:" on stderr, then abort().
#pragma once

#include <atomic>
#include <cstdint>

#include "mn/detail/sema.hpp"
#include "mn/mutex.hpp"

namespace mn {

class RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();

  void lock_shared();
  bool try_lock_shared();
  void unlock_shared();

 private:
  // A writer subtracts this from reader_count_ to announce itself: the count goes
  // negative while a writer holds or waits for the lock, and still counts readers.
  static constexpr int32_t kMaxReaders = 1 << 30;

  Mutex w_;                             // held by the writer, and by a writer waiting
  detail::Sema writer_sem_;             // the writer waits here for departing readers
  detail::Sema reader_sem_;             // readers wait here for the writer
  std::atomic<int32_t> reader_count_{0};  // readers holding or waiting (minus kMaxReaders)
  std::atomic<int32_t> reader_wait_{0};   // readers the waiting writer still waits for
};

}  // namespace mn
