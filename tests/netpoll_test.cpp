// mn::wait_readable / wait_writable / PollFd: the netpoller's public face, on every kind of
// pollable fd (pipes, eventfd, timerfd, signalfd, socketpairs), with deadlines, with close,
// with thousands of waiters, from plain threads (poll(2)), on regular files, with timers,
// and the property the whole thing exists for: Gs waiting on fds cost no CPU. A G waiting
// on an fd is not a deadlock (the timerfd tests keep deadlock detection on).
//
// No wall-clock assertions: a deadline may be asserted not to fire early (it never does),
// and CPU time may be asserted below a generous bound; everything else is status codes,
// counts and orders.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
#include <mn/netpoll.hpp>

#include "absl/strings/string_view.h"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using mn::Clock;
using mn::testing_util::HangGuard;
using mn::testing_util::kUnderTsan;
using mn::testing_util::WaitForParkedGs;

// gmock's HasSubstr without linking gmock.
testing::AssertionResult HasSubstr(absl::string_view hay, absl::string_view needle) {
  if (hay.find(needle) != absl::string_view::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << hay << "\" does not contain \"" << needle << "\"";
}

// A hang guard that creates no thread: HangGuard's watchdog is a thread the runtime cannot
// see, which turns deadlock detection off (docs/design.md, "Deadlock detection"). The
// tests that use this one want detection on, to show that a G waiting on an fd is not
// taken for a deadlocked one. SIGALRM's handler reports and aborts.
class AlarmGuard {
 public:
  AlarmGuard() {
    struct sigaction sa {};
    sa.sa_handler = [](int) {
      const char msg[] = "alarm guard: the test did not finish within 60 s\n";
      ssize_t ignored = write(2, msg, sizeof msg - 1);
      (void)ignored;
      abort();
    };
    sigaction(SIGALRM, &sa, &old_);
    alarm(60);
  }
  ~AlarmGuard() {
    alarm(0);
    sigaction(SIGALRM, &old_, nullptr);
  }

 private:
  struct sigaction old_ {};
};

// Two non-blocking, close-on-exec fds closed at scope exit: a pipe (r reads, w writes), or
// a stream socketpair, each end of which is readable and writable, so that one fd can have
// a reader and a writer waiting at once.
struct FdPair {
  int fds[2] = {-1, -1};
  int& r = fds[0];
  int& w = fds[1];
  explicit FdPair(bool socket) {
    int rc = socket ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds)
                    : pipe2(fds, O_NONBLOCK | O_CLOEXEC);
    if (rc != 0) {
      ADD_FAILURE() << (socket ? "socketpair: " : "pipe2: ") << std::strerror(errno);
      fds[0] = fds[1] = -1;
    }
  }
  ~FdPair() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
  FdPair(const FdPair&) = delete;
  FdPair& operator=(const FdPair&) = delete;
  bool ok() const { return fds[0] >= 0; }
};
struct Pipe : FdPair {
  Pipe() : FdPair(false) {}
};
struct SocketPair : FdPair {
  SocketPair() : FdPair(true) {}
};

// Reads until EAGAIN (edge-triggered readiness wants that); returns the bytes read.
std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return out;
  }
}

// Writes until EAGAIN; returns the bytes written.
std::size_t Fill(int fd) {
  std::size_t total = 0;
  std::string chunk(4096, 'f');
  for (;;) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return total;
  }
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

// ---- Deadline --------------------------------------------------------------------------

TEST(Deadline, NoneTimePointsDurationsAndEarliest) {
  mn::Deadline none;
  EXPECT_TRUE(none.is_none());
  EXPECT_EQ(none.ns(), 0);
  EXPECT_TRUE(mn::Deadline::none().is_none());
  // The time point's maximum is "never"; one at or before the clock's epoch has passed.
  EXPECT_TRUE(mn::Deadline(Clock::time_point::max()).is_none());
  EXPECT_EQ(mn::Deadline(Clock::time_point{}).ns(), 1);
  EXPECT_FALSE(mn::Deadline(Clock::time_point{}).is_none());

  const auto before = Clock::now();
  mn::Deadline in_a_second = 1s;  // a timeout converts, counted from now
  const auto after = Clock::now();
  auto ns_of = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  EXPECT_GE(in_a_second.ns(), ns_of(before + 1s));
  EXPECT_LE(in_a_second.ns(), ns_of(after + 1s));
  mn::Deadline at = before + 2s;
  EXPECT_EQ(at.ns(), ns_of(before + 2s));

  EXPECT_EQ(mn::Deadline::earliest(in_a_second, at).ns(), in_a_second.ns());
  EXPECT_EQ(mn::Deadline::earliest(at, in_a_second).ns(), in_a_second.ns());
  EXPECT_EQ(mn::Deadline::earliest(none, at).ns(), at.ns());
  EXPECT_EQ(mn::Deadline::earliest(at, none).ns(), at.ns());
  EXPECT_TRUE(mn::Deadline::earliest(none, none).is_none());
}

