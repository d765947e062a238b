// mn::sys: blocking-call wrappers for common file, process and name-lookup calls.
#include "mn/syscalls.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "errors.hpp"
#include "mn/blocking.hpp"

namespace mn::detail {
namespace {
constexpr absl::string_view kErrnoPayload = "mn.sys/errno";
}  // namespace

absl::Status ErrnoError(int err, absl::string_view op) {
  absl::Status s = absl::ErrnoToStatus(err, op);
  s.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(err)));
  return s;
}

}  // namespace mn::detail

namespace mn::sys {
namespace {

using detail::ErrnoError;
using detail::kErrnoPayload;

// A call's result and its errno, taken together on the thread that made the call: by the
// time blocking() returns, the G may be running on another M, whose errno is unrelated.
struct Ret {
  long r;
  int err;
};

// Runs inside blocking(): retrying there costs no scheduler round trip, and a signal that
// happened to land on this thread is no reason for the G to give up its P.
template <class F>
Ret RetryEintr(F&& call) {
  for (;;) {
    long r = call();
    if (r >= 0) return {r, 0};
    if (errno != EINTR) return {r, errno};
  }
}

template <class F>
Ret Blocking(F&& call) {
  return mn::blocking([&] { return RetryEintr(call); });
}

// Paths may hold quotes or control characters; escaped, the message stays one readable line.
std::string Quote(const std::string& s) {
  return absl::StrCat("\"", absl::Utf8SafeCEscape(s), "\"");
}

}  // namespace

int errno_of(const absl::Status& s) {
  auto p = s.GetPayload(kErrnoPayload);
  int err = 0;
  if (!p || !absl::SimpleAtoi(std::string(*p), &err)) return 0;
  return err;
}

absl::StatusOr<int> open(const std::string& path, int flags, mode_t mode) {
  Ret r =
      Blocking([&] { return static_cast<long>(::open(path.c_str(), flags | O_CLOEXEC, mode)); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("open(%s)", Quote(path)));
  return static_cast<int>(r.r);
}

absl::Status close(int fd) {
  // Linux releases the fd before close can report EINTR, so a retry could close an fd that
  // another thread has just been given (Go does not retry either).
  Ret r = mn::blocking([&] {
    int rc = ::close(fd);
    return Ret{rc, rc < 0 ? errno : 0};
  });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("close(fd %d)", fd));
  return absl::OkStatus();
}

absl::StatusOr<std::size_t> read(int fd, void* buf, std::size_t n) {
  Ret r = Blocking([&] { return ::read(fd, buf, n); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("read(fd %d)", fd));
  return static_cast<std::size_t>(r.r);
}

absl::StatusOr<std::size_t> write(int fd, const void* buf, std::size_t n) {
  Ret r = Blocking([&] { return ::write(fd, buf, n); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("write(fd %d)", fd));
  return static_cast<std::size_t>(r.r);
}

absl::StatusOr<std::size_t> pread(int fd, void* buf, std::size_t n, off_t off) {
  Ret r = Blocking([&] { return ::pread(fd, buf, n, off); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("pread(fd %d, offset %d)", fd, off));
  return static_cast<std::size_t>(r.r);
}

absl::StatusOr<std::size_t> pwrite(int fd, const void* buf, std::size_t n, off_t off) {
  Ret r = Blocking([&] { return ::pwrite(fd, buf, n, off); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("pwrite(fd %d, offset %d)", fd, off));
  return static_cast<std::size_t>(r.r);
}

absl::StatusOr<std::size_t> read_full(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    Ret r = Blocking([&] { return ::read(fd, p + done, n - done); });
    if (r.err != 0) {
      if (done == 0) return ErrnoError(r.err, absl::StrFormat("read(fd %d)", fd));
      return ErrnoError(r.err, absl::StrFormat("read(fd %d) after %d of %d bytes", fd, done, n));
    }
    if (r.r == 0) {
      return absl::OutOfRangeError(absl::StrFormat("read_full(fd %d): %s (%d of %d bytes)", fd,
                                                   done == 0 ? "EOF" : "unexpected EOF", done, n));
    }
    done += static_cast<std::size_t>(r.r);
  }
  return n;
}

absl::StatusOr<std::size_t> write_all(int fd, const void* buf, std::size_t n) {
  const auto* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    Ret r = Blocking([&] { return ::write(fd, p + done, n - done); });
    if (r.err != 0) {
      if (done == 0) return ErrnoError(r.err, absl::StrFormat("write(fd %d)", fd));
      return ErrnoError(r.err, absl::StrFormat("write(fd %d) after %d of %d bytes", fd, done, n));
    }
    // write returns 0 for a non-empty buffer on no Linux fd we know of; looping on it would
    // spin forever, so it is an error, as in Go's poll.FD.Write.
    if (r.r == 0) {
      return absl::UnknownError(
          absl::StrFormat("write_all(fd %d): write returned 0 after %d of %d bytes", fd, done, n));
    }
    done += static_cast<std::size_t>(r.r);
  }
  return n;
}

absl::Status fsync(int fd) {
  Ret r = Blocking([&] { return static_cast<long>(::fsync(fd)); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("fsync(fd %d)", fd));
  return absl::OkStatus();
}

AddrInfoList& AddrInfoList::operator=(AddrInfoList&& o) noexcept {
  if (this != &o) {
    if (head_ != nullptr) ::freeaddrinfo(head_);
    head_ = o.head_;
    o.head_ = nullptr;
  }
  return *this;
}

AddrInfoList::~AddrInfoList() {
  if (head_ != nullptr) ::freeaddrinfo(head_);
}

std::size_t AddrInfoList::size() const {
  std::size_t n = 0;
  for (const addrinfo* p = head_; p != nullptr; p = p->ai_next) n++;
  return n;
}

namespace {

absl::StatusCode GaiCode(int rc) {
  switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:  // the host exists but has no address in the family asked for
#endif
      return absl::StatusCode::kNotFound;
    case EAI_AGAIN:
      return absl::StatusCode::kUnavailable;
    case EAI_MEMORY:
      return absl::StatusCode::kResourceExhausted;
    case EAI_BADFLAGS:
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_SERVICE:
      return absl::StatusCode::kInvalidArgument;
    default:  // EAI_FAIL and anything newer
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::StatusOr<AddrInfoList> getaddrinfo(const std::string& host, const std::string& service,
                                         const addrinfo* hints) {
  struct GaiRet {
    int rc;
    int err;
    addrinfo* list;
  };
  GaiRet r = mn::blocking([&] {
    addrinfo* list = nullptr;
    errno = 0;
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(),
                           service.empty() ? nullptr : service.c_str(), hints, &list);
    return GaiRet{rc, errno, list};
  });
  if (r.rc == 0) return AddrInfoList(r.list);
  std::string op = absl::StrFormat("getaddrinfo(%s, %s)", Quote(host), Quote(service));
  if (r.rc == EAI_SYSTEM && r.err != 0) return ErrnoError(r.err, op);
  return absl::Status(GaiCode(r.rc), absl::StrFormat("%s: %s", op, ::gai_strerror(r.rc)));
}

absl::StatusOr<WaitResult> waitpid(pid_t pid, int options) {
  int status = 0;
  auto call = [&] { return static_cast<long>(::waitpid(pid, &status, options)); };
  // Without WNOHANG the call waits for a child to change state, which is typically long:
  // hand the P off at once rather than wait for sysmon to notice.
  Ret r = (options & WNOHANG) != 0 ? mn::blocking([&] { return RetryEintr(call); })
                                   : mn::blocking_now([&] { return RetryEintr(call); });
  if (r.err != 0) return ErrnoError(r.err, absl::StrFormat("waitpid(pid %d)", pid));
  return WaitResult{static_cast<pid_t>(r.r), status};
}

}  // namespace mn::sys
