// mn::net: sockets for Gs on NetFd (netfd.hpp), as Go's net package on internal/poll.
//
// Every socket is created non-blocking and close-on-exec, registered with the netpoller
// before it is used (for a dial: before connect, whose completion is a write event), and
// its operations follow one loop: try the call; on EAGAIN wait for readiness (the G parks)
// and try again. Sockets are closed only through NetFd, so a close from one G while another
// is inside read(2) cannot hand the fd number to a new socket under it.
#include "mn/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "errors.hpp"
#include "mn/syscalls.hpp"
#include "netfd.hpp"
#include "sched.hpp"

namespace mn::net {

using mn::detail::ErrnoError;
using mn::detail::FdRef;
using mn::detail::NetFd;

// ---- Addr ------------------------------------------------------------------------------

Addr::Addr(const sockaddr* sa, socklen_t len) {
  len_ = std::min<socklen_t>(len, sizeof storage_);
  std::memcpy(&storage_, sa, len_);
}

int Addr::port() const {
  switch (family()) {
    case AF_INET: return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    case AF_INET6: return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    default: return 0;
  }
}

std::string Addr::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof buf);
    if (a6->sin6_scope_id != 0) return absl::StrCat(buf, "%", a6->sin6_scope_id);
  }
  return buf;
}

std::string Addr::to_string() const {
  switch (family()) {
    case AF_INET: return absl::StrCat(ip(), ":", port());
    case AF_INET6: return absl::StrCat("[", ip(), "]:", port());
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage_);
      std::size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
      if (n == 0) return "";  // unnamed (a connecting socket)
      if (un->sun_path[0] == '\0') {
        std::string out(n, '@');  // the leading NUL shown as '@'
        out.replace(1, n - 1, un->sun_path + 1, n - 1);
        return out;
      }
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default: return "";
  }
}

namespace {

// Debian 12's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct HostPort {
  std::string host, port;
};

absl::Status BadAddr(std::string_view addr, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("address \"", AV(addr), "\": ", AV(why)));
}

// "host:port", "[v6]:port", ":port" (Go's SplitHostPort).
absl::StatusOr<HostPort> SplitHostPort(std::string_view addr) {
  HostPort hp;
  std::string_view rest;
  if (!addr.empty() && addr[0] == '[') {
    std::size_t end = addr.find(']');
    if (end == std::string_view::npos) return BadAddr(addr, "missing ']'");
    hp.host = std::string(addr.substr(1, end - 1));
    rest = addr.substr(end + 1);
    if (rest.empty() || rest[0] != ':') return BadAddr(addr, "missing port");
    rest.remove_prefix(1);
  } else {
    std::size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return BadAddr(addr, "missing port");
    hp.host = std::string(addr.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return BadAddr(addr, "too many colons (an IPv6 address needs [brackets])");
    rest = addr.substr(colon + 1);
  }
  if (rest.empty()) return BadAddr(addr, "missing port");
  hp.port = std::string(rest);
  return hp;
}

absl::StatusOr<int> ParsePort(std::string_view addr, const std::string& port, int socktype) {
  int p = 0;
  if (absl::SimpleAtoi(port, &p)) {
    if (p < 0 || p > 65535) return BadAddr(addr, absl::StrCat("port ", port, " out of range"));
    return p;
  }
  servent se{}, *res = nullptr;
  char buf[1024];
  getservbyname_r(port.c_str(), socktype == SOCK_DGRAM ? "udp" : "tcp", &se, buf, sizeof buf, &res);
  if (res == nullptr) return BadAddr(addr, absl::StrCat("unknown port \"", port, "\""));
  return ntohs(static_cast<uint16_t>(res->s_port));
}

bool HasIPv6() {
  // Asked once per process, as Go's ipStackCaps: the answer does not change under it.
  static const bool has = [] {
    int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }();
  return has;
}

struct Network {
  int family;    // AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX
  int socktype;  // SOCK_STREAM, SOCK_DGRAM
  const char* kind;
};

absl::StatusOr<Network> ParseNetwork(std::string_view network) {
  if (network == "tcp") return Network{AF_UNSPEC, SOCK_STREAM, "tcp"};
  if (network == "tcp4") return Network{AF_INET, SOCK_STREAM, "tcp"};
  if (network == "tcp6") return Network{AF_INET6, SOCK_STREAM, "tcp"};
  if (network == "unix") return Network{AF_UNIX, SOCK_STREAM, "unix"};
  if (network == "udp") return Network{AF_UNSPEC, SOCK_DGRAM, "udp"};
  if (network == "udp4") return Network{AF_INET, SOCK_DGRAM, "udp"};
  if (network == "udp6") return Network{AF_INET6, SOCK_DGRAM, "udp"};
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown network \"", AV(network), "\" (want tcp, tcp4, tcp6, unix, udp, udp4 or udp6)"));
}

