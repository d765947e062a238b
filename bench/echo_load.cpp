// echo_load: a closed-loop load generator for TCP echo servers. Plain threads, each with its
// own epoll instance driving its share of the connections; it does not use mnsched, so it
// favours neither side of bench/run-net.sh's comparison (examples/echo_server against
// bench/go/echoserver).
//
//   usage: echo_load [--addr HOST:PORT] [--conns N] [--size B] [--threads T]
//                    [--duration D] [--warmup D]
//
// Every connection in turn sends one message of --size bytes, waits for the whole echo,
// checks it byte for byte and records the round trip's latency (CLOCK_MONOTONIC), then
// sends the next. Messages differ from one another (a connection's message number and id
// are in every byte), so an echo that is late, repeated or from another message is caught.
// The connections are all made first; then the clock starts: --warmup of untimed round
// trips, then --duration of measured ones.
//
// Output, on stdout, one JSON line:
//   {"conns":1000,"threads":2,"size":64,"warmup_s":1,"duration_s":10,"msgs":...,
//    "msgs_per_sec":...,"p50_us":...,"p99_us":...,"p999_us":...,"max_us":...,"errors":0}
// msgs counts the round trips completed in the measured window; the percentiles are of
// their latencies, from a log-linear histogram (within 1.6%).
//
// Exit status: 0; 1 when any connection failed (connect error, reset, early close, a byte
// that differs from what was sent: each is counted in "errors" and its connection dropped,
// the first few are described on stderr) or no round trip completed; 2 on bad arguments.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli_flags.hpp"