// ---- pipes -----------------------------------------------------------------------------

TEST(WaitReadable, PipeWakesTheWaiterWhenAnotherGWrites) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  std::atomic<int> order{0};
  int wrote_at = -1, woke_at = -1;
  absl::Status st = absl::UnknownError("not run");
  std::string got;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          st = mn::wait_readable(p.r);
          woke_at = order.fetch_add(1);
          got = Drain(p.r);
          wg.done();
        });
        mn::go([&] {
          mn::sleep_for(5ms);
          WaitForParkedGs(2);  // the waiter and main (in wg.wait): the waiter has parked
          wrote_at = order.fetch_add(1);
          EXPECT_EQ(::write(p.w, "x", 1), 1);
          wg.done();
        });
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(wrote_at, 0);
  EXPECT_EQ(woke_at, 1);
  EXPECT_EQ(got, "x");
}

TEST(WaitReadable, AlreadyReadableReturnsAtOnce) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(::write(p.w, "ab", 2), 2);
  mn::run([&] {
    absl::Status st = mn::wait_readable(p.r);
    EXPECT_TRUE(st.ok()) << st;
    // The write end of an empty pipe is writable.
    st = mn::wait_writable(p.w);
    EXPECT_TRUE(st.ok()) << st;
    EXPECT_EQ(Drain(p.r), "ab");
  });
}

TEST(WaitWritable, FullPipeWakesTheWriterWhenTheReaderDrains) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  fcntl(p.w, F_SETPIPE_SZ, 4096);  // small, to fill fast (a failure leaves the default)
  const std::size_t filled = Fill(p.w);
  ASSERT_GT(filled, 0u);
  std::atomic<int> order{0};
  int drained_at = -1, woke_at = -1;
  std::size_t drained = 0;
  absl::Status st = absl::UnknownError("not run");
  ssize_t wrote = -1;
  std::string rest;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          st = mn::wait_writable(p.w);
          woke_at = order.fetch_add(1);
          wrote = ::write(p.w, "z", 1);
          wg.done();
        });
        mn::go([&] {
          WaitForParkedGs(2);  // the writer and main
          drained_at = order.fetch_add(1);
          // Exactly what was filled: the writer's byte may already follow it.
          char buf[4096];
          while (drained < filled) {
            ssize_t n = ::read(p.r, buf, std::min(sizeof buf, filled - drained));
            if (n <= 0) break;  // all of it is in the pipe: no EAGAIN before the end
            drained += static_cast<std::size_t>(n);
          }
          wg.done();
        });
        wg.wait();
        rest = Drain(p.r);
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(drained_at, 0);
  EXPECT_EQ(woke_at, 1);
  EXPECT_EQ(drained, filled);
  EXPECT_EQ(wrote, 1);
  EXPECT_EQ(rest, "z");
}

// ---- eventfd, timerfd, signalfd ------------------------------------------------------

TEST(WaitReadable, EventfdWakesTheWaiter) {
  HangGuard guard;
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0) << std::strerror(errno);
  uint64_t got = 0;
  absl::Status st = absl::UnknownError("not run");
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          st = mn::wait_readable(efd);
          EXPECT_EQ(::read(efd, &got, sizeof got), static_cast<ssize_t>(sizeof got));
          wg.done();
        });
        WaitForParkedGs(1);
        uint64_t v = 42;
        EXPECT_EQ(::write(efd, &v, sizeof v), static_cast<ssize_t>(sizeof v));
        wg.wait();
      },
      mn::Options{.procs = 2});
  ::close(efd);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(got, 42u);
}