Addr MakeIP(int family, const void* ip, int port) {
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    std::memcpy(&a.sin_addr, ip, sizeof a.sin_addr);
    return Addr(reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(port));
  std::memcpy(&a.sin6_addr, ip, sizeof a.sin6_addr);
  return Addr(reinterpret_cast<sockaddr*>(&a), sizeof a);
}

absl::StatusOr<Addr> UnixAddr(std::string_view path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  if (path.empty()) return BadAddr(path, "empty Unix socket path");
  if (path.size() >= sizeof un.sun_path) {
    return BadAddr(path, absl::StrCat("Unix socket path longer than ", sizeof un.sun_path - 1, " bytes"));
  }
  socklen_t len;
  if (path[0] == '@') {  // abstract: a leading NUL, no terminator
    std::memcpy(un.sun_path + 1, path.data() + 1, path.size() - 1);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  } else {
    std::memcpy(un.sun_path, path.data(), path.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  }
  return Addr(reinterpret_cast<sockaddr*>(&un), len);
}

// Numeric host, empty host, or a name looked up. passive: for binding (an empty host
// means every interface); else for connecting (an empty host means this machine).
// IPv4 addresses come first, as Go orders them for dialing and listening.
absl::StatusOr<std::vector<Addr>> Resolve(const Network& net, std::string_view addr, bool passive) {
  if (net.family == AF_UNIX) {
    absl::StatusOr<Addr> a = UnixAddr(addr);
    if (!a.ok()) return a.status();
    return std::vector<Addr>{*a};
  }
  absl::StatusOr<HostPort> hp = SplitHostPort(addr);
  if (!hp.ok()) return hp.status();
  absl::StatusOr<int> port = ParsePort(addr, hp->port, net.socktype);
  if (!port.ok()) return port.status();
  bool want4 = net.family != AF_INET6, want6 = net.family != AF_INET;
  std::vector<Addr> out;
  if (hp->host.empty()) {
    if (passive) {
      if (want6 && HasIPv6() && net.family == AF_UNSPEC) {
        out.push_back(MakeIP(AF_INET6, &in6addr_any, *port));  // dual stack: v4 too
      } else if (want4) {
        in_addr any{htonl(INADDR_ANY)};
        out.push_back(MakeIP(AF_INET, &any, *port));
      } else {
        out.push_back(MakeIP(AF_INET6, &in6addr_any, *port));
      }
    } else {
      if (want4) {
        in_addr lo{htonl(INADDR_LOOPBACK)};
        out.push_back(MakeIP(AF_INET, &lo, *port));
      }
      if (want6) out.push_back(MakeIP(AF_INET6, &in6addr_loopback, *port));
    }
    return out;
  }
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, hp->host.c_str(), &a4) == 1) {
    if (!want4) return BadAddr(addr, "an IPv4 address on an IPv6-only network");
    return std::vector<Addr>{MakeIP(AF_INET, &a4, *port)};
  }
  if (inet_pton(AF_INET6, hp->host.c_str(), &a6) == 1) {
    if (!want6) return BadAddr(addr, "an IPv6 address on an IPv4-only network");
    return std::vector<Addr>{MakeIP(AF_INET6, &a6, *port)};
  }
  if (hp->host.find_first_of("%/ ") != std::string::npos) return BadAddr(addr, "malformed host");
  addrinfo hints{};
  hints.ai_family = net.family;
  hints.ai_socktype = net.socktype;
  hints.ai_flags = AI_ADDRCONFIG;
  absl::StatusOr<sys::AddrInfoList> list = sys::getaddrinfo(hp->host, "", &hints);
  if (!list.ok()) {
    return absl::Status(list.status().code(),
                        absl::StrCat("lookup \"", hp->host, "\": ", list.status().message()));
  }
  for (const addrinfo& ai : *list) {
    if (ai.ai_family == AF_INET) {
      out.push_back(MakeIP(AF_INET, &reinterpret_cast<const sockaddr_in*>(ai.ai_addr)->sin_addr, *port));
    } else if (ai.ai_family == AF_INET6) {
      out.push_back(MakeIP(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(ai.ai_addr)->sin6_addr, *port));
    }
  }
  std::stable_partition(out.begin(), out.end(), [](const Addr& a) { return a.family() == AF_INET; });
  // getaddrinfo lists an address once per protocol it could serve; keep each once.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Addr& a, const Addr& b) { return a.to_string() == b.to_string(); }),
            out.end());
  if (out.empty()) return absl::NotFoundError(absl::StrCat("lookup \"", hp->host, "\": no address"));
  return out;
}

