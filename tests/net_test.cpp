// mn::net: TCP over IPv4 and IPv6, Unix stream sockets (paths and the abstract namespace)
// and UDP, each echoing exactly; 10,000 concurrent connections; deadlines on every kind of
// operation; resets, EPIPE without SIGPIPE, half-close and EOF; an accept storm; accept out
// of fds (EMFILE); close while another G waits; refused dials and malformed addresses;
// Addr; plain threads (poll(2)); and an idle server that uses no CPU.
//
// No wall-clock assertions: a deadline may be asserted not to fire early (it never does),
// and CPU time may be asserted below a generous bound; everything else is status codes,
// errnos, bytes and counts. Everything is loopback: the test machines have no network.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <mn/mn.hpp>
#include <mn/net.hpp>
#include <mn/netpoll.hpp>

#include "absl/strings/string_view.h"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using mn::Clock;
using mn::testing_util::HangGuard;
using mn::testing_util::kUnderTsan;
using mn::testing_util::WaitForParkedGs;
namespace net = mn::net;

// gmock's HasSubstr without linking gmock.
testing::AssertionResult HasSubstr(absl::string_view hay, absl::string_view needle) {
  if (hay.find(needle) != absl::string_view::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << hay << "\" does not contain \"" << needle << "\"";
}

std::string Pattern(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i++) s[i] = static_cast<char>((i * 131 + seed * 7 + 1) % 251);
  return s;
}

// Process CPU time (every thread, user + system).
std::chrono::microseconds CpuTime() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  };
  return std::chrono::duration_cast<std::chrono::microseconds>(us(ru.ru_utime) + us(ru.ru_stime));
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the limit now in force.
rlim_t RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// Can this host bind the IPv6 loopback? (Containers often have no IPv6 at all.)
bool HaveIPv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0;
  ::close(fd);
  return ok;
}

// A fresh directory under /tmp, removed (with the socket in it) when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mn_net_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty()) return;
    ::unlink((path_ + "/sock").c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Dial options with only a deadline (a designated initializer would leave the others to
// -Wmissing-field-initializers).
net::DialOptions Within(mn::Deadline d) {
  net::DialOptions o;
  o.deadline = d;
  return o;
}

// Echoes everything read on c back to it until end of stream; returns the bytes echoed.
// Errors count as a test failure (the peers in these tests never reset).
std::size_t Echo(net::Conn& c, mn::Deadline d = 50s) {
  char buf[4096];
  std::size_t total = 0;
  for (;;) {
    absl::StatusOr<std::size_t> n = c.read(buf, sizeof buf, d);
    if (!n.ok()) {
      ADD_FAILURE() << "echo read: " << n.status();
      return total;
    }
    if (*n == 0) return total;
    absl::StatusOr<std::size_t> w = c.write_all(buf, *n, d);
    if (!w.ok()) {
      ADD_FAILURE() << "echo write: " << w.status();
      return total;
    }
    total += *n;
  }
}

// A listener on addr and a connection through it, both ends, made from a G: dial
// completes as soon as the kernel queues the connection, so no accepting G is needed.
struct Pair {
  net::Listener l;
  net::Conn client, server;
};

testing::AssertionResult MakePair(Pair* p, std::string_view network = "tcp",
                                  std::string_view addr = "127.0.0.1:0") {
  absl::StatusOr<net::Listener> l = net::listen(network, addr);
  if (!l.ok()) return testing::AssertionFailure() << "listen: " << l.status();
  p->l = std::move(*l);
  std::string dial_addr = network == "unix" ? std::string(addr) : p->l.addr().to_string();
  absl::StatusOr<net::Conn> c = net::dial(network, dial_addr, Within(30s));
  if (!c.ok()) return testing::AssertionFailure() << "dial " << dial_addr << ": " << c.status();
  p->client = std::move(*c);
  absl::StatusOr<net::Conn> s = p->l.accept(30s);
  if (!s.ok()) return testing::AssertionFailure() << "accept: " << s.status();
  p->server = std::move(*s);
  return testing::AssertionSuccess();
}

// ---- echo over every stream network ---------------------------------------------------

// A server G accepts one connection and echoes it; the client sends a short message, then
// a megabyte from a writer G while main reads the echo back (both directions at once, so
// neither side's buffers can fill up and stall), then half-closes and reads end of stream.
void ExpectEcho(std::string_view network, std::string_view listen_addr,
                std::string* bound = nullptr) {
  HangGuard guard;
  std::size_t echoed = 0;
  std::string short_back, big_back;
  const std::string big = Pattern(1 << 20, 5);
  absl::StatusOr<std::size_t> at_eof = absl::UnknownError("not run");
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen(network, listen_addr);
        ASSERT_TRUE(l.ok()) << l.status();
        if (bound != nullptr) *bound = l->addr().to_string();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          absl::StatusOr<net::Conn> c = l->accept(30s);
          if (c.ok()) {
            echoed = Echo(*c);
          } else {
            ADD_FAILURE() << "accept: " << c.status();
          }
          wg.done();
        });
        std::string dial_addr =
            network == "unix" ? std::string(listen_addr) : l->addr().to_string();
        absl::StatusOr<net::Conn> c = net::dial(network, dial_addr, Within(30s));
        if (!c.ok()) {
          ADD_FAILURE() << "dial " << dial_addr << ": " << c.status();
          (void)l->close();  // the accepting G wakes with is_closed
          wg.wait();
          return;
        }
        absl::StatusOr<std::size_t> w = c->write_all("hello, mn::net", 30s);
        EXPECT_TRUE(w.ok()) << w.status();
        short_back.assign(14, '\0');
        absl::StatusOr<std::size_t> r = c->read_full(short_back.data(), 14, 30s);
        EXPECT_TRUE(r.ok()) << r.status();

        mn::WaitGroup writer;
        writer.add(1);
        mn::go([&] {
          absl::StatusOr<std::size_t> bw = c->write_all(big, 30s);
          EXPECT_TRUE(bw.ok()) << bw.status();
          if (bw.ok()) {
            EXPECT_EQ(*bw, big.size());
          }
          writer.done();
        });
        big_back.assign(big.size(), '\0');
        r = c->read_full(big_back.data(), big_back.size(), 30s);
        EXPECT_TRUE(r.ok()) << r.status();
        writer.wait();
        EXPECT_TRUE(c->shutdown(net::Shutdown::kWrite).ok());
        char b;
        at_eof = c->read(&b, 1, 30s);  // the server saw EOF, returned, closed
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(short_back, "hello, mn::net");
  EXPECT_TRUE(big_back == big) << "the megabyte came back different";
  EXPECT_EQ(echoed, 14 + big.size());
  ASSERT_TRUE(at_eof.ok()) << at_eof.status();
  EXPECT_EQ(*at_eof, 0u);
}

TEST(Echo, TcpIPv4) {
  std::string bound;
  ExpectEcho("tcp", "127.0.0.1:0", &bound);
  EXPECT_TRUE(HasSubstr(bound, "127.0.0.1:"));
  EXPECT_NE(bound, "127.0.0.1:0");  // the kernel chose a port
}

TEST(Echo, Tcp4IPv4) { ExpectEcho("tcp4", "127.0.0.1:0"); }

