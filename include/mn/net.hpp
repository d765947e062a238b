// mn::net: TCP (IPv4 and IPv6), Unix stream sockets and UDP for Gs, as Go's net package.
//
// Every socket is non-blocking underneath and registered once with the runtime's netpoller
// (mn/netpoll.hpp): an operation that would block parks the G, not the thread. From a plain
// thread the same calls block the thread in poll(2).
//
// Addresses are strings, as in Go: "127.0.0.1:8080", "[::1]:8080", "localhost:8080" (looked
// up; a listener takes the first result, a dialer tries each in turn), ":8080" (every
// interface, IPv6 and IPv4 both where the host has IPv6). Unix socket paths are plain paths;
// a leading '@' names one in the abstract namespace.
//
// Errors follow docs/errors.md: absl::Status, never an exception. The message names the
// operation, the network and the addresses, then what went wrong, e.g.
// `read(tcp 127.0.0.1:5000->127.0.0.1:41234): Connection reset by peer`. Kinds:
//  - a failed system call: the errno's canonical code, and mn::sys::errno_of(status) gives
//    the errno (ECONNRESET for a peer reset, EPIPE for a write after the peer closed,
//    EMFILE when accept is out of fds, ECONNREFUSED, ...);
//  - a deadline that passed: DeadlineExceeded, "i/o timeout" (is_timeout);
//  - an operation on a closed socket, or one that was parked when another G closed it:
//    Cancelled, "use of closed connection" (is_closed);
//  - end of stream: read returns 0 (as read(2) and mn::sys::read); read_full returns
//    OutOfRange "EOF" / "unexpected EOF" (is_eof), as io.EOF and io.ErrUnexpectedEOF;
//  - a malformed address: InvalidArgument naming it.
//
// Deadlines: each operation takes an optional mn::Deadline (a time point or a timeout), and
// set_deadline / set_read_deadline / set_write_deadline set one that applies to every later
// operation and to one already waiting (Go's SetDeadline). The earlier of the two wins.
//
// Concurrency: one G may read while another writes; concurrent readers (or writers) of one
// socket take turns. close() may be called from any G: Gs parked on the socket wake with
// is_closed, and the fd itself is closed once the last operation on it has returned, so its
// number cannot be reused under a running read.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mn/netpoll.hpp"

namespace mn::net {

// A socket address: IPv4, IPv6 or Unix.
class Addr {
 public:
  Addr() = default;
  Addr(const sockaddr* sa, socklen_t len);
  // A numeric "ip:port" / "[ipv6]:port" (no lookup), or for network "unix" a path.
  static absl::StatusOr<Addr> parse(std::string_view addr, std::string_view network = "tcp");

  int family() const { return storage_.ss_family; }  // AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC
  int port() const;                                  // 0 for Unix
  std::string ip() const;                            // "" for Unix
  std::string to_string() const;                     // "1.2.3.4:80", "[::1]:80", a path
  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const { return len_; }

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

struct ListenOptions {
  int backlog = 4096;      // listen(2)'s backlog (the kernel caps it at net.core.somaxconn)
  bool reuse_addr = true;  // SO_REUSEADDR, as Go sets it (rebinding a port in TIME_WAIT)
  bool reuse_port = false; // SO_REUSEPORT: several listeners share the port
  bool v6_only = false;    // for an IPv6 address: refuse IPv4-mapped connections
};

struct DialOptions {
  Deadline deadline;        // connect's deadline (a timeout converts)
  std::string local_addr;   // bind here first ("ip:port", port 0 for any)
  bool reuse_addr = false;  // SO_REUSEADDR on the local address
  bool reuse_port = false;  // SO_REUSEPORT on the local address
};

enum class Shutdown { kRead = SHUT_RD, kWrite = SHUT_WR, kBoth = SHUT_RDWR };

// A stream connection: TCP or Unix. TCP connections have TCP_NODELAY set, as Go's do.
// Move-only; destruction closes it.
class Conn {
 public:
  Conn() = default;
  Conn(Conn&&) noexcept;
  Conn& operator=(Conn&&) noexcept;
  ~Conn();