std::string OpName(const char* op, std::string_view network, std::string_view addr) {
  return absl::StrCat(op, "(", AV(network), " ", AV(addr), ")");
}

absl::Status SetOpt(int fd, int level, int opt, int value, const std::string& op) {
  if (::setsockopt(fd, level, opt, &value, sizeof value) != 0) {
    return ErrnoError(errno, absl::StrCat(op, ": setsockopt"));
  }
  return absl::OkStatus();
}

// A new non-blocking socket registered with the calling G's netpoller.
absl::StatusOr<std::shared_ptr<NetFd>> NewSocket(int family, int socktype, const char* kind,
                                                 const std::string& op) {
  int fd = ::socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError(errno, op);
  auto h = std::make_shared<NetFd>(fd, true, kind);
  if (h->open_error != 0) return ErrnoError(h->open_error, op);  // h closes fd
  return h;
}

absl::Status EmptyError(const char* op, const char* what) {
  return absl::FailedPreconditionError(absl::StrCat(op, ": empty ", what));
}

// ---- the operation loops (caller holds a reference and the direction's lock) ----

template <class Call>
absl::StatusOr<std::size_t> IoLoop(NetFd* f, bool write, int64_t deadline, const char* op, Call call) {
  for (;;) {
    ssize_t r = call();
    if (r >= 0) return static_cast<std::size_t>(r);
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN) return f->Error(err, op);
    if (absl::Status s = f->Wait(write, deadline, op); !s.ok()) return s;
  }
}

absl::StatusOr<std::size_t> ReadSome(NetFd* f, void* buf, std::size_t n, int64_t d, const char* op) {
  return IoLoop(f, false, d, op, [&] { return ::read(f->fd, buf, n); });
}

absl::StatusOr<std::size_t> WriteSome(NetFd* f, const void* buf, std::size_t n, int64_t d,
                                      const char* op) {
  // MSG_NOSIGNAL: a peer that has gone away is EPIPE here, not SIGPIPE for the process.
  return IoLoop(f, true, d, op, [&] { return ::send(f->fd, buf, n, MSG_NOSIGNAL); });
}

// The shared shape of every public operation: a reference (or is_closed), the direction's
// lock, the deadline check, then body(f).
template <class Body>
auto WithFd(const std::shared_ptr<NetFd>& fd, bool write, Deadline d, const char* op,
            const char* what, Body body) -> decltype(body(fd.get())) {
  mn::detail::CheckPState();
  if (!fd) return EmptyError(op, what);
  NetFd* f = fd.get();
  FdRef ref(f);
  if (!ref.ok()) return f->ClosedError(op);
  std::lock_guard<Mutex> lock(write ? f->wmu : f->rmu);
  if (absl::Status s = f->Prepare(write, d.ns(), op); !s.ok()) return s;
  return body(f);
}

// A failure after part of a read_full / write_all: says how far it got, keeps the errno.
absl::Status AfterPart(const absl::Status& s, std::size_t done, std::size_t n) {
  absl::Status out(s.code(), absl::StrCat(s.message(), " (after ", done, " of ", n, " bytes)"));
  s.ForEachPayload([&](absl::string_view k, const absl::Cord& v) { out.SetPayload(k, v); });
  return out;
}

absl::Status CloseFd(const std::shared_ptr<NetFd>& fd, const char* what) {
  if (!fd) return EmptyError("close", what);
  if (!fd->Close()) return fd->ClosedError("close");
  return absl::OkStatus();
}