TEST(Echo, TcpIPv6) {
  if (!HaveIPv6Loopback()) GTEST_SKIP() << "this host cannot bind [::1] (no IPv6 loopback)";
  std::string bound;
  ExpectEcho("tcp", "[::1]:0", &bound);
  EXPECT_TRUE(HasSubstr(bound, "[::1]:"));
}

TEST(Echo, Tcp6IPv6) {
  if (!HaveIPv6Loopback()) GTEST_SKIP() << "this host cannot bind [::1] (no IPv6 loopback)";
  ExpectEcho("tcp6", "[::1]:0");
}

TEST(Echo, UnixPath) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/sock";
  std::string bound;
  ExpectEcho("unix", path, &bound);
  EXPECT_EQ(bound, path);
}

TEST(Echo, UnixAbstract) {
  const std::string name = "@mn_net_test_" + std::to_string(getpid());
  std::string bound;
  ExpectEcho("unix", name, &bound);
  EXPECT_EQ(bound, name);
}

// ":0" is every interface: IPv4 and, where the host has it, IPv6 both reach it.
TEST(Echo, EveryInterfaceListenerTakesBothFamilies) {
  HangGuard guard;
  const bool v6 = HaveIPv6Loopback();
  std::vector<std::string> got;
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", ":0");
        ASSERT_TRUE(l.ok()) << l.status();
        const int port = l->addr().port();
        ASSERT_GT(port, 0);
        std::vector<std::string> targets = {"127.0.0.1:" + std::to_string(port)};
        if (v6) targets.push_back("[::1]:" + std::to_string(port));
        for (const std::string& t : targets) {
          absl::StatusOr<net::Conn> c = net::dial("tcp", t, Within(30s));
          ASSERT_TRUE(c.ok()) << t << ": " << c.status();
          absl::StatusOr<net::Conn> s = l->accept(30s);
          ASSERT_TRUE(s.ok()) << s.status();
          EXPECT_TRUE(c->write_all(t, 30s).ok());
          std::string back(t.size(), '\0');
          absl::StatusOr<std::size_t> r = s->read_full(back.data(), back.size(), 30s);
          ASSERT_TRUE(r.ok()) << r.status();
          got.push_back(back);
        }
      },
      mn::Options{.procs = 2});
  ASSERT_GE(got.size(), 1u);
  EXPECT_TRUE(HasSubstr(got[0], "127.0.0.1:"));
  if (v6) {
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(HasSubstr(got[1], "[::1]:"));
  }
}

// ---- UDP -------------------------------------------------------------------------------

TEST(Udp, ReadFromWriteToAndDialedReadWrite) {
  HangGuard guard;
  mn::run(
      [&] {
        absl::StatusOr<net::PacketConn> srv = net::listen_udp("127.0.0.1:0");
        ASSERT_TRUE(srv.ok()) << srv.status();
        absl::StatusOr<net::PacketConn> cli = net::listen_udp("127.0.0.1:0");
        ASSERT_TRUE(cli.ok()) << cli.status();
        const net::Addr srv_addr = srv->local_addr();
        EXPECT_EQ(srv_addr.family(), AF_INET);
        EXPECT_GT(srv_addr.port(), 0);

        // The server is parked in read_from when the datagram arrives.
        char buf[64];
        net::Addr from;
        absl::StatusOr<std::size_t> got = absl::UnknownError("not run");
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          got = srv->read_from(buf, sizeof buf, &from, 30s);
          wg.done();
        });
        WaitForParkedGs(1);
        absl::StatusOr<std::size_t> w = cli->write_to("ping", 4, srv_addr, 30s);
        ASSERT_TRUE(w.ok()) << w.status();
        EXPECT_EQ(*w, 4u);
        wg.wait();
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(std::string(buf, *got), "ping");
        EXPECT_EQ(from.port(), cli->local_addr().port());
        EXPECT_EQ(from.ip(), "127.0.0.1");

        w = srv->write_to("pong", 4, from, 30s);
        ASSERT_TRUE(w.ok()) << w.status();
        net::Addr from2;
        got = cli->read_from(buf, sizeof buf, &from2, 30s);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(std::string(buf, *got), "pong");
        EXPECT_EQ(from2.port(), srv_addr.port());

        // A datagram longer than the buffer is truncated to it.
        const std::string long_one = Pattern(100, 9);
        ASSERT_TRUE(cli->write_to(long_one.data(), long_one.size(), srv_addr, 30s).ok());
        got = srv->read_from(buf, 10, &from, 30s);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(*got, 10u);
        EXPECT_EQ(std::string(buf, 10), long_one.substr(0, 10));

        // dial_udp: a connected socket, read and write.
        absl::StatusOr<net::PacketConn> d = net::dial_udp(srv_addr.to_string());
        ASSERT_TRUE(d.ok()) << d.status();
        EXPECT_EQ(d->remote_addr().port(), srv_addr.port());
        w = d->write("hello", 5, 30s);
        ASSERT_TRUE(w.ok()) << w.status();
        EXPECT_EQ(*w, 5u);
        got = srv->read_from(buf, sizeof buf, &from, 30s);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(std::string(buf, *got), "hello");
        EXPECT_EQ(from.port(), d->local_addr().port());
        ASSERT_TRUE(srv->write_to("world", 5, from, 30s).ok());
        got = d->read(buf, sizeof buf, 30s);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_EQ(std::string(buf, *got), "world");

        // Nothing more comes: a read deadline passes.
        got = d->read(buf, sizeof buf, 20ms);
        EXPECT_TRUE(net::is_timeout(got.status())) << got.status();
        srv->set_read_deadline(Clock::now() - 1s);
        got = srv->read_from(buf, sizeof buf, &from);
        EXPECT_TRUE(net::is_timeout(got.status())) << got.status();

        EXPECT_TRUE(d->close().ok());
        EXPECT_TRUE(net::is_closed(d->close()));
        got = d->read(buf, sizeof buf, 30s);
        EXPECT_TRUE(net::is_closed(got.status())) << got.status();
      },
      mn::Options{.procs = 2});
}

// ---- 10,000 concurrent connections -----------------------------------------------------

// The issue's figure: 10,000 connections open at once, each echoing a message of its own.
// Under TSan it is 3,000: TSan allows about 8,000 started Gs (fibers) at once, and a
// connection here is two Gs (a server G and a client G), so 10,000 cannot work there.
const int kConns = kUnderTsan ? 3000 : 10000;

std::string MessageFor(int i) {
  return "conn " + std::to_string(i) + " " + Pattern(64 + (i * 37) % 400, i);
}

int64_t TotalMessageBytes(int n) {
  int64_t total = 0;
  for (int i = 0; i < n; i++) total += static_cast<int64_t>(MessageFor(i).size());
  return total;
}

struct ServerCounts {
  std::atomic<int> accepted{0};
  std::atomic<int> served{0};
  std::atomic<int64_t> bytes{0};
};

// From a G: accepts n connections on l, a G each echoing until end of stream; returns when
// all are served (or accept failed: its deadline bounds a missing client).
void ServeEchoes(net::Listener& l, int n, ServerCounts& counts) {
  mn::WaitGroup wg;
  const mn::Deadline give_up = 45s;
  for (int i = 0; i < n; i++) {
    absl::StatusOr<net::Conn> c = l.accept(give_up);
    if (!c.ok()) {
      ADD_FAILURE() << "accept #" << i << ": " << c.status();
      break;
    }
    counts.accepted++;
    wg.add(1);
    mn::go([&, conn = std::move(*c)]() mutable {
      std::size_t echoed = Echo(conn, give_up);
      counts.bytes += static_cast<int64_t>(echoed);
      counts.served++;
      wg.done();
    });
  }
  wg.wait();
}