namespace {

constexpr const char* kProgram = "echo_load";
constexpr const char* kUsage =
    "usage: echo_load [--addr HOST:PORT] [--conns N] [--size B] [--threads T] [--duration D] "
    "[--warmup D]\n"
    "  --addr HOST:PORT  the echo server (default 127.0.0.1:9000)\n"
    "  --conns N         connections, shared among the threads (default 1000)\n"
    "  --size B          bytes per message (default 64)\n"
    "  --threads T       client threads, each with its own epoll (default 2)\n"
    "  --duration D      measured time, after the warm-up (default 10s)\n"
    "  --warmup D        unmeasured time first (default 1s)";
constexpr int64_t kConnectTimeoutNs = 10'000'000'000;
constexpr int kMaxReportedErrors = 5;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Latencies in nanoseconds. Below 128 every value has its own bucket; above, each power of
// two is split in 64 equal buckets, so a bucket is at most 1/64 of its values wide (as
// HdrHistogram with two significant digits, about).
class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits) * kSub + 2 * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void Record(uint64_t v) {
    counts_[Index(v)]++;
    total_++;
    max_ = std::max(max_, v);
  }
  void Merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

  // The value at quantile q (0 < q <= 1): the middle of the bucket holding the
  // ceil(q * total)-th smallest value, never above the largest value seen.
  double Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; i++) {
      seen += counts_[i];
      if (seen >= rank) {
        return std::min(static_cast<double>(max_), Middle(i));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static int Index(uint64_t v) {
    if (v < 2 * kSub) return static_cast<int>(v);
    int e = 63 - __builtin_clzll(v);  // >= kSubBits + 1
    int shift = e - kSubBits;
    return shift * kSub + static_cast<int>(v >> shift);
  }
  static double Middle(int i) {
    if (i < 2 * kSub) return i;
    int shift = i / kSub - 1;
    uint64_t m = static_cast<uint64_t>(i % kSub + kSub);
    double lo = static_cast<double>(m << shift);
    double hi = static_cast<double>(((m + 1) << shift) - 1);
    return (lo + hi) / 2;
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

struct Config {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string addr_text;
  int64_t conns = 1000, size = 64, threads = 2;
  double duration_s = 10, warmup_s = 1;
};

// Shared by the threads: when the clock starts, and the error report.
std::atomic<int64_t> g_start_ns{0};

// Runs once, when the last thread has made its connections and before any is released:
// every thread starts on the same clock, and none while others are still connecting.
struct StartClock {
  void operator()() noexcept { g_start_ns.store(NowNs()); }
};
std::atomic<int64_t> g_errors{0};
std::mutex g_report_mu;
int g_reported = 0;

void ReportError(const std::string& what) {
  g_errors.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(g_report_mu);
  if (g_reported < kMaxReportedErrors) {
    std::fprintf(stderr, "%s: %s\n", kProgram, what.c_str());
  } else if (g_reported == kMaxReportedErrors) {
    std::fprintf(stderr, "%s: (further errors are counted, not shown)\n", kProgram);
  }
  g_reported++;
}

// The byte at offset i of message seq on connection id.
inline uint8_t Pattern(uint64_t id, uint64_t seq, uint64_t i) {
  return static_cast<uint8_t>((id * 131 + seq * 31 + i * 7) ^ (seq >> 8) ^ (id >> 8));
}

struct Conn {
  int fd = -1;
  uint64_t id = 0;
  uint64_t seq = 0;
  std::size_t sent = 0, got = 0;
  int64_t t0 = 0;
  bool connecting = true;
  bool want_out = false;  // EPOLLOUT is in the interest set
  bool dead = false;
  std::vector<uint8_t> msg;
};

class Worker {
 public:
  Worker(const Config& cfg, uint64_t first_id, int64_t n, std::barrier<StartClock>* ready)
      : cfg_(cfg), first_id_(first_id), n_(n), ready_(ready) {}

  void Run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      ReportError(std::string("epoll_create1: ") + std::strerror(errno));
      for (int64_t i = 0; i < n_; i++) ReportError("connection not made (no epoll)");
      ready_->arrive_and_wait();
      return;
    }
    conns_.resize(static_cast<std::size_t>(n_));
    rbuf_.resize(static_cast<std::size_t>(cfg_.size));
    Connect();
    ready_->arrive_and_wait();
    int64_t start = g_start_ns.load();
    warm_end_ = start + static_cast<int64_t>(cfg_.warmup_s * 1e9);
    end_ = warm_end_ + static_cast<int64_t>(cfg_.duration_s * 1e9);
    for (Conn& c : conns_) {
      if (!c.dead) Begin(c, start);
    }
    Loop(end_, [](int64_t) { return false; });
    for (Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
  }

  const Histogram& hist() const { return hist_; }
  uint64_t msgs() const { return msgs_; }

 private:
  std::string Name(const Conn& c) const {
    return "conn " + std::to_string(c.id) + " to " + cfg_.addr_text;
  }
  void Fail(Conn& c, const std::string& why) {
    ReportError(Name(c) + ": " + why);
    c.dead = true;
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
  }
  void FailErrno(Conn& c, const char* op, int err) {
    Fail(c, std::string(op) + ": " + std::strerror(err));
  }
  void Watch(Conn& c, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    if (epoll_ctl(ep_, op, c.fd, &ev) != 0) FailErrno(c, "epoll_ctl", errno);
  }

  // Starts every connection, then waits for them all (up to kConnectTimeoutNs).
  void Connect() {
    pending_ = 0;
    for (int64_t i = 0; i < n_; i++) {
      Conn& c = conns_[static_cast<std::size_t>(i)];
      c.id = first_id_ + static_cast<uint64_t>(i);
      c.msg.resize(static_cast<std::size_t>(cfg_.size));
      c.fd = socket(cfg_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) {
        FailErrno(c, "socket", errno);
        continue;
      }
      int one = 1;
      // Without it a message written in two pieces would wait for an ACK (Nagle).
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c.fd, reinterpret_cast<const sockaddr*>(&cfg_.addr), cfg_.addr_len) != 0 &&
          errno != EINPROGRESS) {
        FailErrno(c, "connect", errno);
        continue;
      }
      Watch(c, EPOLLOUT, EPOLL_CTL_ADD);
      if (!c.dead) pending_++;
    }
    int64_t deadline = NowNs() + kConnectTimeoutNs;
    Loop(deadline, [this](int64_t) { return pending_ == 0; });
    for (Conn& c : conns_) {
      if (!c.dead && c.connecting) Fail(c, "connect: no answer within 10 s");
    }
  }

  // Waits for events until the clock reaches `until` or done(now) says so.
  template <class Done>
  void Loop(int64_t until, Done done) {
    constexpr int kEvents = 256;
    epoll_event evs[kEvents];
    for (;;) {
      int64_t now = NowNs();
      if (now >= until || done(now)) return;
      // Wake at least every 50 ms to look at the clock: the last events may never come.
      int64_t wait_ms = std::min<int64_t>((until - now) / 1'000'000 + 1, 50);
      int n = epoll_wait(ep_, evs, kEvents, static_cast<int>(wait_ms));
      if (n < 0) {
        if (errno == EINTR) continue;
        std::fprintf(stderr, "%s: epoll_wait: %s\n", kProgram, std::strerror(errno));
        std::exit(1);
      }
      for (int i = 0; i < n; i++) {
        Conn& c = *static_cast<Conn*>(evs[i].data.ptr);
        if (!c.dead) OnEvent(c, evs[i].events);
      }
    }
  }

  void OnEvent(Conn& c, uint32_t events) {
    if (c.connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      pending_--;
      if (err != 0) {
        FailErrno(c, "connect", err);
        return;
      }
      c.connecting = false;
      Watch(c, EPOLLIN, EPOLL_CTL_MOD);  // nothing to send until the clock starts
      return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      Receive(c);
      if (c.dead) return;
    }
    if (events & EPOLLOUT) Send(c);
  }

  void Begin(Conn& c, int64_t now) {
    for (std::size_t i = 0; i < c.msg.size(); i++) c.msg[i] = Pattern(c.id, c.seq, i);
    c.sent = c.got = 0;
    c.t0 = now;
    Send(c);
  }

  void Send(Conn& c) {
    while (c.sent < c.msg.size()) {
      ssize_t n = send(c.fd, c.msg.data() + c.sent, c.msg.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (!c.want_out) {
            c.want_out = true;
            Watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
          }
          return;
        }
        FailErrno(c, "send", errno);
        return;
      }
      c.sent += static_cast<std::size_t>(n);
    }
    if (c.want_out) {
      c.want_out = false;
      Watch(c, EPOLLIN, EPOLL_CTL_MOD);
    }
  }

  // One recv (epoll is level-triggered: what is left is reported again).
  void Receive(Conn& c) {
    ssize_t n;
    do {
      n = recv(c.fd, rbuf_.data(), c.msg.size() - c.got, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) FailErrno(c, "recv", errno);
      return;
    }
    if (n == 0) {
      Fail(c, "the server closed the connection (after " + std::to_string(c.seq) +
                  " round trips, " + std::to_string(c.got) + " bytes into an echo)");
      return;
    }
    std::size_t got = static_cast<std::size_t>(n);
    if (c.got + got > c.sent) {
      Fail(c, "received " + std::to_string(c.got + got) + " bytes of message " +
                  std::to_string(c.seq) + " when only " + std::to_string(c.sent) + " were sent");
      return;
    }
    if (std::memcmp(rbuf_.data(), c.msg.data() + c.got, got) != 0) {
      std::size_t at = 0;
      while (rbuf_[at] == c.msg[c.got + at]) at++;
      char what[160];
      std::snprintf(what, sizeof what,
                    "wrong byte at offset %zu of message %" PRIu64 ": got 0x%02x, sent 0x%02x",
                    c.got + at, c.seq, rbuf_[at], c.msg[c.got + at]);
      Fail(c, what);
      return;
    }
    c.got += got;
    if (c.got < c.msg.size()) return;
    int64_t now = NowNs();
    if (now >= warm_end_ && now < end_) {
      hist_.Record(static_cast<uint64_t>(now - c.t0));
      msgs_++;
    }
    c.seq++;
    if (now < end_) Begin(c, now);
  }

  const Config& cfg_;
  uint64_t first_id_;
  int64_t n_;
  std::barrier<StartClock>* ready_;
  int ep_ = -1;
  int64_t pending_ = 0;
  int64_t warm_end_ = 0, end_ = 0;
  std::vector<Conn> conns_;
  std::vector<uint8_t> rbuf_;
  Histogram hist_;
  uint64_t msgs_ = 0;
};