// The only G waits on a timerfd: every M is idle, no runtime timer is pending, and the
// program must neither hang nor be called deadlocked (AlarmGuard keeps detection on).
TEST(WaitReadable, TimerfdWakesTheOnlyGAndIsNotADeadlock) {
  AlarmGuard guard;
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  ASSERT_GE(tfd, 0) << std::strerror(errno);
  uint64_t expirations = 0;
  absl::Status st = absl::UnknownError("not run");
  Clock::duration elapsed{};
  mn::run(
      [&] {
        auto t0 = Clock::now();
        itimerspec its{};
        its.it_value.tv_nsec = 5'000'000;  // 5 ms, once
        ASSERT_EQ(timerfd_settime(tfd, 0, &its, nullptr), 0) << std::strerror(errno);
        st = mn::wait_readable(tfd);
        elapsed = Clock::now() - t0;
        EXPECT_EQ(::read(tfd, &expirations, sizeof expirations),
                  static_cast<ssize_t>(sizeof expirations));
      },
      mn::Options{.procs = 2});
  ::close(tfd);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(expirations, 1u);
  EXPECT_GE(elapsed, 5ms);  // the timer never fires early
}

// The same, in many fresh runtimes one after another: a runtime's first network wait is
// when sysmon (which has never seen a poll) and the M that parks the G both look at who
// polls, so a poller lost between them shows here as a hang (the alarm guard's abort).
TEST(WaitReadable, FreshRuntimesWhoseOnlyGWaitsOnAnFdAllWake) {
  AlarmGuard guard;
  const int kRuns = 200;
  int woke = 0;
  for (int run = 0; run < kRuns; run++) {
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    ASSERT_GE(tfd, 0) << std::strerror(errno);
    mn::run(
        [&] {
          itimerspec its{};
          its.it_value.tv_nsec = 5'000'000;  // 5 ms, once
          ASSERT_EQ(timerfd_settime(tfd, 0, &its, nullptr), 0) << std::strerror(errno);
          uint64_t expirations = 0;
          if (mn::wait_readable(tfd).ok() &&
              ::read(tfd, &expirations, sizeof expirations) == sizeof expirations &&
              expirations == 1) {
            woke++;
          }
        },
        mn::Options{.procs = 2});
    ::close(tfd);
  }
  EXPECT_EQ(woke, kRuns);
}

// Threads of this process that do not block `sig` (from /proc/self/task/*/status).
std::vector<int> ThreadsNotBlocking(int sig) {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::string path = std::string("/proc/self/task/") + e->d_name + "/status";
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) continue;  // the thread has just exited
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      unsigned long long mask = 0;
      if (std::sscanf(line, "SigBlk: %llx", &mask) == 1) {
        if ((mask & (1ULL << (sig - 1))) == 0) out.push_back(std::atoi(e->d_name));
        break;
      }
    }
    std::fclose(f);
  }
  closedir(dir);
  return out;
}

// The usual way to take signals through a signalfd: block the signal before any thread
// starts, so that every thread inherits the mask and the signal stays pending for the fd.
// Here that includes the runtime's Ms (created by run, after the mask). kill() makes the
// signal process-directed: signalfd's readiness is judged by the thread that polls, which
// sees the process's pending set. Before raising it the test checks that every thread
// blocks it: a thread that does not would take it and die of it, which says less.
TEST(WaitReadable, SignalfdWakesTheWaiter) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  HangGuard guard;  // after the mask: its thread inherits it too, or it could take SIGUSR1
  int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  ASSERT_GE(sfd, 0) << std::strerror(errno);
  signalfd_siginfo info{};
  absl::Status st = absl::UnknownError("not run");
  ssize_t n = -1;
  std::vector<int> unblocked;
  mn::run(
      [&] {
        absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(sfd);
        ASSERT_TRUE(pfd.ok()) << pfd.status();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          st = pfd->wait_readable();
          if (st.ok()) n = ::read(sfd, &info, sizeof info);
          wg.done();
        });
        WaitForParkedGs(1);
        unblocked = ThreadsNotBlocking(SIGUSR1);
        if (unblocked.empty()) {
          EXPECT_EQ(kill(getpid(), SIGUSR1), 0);
        } else {
          pfd->close();  // the waiter wakes with Cancelled; the signal is never sent
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  ::close(sfd);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::string tids;
  for (int t : unblocked) {
    tids += ' ';
    tids += std::to_string(t);
  }
  ASSERT_TRUE(unblocked.empty())
      << "threads that do not block SIGUSR1 although it was blocked before run():" << tids
      << " (main thread " << getpid() << "); the runtime's threads should inherit the mask";
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(n, static_cast<ssize_t>(sizeof info));
  EXPECT_EQ(info.ssi_signo, static_cast<uint32_t>(SIGUSR1));
  EXPECT_EQ(static_cast<pid_t>(info.ssi_pid), getpid());
}

// ---- deadlines -------------------------------------------------------------------------