// From a G: n client Gs dial addr at once, each sends its message and checks the echo,
// then holds its connection open until every client has its echo, so that all n are open
// at the same time. Returns how many were verified byte for byte.
int RunClients(const std::string& addr, int n) {
  std::atomic<int> verified{0};
  mn::WaitGroup all_echoed, done;
  all_echoed.add(n);
  done.add(n);
  for (int i = 0; i < n; i++) {
    mn::go([&, i] {
      const std::string msg = MessageFor(i);
      absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(40s));
      bool ok = c.ok();
      if (!ok) ADD_FAILURE() << "dial #" << i << ": " << c.status();
      if (ok) {
        absl::StatusOr<std::size_t> w = c->write_all(msg, 40s);
        std::string back(msg.size(), '\0');
        absl::StatusOr<std::size_t> r = absl::UnknownError("not read");
        if (w.ok()) r = c->read_full(back.data(), back.size(), 40s);
        ok = w.ok() && r.ok() && back == msg;
        if (!ok) ADD_FAILURE() << "conn #" << i << ": " << w.status() << " / " << r.status();
      }
      all_echoed.done();
      all_echoed.wait();  // every connection is open here at once
      if (ok) verified++;
      if (c.ok()) (void)c->close();
      done.done();
    });
  }
  done.wait();
  return verified.load();
}

TEST(TenThousandConnections, EachEchoesExactlyInOneProcess) {
  const rlim_t limit = RaiseFdLimit();
  const rlim_t need = 2 * static_cast<rlim_t>(kConns) + 256;  // both ends, plus headroom
  if (limit < need) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " < " << need << " fds for "
                 << kConns << " connections with both ends in one process; "
                 << "TenThousandConnections.EachEchoesExactlyClientsInAChildProcess covers them";
  }
  HangGuard guard;
  ServerCounts counts;
  int verified = -1;
  mn::run([&] {
    absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(l.ok()) << l.status();
    mn::WaitGroup server;
    server.add(1);
    mn::go([&] {
      ServeEchoes(*l, kConns, counts);
      server.done();
    });
    verified = RunClients(l->addr().to_string(), kConns);
    server.wait();
  });
  EXPECT_EQ(verified, kConns);
  EXPECT_EQ(counts.accepted.load(), kConns);
  EXPECT_EQ(counts.served.load(), kConns);
  EXPECT_EQ(counts.bytes.load(), TotalMessageBytes(kConns));
}

// The same with the client ends in a child process, forked before either runtime starts
// (the test process is single-threaded then), so each process needs one fd per connection:
// this runs where the hard limit is below the 20,000-odd one process needs.
TEST(TenThousandConnections, EachEchoesExactlyClientsInAChildProcess) {
  const rlim_t limit = RaiseFdLimit();
  const rlim_t need = static_cast<rlim_t>(kConns) + 256;
  if (limit < need) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " < " << need << " fds for "
                 << kConns << " connections";
  }
  int port_pipe[2], result_pipe[2];
  ASSERT_EQ(pipe2(port_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(result_pipe, O_CLOEXEC), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    alarm(90);  // the child's hang guard: SIGALRM ends it, the parent sees the failure
    ::close(port_pipe[1]);
    ::close(result_pipe[0]);
    int port = 0;
    if (::read(port_pipe[0], &port, sizeof port) != static_cast<ssize_t>(sizeof port)) _exit(3);
    int verified = 0;
    mn::run([&] { verified = RunClients("127.0.0.1:" + std::to_string(port), kConns); });
    if (::write(result_pipe[1], &verified, sizeof verified) != sizeof verified) _exit(4);
    _exit(testing::Test::HasFailure() ? 5 : 0);
  }
  ::close(port_pipe[0]);
  ::close(result_pipe[1]);
  ServerCounts counts;
  {
    HangGuard guard;
    mn::run([&] {
      absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
      int port = l.ok() ? l->addr().port() : 0;
      EXPECT_EQ(::write(port_pipe[1], &port, sizeof port), static_cast<ssize_t>(sizeof port));
      ::close(port_pipe[1]);
      ASSERT_TRUE(l.ok()) << l.status();
      ServeEchoes(*l, kConns, counts);
    });
  }
  // The child reports when its runtime has finished; one that hangs is killed (it is
  // ours) rather than left to its alarm.
  int verified = -1;
  ssize_t n = -1;
  pollfd pfd{result_pipe[0], POLLIN, 0};
  if (poll(&pfd, 1, 60'000) == 1) {
    n = ::read(result_pipe[0], &verified, sizeof verified);
  } else {
    ADD_FAILURE() << "the client process did not report within 60 s after the server finished";
    kill(child, SIGKILL);
  }
  ::close(result_pipe[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "client process: " << (WIFEXITED(status) ? "exit " : "signal ")
      << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  EXPECT_EQ(n, static_cast<ssize_t>(sizeof verified));
  EXPECT_EQ(verified, kConns);
  EXPECT_EQ(counts.accepted.load(), kConns);
  EXPECT_EQ(counts.served.load(), kConns);
  EXPECT_EQ(counts.bytes.load(), TotalMessageBytes(kConns));
}

// ---- deadlines -------------------------------------------------------------------------

TEST(Deadlines, ReadTimeoutOnAnIdleConnThenTheConnStillWorks) {
  HangGuard guard;
  absl::StatusOr<std::size_t> timed_out = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> later = absl::UnknownError("not run");
  Clock::duration elapsed{};
  char c = 0;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        auto t0 = Clock::now();
        timed_out = p.client.read(&c, 1, 20ms);
        elapsed = Clock::now() - t0;
        // A timeout is not an error state: with data and no deadline the read succeeds.
        ASSERT_TRUE(p.server.write_all("k", 30s).ok());
        later = p.client.read(&c, 1, 30s);
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(timed_out.status())) << timed_out.status();
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(HasSubstr(timed_out.status().message(), "i/o timeout"));
  EXPECT_FALSE(net::is_closed(timed_out.status()));
  EXPECT_FALSE(net::is_eof(timed_out.status()));
  EXPECT_GE(elapsed, 20ms);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(*later, 1u);
  EXPECT_EQ(c, 'k');
}

TEST(Deadlines, ReadDeadlineInThePastTimesOutAtOnceUntilCleared) {
  HangGuard guard;
  absl::StatusOr<std::size_t> past = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> past_with_data = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> cleared = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> write_ok = absl::UnknownError("not run");
  char c = 0;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        p.client.set_read_deadline(Clock::now() - 1s);
        past = p.client.read(&c, 1);
        // The read deadline leaves writing alone.
        write_ok = p.client.write("w", 1, 30s);
        ASSERT_TRUE(p.server.write_all("x", 30s).ok());
        past_with_data = p.client.read(&c, 1);  // Go: a passed deadline fails even with data
        p.client.set_read_deadline(mn::Deadline::none());
        cleared = p.client.read(&c, 1, 30s);
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(past.status())) << past.status();
  EXPECT_TRUE(net::is_timeout(past_with_data.status())) << past_with_data.status();
  ASSERT_TRUE(write_ok.ok()) << write_ok.status();
  EXPECT_EQ(*write_ok, 1u);
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_EQ(*cleared, 1u);
  EXPECT_EQ(c, 'x');
}

// Go's SetReadDeadline on a read already waiting: it wakes with a timeout.
TEST(Deadlines, SetReadDeadlineFromAnotherGWakesAParkedReader) {
  HangGuard guard;
  absl::StatusOr<std::size_t> r = absl::UnknownError("not run");
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          char c;
          r = p.client.read(&c, 1);  // no deadline of its own
          wg.done();
        });
        WaitForParkedGs(1);
        p.client.set_read_deadline(Clock::now() + 5ms);
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(r.status())) << r.status();
}

