// NetFd: an fd that Gs wait on through the netpoller, with the lifetime rules that make
// closing it safe while other Gs use it (Go's internal/poll.FD and its fdMutex).
//
// Invariants:
//  - `state` holds a closed bit and a count of operations in progress. An operation
//    counts itself in (Incref) before it touches fd or pd and out (Decref) when done;
//    Incref fails once closed. So the fd number is not closed, and pd not recycled, under a
//    running operation: the last Decref after Close does both (Destroy).
//  - Close marks pd closing and wakes its waiters (PollEvict), which then see is_closed
//    and count themselves out; it unregisters the fd from epoll at once, while the fd
//    number is certainly still this file's (a PollFd's fd belongs to its caller, who may
//    close it as soon as close() returns).
//  - One reader and one writer at a time (rmu / wmu): a PollDesc has one wait slot per
//    direction, and interleaved partial reads of one stream would be meaningless anyway.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "mn/mutex.hpp"
#include "mn/netpoll.hpp"
#include "netpoll.hpp"

namespace mn::detail {

struct NetFd {
  // Takes fd (owns_fd: closes it when destroyed) and registers it with the calling G's
  // runtime; outside a G, or when epoll refuses the fd (a regular file), pd stays null and
  // waits use poll(2). kind names the socket in messages ("tcp", "udp", "unix", "fd").
  NetFd(int fd, bool owns_fd, const char* kind);
  ~NetFd();
  NetFd(const NetFd&) = delete;
  NetFd& operator=(const NetFd&) = delete;
  // epoll_ctl's errno when registration failed for a reason other than "not pollable".
  int open_error = 0;

  bool Incref();
  void Decref();
  // First close: evict waiters, unregister, drop the owner's count. false: already closed.
  bool Close();
  bool closed() const { return state.load(std::memory_order_acquire) & kClosed; }

  // Waits for the fd to be ready, up to the earlier of deadline_ns and the lasting
  // deadline of that direction. OK (retry the call), DeadlineExceeded or Cancelled.
  // Errors name the operation `op` (e.g. "read") and the socket.
  absl::Status Wait(bool write, int64_t deadline_ns, const char* op);
  // Before an operation: closed, or a deadline already passed, fails it at once (Go's
  // prepareRead / prepareWrite), even when the call itself would succeed.
  absl::Status Prepare(bool write, int64_t deadline_ns, const char* op);
  void SetDeadline(bool write, int64_t deadline_ns);

  // "read(tcp 127.0.0.1:5000->127.0.0.1:41234)": the addresses are read from the fd, so
  // only error paths build it.
  std::string Op(const char* op) const;
  absl::Status ClosedError(const char* op) const;
  absl::Status TimeoutError(const char* op) const;
  absl::Status Error(int err, const char* op) const;  // errno

  const int fd;
  int user_fd = -1;  // shown in messages instead of fd (PollFd on a dup of the caller's)
  const bool owns_fd;
  const char* const kind;
  PollDesc* pd = nullptr;
  std::shared_ptr<Netpoll> np;  // keeps pd's memory alive, past the runtime if need be
  Mutex rmu, wmu;
  // Set only before the NetFd is shared: what Op shows instead of the fd's addresses (a
  // dial names the address it dials), and a Unix listener's path, removed on destruction.
  std::string label;
  std::string unlink_path;

 private:
  static constexpr uint64_t kClosed = 1, kRef = 2;
  void Destroy();
  std::atomic<uint64_t> state{kRef};  // the owner's count: dropped by Close
  std::atomic<int64_t> rd{0}, wd{0};  // lasting deadlines, for the poll(2) path
};

// RAII Incref/Decref for one operation.
class FdRef {
 public:
  explicit FdRef(NetFd* fd) : fd_(fd), ok_(fd->Incref()) {}
  ~FdRef() {
    if (ok_) fd_->Decref();
  }
  FdRef(const FdRef&) = delete;
  FdRef& operator=(const FdRef&) = delete;
  bool ok() const { return ok_; }

 private:
  NetFd* fd_;
  bool ok_;
};

}  // namespace mn::detail