Addr SockName(const std::shared_ptr<NetFd>& fd, bool peer) {
  if (!fd) return Addr();
  FdRef ref(fd.get());
  if (!ref.ok()) return Addr();
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int rc = peer ? ::getpeername(fd->fd, reinterpret_cast<sockaddr*>(&ss), &len)
                : ::getsockname(fd->fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc != 0) return Addr();
  return Addr(reinterpret_cast<sockaddr*>(&ss), len);
}

int FdOf(const std::shared_ptr<NetFd>& fd) { return fd && !fd->closed() ? fd->fd : -1; }

void SetDeadlines(const std::shared_ptr<NetFd>& fd, Deadline d, bool read, bool write) {
  if (!fd) return;
  if (read) fd->SetDeadline(false, d.ns());
  if (write) fd->SetDeadline(true, d.ns());
}

// Connects f to a; a non-blocking connect completes as a write event.
absl::Status Connect(NetFd* f, const Addr& a, int64_t deadline) {
  const char* op = "dial";
  if (absl::Status s = f->Prepare(true, deadline, op); !s.ok()) return s;
  if (::connect(f->fd, a.sockaddr_ptr(), a.size()) == 0) return absl::OkStatus();
  int err = errno;
  if (err != EINPROGRESS && err != EALREADY && err != EINTR) return f->Error(err, op);
  for (;;) {
    if (absl::Status s = f->Wait(true, deadline, op); !s.ok()) return s;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) return f->Error(errno, op);
    if (soerr == 0) {
      // Connected, unless the event was spurious (Go checks getpeername the same way).
      sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      if (::getpeername(f->fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return absl::OkStatus();
      if (errno != ENOTCONN) return f->Error(errno, op);
      continue;
    }
    if (soerr != EINPROGRESS && soerr != EALREADY && soerr != EINTR) return f->Error(soerr, op);
  }
}

absl::StatusOr<std::shared_ptr<NetFd>> DialOne(const Network& net, const Addr& to,
                                               const DialOptions& opts, const std::string& op) {
  absl::StatusOr<std::shared_ptr<NetFd>> h = NewSocket(to.family(), net.socktype, net.kind, op);
  if (!h.ok()) return h.status();
  NetFd* f = h->get();
  f->label = to.to_string();  // a socket that is not connected has no peer to show
  if (!opts.local_addr.empty()) {
    absl::StatusOr<std::vector<Addr>> local = Resolve(Network{to.family(), net.socktype, net.kind},
                                                      opts.local_addr, true);
    if (!local.ok()) return local.status();
    if (opts.reuse_addr) {
      if (absl::Status s = SetOpt(f->fd, SOL_SOCKET, SO_REUSEADDR, 1, op); !s.ok()) return s;
    }
    if (opts.reuse_port) {
      if (absl::Status s = SetOpt(f->fd, SOL_SOCKET, SO_REUSEPORT, 1, op); !s.ok()) return s;
    }
    const Addr& la = local->front();
    if (::bind(f->fd, la.sockaddr_ptr(), la.size()) != 0) {
      return ErrnoError(errno, absl::StrCat(op, ": bind ", la.to_string()));
    }
  }
  if (absl::Status s = Connect(f, to, opts.deadline.ns()); !s.ok()) return s;
  f->label.clear();
  if (net.socktype == SOCK_STREAM && to.family() != AF_UNIX) {
    // As Go: small writes go out at once; latency over batching.
    if (absl::Status s = SetOpt(f->fd, IPPROTO_TCP, TCP_NODELAY, 1, op); !s.ok()) return s;
  }
  return h;
}

absl::StatusOr<std::shared_ptr<NetFd>> DialAny(const Network& net, std::string_view network,
                                               std::string_view addr, const DialOptions& opts) {
  mn::detail::CheckPState();
  std::string op = OpName("dial", network, addr);
  absl::StatusOr<std::vector<Addr>> addrs = Resolve(net, addr, false);
  if (!addrs.ok()) return addrs.status();
  absl::Status last;
  for (const Addr& a : *addrs) {
    absl::StatusOr<std::shared_ptr<NetFd>> h = DialOne(net, a, opts, op);
    if (h.ok()) return h;
    last = h.status();
    if (last.code() == absl::StatusCode::kDeadlineExceeded) break;  // the deadline is shared
  }
  return last;
}

}  // namespace