// set_deadline is both directions; the earlier of it and the operation's own deadline wins.
TEST(Deadlines, SetDeadlineAndTheOperationsDeadlineTheEarlierWins) {
  HangGuard guard;
  absl::StatusOr<std::size_t> by_conn = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> by_op = absl::UnknownError("not run");
  Clock::duration e1{}, e2{};
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        char c;
        auto t0 = Clock::now();
        p.client.set_deadline(t0 + 20ms);
        by_conn = p.client.read(&c, 1, 1h);  // the connection's 20 ms wins
        e1 = Clock::now() - t0;
        p.client.set_deadline(Clock::now() + 1h);
        t0 = Clock::now();
        by_op = p.client.read(&c, 1, 20ms);  // the operation's 20 ms wins
        e2 = Clock::now() - t0;
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(by_conn.status())) << by_conn.status();
  EXPECT_TRUE(net::is_timeout(by_op.status())) << by_op.status();
  EXPECT_GE(e1, 20ms);
  EXPECT_GE(e2, 20ms);
}

// A peer that does not read: the send buffer fills and write_all's deadline passes.
TEST(Deadlines, WriteTimesOutWhenThePeerDoesNotRead) {
  HangGuard guard;
  absl::StatusOr<std::size_t> w = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> past = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> parked = absl::UnknownError("not run");
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        const std::string lots(64 << 20, 'w');  // far more than both buffers hold
        w = p.client.write_all(lots, 50ms);
        p.client.set_write_deadline(Clock::now() - 1s);
        past = p.client.write("x", 1);
        // A writer parked on the full buffer wakes when another G sets a deadline.
        p.client.set_write_deadline(mn::Deadline::none());
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          parked = p.client.write_all(lots);
          wg.done();
        });
        WaitForParkedGs(1);
        p.client.set_write_deadline(Clock::now() + 5ms);
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(w.status())) << w.status();
  EXPECT_TRUE(net::is_timeout(past.status())) << past.status();
  EXPECT_TRUE(net::is_timeout(parked.status())) << parked.status();
}

TEST(Deadlines, AcceptTimesOutAndSetDeadlineWakesAParkedAccept) {
  HangGuard guard;
  // Statuses only outside run: a Conn must not outlive the runtime its fd is registered in.
  absl::Status timed_out = absl::UnknownError("not run");
  absl::Status past = absl::UnknownError("not run");
  absl::Status parked = absl::UnknownError("not run");
  absl::Status cleared = absl::UnknownError("not run");
  Clock::duration elapsed{};
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(l.ok()) << l.status();
        auto t0 = Clock::now();
        timed_out = l->accept(20ms).status();
        elapsed = Clock::now() - t0;
        l->set_deadline(Clock::now() - 1s);
        past = l->accept().status();
        l->set_deadline(mn::Deadline::none());
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          parked = l->accept().status();
          wg.done();
        });
        WaitForParkedGs(1);
        l->set_deadline(Clock::now() + 5ms);
        wg.wait();
        // Cleared, accept works again.
        l->set_deadline(mn::Deadline::none());
        absl::StatusOr<net::Conn> c = net::dial("tcp", l->addr().to_string(), Within(30s));
        ASSERT_TRUE(c.ok()) << c.status();
        cleared = l->accept(30s).status();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_timeout(timed_out)) << timed_out;
  EXPECT_GE(elapsed, 20ms);
  EXPECT_TRUE(net::is_timeout(past)) << past;
  EXPECT_TRUE(net::is_timeout(parked)) << parked;
  EXPECT_TRUE(cleared.ok()) << cleared;
}

// 10.255.255.1 is not routable: a SYN to it is never answered, so dial waits for its
// deadline. A machine with no route at all fails at once (ENETUNREACH or the like). Either
// way the dial returns an error, and a timeout does not come early. Some sandboxes answer
// every connection themselves (a transparent proxy): there the test is skipped, and
// DialTimesOutAgainstAFullBacklog covers the deadline on loopback alone.
TEST(Deadlines, DialToANonRoutableAddressTimesOutOrFailsFast) {
  HangGuard guard;
  absl::Status st = absl::UnknownError("not run");
  bool connected = false;
  Clock::duration elapsed{};
  mn::run([&] {
    auto t0 = Clock::now();
    absl::StatusOr<net::Conn> c = net::dial("tcp", "10.255.255.1:9", Within(50ms));
    elapsed = Clock::now() - t0;
    connected = c.ok();
    st = c.status();
  });
  if (connected) {
    GTEST_SKIP() << "this network accepted a connection to 10.255.255.1:9 (something answers "
                    "for every address), so no dial to it can wait for its deadline";
  }
  if (net::is_timeout(st)) {
    EXPECT_GE(elapsed, 50ms);
  } else {
    EXPECT_NE(mn::sys::errno_of(st), 0) << st;  // a system call's failure, with its errno
  }
  EXPECT_TRUE(HasSubstr(st.message(), "10.255.255.1:9")) << st;
}

// A dial that can never complete, on loopback alone: a listener whose accept queue is full
// (backlog 0, nobody accepting) drops further SYNs, so the next connect stays in SYN_SENT
// until the dial's deadline passes.
TEST(Deadlines, DialTimesOutAgainstAFullBacklog) {
  HangGuard guard;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(listen(lfd, 0), 0);
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  absl::Status timed_out = absl::UnknownError("no dial timed out");
  int queued = 0;
  Clock::duration elapsed{};
  mn::run(
      [&] {
        std::vector<net::Conn> held;  // the connections that filled the queue
        for (int i = 0; i < 16; i++) {
          auto t0 = Clock::now();
          absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(100ms));
          if (c.ok()) {
            queued++;
            held.push_back(std::move(*c));
            continue;
          }
          elapsed = Clock::now() - t0;
          timed_out = c.status();
          break;
        }
      },
      mn::Options{.procs = 2});
  ::close(lfd);
  EXPECT_TRUE(net::is_timeout(timed_out)) << timed_out << " after " << queued << " dials";
  EXPECT_TRUE(HasSubstr(timed_out.message(), addr)) << timed_out;
  EXPECT_GE(elapsed, 100ms);
  EXPECT_GE(queued, 1);
}

// ---- resets, EPIPE, half-close, EOF -------------------------------------------------------

