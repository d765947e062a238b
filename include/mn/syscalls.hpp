// mn::sys: common file, process and name-lookup calls wrapped as blocking calls
// (mn::blocking, include/mn/blocking.hpp), so a G that waits in the kernel does not hold
// up the other Gs of its P. They work from Gs and from plain threads alike (outside the
// runtime they are the bare call).
//
// Errors follow docs/errors.md: IO failures are returned, as Go returns them, as
// absl::Status / absl::StatusOr. The message names the operation and its argument, then
// strerror, e.g. `read(fd 7): Bad file descriptor`. For errno failures the canonical code
// is absl::ErrnoToStatusCode(errno) (ENOENT -> NotFound, EAGAIN -> Unavailable, ...), and
// errno_of(status) returns the errno itself (a status payload: it survives copying and
// returning the status, not building a new status from its message).
//
// Calls interrupted by a signal (EINTR) are retried, as Go's ignoringEINTRIO does, except
// close. These are for blocking fds: on an O_NONBLOCK fd, EAGAIN comes back as Unavailable.
#pragma once

#include <netdb.h>
#include <sys/types.h>

#include <cstddef>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mn::sys {

// The errno behind a status returned by this file (also after EAI_SYSTEM), 0 for any other.
int errno_of(const absl::Status& s);

// O_CLOEXEC is always added, as Go does, so a fork+exec elsewhere in the process cannot leak
// the fd into a child; clear FD_CLOEXEC with fcntl for an fd meant to be inherited.
absl::StatusOr<int> open(const std::string& path, int flags, mode_t mode = 0);

// The fd is released even when this fails, so it is never retried.
absl::Status close(int fd);

// One system call each: the count may be short of n (a pipe, a socket, a signal, the end of
// the file), and 0 from read means end of file.
absl::StatusOr<std::size_t> read(int fd, void* buf, std::size_t n);
absl::StatusOr<std::size_t> write(int fd, const void* buf, std::size_t n);
absl::StatusOr<std::size_t> pread(int fd, void* buf, std::size_t n, off_t off);
absl::StatusOr<std::size_t> pwrite(int fd, const void* buf, std::size_t n, off_t off);

// Loop until all n bytes are done (io.ReadFull, and Go's Write which never returns short).
// On success the result is n. read_full returns OutOfRange when the file ends first
// ("EOF" if nothing was read, "unexpected EOF" after part of it, as io.EOF and
// io.ErrUnexpectedEOF). A failure after part of the bytes says how many in its message;
// a caller that needs the exact progress should loop over read/write itself.
absl::StatusOr<std::size_t> read_full(int fd, void* buf, std::size_t n);
absl::StatusOr<std::size_t> write_all(int fd, const void* buf, std::size_t n);

absl::Status fsync(int fd);

// Owns the list getaddrinfo returns (freeaddrinfo on destruction). Move-only.
class AddrInfoList {
 public:
  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = addrinfo;
    using difference_type = std::ptrdiff_t;
    using pointer = const addrinfo*;
    using reference = const addrinfo&;
    iterator() = default;
    explicit iterator(const addrinfo* p) : p_(p) {}
    reference operator*() const { return *p_; }
    pointer operator->() const { return p_; }
    iterator& operator++() {
      p_ = p_->ai_next;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(iterator a, iterator b) { return a.p_ == b.p_; }

   private:
    const addrinfo* p_ = nullptr;
  };

  AddrInfoList() = default;
  explicit AddrInfoList(addrinfo* head) : head_(head) {}
  AddrInfoList(AddrInfoList&& o) noexcept : head_(o.head_) { o.head_ = nullptr; }
  AddrInfoList& operator=(AddrInfoList&& o) noexcept;
  AddrInfoList(const AddrInfoList&) = delete;
  AddrInfoList& operator=(const AddrInfoList&) = delete;
  ~AddrInfoList();

  iterator begin() const { return iterator(head_); }
  iterator end() const { return iterator(); }
  std::size_t size() const;  // walks the list
  bool empty() const { return head_ == nullptr; }
  const addrinfo* get() const { return head_; }

 private:
  addrinfo* head_ = nullptr;
};

// An empty host or service is passed as NULL (e.g. a passive bind address for a service).
// EAI_NONAME/EAI_NODATA/EAI_ADDRFAMILY -> NotFound, EAI_AGAIN -> Unavailable, EAI_SYSTEM ->
// from errno, EAI_MEMORY -> ResourceExhausted, bad flags/family/socktype/service ->
// InvalidArgument, anything else -> Unknown; the message is gai_strerror's.
// Through NSS and DNS glibc uses about 20 KiB of the caller's stack (measured): a G with
// the default 64 KiB stack is fine, one with a 16 KiB stack is not.
absl::StatusOr<AddrInfoList> getaddrinfo(const std::string& host, const std::string& service,
                                         const addrinfo* hints = nullptr);

struct WaitResult {
  pid_t pid;   // 0 with WNOHANG when no child has changed state yet
  int status;  // for WIFEXITED, WEXITSTATUS, ...
};
absl::StatusOr<WaitResult> waitpid(pid_t pid, int options = 0);

}  // namespace mn::sys