// ---- listen / dial -----------------------------------------------------------------------

absl::StatusOr<Listener> listen(std::string_view network, std::string_view addr,
                                const ListenOptions& opts) {
  absl::StatusOr<Network> net = ParseNetwork(network);
  if (!net.ok()) return net.status();
  if (net->socktype != SOCK_STREAM) {
    return absl::InvalidArgumentError(absl::StrCat("listen: network \"", AV(network), "\" is not a stream network (use listen_udp)"));
  }
  std::string op = OpName("listen", network, addr);
  if (opts.backlog <= 0) return absl::InvalidArgumentError(absl::StrCat(op, ": backlog must be positive"));
  absl::StatusOr<std::vector<Addr>> addrs = Resolve(*net, addr, true);
  if (!addrs.ok()) return addrs.status();
  const Addr& a = addrs->front();
  absl::StatusOr<std::shared_ptr<NetFd>> h = NewSocket(a.family(), SOCK_STREAM, net->kind, op);
  if (!h.ok()) return h.status();
  int fd = (*h)->fd;
  if (a.family() != AF_UNIX) {
    if (opts.reuse_addr) {
      if (absl::Status s = SetOpt(fd, SOL_SOCKET, SO_REUSEADDR, 1, op); !s.ok()) return s;
    }
    if (opts.reuse_port) {
      if (absl::Status s = SetOpt(fd, SOL_SOCKET, SO_REUSEPORT, 1, op); !s.ok()) return s;
    }
    if (a.family() == AF_INET6) {
      if (absl::Status s = SetOpt(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only ? 1 : 0, op); !s.ok()) return s;
    }
  }
  if (::bind(fd, a.sockaddr_ptr(), a.size()) != 0) return ErrnoError(errno, op);
  if (a.family() == AF_UNIX && addr[0] != '@') (*h)->unlink_path = std::string(addr);
  if (::listen(fd, opts.backlog) != 0) return ErrnoError(errno, op);
  return Listener(std::move(*h));
}

absl::StatusOr<Conn> dial(std::string_view network, std::string_view addr, const DialOptions& opts) {
  absl::StatusOr<Network> net = ParseNetwork(network);
  if (!net.ok()) return net.status();
  if (net->socktype != SOCK_STREAM) {
    return absl::InvalidArgumentError(absl::StrCat("dial: network \"", AV(network), "\" is not a stream network (use dial_udp)"));
  }
  absl::StatusOr<std::shared_ptr<NetFd>> h = DialAny(*net, network, addr, opts);
  if (!h.ok()) return h.status();
  return Conn(std::move(*h));
}

absl::StatusOr<PacketConn> listen_udp(std::string_view addr) {
  Network net{AF_UNSPEC, SOCK_DGRAM, "udp"};
  std::string op = OpName("listen", "udp", addr);
  absl::StatusOr<std::vector<Addr>> addrs = Resolve(net, addr, true);
  if (!addrs.ok()) return addrs.status();
  const Addr& a = addrs->front();
  absl::StatusOr<std::shared_ptr<NetFd>> h = NewSocket(a.family(), SOCK_DGRAM, "udp", op);
  if (!h.ok()) return h.status();
  if (a.family() == AF_INET6) {
    if (absl::Status s = SetOpt((*h)->fd, IPPROTO_IPV6, IPV6_V6ONLY, 0, op); !s.ok()) return s;
  }
  if (::bind((*h)->fd, a.sockaddr_ptr(), a.size()) != 0) return ErrnoError(errno, op);
  return PacketConn(std::move(*h));
}

absl::StatusOr<PacketConn> dial_udp(std::string_view addr, const DialOptions& opts) {
  absl::StatusOr<std::shared_ptr<NetFd>> h =
      DialAny(Network{AF_UNSPEC, SOCK_DGRAM, "udp"}, "udp", addr, opts);
  if (!h.ok()) return h.status();
  return PacketConn(std::move(*h));
}

bool is_timeout(const absl::Status& s) { return s.code() == absl::StatusCode::kDeadlineExceeded; }
bool is_closed(const absl::Status& s) { return s.code() == absl::StatusCode::kCancelled; }
bool is_eof(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }

// ---- Conn --------------------------------------------------------------------------------