// The peer closes with SO_LINGER {1, 0}: it sends RST, and a reader parked on the
// connection wakes with ECONNRESET.
TEST(PeerReset, ReadGetsECONNRESET) {
  HangGuard guard;
  absl::StatusOr<std::size_t> r = absl::UnknownError("not run");
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          char c;
          r = p.client.read(&c, 1, 30s);
          wg.done();
        });
        WaitForParkedGs(1);
        linger lg{1, 0};
        ASSERT_EQ(setsockopt(p.server.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0)
            << std::strerror(errno);
        EXPECT_TRUE(p.server.close().ok());
        wg.wait();
      },
      mn::Options{.procs = 2});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(mn::sys::errno_of(r.status()), ECONNRESET) << r.status();
  EXPECT_EQ(r.status().code(), absl::ErrnoToStatusCode(ECONNRESET));
  EXPECT_TRUE(HasSubstr(r.status().message(), std::strerror(ECONNRESET)));
  EXPECT_TRUE(HasSubstr(r.status().message(), "read"));
  EXPECT_FALSE(net::is_closed(r.status()));
}

// Writing to a connection whose peer has closed: the first writes may succeed (the peer's
// kernel answers them with RST), then EPIPE or ECONNRESET, and no SIGPIPE: the disposition
// is the default (death) when the runtime starts, so a SIGPIPE would end the test process.
TEST(PeerReset, WriteAfterThePeerClosedGivesEPIPEWithoutSIGPIPE) {
  HangGuard guard;
  signal(SIGPIPE, SIG_DFL);
  absl::Status err;
  int writes_ok = 0;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        EXPECT_TRUE(p.server.close().ok());
        for (int i = 0; i < 5000 && err.ok(); i++) {
          absl::StatusOr<std::size_t> w = p.client.write_all("data", 30s);
          if (w.ok()) {
            writes_ok++;
            mn::sleep_for(1ms);  // let the RST come back
          } else {
            err = w.status();
          }
        }
        // And again: still an error, still no signal.
        absl::StatusOr<std::size_t> again = p.client.write_all("more", 30s);
        EXPECT_FALSE(again.ok());
      },
      mn::Options{.procs = 2});
  ASSERT_FALSE(err.ok()) << "5000 writes after the peer closed all succeeded";
  const int e = mn::sys::errno_of(err);
  EXPECT_TRUE(e == EPIPE || e == ECONNRESET) << err;
  RecordProperty("writes_before_the_error", writes_ok);
}

TEST(HalfClose, ServerReadsEOFAndCanStillWriteBack) {
  HangGuard guard;
  absl::StatusOr<std::size_t> server_eof = absl::UnknownError("not run");
  std::string server_got, client_got;
  absl::StatusOr<std::size_t> client_eof = absl::UnknownError("not run");
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        ASSERT_TRUE(p.client.write_all("request", 30s).ok());
        ASSERT_TRUE(p.client.shutdown(net::Shutdown::kWrite).ok());
        // The server reads the request, then end of stream.
        char buf[64];
        for (;;) {
          absl::StatusOr<std::size_t> n = p.server.read(buf, sizeof buf, 30s);
          if (!n.ok() || *n == 0) {
            server_eof = n;
            break;
          }
          server_got.append(buf, *n);
        }
        // It can still write, and the client (whose read side is open) reads it.
        ASSERT_TRUE(p.server.write_all("response", 30s).ok());
        ASSERT_TRUE(p.server.close().ok());
        for (;;) {
          absl::StatusOr<std::size_t> n = p.client.read(buf, sizeof buf, 30s);
          if (!n.ok() || *n == 0) {
            client_eof = n;
            break;
          }
          client_got.append(buf, *n);
        }
        // Writing after shutdown(kWrite) is an error, not a crash.
        EXPECT_FALSE(p.client.write_all("late", 30s).ok());
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(server_got, "request");
  ASSERT_TRUE(server_eof.ok()) << server_eof.status();
  EXPECT_EQ(*server_eof, 0u);
  EXPECT_EQ(client_got, "response");
  ASSERT_TRUE(client_eof.ok()) << client_eof.status();
  EXPECT_EQ(*client_eof, 0u);
}

TEST(HalfClose, ReadFullAtEOFIsEOFAndUnexpectedEOFAfterAPart) {
  HangGuard guard;
  absl::StatusOr<std::size_t> partial = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> at_end = absl::UnknownError("not run");
  std::string got;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        ASSERT_TRUE(p.server.write_all("abc", 30s).ok());
        ASSERT_TRUE(p.server.shutdown(net::Shutdown::kWrite).ok());
        char buf[5] = {};
        partial = p.client.read_full(buf, 5, 30s);
        got.assign(buf, 3);
        at_end = p.client.read_full(buf, 5, 30s);
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_eof(partial.status())) << partial.status();
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(HasSubstr(partial.status().message(), "unexpected EOF"));
  EXPECT_EQ(got, "abc");
  EXPECT_TRUE(net::is_eof(at_end.status())) << at_end.status();
  EXPECT_TRUE(HasSubstr(at_end.status().message(), "EOF"));
  EXPECT_FALSE(HasSubstr(at_end.status().message(), "unexpected"));
  EXPECT_FALSE(net::is_timeout(at_end.status()));
  EXPECT_FALSE(net::is_closed(at_end.status()));
}

// ---- accept storm ----------------------------------------------------------------------

// 2,000 Gs dial at once; one G accepts them all; each client's id arrives exactly once.
TEST(AcceptStorm, EveryDialIsAcceptedExactlyOnce) {
  HangGuard guard;
  constexpr int kClients = 2000;
  RaiseFdLimit();  // 4,000 fds and some
  std::atomic<int> dialed{0};
  int accepted_count = 0;
  std::vector<int> seen(kClients, 0);
  int bad_ids = 0;
  mn::run([&] {
    std::vector<net::Conn> accepted;  // no Conn may outlive the runtime
    absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(l.ok()) << l.status();
    const std::string addr = l->addr().to_string();
    mn::WaitGroup acceptor;
    acceptor.add(1);
    mn::go([&] {
      for (int i = 0; i < kClients; i++) {
        absl::StatusOr<net::Conn> c = l->accept(45s);
        if (!c.ok()) {
          ADD_FAILURE() << "accept #" << i << ": " << c.status();
          break;
        }
        accepted.push_back(std::move(*c));
      }
      acceptor.done();
    });
    std::vector<net::Conn> clients(kClients);
    mn::WaitGroup wg;
    wg.add(kClients);
    for (int i = 0; i < kClients; i++) {
      mn::go([&, i] {
        absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(45s));
        if (c.ok()) {
          uint32_t id = static_cast<uint32_t>(i);
          if (c->write_all(&id, sizeof id, 30s).ok()) dialed++;
          clients[i] = std::move(*c);
        } else {
          ADD_FAILURE() << "dial #" << i << ": " << c.status();
        }
        wg.done();
      });
    }
    wg.wait();
    acceptor.wait();
    for (net::Conn& c : accepted) {
      uint32_t id = 0;
      absl::StatusOr<std::size_t> r = c.read_full(&id, sizeof id, 30s);
      if (r.ok() && id < static_cast<uint32_t>(kClients)) {
        seen[id]++;
      } else {
        bad_ids++;
      }
    }
    accepted_count = static_cast<int>(accepted.size());
  });
  EXPECT_EQ(dialed.load(), kClients);
  EXPECT_EQ(accepted_count, kClients);
  EXPECT_EQ(bad_ids, 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kClients);
}