  // One read: up to n bytes, at least one; 0 at end of stream (the peer shut down writing).
  absl::StatusOr<std::size_t> read(void* buf, std::size_t n, Deadline d = {});
  // One write: some of the bytes, at least one.
  absl::StatusOr<std::size_t> write(const void* buf, std::size_t n, Deadline d = {});
  // All n bytes (see is_eof); the result is n.
  absl::StatusOr<std::size_t> read_full(void* buf, std::size_t n, Deadline d = {});
  absl::StatusOr<std::size_t> write_all(const void* buf, std::size_t n, Deadline d = {});
  absl::StatusOr<std::size_t> write_all(std::string_view s, Deadline d = {}) {
    return write_all(s.data(), s.size(), d);
  }

  // shutdown(2): kWrite is a half-close, the peer reads end of stream.
  absl::Status shutdown(Shutdown how);
  // Wakes Gs parked on it (is_closed) and closes the fd when the last operation returns.
  // Idempotent; a second close returns is_closed.
  absl::Status close();

  void set_deadline(Deadline d);
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  absl::Status set_nodelay(bool on);  // TCP only

  bool valid() const { return fd_ != nullptr; }
  int fd() const;  // -1 when closed or empty
  Addr local_addr() const;
  Addr remote_addr() const;

 private:
  friend class Listener;
  friend absl::StatusOr<Conn> dial(std::string_view, std::string_view, const DialOptions&);
  explicit Conn(std::shared_ptr<mn::detail::NetFd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<mn::detail::NetFd> fd_;
};

// A listening stream socket. Move-only; destruction closes it.
class Listener {
 public:
  Listener() = default;
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  ~Listener();

  // The next connection. Out of fds (EMFILE, ENFILE), this returns the error: the caller
  // decides (Go's servers sleep 5 ms, doubling to 1 s, and retry); the pending
  // connection stays queued in the kernel meanwhile.
  absl::StatusOr<Conn> accept(Deadline d = {});
  absl::Status close();  // wakes a G parked in accept (is_closed)
  void set_deadline(Deadline d);
  int fd() const;
  Addr addr() const;  // the bound address (with the port the kernel chose for port 0)

 private:
  friend absl::StatusOr<Listener> listen(std::string_view, std::string_view, const ListenOptions&);
  explicit Listener(std::shared_ptr<mn::detail::NetFd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<mn::detail::NetFd> fd_;
};

// A datagram socket (UDP). Move-only; destruction closes it.
class PacketConn {
 public:
  PacketConn() = default;
  PacketConn(PacketConn&&) noexcept;
  PacketConn& operator=(PacketConn&&) noexcept;
  ~PacketConn();

  // One datagram; a datagram longer than n is truncated to n (as recvfrom).
  absl::StatusOr<std::size_t> read_from(void* buf, std::size_t n, Addr* from, Deadline d = {});
  absl::StatusOr<std::size_t> write_to(const void* buf, std::size_t n, const Addr& to,
                                       Deadline d = {});
  // For a connected socket (dial_udp).
  absl::StatusOr<std::size_t> read(void* buf, std::size_t n, Deadline d = {});
  absl::StatusOr<std::size_t> write(const void* buf, std::size_t n, Deadline d = {});
  absl::Status close();
  void set_deadline(Deadline d);
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  int fd() const;
  Addr local_addr() const;
  Addr remote_addr() const;

 private:
  friend absl::StatusOr<PacketConn> listen_udp(std::string_view);
  friend absl::StatusOr<PacketConn> dial_udp(std::string_view, const DialOptions&);
  explicit PacketConn(std::shared_ptr<mn::detail::NetFd> fd) : fd_(std::move(fd)) {}
  std::shared_ptr<mn::detail::NetFd> fd_;
};

// network: "tcp", "tcp4", "tcp6" (address as above) or "unix" (a path).
absl::StatusOr<Listener> listen(std::string_view network, std::string_view addr,
                                const ListenOptions& opts = {});
absl::StatusOr<Conn> dial(std::string_view network, std::string_view addr,
                          const DialOptions& opts = {});
// UDP: "udp" addresses as for tcp.
absl::StatusOr<PacketConn> listen_udp(std::string_view addr);
absl::StatusOr<PacketConn> dial_udp(std::string_view addr, const DialOptions& opts = {});

bool is_timeout(const absl::Status& s);  // a deadline passed
bool is_closed(const absl::Status& s);   // the socket was closed (by this process)
bool is_eof(const absl::Status& s);      // read_full hit the end of stream

}  // namespace mn::net