Conn::Conn(Conn&&) noexcept = default;
Conn& Conn::operator=(Conn&& o) noexcept {
  if (this != &o) {
    if (fd_) fd_->Close();
    fd_ = std::move(o.fd_);
  }
  return *this;
}
Conn::~Conn() {
  if (fd_) fd_->Close();
}

absl::StatusOr<std::size_t> Conn::read(void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, false, d, "read", "Conn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    if (n == 0) return 0;
    return ReadSome(f, buf, n, d.ns(), "read");
  });
}

absl::StatusOr<std::size_t> Conn::write(const void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, true, d, "write", "Conn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    if (n == 0) return 0;
    return WriteSome(f, buf, n, d.ns(), "write");
  });
}

absl::StatusOr<std::size_t> Conn::read_full(void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, false, d, "read", "Conn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    std::size_t done = 0;
    while (done < n) {
      absl::StatusOr<std::size_t> r = ReadSome(f, static_cast<char*>(buf) + done, n - done, d.ns(), "read");
      if (!r.ok()) return done == 0 ? r.status() : AfterPart(r.status(), done, n);
      if (*r == 0) {
        return absl::OutOfRangeError(absl::StrCat(f->Op("read"), done == 0 ? ": EOF" : ": unexpected EOF"));
      }
      done += *r;
    }
    return n;
  });
}

absl::StatusOr<std::size_t> Conn::write_all(const void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, true, d, "write", "Conn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    std::size_t done = 0;
    while (done < n) {
      absl::StatusOr<std::size_t> r =
          WriteSome(f, static_cast<const char*>(buf) + done, n - done, d.ns(), "write");
      if (!r.ok()) return done == 0 ? r.status() : AfterPart(r.status(), done, n);
      done += *r;
    }
    return n;
  });
}

absl::Status Conn::shutdown(Shutdown how) {
  if (!fd_) return EmptyError("shutdown", "Conn");
  FdRef ref(fd_.get());
  if (!ref.ok()) return fd_->ClosedError("shutdown");
  if (::shutdown(fd_->fd, static_cast<int>(how)) != 0) return fd_->Error(errno, "shutdown");
  return absl::OkStatus();
}

absl::Status Conn::close() { return CloseFd(fd_, "Conn"); }
void Conn::set_deadline(Deadline d) { SetDeadlines(fd_, d, true, true); }
void Conn::set_read_deadline(Deadline d) { SetDeadlines(fd_, d, true, false); }
void Conn::set_write_deadline(Deadline d) { SetDeadlines(fd_, d, false, true); }