// ---- out of fds ------------------------------------------------------------------------

// With the fd table full, a connection arriving for a G parked in accept makes accept
// return EMFILE (not a crash, a hang or a busy loop); the connection stays queued, and
// once fds are free again accept takes it and it is served.
TEST(Emfile, AcceptReturnsEMFILEThenServesOnceFdsAreFree) {
  HangGuard guard;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  absl::Status exhausted = absl::UnknownError("not run");
  absl::Status recovered = absl::UnknownError("not run");
  std::string served;
  bool filled = false;
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(l.ok()) << l.status();
        const std::string addr = l->addr().to_string();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          exhausted = l->accept(30s).status();
          wg.done();
        });
        WaitForParkedGs(1);

        // A small table, filled with dups but for one slot, which the dial takes.
        rlimit low = old;
        low.rlim_cur = std::min<rlim_t>(old.rlim_cur, 256);
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0) << std::strerror(errno);
        std::vector<int> dups;
        for (;;) {
          int fd = dup(l->fd());
          if (fd < 0) break;
          dups.push_back(fd);
        }
        filled = errno == EMFILE && !dups.empty();
        if (dups.empty()) {
          setrlimit(RLIMIT_NOFILE, &old);
          ADD_FAILURE() << "could not fill the fd table: " << std::strerror(errno);
          (void)l->close();
          wg.wait();
          return;
        }
        ::close(dups.back());
        dups.pop_back();
        absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(30s));
        if (!c.ok()) {
          ADD_FAILURE() << "dial with one free fd: " << c.status();
          (void)l->close();
        }
        wg.wait();  // accept has returned: EMFILE

        for (int i = 0; i < 16 && !dups.empty(); i++) {
          ::close(dups.back());
          dups.pop_back();
        }
        absl::StatusOr<net::Conn> s = l->accept(30s);
        recovered = s.status();
        if (s.ok() && c.ok()) {
          EXPECT_TRUE(s->write_all("served", 30s).ok());
          served.assign(6, '\0');
          absl::StatusOr<std::size_t> r = c->read_full(served.data(), 6, 30s);
          EXPECT_TRUE(r.ok()) << r.status();
        }
        for (int fd : dups) ::close(fd);
        setrlimit(RLIMIT_NOFILE, &old);
      },
      mn::Options{.procs = 2});
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_TRUE(filled);
  ASSERT_FALSE(exhausted.ok());
  EXPECT_EQ(mn::sys::errno_of(exhausted), EMFILE) << exhausted;
  EXPECT_EQ(exhausted.code(), absl::ErrnoToStatusCode(EMFILE));
  EXPECT_FALSE(net::is_closed(exhausted));
  ASSERT_TRUE(recovered.ok()) << recovered;
  EXPECT_EQ(served, "served");
}

// ---- close ------------------------------------------------------------------------------

TEST(Close, ParkedReaderAndWriterWakeWithIsClosed) {
  HangGuard guard;
  absl::StatusOr<std::size_t> r = absl::UnknownError("not run");
  absl::StatusOr<std::size_t> w = absl::UnknownError("not run");
  absl::Status first_close, second_close;
  int fd_after = 0;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        const std::string lots(64 << 20, 'c');
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          char c;
          r = p.client.read(&c, 1);
          wg.done();
        });
        mn::go([&] {
          w = p.client.write_all(lots);  // the peer never reads: parks on a full buffer
          wg.done();
        });
        WaitForParkedGs(2);
        first_close = p.client.close();
        wg.wait();
        second_close = p.client.close();
        fd_after = p.client.fd();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_closed(r.status())) << r.status();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(HasSubstr(r.status().message(), "use of closed connection"));
  EXPECT_TRUE(net::is_closed(w.status())) << w.status();
  EXPECT_TRUE(first_close.ok()) << first_close;
  EXPECT_TRUE(net::is_closed(second_close)) << second_close;
  EXPECT_EQ(fd_after, -1);
}

TEST(Close, ParkedAcceptWakesWithIsClosed) {
  HangGuard guard;
  absl::Status a = absl::UnknownError("not run");
  absl::Status after = absl::UnknownError("not run");
  absl::Status first_close, second_close;
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(l.ok()) << l.status();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          a = l->accept().status();
          wg.done();
        });
        WaitForParkedGs(1);
        first_close = l->close();
        wg.wait();
        second_close = l->close();
        after = l->accept(30s).status();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(net::is_closed(a)) << a;
  EXPECT_TRUE(first_close.ok()) << first_close;
  EXPECT_TRUE(net::is_closed(second_close)) << second_close;
  EXPECT_TRUE(net::is_closed(after)) << after;
}

TEST(Close, EveryOperationAfterCloseIsClosed) {
  HangGuard guard;
  std::vector<absl::Status> results;
  int fd_after = 0;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        ASSERT_TRUE(p.client.close().ok());
        char buf[4];
        results.push_back(p.client.read(buf, 4, 30s).status());
        results.push_back(p.client.write("x", 1, 30s).status());
        results.push_back(p.client.read_full(buf, 4, 30s).status());
        results.push_back(p.client.write_all("x", 30s).status());
        results.push_back(p.client.shutdown(net::Shutdown::kBoth));
        results.push_back(p.client.close());
        p.client.set_deadline(Clock::now() + 1s);  // harmless
        fd_after = p.client.fd();
      },
      mn::Options{.procs = 2});
  ASSERT_EQ(results.size(), 6u);
  for (std::size_t i = 0; i < results.size(); i++) {
    EXPECT_TRUE(net::is_closed(results[i])) << "operation " << i << ": " << results[i];
  }
  EXPECT_EQ(fd_after, -1);
}

// A moved-from Conn is empty; the moved-to one is the connection.
TEST(Close, MovedFromConnIsEmpty) {
  HangGuard guard;
  int moved_from_fd = 0;
  bool moved_from_valid = true;
  std::string got;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        net::Conn moved = std::move(p.client);
        moved_from_fd = p.client.fd();  // NOLINT(bugprone-use-after-move)
        moved_from_valid = p.client.valid();
        ASSERT_TRUE(moved.write_all("mv", 30s).ok());
        got.assign(2, '\0');
        ASSERT_TRUE(p.server.read_full(got.data(), 2, 30s).ok());
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(moved_from_fd, -1);
  EXPECT_FALSE(moved_from_valid);
  EXPECT_EQ(got, "mv");
}

// Two Gs reading one connection take turns: neither is refused, each byte goes to one.
TEST(Concurrency, ConcurrentReadersTakeTurns) {
  HangGuard guard;
  constexpr int kReaders = 4;
  constexpr int kBytes = 400;
  std::atomic<int> total{0}, errors{0};
  std::vector<int> seen(kBytes, 0);
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        mn::WaitGroup wg;
        wg.add(kReaders);
        mn::Mutex mu;
        for (int r = 0; r < kReaders; r++) {
          mn::go([&] {
            for (;;) {
              uint16_t v;
              absl::StatusOr<std::size_t> n = p.server.read_full(&v, sizeof v, 30s);
              if (!n.ok()) {
                if (!net::is_eof(n.status())) {
                  errors++;
                  ADD_FAILURE() << n.status();
                }
                break;
              }
              std::lock_guard<mn::Mutex> lock(mu);
              if (v < kBytes) seen[v]++;
              total++;
            }
            wg.done();
          });
        }
        WaitForParkedGs(kReaders);  // all four wait on the one socket
        // Each write is one 2-byte value and each read asks for 2 bytes, so the kernel
        // never splits a value between reads. What is tested: several readers waiting on
        // one socket take turns (none is refused, as a second waiter on one PollFd is),
        // and every value arrives exactly once.
        for (int i = 0; i < kBytes; i++) {
          uint16_t v = static_cast<uint16_t>(i);
          EXPECT_TRUE(p.client.write_all(&v, sizeof v, 30s).ok());
          if (i % 50 == 0) mn::yield();
        }
        EXPECT_TRUE(p.client.shutdown(net::Shutdown::kWrite).ok());
        wg.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(total.load(), kBytes);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kBytes);
}

