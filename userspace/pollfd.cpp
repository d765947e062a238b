// The public waits on any fd (mn/netpoll.hpp): wait_readable / wait_writable and PollFd,
// on NetFd (netfd.hpp), which owns nothing here: the fd stays the caller's.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "errors.hpp"
#include "mn/netpoll.hpp"
#include "netfd.hpp"
#include "sched.hpp"

namespace mn {

namespace {

const char* Op(bool write) { return write ? "wait_writable" : "wait_readable"; }

// A registration of fd for as long as h lives. EEXIST (the fd is already in this runtime's
// epoll set: an mn::net socket, or another G's wait): a duplicate of it is a distinct entry
// in the set, so register that instead, closed with the registration.
absl::StatusOr<std::shared_ptr<detail::NetFd>> Register(int fd, const char* what) {
  auto h = std::make_shared<detail::NetFd>(fd, false, "fd");
  if (h->open_error == EEXIST) {
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return detail::ErrnoError(errno, absl::StrFormat("%s(fd %d): dup", what, fd));
    h = std::make_shared<detail::NetFd>(dup, true, "fd");
  }
  h->user_fd = fd;
  if (h->open_error != 0) {
    return detail::ErrnoError(h->open_error, absl::StrFormat("%s(fd %d)", what, fd));
  }
  return h;
}

absl::Status WaitOnce(int fd, bool write, Deadline d) {
  detail::CheckPState();
  absl::StatusOr<std::shared_ptr<detail::NetFd>> h = Register(fd, Op(write));
  if (!h.ok()) return h.status();
  absl::Status s = (*h)->Wait(write, d.ns(), Op(write));
  (*h)->Close();
  return s;
}

absl::Status Wait(detail::NetFd* h, bool write, Deadline d) {
  detail::CheckPState();
  if (h == nullptr) return absl::FailedPreconditionError(absl::StrCat("PollFd::", Op(write), ": empty PollFd"));
  detail::FdRef ref(h);
  if (!ref.ok()) return h->ClosedError(Op(write));
  return h->Wait(write, d.ns(), Op(write));
}

}  // namespace

absl::Status wait_readable(int fd, Deadline deadline) { return WaitOnce(fd, false, deadline); }
absl::Status wait_writable(int fd, Deadline deadline) { return WaitOnce(fd, true, deadline); }

absl::StatusOr<PollFd> PollFd::make(int fd) {
  absl::StatusOr<std::shared_ptr<detail::NetFd>> h = Register(fd, "PollFd::make");
  if (!h.ok()) return h.status();
  PollFd p;
  p.fd_ = fd;
  p.h_ = std::move(*h);
  return p;
}

PollFd::PollFd(PollFd&& o) noexcept : fd_(o.fd_), h_(std::move(o.h_)) { o.fd_ = -1; }

PollFd& PollFd::operator=(PollFd&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = o.fd_;
    h_ = std::move(o.h_);
    o.fd_ = -1;
  }
  return *this;
}

PollFd::~PollFd() { close(); }

absl::Status PollFd::wait_readable(Deadline deadline) { return Wait(h_.get(), false, deadline); }
absl::Status PollFd::wait_writable(Deadline deadline) { return Wait(h_.get(), true, deadline); }

void PollFd::close() {
  if (h_) h_->Close();
}

}  // namespace mn