absl::Status Conn::set_nodelay(bool on) {
  if (!fd_) return EmptyError("set_nodelay", "Conn");
  FdRef ref(fd_.get());
  if (!ref.ok()) return fd_->ClosedError("set_nodelay");
  int v = on ? 1 : 0;
  if (::setsockopt(fd_->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0) {
    return fd_->Error(errno, "set_nodelay");
  }
  return absl::OkStatus();
}

int Conn::fd() const { return FdOf(fd_); }
Addr Conn::local_addr() const { return SockName(fd_, false); }
Addr Conn::remote_addr() const { return SockName(fd_, true); }

// ---- Listener ----------------------------------------------------------------------------

Listener::Listener(Listener&&) noexcept = default;
Listener& Listener::operator=(Listener&& o) noexcept {
  if (this != &o) {
    if (fd_) fd_->Close();
    fd_ = std::move(o.fd_);
  }
  return *this;
}
Listener::~Listener() {
  if (fd_) fd_->Close();
}

absl::StatusOr<Conn> Listener::accept(Deadline d) {
  return WithFd(fd_, false, d, "accept", "Listener", [&](NetFd* f) -> absl::StatusOr<Conn> {
    for (;;) {
      int nfd = ::accept4(f->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (nfd >= 0) {
        auto h = std::make_shared<NetFd>(nfd, true, f->kind);
        if (h->open_error != 0) return f->Error(h->open_error, "accept");
        if (std::string_view(f->kind) == "tcp") {
          int one = 1;
          ::setsockopt(nfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        return Conn(std::move(h));
      }
      int err = errno;
      // A connection reset before it was accepted is not the listener's failure (Go).
      if (err == EINTR || err == ECONNABORTED) continue;
      // Out of fds (EMFILE, ENFILE) and the rest: the caller's to handle. The connection
      // stays queued, so retrying at once would spin: servers back off (see net.hpp).
      if (err != EAGAIN) return f->Error(err, "accept");
      if (absl::Status s = f->Wait(false, d.ns(), "accept"); !s.ok()) return s;
    }
  });
}

absl::Status Listener::close() { return CloseFd(fd_, "Listener"); }
void Listener::set_deadline(Deadline d) { SetDeadlines(fd_, d, true, false); }
int Listener::fd() const { return FdOf(fd_); }
Addr Listener::addr() const { return SockName(fd_, false); }

// ---- PacketConn ----------------------------------------------------------------------------

PacketConn::PacketConn(PacketConn&&) noexcept = default;
PacketConn& PacketConn::operator=(PacketConn&& o) noexcept {
  if (this != &o) {
    if (fd_) fd_->Close();
    fd_ = std::move(o.fd_);
  }
  return *this;
}
PacketConn::~PacketConn() {
  if (fd_) fd_->Close();
}

absl::StatusOr<std::size_t> PacketConn::read_from(void* buf, std::size_t n, Addr* from, Deadline d) {
  return WithFd(fd_, false, d, "read_from", "PacketConn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    absl::StatusOr<std::size_t> r = IoLoop(f, false, d.ns(), "read_from", [&] {
      len = sizeof ss;
      return ::recvfrom(f->fd, buf, n, 0, reinterpret_cast<sockaddr*>(&ss), &len);
    });
    if (r.ok() && from != nullptr) *from = Addr(reinterpret_cast<sockaddr*>(&ss), len);
    return r;
  });
}

absl::StatusOr<std::size_t> PacketConn::write_to(const void* buf, std::size_t n, const Addr& to,
                                                 Deadline d) {
  return WithFd(fd_, true, d, "write_to", "PacketConn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    return IoLoop(f, true, d.ns(), "write_to", [&] {
      return ::sendto(f->fd, buf, n, MSG_NOSIGNAL, to.sockaddr_ptr(), to.size());
    });
  });
}

absl::StatusOr<std::size_t> PacketConn::read(void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, false, d, "read", "PacketConn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    return IoLoop(f, false, d.ns(), "read", [&] { return ::recv(f->fd, buf, n, 0); });
  });
}

absl::StatusOr<std::size_t> PacketConn::write(const void* buf, std::size_t n, Deadline d) {
  return WithFd(fd_, true, d, "write", "PacketConn", [&](NetFd* f) -> absl::StatusOr<std::size_t> {
    return WriteSome(f, buf, n, d.ns(), "write");
  });
}

absl::Status PacketConn::close() { return CloseFd(fd_, "PacketConn"); }
void PacketConn::set_deadline(Deadline d) { SetDeadlines(fd_, d, true, true); }
void PacketConn::set_read_deadline(Deadline d) { SetDeadlines(fd_, d, true, false); }
void PacketConn::set_write_deadline(Deadline d) { SetDeadlines(fd_, d, false, true); }
int PacketConn::fd() const { return FdOf(fd_); }
Addr PacketConn::local_addr() const { return SockName(fd_, false); }
Addr PacketConn::remote_addr() const { return SockName(fd_, true); }

absl::StatusOr<Addr> Addr::parse(std::string_view addr, std::string_view network) {
  absl::StatusOr<Network> net = ParseNetwork(network);
  if (!net.ok()) return net.status();
  if (net->family == AF_UNIX) return UnixAddr(addr);
  absl::StatusOr<HostPort> hp = SplitHostPort(addr);
  if (!hp.ok()) return hp.status();
  if (hp->host.empty()) return BadAddr(addr, "missing host (Addr::parse takes a numeric address)");
  in_addr a4;
  in6_addr a6;
  bool v4 = inet_pton(AF_INET, hp->host.c_str(), &a4) == 1;
  bool v6 = !v4 && inet_pton(AF_INET6, hp->host.c_str(), &a6) == 1;
  if (!v4 && !v6) return BadAddr(addr, "not a numeric IP address");
  absl::StatusOr<int> port = ParsePort(addr, hp->port, net->socktype);
  if (!port.ok()) return port.status();
  return v4 ? MakeIP(AF_INET, &a4, *port) : MakeIP(AF_INET6, &a6, *port);
}

}  // namespace mn::net