// ---- dial errors and addresses ---------------------------------------------------------

TEST(DialErrors, NothingListeningIsECONNREFUSED) {
  HangGuard guard;
  // A port bound but not listening: nobody else can take it, and nothing answers on it.
  int holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(holder, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const std::string addr = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  absl::Status st = absl::UnknownError("not run");
  mn::run([&] { st = net::dial("tcp", addr, Within(30s)).status(); });
  ::close(holder);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(mn::sys::errno_of(st), ECONNREFUSED) << st;
  EXPECT_EQ(st.code(), absl::ErrnoToStatusCode(ECONNREFUSED));
  EXPECT_TRUE(HasSubstr(st.message(), addr));
  EXPECT_TRUE(HasSubstr(st.message(), std::strerror(ECONNREFUSED)));
}

TEST(DialErrors, MalformedAddressesAreInvalidArgumentNamingThem) {
  HangGuard guard;
  struct Case {
    std::string network, addr, named;
  };
  const std::vector<Case> cases = {
      {"tcp", "nonsense", "nonsense"},
      {"tcp", "1.2.3.4:99999", "1.2.3.4:99999"},
      {"tcp", "[::1", "[::1"},
      {"tcp", "1.2.3.4:-1", "1.2.3.4:-1"},
      {"tcpx", "127.0.0.1:80", "tcpx"},
  };
  std::vector<absl::Status> dials, listens, parses;
  mn::run([&] {
    for (const Case& c : cases) {
      dials.push_back(net::dial(c.network, c.addr, Within(30s)).status());
      listens.push_back(net::listen(c.network, c.addr).status());
      if (c.network == "tcp") parses.push_back(net::Addr::parse(c.addr).status());
    }
  });
  ASSERT_EQ(dials.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); i++) {
    SCOPED_TRACE(cases[i].network + " " + cases[i].addr);
    EXPECT_EQ(dials[i].code(), absl::StatusCode::kInvalidArgument) << dials[i];
    EXPECT_TRUE(HasSubstr(dials[i].message(), cases[i].named));
    EXPECT_EQ(listens[i].code(), absl::StatusCode::kInvalidArgument) << listens[i];
    EXPECT_TRUE(HasSubstr(listens[i].message(), cases[i].named));
  }
  for (const absl::Status& st : parses) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  }
  // Outside the runtime too.
  absl::StatusOr<net::Conn> c = net::dial("tcp", "nonsense");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_EQ(net::listen_udp("1.2.3.4:99999").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net::dial_udp("[::1").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Addr, ParseAndToStringRoundTrip) {
  for (const char* s : {"127.0.0.1:8080", "0.0.0.0:0", "255.255.255.255:65535", "10.1.2.3:1"}) {
    absl::StatusOr<net::Addr> a = net::Addr::parse(s);
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    EXPECT_EQ(a->family(), AF_INET) << s;
    EXPECT_EQ(a->to_string(), s);
    EXPECT_EQ(a->size(), sizeof(sockaddr_in));
  }
  absl::StatusOr<net::Addr> v4 = net::Addr::parse("192.168.1.20:443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->ip(), "192.168.1.20");
  EXPECT_EQ(v4->port(), 443);
  const auto* sin = reinterpret_cast<const sockaddr_in*>(v4->sockaddr_ptr());
  EXPECT_EQ(ntohs(sin->sin_port), 443);
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0xC0A80114u);

  for (const char* s : {"[::1]:443", "[::]:0", "[fe80::1:2]:8080", "[2001:db8::ff00:42:8329]:65535"}) {
    absl::StatusOr<net::Addr> a = net::Addr::parse(s, "tcp6");
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    EXPECT_EQ(a->family(), AF_INET6) << s;
    EXPECT_EQ(a->to_string(), s);
    EXPECT_EQ(a->size(), sizeof(sockaddr_in6));
  }
  absl::StatusOr<net::Addr> v6 = net::Addr::parse("[::1]:9000");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->ip(), "::1");
  EXPECT_EQ(v6->port(), 9000);

  for (const char* s : {"/tmp/some.sock", "relative/path.sock", "@abstract-name"}) {
    absl::StatusOr<net::Addr> a = net::Addr::parse(s, "unix");
    ASSERT_TRUE(a.ok()) << s << ": " << a.status();
    EXPECT_EQ(a->family(), AF_UNIX) << s;
    EXPECT_EQ(a->to_string(), s);
    EXPECT_EQ(a->port(), 0);
    EXPECT_EQ(a->ip(), "");
  }
  absl::StatusOr<net::Addr> abstract = net::Addr::parse("@abc", "unix");
  ASSERT_TRUE(abstract.ok());
  const auto* sun = reinterpret_cast<const sockaddr_un*>(abstract->sockaddr_ptr());
  EXPECT_EQ(sun->sun_path[0], '\0');  // the abstract namespace
  EXPECT_EQ(std::string(sun->sun_path + 1, 3), "abc");
  // A unix path that does not fit sun_path is refused.
  EXPECT_EQ(net::Addr::parse(std::string(200, 'p'), "unix").status().code(),
            absl::StatusCode::kInvalidArgument);

  // From a sockaddr, and the empty address.
  sockaddr_in raw{};
  raw.sin_family = AF_INET;
  raw.sin_port = htons(5000);
  raw.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  net::Addr from_raw(reinterpret_cast<const sockaddr*>(&raw), sizeof raw);
  EXPECT_EQ(from_raw.to_string(), "127.0.0.1:5000");
  EXPECT_EQ(from_raw.port(), 5000);
  net::Addr empty;
  EXPECT_EQ(empty.family(), AF_UNSPEC);
  EXPECT_EQ(empty.size(), 0u);

  // parse does no lookup.
  EXPECT_FALSE(net::Addr::parse("localhost:80").ok());
}

