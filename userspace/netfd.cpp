// NetFd: see netfd.hpp for the lifetime invariants.
#include "netfd.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "errors.hpp"
#include "mn/blocking.hpp"
#include "mn/net.hpp"
#include "sched.hpp"

namespace mn::detail {

namespace {

// The runtime whose netpoller the calling G may wait on, or nullptr (a plain thread).
Runtime* PollingRuntime() {
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr) return nullptr;
  return m->rt;
}

int64_t Earliest(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a < b ? a : b;
}

}  // namespace

NetFd::NetFd(int fd_in, bool owns, const char* kind_in) : fd(fd_in), owns_fd(owns), kind(kind_in) {
  if (Runtime* rt = PollingRuntime()) {
    int err = 0;
    pd = PollOpen(rt, fd, &err);
    if (pd != nullptr) np = rt->netpoll;
    // EPERM: epoll does not take regular files and directories (always ready): poll(2)
    // answers at once for them.
    if (pd == nullptr && err != EPERM) open_error = err;
  }
}

NetFd::~NetFd() {
  Close();  // no operation can be running: the last reference to this object is going
}

bool NetFd::Incref() {
  uint64_t s = state.load(std::memory_order_relaxed);
  do {
    if (s & kClosed) return false;
    // acquire: pairs with Decref's release, as a lock would.
  } while (!state.compare_exchange_weak(s, s + kRef, std::memory_order_acquire,
                                        std::memory_order_relaxed));
  return true;
}

void NetFd::Decref() {
  // acq_rel: the last one out sees every other operation's effects before destroying.
  if (state.fetch_sub(kRef, std::memory_order_acq_rel) == (kClosed | kRef)) Destroy();
}

bool NetFd::Close() {
  uint64_t s = state.load(std::memory_order_relaxed);
  do {
    if (s & kClosed) return false;
  } while (!state.compare_exchange_weak(s, s | kClosed, std::memory_order_acq_rel,
                                        std::memory_order_relaxed));
  if (pd != nullptr) {
    PollEvict(pd);
    PollUnregister(pd);
  }
  Decref();  // the owner's count
  return true;
}

void NetFd::Destroy() {
  if (pd != nullptr) {
    PollRelease(pd);
    pd = nullptr;
  }
  if (owns_fd) ::close(fd);  // Linux releases the fd even on EINTR: never retried
  if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
}

std::string NetFd::Op(const char* op) const {
  std::string out = absl::StrCat(op, "(", kind);
  sockaddr_storage a{}, b{};
  socklen_t al = sizeof a, bl = sizeof b;
  if (!label.empty()) {
    absl::StrAppend(&out, " ", label);
  } else if (std::string_view(kind) == "fd") {
    absl::StrAppend(&out, " ", user_fd >= 0 ? user_fd : fd);
  } else if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &al) == 0) {
    std::string local = net::Addr(reinterpret_cast<sockaddr*>(&a), al).to_string();
    if (!local.empty()) absl::StrAppend(&out, " ", local);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&b), &bl) == 0) {
      std::string remote = net::Addr(reinterpret_cast<sockaddr*>(&b), bl).to_string();
      absl::StrAppend(&out, local.empty() ? " " : "", "->", remote.empty() ? "?" : remote);
    }
  }
  return out + ")";
}

absl::Status NetFd::ClosedError(const char* op) const {
  return absl::CancelledError(absl::StrCat(
      Op(op), std::string_view(kind) == "fd" ? ": use of closed PollFd" : ": use of closed connection"));
}

absl::Status NetFd::TimeoutError(const char* op) const {
  return absl::DeadlineExceededError(absl::StrCat(Op(op), ": i/o timeout"));
}

absl::Status NetFd::Error(int err, const char* op) const { return ErrnoError(err, Op(op)); }

absl::Status NetFd::Prepare(bool write, int64_t deadline_ns, const char* op) {
  if (closed()) return ClosedError(op);
  int64_t d = Earliest(deadline_ns, (write ? wd : rd).load(std::memory_order_relaxed));
  if (d != 0 && NanoTime() >= d) return TimeoutError(op);
  return absl::OkStatus();
}

void NetFd::SetDeadline(bool write, int64_t deadline_ns) {
  (write ? wd : rd).store(deadline_ns, std::memory_order_relaxed);
  if (pd != nullptr && Incref()) {
    PollSetDeadline(pd, write, deadline_ns);
    Decref();
  }
}

absl::Status NetFd::Wait(bool write, int64_t deadline_ns, const char* op) {
  Runtime* rt = PollingRuntime();
  // acquire: pairs with NetpollClose's release; a G's own runtime is alive, so a match
  // means pd's runtime is alive too.
  if (pd != nullptr && rt != nullptr && rt == pd->np->rt.load(std::memory_order_acquire)) {
    switch (PollWait(pd, write, deadline_ns)) {
      case PollResult::kReady: return absl::OkStatus();
      case PollResult::kTimeout: return TimeoutError(op);
      case PollResult::kClosed: return ClosedError(op);
      case PollResult::kBusy:
        return absl::FailedPreconditionError(absl::StrCat(Op(op), ": another G is already waiting"));
    }
  }
  // A plain thread, a G of another runtime, or an fd epoll does not take: poll(2), as a
  // blocking call so that a G's P keeps working meanwhile.
  pollfd p{fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
  for (;;) {
    if (closed()) return ClosedError(op);
    int64_t d = Earliest(deadline_ns, (write ? wd : rd).load(std::memory_order_relaxed));
    timespec ts{};
    timespec* tsp = nullptr;
    if (d != 0) {
      int64_t left = d - NanoTime();
      if (left <= 0) return TimeoutError(op);
      // At most a second at a time, so that a close or a new deadline is seen.
      if (left > 1'000'000'000) left = 1'000'000'000;
      ts = {static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
      tsp = &ts;
    } else {
      ts = {1, 0};
      tsp = &ts;
    }
    struct Ret {
      int n, err;
    };
    Ret r = mn::blocking([&] {
      int n = ppoll(&p, 1, tsp, nullptr);
      return Ret{n, n < 0 ? errno : 0};
    });
    if (r.n < 0) {
      if (r.err == EINTR) continue;
      return Error(r.err, op);
    }
    if (r.n == 0) continue;
    if (p.revents & POLLNVAL) return Error(EBADF, op);
    return absl::OkStatus();
  }
}

}  // namespace mn::detail