// "host:port" or "[v6]:port", resolved (a name is looked up; the first answer is used).
bool Resolve(const std::string& text, Config* cfg, std::string* err) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *err = "want HOST:PORT or [IPv6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      *err = "want HOST:PORT or [IPv6]:PORT";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) host = "127.0.0.1";
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    *err = "the port must be a number from 1 to 65535";
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *err = std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
  cfg->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  cfg->addr_text = text;
  return true;
}

// Each connection is an fd; the soft limit is often 1024. Go raises it to the hard limit at
// start (since Go 1.19), and so do the servers of this comparison.
void RaiseFdLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  std::string addr = "127.0.0.1:9000";
  mn_bench::FlagSet flags(kProgram, kUsage);
  flags.String("addr", &addr);
  flags.Int("conns", &cfg.conns, 1, 1'000'000);
  flags.Int("size", &cfg.size, 1, 1 << 20);
  flags.Int("threads", &cfg.threads, 1, 1024);
  flags.Duration("duration", &cfg.duration_s, 0.01, 86400);
  flags.Duration("warmup", &cfg.warmup_s, 0, 86400);
  flags.Parse(argc, argv);
  std::string err;
  if (!Resolve(addr, &cfg, &err))
    flags.Fail("invalid value \"" + addr + "\" for flag -addr: " + err);
  cfg.threads = std::min(cfg.threads, cfg.conns);
  RaiseFdLimit();

  std::barrier<StartClock> ready(cfg.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  uint64_t next_id = 0;
  for (int64_t t = 0; t < cfg.threads; t++) {
    // The first conns % threads threads take one connection more.
    int64_t n = cfg.conns / cfg.threads + (t < cfg.conns % cfg.threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(cfg, next_id, n, &ready));
    next_id += static_cast<uint64_t>(n);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  for (auto& t : threads) t.join();

  Histogram all;
  uint64_t msgs = 0;
  for (auto& w : workers) {
    all.Merge(w->hist());
    msgs += w->msgs();
  }
  int64_t errors = g_errors.load();
  std::printf(
      "{\"conns\":%" PRId64 ",\"threads\":%" PRId64 ",\"size\":%" PRId64
      ",\"warmup_s\":%g,\"duration_s\":%g,\"msgs\":%" PRIu64
      ",\"msgs_per_sec\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"errors\":%" PRId64 "}\n",
      cfg.conns, cfg.threads, cfg.size, cfg.warmup_s, cfg.duration_s, msgs,
      static_cast<double>(msgs) / cfg.duration_s, all.Quantile(0.50) / 1e3,
      all.Quantile(0.99) / 1e3, all.Quantile(0.999) / 1e3, static_cast<double>(all.max()) / 1e3,
      errors);
  std::fflush(stdout);
  if (errors > 0) return 1;
  if (msgs == 0) {
    std::fprintf(stderr, "%s: no round trip completed in the measured %gs\n", kProgram,
                 cfg.duration_s);
    return 1;
  }
  return 0;
}