TEST(WaitDeadline, NeverReadyPipeTimesOutNotEarly) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status by_point, by_duration, writable_full;
  Clock::duration e1{}, e2{}, e3{};
  std::size_t filled = 0;
  mn::run(
      [&] {
        auto t0 = Clock::now();
        by_point = mn::wait_readable(p.r, t0 + 20ms);
        e1 = Clock::now() - t0;

        t0 = Clock::now();
        by_duration = mn::wait_readable(p.r, 20ms);
        e2 = Clock::now() - t0;

        filled = Fill(p.w);
        t0 = Clock::now();
        writable_full = mn::wait_writable(p.w, mn::Deadline(15ms));
        e3 = Clock::now() - t0;
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(by_point.code(), absl::StatusCode::kDeadlineExceeded) << by_point;
  EXPECT_TRUE(HasSubstr(by_point.message(), "i/o timeout"));
  EXPECT_TRUE(HasSubstr(by_point.message(), "fd " + std::to_string(p.r)));
  EXPECT_EQ(by_duration.code(), absl::StatusCode::kDeadlineExceeded) << by_duration;
  EXPECT_GT(filled, 0u);
  EXPECT_EQ(writable_full.code(), absl::StatusCode::kDeadlineExceeded) << writable_full;
  EXPECT_TRUE(HasSubstr(writable_full.message(), "fd " + std::to_string(p.w)));
  EXPECT_GE(e1, 20ms);
  EXPECT_GE(e2, 20ms);
  EXPECT_GE(e3, 15ms);
}

TEST(WaitDeadline, PassedDeadlineTimesOutAtOnce) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status st, pfd_st;
  mn::run([&] {
    st = mn::wait_readable(p.r, Clock::now() - 1s);
    absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(p.r);
    ASSERT_TRUE(pfd.ok()) << pfd.status();
    pfd_st = pfd->wait_readable(Clock::time_point{});  // the clock's epoch: long passed
  });
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_EQ(pfd_st.code(), absl::StatusCode::kDeadlineExceeded) << pfd_st;
}

