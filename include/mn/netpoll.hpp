// Waiting on file descriptors without holding a thread: the netpoller's public face.
//
// A G that waits for an fd parks; the runtime's epoll instance readies it when the fd is
// ready, so ten thousand Gs waiting on sockets cost ten thousand parked Gs and no thread.
// Sockets (mn/net.hpp) use this underneath; these calls are for any other pollable fd:
// pipes, eventfd, timerfd, signalfd, inotify, a socket made elsewhere.
//
//  - mn::wait_readable / wait_writable(fd, deadline): registers fd for the wait only (two
//    epoll_ctl calls). For an fd waited on again and again, keep an mn::PollFd: one
//    registration for the fd's whole life, as the runtime's own sockets have.
//  - Readiness is edge-triggered: "ready" means the fd became (or already was) readable;
//    read until EAGAIN before waiting again, or the wait can sleep through data that is
//    already there.
//  - Outside a G (a plain thread, or no runtime at all) they block the thread in poll(2).
//  - Errors follow docs/errors.md: absl::Status naming the call and fd. A deadline that
//    passes gives DeadlineExceeded ("i/o timeout"); a wait ended by PollFd::close, or an fd
//    whose registration was closed, gives Cancelled; a regular file (which epoll refuses:
//    it is always ready) gives OK at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mn/timer.hpp"

namespace mn {

// When an operation gives up. Converts from a time point (an absolute deadline) and from
// a duration (a timeout, counted from the conversion); the default is "never".
class Deadline {
 public:
  constexpr Deadline() = default;
  template <class Duration>
  Deadline(std::chrono::time_point<Clock, Duration> t)  // NOLINT: implicit on purpose
      : ns_(ToNs(t)) {}
  template <class Rep, class Period>
  Deadline(std::chrono::duration<Rep, Period> timeout)  // NOLINT: implicit on purpose
      : ns_(ToNs(Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout))) {}
  static constexpr Deadline none() { return Deadline(); }

  bool is_none() const { return ns_ == 0; }
  // CLOCK_MONOTONIC nanoseconds (0: none; a deadline at or before the clock's epoch is 1,
  // already passed).
  int64_t ns() const { return ns_; }
  // The earlier of two deadlines (none is later than any).
  static Deadline earliest(Deadline a, Deadline b) {
    if (a.is_none()) return b;
    if (b.is_none()) return a;
    return a.ns_ < b.ns_ ? a : b;
  }

 private:
  template <class Duration>
  static int64_t ToNs(std::chrono::time_point<Clock, Duration> t) {
    if (t == std::chrono::time_point<Clock, Duration>::max()) return 0;
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return ns <= 0 ? 1 : ns;
  }
  int64_t ns_ = 0;
};

// Waits until fd is readable (writable), the deadline passes, or the registration is closed.
absl::Status wait_readable(int fd, Deadline deadline = {});
absl::Status wait_writable(int fd, Deadline deadline = {});

namespace detail {
struct NetFd;
}

// One epoll registration of an fd the caller owns, for as long as this object lives, in the
// runtime that made it. Move-only. At most one G waits for reading and one for writing at
// a time (a second concurrent waiter in the same direction gets FailedPrecondition).
class PollFd {
 public:
  PollFd() = default;
  // Registers fd (which stays the caller's: it is not closed here). Outside a G the
  // object keeps the fd only and its waits use poll(2).
  static absl::StatusOr<PollFd> make(int fd);
  PollFd(PollFd&& o) noexcept;
  PollFd& operator=(PollFd&& o) noexcept;
  PollFd(const PollFd&) = delete;
  PollFd& operator=(const PollFd&) = delete;
  ~PollFd();  // close()

  absl::Status wait_readable(Deadline deadline = {});
  absl::Status wait_writable(Deadline deadline = {});
  // Ends the registration; a G waiting on it wakes with Cancelled. Call it before closing
  // the fd. Idempotent.
  void close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::shared_ptr<detail::NetFd> h_;
};

}  // namespace mn