TEST(Addr, LocalAndRemoteAddrsMatchAcrossTheConnection) {
  HangGuard guard;
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p));
        const net::Addr la = p.l.addr(), cl = p.client.local_addr(), cr = p.client.remote_addr();
        const net::Addr sl = p.server.local_addr(), sr = p.server.remote_addr();
        EXPECT_EQ(la.family(), AF_INET);
        EXPECT_GT(la.port(), 0);
        EXPECT_EQ(cr.port(), la.port());
        EXPECT_EQ(sl.port(), la.port());
        EXPECT_EQ(sr.port(), cl.port());
        EXPECT_NE(cl.port(), la.port());
        EXPECT_EQ(cr.to_string(), sl.to_string());
        EXPECT_EQ(sr.to_string(), cl.to_string());
        EXPECT_EQ(cl.ip(), "127.0.0.1");
        // TCP connections have TCP_NODELAY set, as Go's do.
        int on = 0;
        socklen_t len = sizeof on;
        ASSERT_EQ(getsockopt(p.client.fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
        EXPECT_NE(on, 0);
        EXPECT_TRUE(p.client.set_nodelay(false).ok());
        ASSERT_EQ(getsockopt(p.client.fd(), IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
        EXPECT_EQ(on, 0);

        // A dial that binds its local address first.
        net::DialOptions opts = Within(30s);
        opts.local_addr = "127.0.0.1:0";
        absl::StatusOr<net::Conn> c = net::dial("tcp", la.to_string(), opts);
        ASSERT_TRUE(c.ok()) << c.status();
        EXPECT_EQ(c->local_addr().ip(), "127.0.0.1");
        EXPECT_GT(c->local_addr().port(), 0);
        absl::StatusOr<net::Conn> s = p.l.accept(30s);
        ASSERT_TRUE(s.ok()) << s.status();
        EXPECT_EQ(s->remote_addr().port(), c->local_addr().port());
      },
      mn::Options{.procs = 2});
}

TEST(Addr, UnixConnAddrs) {
  HangGuard guard;
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/sock";
  mn::run(
      [&] {
        Pair p;
        ASSERT_TRUE(MakePair(&p, "unix", path));
        EXPECT_EQ(p.l.addr().family(), AF_UNIX);
        EXPECT_EQ(p.l.addr().to_string(), path);
        EXPECT_EQ(p.client.remote_addr().to_string(), path);
        EXPECT_EQ(p.server.local_addr().to_string(), path);
      },
      mn::Options{.procs = 2});
}

// ---- plain threads ------------------------------------------------------------------------

// A plain thread beside the runtime dials a listener served by a G: the thread blocks in
// poll(2), the G parks.
TEST(PlainThread, DialsAListenerServedByAG) {
  HangGuard guard;
  std::string back;
  std::size_t echoed = 0;
  absl::Status thread_status = absl::UnknownError("not run");
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(l.ok()) << l.status();
        mn::WaitGroup server;
        server.add(1);
        mn::go([&] {
          absl::StatusOr<net::Conn> c = l->accept(30s);
          if (c.ok()) {
            echoed = Echo(*c);
          } else {
            ADD_FAILURE() << c.status();
          }
          server.done();
        });
        const std::string addr = l->addr().to_string();
        mn::Chan<int> finished(1);
        std::thread t([&] {
          EXPECT_FALSE(mn::in_runtime());
          thread_status = [&]() -> absl::Status {
            absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(30s));
            if (!c.ok()) return c.status();
            const std::string msg = Pattern(100000, 4);
            // 100 KB fits in the loopback buffers, so writing it all before reading the
            // echo cannot stall.
            absl::StatusOr<std::size_t> w = c->write_all(msg, 30s);
            if (!w.ok()) return w.status();
            back.assign(msg.size(), '\0');
            absl::StatusOr<std::size_t> r = c->read_full(back.data(), back.size(), 30s);
            if (!r.ok()) return r.status();
            if (back != msg) return absl::DataLossError("echo differs");
            // A timeout from a plain thread too.
            char b;
            absl::StatusOr<std::size_t> to = c->read(&b, 1, 20ms);
            if (!net::is_timeout(to.status())) return absl::InternalError("no timeout");
            return c->close();
          }();
          finished.send(1);
        });
        finished.recv();  // parks main, not its thread, until the thread is done
        t.join();
        server.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(thread_status.ok()) << thread_status;
  EXPECT_EQ(echoed, 100000u);
}

// No runtime anywhere: listen, accept, dial, echo and a deadline, all on plain threads.
TEST(PlainThread, NoRuntimeAtAll) {
  HangGuard guard;
  ASSERT_FALSE(mn::in_runtime());
  absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
  ASSERT_TRUE(l.ok()) << l.status();
  absl::StatusOr<net::Conn> timed_out = l->accept(20ms);
  EXPECT_TRUE(net::is_timeout(timed_out.status())) << timed_out.status();
  std::size_t echoed = 0;
  std::thread server([&] {
    absl::StatusOr<net::Conn> c = l->accept(30s);
    if (c.ok()) {
      echoed = Echo(*c, 30s);
    } else {
      ADD_FAILURE() << c.status();
    }
  });
  absl::StatusOr<net::Conn> c = net::dial("tcp", l->addr().to_string(), Within(30s));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->write_all("no runtime", 30s).ok());
  std::string back(10, '\0');
  absl::StatusOr<std::size_t> r = c->read_full(back.data(), back.size(), 30s);
  EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(back, "no runtime");
  EXPECT_TRUE(c->shutdown(net::Shutdown::kWrite).ok());
  server.join();
  EXPECT_EQ(echoed, 10u);
}

// ---- an idle server uses no CPU ---------------------------------------------------------

// The issue's requirement: a TCP server with 100 idle connections, a G parked in read on
// each and one in accept, and main asleep for 300 ms. A runtime that polled would burn
// ~300 ms per polling thread; an idle one burns well under a millisecond. The bound
// (100 ms) is that generous so that a sanitized build on a loaded machine cannot trip it.
TEST(IdleServer, HundredIdleConnectionsUseNoCPU) {
  HangGuard guard;
  constexpr int kConnsIdle = 100;
  std::atomic<int> eofs{0};
  absl::Status acceptor_result = absl::UnknownError("not run");
  std::chrono::microseconds cpu{};
  mn::run(
      [&] {
        absl::StatusOr<net::Listener> l = net::listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(l.ok()) << l.status();
        const std::string addr = l->addr().to_string();
        std::vector<net::Conn> clients;
        mn::WaitGroup readers;
        readers.add(kConnsIdle);
        for (int i = 0; i < kConnsIdle; i++) {
          absl::StatusOr<net::Conn> c = net::dial("tcp", addr, Within(30s));
          ASSERT_TRUE(c.ok()) << c.status();
          clients.push_back(std::move(*c));
          absl::StatusOr<net::Conn> s = l->accept(30s);
          ASSERT_TRUE(s.ok()) << s.status();
          mn::go([&, conn = std::move(*s)]() mutable {
            char b;
            absl::StatusOr<std::size_t> n = conn.read(&b, 1);  // no deadline: idle until EOF
            if (n.ok() && *n == 0) eofs++;
            readers.done();
          });
        }
        mn::WaitGroup acceptor;
        acceptor.add(1);
        mn::go([&] {
          acceptor_result = l->accept().status();
          acceptor.done();
        });
        WaitForParkedGs(kConnsIdle + 1);
        mn::sleep_for(20ms);  // let spinning Ms give up and park
        auto c0 = CpuTime();
        mn::sleep_for(300ms);
        cpu = CpuTime() - c0;
        for (net::Conn& c : clients) EXPECT_TRUE(c.close().ok());
        readers.wait();
        EXPECT_TRUE(l->close().ok());
        acceptor.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(eofs.load(), kConnsIdle);
  EXPECT_TRUE(net::is_closed(acceptor_result)) << acceptor_result;
  EXPECT_LT(cpu, 100ms) << "CPU time over 300 ms idle: " << cpu.count() << " us";
}

}  // namespace