// Many Gs with different deadlines on never-ready pipes: every one times out, none early.
TEST(WaitDeadline, ManyDeadlinesEachFireAndNoneEarly) {
  HangGuard guard;
  constexpr int kGs = 100;
  Pipe p;
  ASSERT_TRUE(p.ok());
  std::atomic<int> timed_out{0}, early{0}, other{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int i = 0; i < kGs; i++) {
          mn::go([&, i] {
            // mn::wait_readable registers the fd for the wait only, so two Gs waiting on
            // one fd number at once would share one registration: each waits on a dup.
            int fd = dup(p.r);
            auto d = std::chrono::microseconds(200 * (i % 50) + 100);
            auto t0 = Clock::now();
            absl::Status st = mn::wait_readable(fd, d);
            if (Clock::now() - t0 < d) early++;
            if (absl::IsDeadlineExceeded(st)) {
              timed_out++;
            } else {
              other++;
            }
            ::close(fd);
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(timed_out.load(), kGs);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(early.load(), 0);
}

// Readiness and the deadline race: either outcome is allowed, but nothing else, and a
// timed-out wait leaves the data in the pipe.
TEST(WaitDeadline, ReadinessRacingTheDeadlineGivesOKOrTimeoutOnly) {
  HangGuard guard;
  const int kRounds = kUnderTsan ? 100 : 300;
  std::atomic<int> ok{0}, timeouts{0}, other{0}, lost{0};
  mn::run(
      [&] {
        for (int i = 0; i < kRounds; i++) {
          Pipe p;
          mn::WaitGroup wg;
          wg.add(1);
          mn::go([&] {
            mn::sleep_for(std::chrono::microseconds(50 * (i % 20)));
            EXPECT_EQ(::write(p.w, "r", 1), 1);
            wg.done();
          });
          absl::Status st = mn::wait_readable(p.r, std::chrono::microseconds(50 * (i % 23)));
          if (st.ok()) {
            ok++;
          } else if (absl::IsDeadlineExceeded(st)) {
            timeouts++;
          } else {
            other++;
          }
          wg.wait();
          if (Drain(p.r) != "r") lost++;
        }
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(ok.load() + timeouts.load(), kRounds);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(lost.load(), 0);
}

// A G waiting for a deadline is parked: the process uses almost no CPU over the wait. A
// busy wait would burn about the whole 300 ms on one thread; an idle runtime burns well
// under a millisecond. The bound (100 ms) is generous so that a slow sanitized build on a
// loaded machine (sysmon's wakeups, thread start-up) cannot trip it.
TEST(WaitDeadline, WaitingForTheDeadlineUsesNoCPU) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status st;
  std::chrono::microseconds cpu{};
  mn::run(
      [&] {
        mn::sleep_for(20ms);  // let start-up settle
        auto c0 = CpuTime();
        st = mn::wait_readable(p.r, 300ms);
        cpu = CpuTime() - c0;
      },
      mn::Options{.procs = 4});
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_LT(cpu, 100ms) << "CPU time over a 300 ms wait: " << cpu.count() << " us";
}

// ---- PollFd ------------------------------------------------------------------------------

TEST(PollFd, CloseWakesTheWaiterWithCancelledAndASecondWaiterIsRefused) {
  HangGuard guard;
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  absl::Status first = absl::UnknownError("not run"), second = absl::UnknownError("not run");
  absl::Status writer = absl::UnknownError("not run"), after_close;
  mn::run(
      [&] {
        absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(sp.r);
        ASSERT_TRUE(pfd.ok()) << pfd.status();
        EXPECT_EQ(pfd->fd(), sp.r);
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          first = pfd->wait_readable();
          wg.done();
        });
        WaitForParkedGs(1);
        // The other direction is independent: a socket with room is writable at once.
        writer = pfd->wait_writable(10s);
        // A second reader while the first is parked.
        second = pfd->wait_readable(10s);
        pfd->close();
        wg.wait();
        after_close = pfd->wait_readable(10s);
        pfd->close();  // idempotent
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(first.code(), absl::StatusCode::kCancelled) << first;
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition) << second;
  EXPECT_TRUE(writer.ok()) << writer;
  EXPECT_EQ(after_close.code(), absl::StatusCode::kCancelled) << after_close;
  // The fd stays the caller's: PollFd::close does not close it.
  EXPECT_NE(fcntl(sp.r, F_GETFD), -1);
}

TEST(PollFd, CloseWakesAParkedWriterToo) {
  HangGuard guard;
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  absl::Status st = absl::UnknownError("not run");
  mn::run(
      [&] {
        EXPECT_GT(Fill(sp.r), 0u);
        absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(sp.r);
        ASSERT_TRUE(pfd.ok()) << pfd.status();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          st = pfd->wait_writable();
          wg.done();
        });
        WaitForParkedGs(1);
        pfd->close();
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

// One registration, waited on again and again (edge-triggered: each wait follows a read
// to EAGAIN): two Gs ping-pong a counter over a socketpair, every round trip exact.
TEST(PollFd, PingPongOverOneRegistrationEach) {
  HangGuard guard;
  const int kRounds = kUnderTsan ? 2000 : 20000;
  SocketPair sp;
  ASSERT_TRUE(sp.ok());
  std::atomic<int> bad{0};
  int last = -1;
  mn::run(
      [&] {
        absl::StatusOr<mn::PollFd> pa = mn::PollFd::make(sp.r);
        absl::StatusOr<mn::PollFd> pb = mn::PollFd::make(sp.w);
        ASSERT_TRUE(pa.ok()) << pa.status();
        ASSERT_TRUE(pb.ok()) << pb.status();
        // Each side reads an int, checks it, sends it on plus one.
        auto recv_int = [&](mn::PollFd& pfd, int* v) {
          std::size_t got = 0;
          while (got < sizeof *v) {
            ssize_t n = ::read(pfd.fd(), reinterpret_cast<char*>(v) + got, sizeof *v - got);
            if (n > 0) {
              got += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EAGAIN) {
              absl::Status st = pfd.wait_readable(30s);
              if (!st.ok()) {
                ADD_FAILURE() << st;
                return false;
              }
            } else {
              ADD_FAILURE() << "read: " << n << " " << std::strerror(errno);
              return false;
            }
          }
          return true;
        };
        auto send_int = [&](mn::PollFd& pfd, int v) {
          // A 4-byte write into an almost empty socket never blocks.
          return ::write(pfd.fd(), &v, sizeof v) == static_cast<ssize_t>(sizeof v);
        };
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          for (int i = 0; i < kRounds; i++) {
            int v = -1;
            if (!recv_int(*pb, &v)) break;
            if (v != 2 * i) bad++;
            if (!send_int(*pb, v + 1)) bad++;
          }
          wg.done();
        });
        for (int i = 0; i < kRounds; i++) {
          if (!send_int(*pa, 2 * i)) bad++;
          int v = -1;
          if (!recv_int(*pa, &v)) break;
          if (v != 2 * i + 1) bad++;
          last = v;
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(last, 2 * kRounds - 1);
}

TEST(PollFd, MoveHandsTheRegistrationOver) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status st = absl::UnknownError("not run");
  int moved_from_fd = 0, moved_to_fd = -1;
  mn::run(
      [&] {
        absl::StatusOr<mn::PollFd> made = mn::PollFd::make(p.r);
        ASSERT_TRUE(made.ok()) << made.status();
        mn::PollFd a = std::move(*made);
        mn::PollFd b;
        EXPECT_EQ(b.fd(), -1);
        b = std::move(a);
        moved_from_fd = a.fd();  // NOLINT(bugprone-use-after-move): the moved-from state
        moved_to_fd = b.fd();
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          st = b.wait_readable(30s);
          wg.done();
        });
        WaitForParkedGs(1);
        EXPECT_EQ(::write(p.w, "m", 1), 1);
        wg.wait();
        EXPECT_EQ(Drain(p.r), "m");
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(moved_from_fd, -1);
  EXPECT_EQ(moved_to_fd, p.r);
  EXPECT_TRUE(st.ok()) << st;
}

TEST(PollFd, BadFdIsAnError) {
  HangGuard guard;
  mn::run([] {
    absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(-1);
    EXPECT_FALSE(pfd.ok());
    absl::Status st = mn::wait_readable(-1, 1s);
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(absl::IsDeadlineExceeded(st)) << st;  // refused, not waited for
  });
}

// ---- many waiters ---------------------------------------------------------------------

// Thousands of Gs, each waiting on a pipe of its own (half through mn::wait_readable, half
// through a PollFd): every one wakes, reads its own byte, counts exact.
TEST(ManyWaiters, EveryGOnItsOwnPipeWakesWithItsByte) {
  HangGuard guard;
  const rlim_t limit = RaiseFdLimit();
  // Two fds a pipe, plus headroom for the runtime, the sanitizers and the test harness.
  // TSan allows about 8,000 started Gs (fibers) at once.
  const int want = kUnderTsan ? 4000 : 9000;
  const int n = static_cast<int>(std::min<rlim_t>(want, (limit > 256 ? limit - 256 : 0) / 2));
  if (n < 1000) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is below 2,256 fds";
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < n; i++) {
    pipes.push_back(std::make_unique<Pipe>());
    ASSERT_TRUE(pipes.back()->ok()) << "pipe " << i;
  }
  std::atomic<int> woke{0}, right_byte{0}, errors{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(n);
        for (int i = 0; i < n; i++) {
          mn::go([&, i] {
            const int fd = pipes[i]->r;
            absl::Status st;
            if (i % 2 == 0) {
              st = mn::wait_readable(fd);
            } else {
              absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(fd);
              st = pfd.ok() ? pfd->wait_readable() : pfd.status();
            }
            if (st.ok()) {
              woke++;
              if (Drain(fd) == std::string(1, static_cast<char>(i % 251))) right_byte++;
            } else {
              errors++;
              ADD_FAILURE() << "G " << i << ": " << st;
            }
            wg.done();
          });
        }
        WaitForParkedGs(n);
        for (int i = 0; i < n; i++) {
          char c = static_cast<char>(i % 251);
          EXPECT_EQ(::write(pipes[i]->w, &c, 1), 1);
        }
        wg.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(right_byte.load(), n);
  EXPECT_EQ(errors.load(), 0);
}

// ---- outside the runtime ---------------------------------------------------------------

// A plain thread with no runtime at all: the waits block the thread in poll(2).
TEST(OutsideRuntime, PlainThreadWaitsWithPollAndHonoursTheDeadline) {
  HangGuard guard;
  ASSERT_FALSE(mn::in_runtime());
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status timed_out, readable, pfd_timed_out, pfd_readable;
  Clock::duration elapsed{}, pfd_elapsed{};
  std::thread t([&] {
    auto t0 = Clock::now();
    timed_out = mn::wait_readable(p.r, 20ms);
    elapsed = Clock::now() - t0;

    std::thread writer([&] {
      usleep(10'000);
      EXPECT_EQ(::write(p.w, "1", 1), 1);
    });
    readable = mn::wait_readable(p.r, 30s);
    writer.join();
    EXPECT_EQ(Drain(p.r), "1");

    absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(p.r);
    ASSERT_TRUE(pfd.ok()) << pfd.status();
    t0 = Clock::now();
    pfd_timed_out = pfd->wait_readable(20ms);
    pfd_elapsed = Clock::now() - t0;
    EXPECT_EQ(::write(p.w, "2", 1), 1);
    pfd_readable = pfd->wait_readable(30s);
    EXPECT_EQ(Drain(p.r), "2");
  });
  t.join();
  EXPECT_EQ(timed_out.code(), absl::StatusCode::kDeadlineExceeded) << timed_out;
  EXPECT_TRUE(readable.ok()) << readable;
  EXPECT_EQ(pfd_timed_out.code(), absl::StatusCode::kDeadlineExceeded) << pfd_timed_out;
  EXPECT_TRUE(pfd_readable.ok()) << pfd_readable;
  EXPECT_GE(elapsed, 20ms);
  EXPECT_GE(pfd_elapsed, 20ms);
}

// A plain thread beside an active runtime is not a G either: it blocks in poll(2), while
// a G waits on the same kind of fd through the netpoller.
TEST(OutsideRuntime, PlainThreadBesideARuntime) {
  HangGuard guard;
  Pipe for_thread, for_g;
  ASSERT_TRUE(for_thread.ok());
  ASSERT_TRUE(for_g.ok());
  absl::Status thread_st = absl::UnknownError("not run"), thread_timeout;
  absl::Status g_st = absl::UnknownError("not run");
  mn::run(
      [&] {
        mn::Chan<int> done(1);
        std::thread t([&] {
          thread_timeout = mn::wait_readable(for_thread.r, 5ms);
          thread_st = mn::wait_readable(for_thread.r, 30s);
          EXPECT_EQ(::write(for_g.w, "g", 1), 1);  // now wake the G
          done.send(1);
        });
        EXPECT_EQ(::write(for_thread.w, "t", 1), 1);
        g_st = mn::wait_readable(for_g.r, 30s);
        done.recv();
        t.join();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(absl::IsDeadlineExceeded(thread_timeout) || thread_timeout.ok()) << thread_timeout;
  EXPECT_TRUE(thread_st.ok()) << thread_st;
  EXPECT_TRUE(g_st.ok()) << g_st;
}

// ---- regular files ---------------------------------------------------------------------

// epoll refuses regular files (they are always ready): the waits return OK at once.
TEST(RegularFile, WaitsReturnOKAtOnce) {
  HangGuard guard;
  char tmpl[] = "/tmp/mn_netpoll_test_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  unlink(tmpl);
  absl::Status r, w, r_deadline, pfd_r, pfd_w, devnull_r;
  bool pfd_made = false;
  mn::run([&] {
    r = mn::wait_readable(fd);
    w = mn::wait_writable(fd);
    r_deadline = mn::wait_readable(fd, 1h);
    absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(fd);
    if (pfd.ok()) {  // the header leaves open whether make refuses a regular file
      pfd_made = true;
      pfd_r = pfd->wait_readable();
      pfd_w = pfd->wait_writable();
    }
    int dn = ::open("/dev/null", O_RDWR | O_CLOEXEC);  // a character device epoll refuses too
    devnull_r = mn::wait_readable(dn);
    ::close(dn);
  });
  ::close(fd);
  EXPECT_TRUE(r.ok()) << r;
  EXPECT_TRUE(w.ok()) << w;
  EXPECT_TRUE(r_deadline.ok()) << r_deadline;
  if (pfd_made) {
    EXPECT_TRUE(pfd_r.ok()) << pfd_r;
    EXPECT_TRUE(pfd_w.ok()) << pfd_w;
  }
  EXPECT_TRUE(devnull_r.ok()) << devnull_r;
}

// ---- no busy polling -------------------------------------------------------------------

// The "an idle server uses no CPU": Gs waiting on pipes, one G in a long sleep,
// main asleep for 300 ms, four Ps. A runtime that polled (a spinning M, an epoll_wait with
// a zero timeout in a loop) would burn ~300 ms per polling thread; an idle one burns well
// under a millisecond (sysmon's backed-off wakeups). The 100 ms bound is that generous so
// that a sanitized build on a loaded machine cannot trip it.
TEST(Idle, WaitersOnPipesAndASleeperUseNoCPU) {
  HangGuard guard;
  constexpr int kWaiters = 200;
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < kWaiters; i++) {
    pipes.push_back(std::make_unique<Pipe>());
    ASSERT_TRUE(pipes.back()->ok());
  }
  std::atomic<int> woke{0};
  bool sleeper_stopped = false;
  std::chrono::microseconds cpu{};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kWaiters + 1);
        mn::Chan<int> stop_sleeper;
        mn::go([&] {
          // A long sleep that the test can end.
          sleeper_stopped = mn::select(mn::on_recv(stop_sleeper), mn::on_timeout(1h)) == 0;
          wg.done();
        });
        for (int i = 0; i < kWaiters; i++) {
          mn::go([&, i] {
            absl::StatusOr<mn::PollFd> pfd = mn::PollFd::make(pipes[i]->r);
            if (pfd.ok() && pfd->wait_readable().ok() && Drain(pipes[i]->r) == "w") woke++;
            wg.done();
          });
        }
        WaitForParkedGs(kWaiters + 1);
        mn::sleep_for(20ms);  // let spinning Ms give up and park
        auto c0 = CpuTime();
        mn::sleep_for(300ms);
        cpu = CpuTime() - c0;
        for (int i = 0; i < kWaiters; i++) EXPECT_EQ(::write(pipes[i]->w, "w", 1), 1);
        stop_sleeper.close();
        wg.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(woke.load(), kWaiters);
  EXPECT_TRUE(sleeper_stopped);
  EXPECT_LT(cpu, 100ms) << "CPU time over 300 ms idle: " << cpu.count() << " us";
}

// ---- timers and the netpoller together -----------------------------------------------

// Gs wait on pipes so that idle Ms block in epoll; a G's 10 ms sleep must still end.
TEST(TimersAndNetwork, SleeperWakesWhileOthersWaitOnFds) {
  HangGuard guard;
  constexpr int kWaiters = 50;
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < kWaiters; i++) {
    pipes.push_back(std::make_unique<Pipe>());
    ASSERT_TRUE(pipes.back()->ok());
  }
  std::atomic<int> woke{0};
  int sleeper = -1;
  bool slept_long_enough = false;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kWaiters);
        for (int i = 0; i < kWaiters; i++) {
          mn::go([&, i] {
            if (mn::wait_readable(pipes[i]->r).ok()) woke++;
            wg.done();
          });
        }
        WaitForParkedGs(kWaiters);
        mn::Chan<int> slept(1);
        mn::go([&] {
          auto t0 = Clock::now();
          mn::sleep_for(10ms);
          slept_long_enough = Clock::now() - t0 >= 10ms;
          slept.send(7);
        });
        // Main waits too (a channel, bounded by a far timeout): every M has nothing to
        // run but the sleeper's timer.
        sleeper = mn::select(mn::on_recv(slept), mn::on_timeout(30s));
        for (int i = 0; i < kWaiters; i++) EXPECT_EQ(::write(pipes[i]->w, "w", 1), 1);
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(sleeper, 0) << "the sleeping G did not wake within 30 s";
  EXPECT_TRUE(slept_long_enough);
  EXPECT_EQ(woke.load(), kWaiters);
}

// The reverse: the only pending timer is an hour away, so an idle M may block for that
// long; a pipe made readable by a thread outside the runtime must still wake its G.
TEST(TimersAndNetwork, ReadinessWakesAnIdleRuntimeWhoseOnlyTimerIsFar) {
  HangGuard guard;
  Pipe p;
  ASSERT_TRUE(p.ok());
  absl::Status st = absl::UnknownError("not run");
  bool sleeper_stopped = false;
  mn::run(
      [&] {
        mn::Chan<int> stop_sleeper;
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          sleeper_stopped = mn::select(mn::on_recv(stop_sleeper), mn::on_timeout(1h)) == 0;
          wg.done();
        });
        std::thread t([&] {
          usleep(30'000);  // long enough for every M to go idle
          EXPECT_EQ(::write(p.w, "t", 1), 1);
        });
        st = mn::wait_readable(p.r);
        t.join();
        stop_sleeper.close();
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_TRUE(sleeper_stopped);
}

// Deadline waits and plain sleeps mixed in many Gs, all on one P: every one ends, in the
// right way.
TEST(TimersAndNetwork, DeadlinesAndSleepsShareOneP) {
  HangGuard guard;
  constexpr int kGs = 200;
  Pipe never;
  ASSERT_TRUE(never.ok());
  std::atomic<int> slept{0}, timed_out{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int i = 0; i < kGs; i++) {
          mn::go([&, i] {
            auto d = std::chrono::microseconds(100 * (i % 37) + 50);
            if (i % 2 == 0) {
              mn::sleep_for(d);
              slept++;
            } else {
              int fd = dup(never.r);
              if (absl::IsDeadlineExceeded(mn::wait_readable(fd, d))) timed_out++;
              ::close(fd);
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(slept.load(), kGs / 2);
  EXPECT_EQ(timed_out.load(), kGs / 2);
}

}  // namespace
