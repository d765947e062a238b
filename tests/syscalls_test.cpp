// mn::sys: the blocking-call wrappers. File round trips from one G and from many, the error
// statuses (message, code, errno), getaddrinfo on numeric hosts only (the test machines have
// no network, so nothing here may depend on DNS), waitpid, and the same calls from a plain
// thread outside the runtime.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

// gmock's HasSubstr without linking gmock.
testing::AssertionResult HasSubstr(absl::string_view hay, absl::string_view needle) {
  if (hay.find(needle) != absl::string_view::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << hay << "\" does not contain \"" << needle << "\"";
}

// A fresh file under /tmp (mkstemp), unlinked when the test ends.
class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/mn_syscalls_test_XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) {
      ADD_FAILURE() << "mkstemp: " << std::strerror(errno);
      return;
    }
    ::close(fd);
    path_ = tmpl;
  }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Pattern(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i++) s[i] = static_cast<char>((i * 131 + seed * 7 + 1) % 251);
  return s;
}

// Writes, syncs and reads back `path` through every file call; used from a G and from a
// plain thread.
void RoundTrip(const std::string& path) {
  const std::string data = "0123456789abcdefghijklmnopqrstuvwxyz" + Pattern(10000, 3);

  absl::StatusOr<int> wfd = mn::sys::open(path, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(wfd.ok()) << wfd.status();
  // Go's rule, kept: every fd is close-on-exec.
  EXPECT_NE(fcntl(*wfd, F_GETFD) & FD_CLOEXEC, 0);
  absl::StatusOr<std::size_t> w = mn::sys::write_all(*wfd, data.data(), data.size());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(*w, data.size());
  EXPECT_TRUE(mn::sys::fsync(*wfd).ok());
  EXPECT_TRUE(mn::sys::close(*wfd).ok());

  absl::StatusOr<int> rfd = mn::sys::open(path, O_RDONLY);
  ASSERT_TRUE(rfd.ok()) << rfd.status();
  char part[8];
  absl::StatusOr<std::size_t> pr = mn::sys::pread(*rfd, part, sizeof part, 10);
  ASSERT_TRUE(pr.ok()) << pr.status();
  ASSERT_EQ(*pr, sizeof part);
  EXPECT_EQ(std::string(part, sizeof part), "abcdefgh");

  // pread leaves the offset alone, so read_full starts at 0.
  std::string back(data.size(), '\0');
  absl::StatusOr<std::size_t> r = mn::sys::read_full(*rfd, back.data(), back.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, data.size());
  EXPECT_EQ(back, data);
  // At the end of the file a single read returns 0.
  absl::StatusOr<std::size_t> at_eof = mn::sys::read(*rfd, part, sizeof part);
  ASSERT_TRUE(at_eof.ok()) << at_eof.status();
  EXPECT_EQ(*at_eof, 0u);
  EXPECT_TRUE(mn::sys::close(*rfd).ok());
}

void ExpectBadFdRead(int fd) {
  char c;
  absl::StatusOr<std::size_t> r = mn::sys::read(fd, &c, 1);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_TRUE(HasSubstr(msg, "read"));
  EXPECT_TRUE(HasSubstr(msg, "fd " + std::to_string(fd)));
  EXPECT_TRUE(HasSubstr(msg, std::strerror(EBADF)));
  EXPECT_EQ(mn::sys::errno_of(r.status()), EBADF);
  EXPECT_EQ(r.status().code(), absl::ErrnoToStatusCode(EBADF));
}

void ExpectNumericLookup() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  absl::StatusOr<mn::sys::AddrInfoList> list = mn::sys::getaddrinfo("127.0.0.1", "80", &hints);
  ASSERT_TRUE(list.ok()) << list.status();
  std::size_t n = 0, inet = 0;
  for (const addrinfo& ai : *list) {
    n++;
    if (ai.ai_family != AF_INET) continue;
    inet++;
    ASSERT_GE(ai.ai_addrlen, sizeof(sockaddr_in));
    const auto* sin = reinterpret_cast<const sockaddr_in*>(ai.ai_addr);
    EXPECT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT_EQ(ntohs(sin->sin_port), 80);
  }
  EXPECT_GE(inet, 1u);
  EXPECT_EQ(list->size(), n);
}

void ExpectReapsExit7() {
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) _exit(7);  // nothing else: the parent is multithreaded
  absl::StatusOr<mn::sys::WaitResult> w = mn::sys::waitpid(child);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->pid, child);
  ASSERT_TRUE(WIFEXITED(w->status));
  EXPECT_EQ(WEXITSTATUS(w->status), 7);
}

// ---- files ---------------------------------------------------------------------------

TEST(Syscalls, FileRoundTripInAG) {
  HangGuard guard;
  TempFile f;
  ASSERT_FALSE(f.path().empty());
  bool ran = false;
  mn::run(
      [&] {
        ASSERT_TRUE(mn::in_runtime());
        RoundTrip(f.path());
        ran = true;
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(ran);
}

TEST(Syscalls, ManyGsWriteAndReadTheirOwnRegionsOfOneFile) {
  HangGuard guard;
  constexpr int kGs = 64;
  constexpr std::size_t kRegion = 4096 + 123;  // not page-aligned: neighbours share pages
  TempFile f;
  ASSERT_FALSE(f.path().empty());
  std::atomic<int> verified{0};
  std::string whole;
  mn::run(
      [&] {
        absl::StatusOr<int> fd = mn::sys::open(f.path(), O_RDWR);
        ASSERT_TRUE(fd.ok()) << fd.status();
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int i = 0; i < kGs; i++) {
          mn::go([&, i] {
            const std::string mine = Pattern(kRegion, i);
            const off_t off = static_cast<off_t>(i) * kRegion;
            bool ok = true;
            for (int round = 0; round < 4 && ok; round++) {
              absl::StatusOr<std::size_t> w = mn::sys::pwrite(*fd, mine.data(), kRegion, off);
              ok = w.ok() && *w == kRegion;
              mn::yield();  // let the other Gs write around this region before reading it
              std::string back(kRegion, '\0');
              absl::StatusOr<std::size_t> r = mn::sys::pread(*fd, back.data(), kRegion, off);
              ok = ok && r.ok() && *r == kRegion && back == mine;
            }
            if (ok) verified.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        whole.assign(kGs * kRegion, '\0');
        absl::StatusOr<std::size_t> r = mn::sys::pread(*fd, whole.data(), whole.size(), 0);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(*r, whole.size());
        EXPECT_TRUE(mn::sys::close(*fd).ok());
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(verified.load(), kGs);
  ASSERT_EQ(whole.size(), kGs * kRegion);
  for (int i = 0; i < kGs; i++) {
    EXPECT_EQ(whole.substr(i * kRegion, kRegion), Pattern(kRegion, i)) << "region " << i;
  }
}

// ---- errors --------------------------------------------------------------------------

TEST(Syscalls, ReadOnABadFdNamesTheCallAndKeepsEBADF) {
  mn::run(
      [&] {
        ExpectBadFdRead(-1);
        // A valid fd not open for reading: EBADF too, with no fd-reuse race.
        absl::StatusOr<int> wronly = mn::sys::open("/dev/null", O_WRONLY);
        ASSERT_TRUE(wronly.ok()) << wronly.status();
        ExpectBadFdRead(*wronly);
        // And the write side of the same mistake, through write_all.
        absl::StatusOr<int> rdonly = mn::sys::open("/dev/null", O_RDONLY);
        ASSERT_TRUE(rdonly.ok()) << rdonly.status();
        absl::StatusOr<std::size_t> w = mn::sys::write_all(*rdonly, "x", 1);
        ASSERT_FALSE(w.ok());
        EXPECT_TRUE(HasSubstr(w.status().message(), "write(fd " + std::to_string(*rdonly) + ")"));
        EXPECT_EQ(mn::sys::errno_of(w.status()), EBADF);
        EXPECT_TRUE(mn::sys::close(*wronly).ok());
        EXPECT_TRUE(mn::sys::close(*rdonly).ok());
      },
      mn::Options{.procs = 2});
  // Statuses that did not come from errno have none.
  EXPECT_EQ(mn::sys::errno_of(absl::OkStatus()), 0);
  EXPECT_EQ(mn::sys::errno_of(absl::NotFoundError("x")), 0);
}

TEST(Syscalls, OpenOfAMissingPathIsNotFoundAndNamesThePath) {
  const std::string path = "/tmp/mn_syscalls_test_missing_" + std::to_string(getpid()) + "/file";
  mn::run(
      [&] {
        absl::StatusOr<int> fd = mn::sys::open(path, O_RDONLY);
        ASSERT_FALSE(fd.ok());
        EXPECT_TRUE(absl::IsNotFound(fd.status())) << fd.status();
        EXPECT_TRUE(HasSubstr(fd.status().message(), "open(\"" + path + "\")"));
        EXPECT_EQ(mn::sys::errno_of(fd.status()), ENOENT);
      },
      mn::Options{.procs = 2});
}

TEST(Syscalls, ReadFullOnAShortFileReportsUnexpectedEOF) {
  TempFile f;
  ASSERT_FALSE(f.path().empty());
  mn::run(
      [&] {
        absl::StatusOr<int> fd = mn::sys::open(f.path(), O_RDWR | O_TRUNC);
        ASSERT_TRUE(fd.ok()) << fd.status();
        ASSERT_TRUE(mn::sys::write_all(*fd, "12345", 5).ok());
        char buf[10];
        absl::StatusOr<std::size_t> r = mn::sys::pread(*fd, buf, sizeof buf, 0);
        ASSERT_TRUE(r.ok()) << r.status();
        EXPECT_EQ(*r, 5u);  // a single call may be short and is not an error

        absl::StatusOr<int> rfd = mn::sys::open(f.path(), O_RDONLY);
        ASSERT_TRUE(rfd.ok()) << rfd.status();
        r = mn::sys::read_full(*rfd, buf, sizeof buf);
        ASSERT_FALSE(r.ok());
        EXPECT_TRUE(absl::IsOutOfRange(r.status())) << r.status();
        EXPECT_TRUE(HasSubstr(r.status().message(), "unexpected EOF (5 of 10 bytes)"));
        EXPECT_EQ(std::string(buf, 5), "12345");
        // At the end already: plain EOF, as io.ReadFull returns io.EOF when nothing was read.
        r = mn::sys::read_full(*rfd, buf, sizeof buf);
        ASSERT_FALSE(r.ok());
        EXPECT_TRUE(absl::IsOutOfRange(r.status())) << r.status();
        EXPECT_TRUE(HasSubstr(r.status().message(), "EOF (0 of 10 bytes)"));
        EXPECT_FALSE(HasSubstr(r.status().message(), "unexpected"));
        EXPECT_TRUE(mn::sys::close(*rfd).ok());
        EXPECT_TRUE(mn::sys::close(*fd).ok());
      },
      mn::Options{.procs = 2});
}

// ---- getaddrinfo (numeric only) ------------------------------------------------------

TEST(Syscalls, GetaddrinfoNumericLoopback) {
  mn::run([&] { ExpectNumericLookup(); }, mn::Options{.procs = 2});
}

TEST(Syscalls, GetaddrinfoRejectsANonNumericHostWithoutDNS) {
  mn::run(
      [&] {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        absl::StatusOr<mn::sys::AddrInfoList> list =
            mn::sys::getaddrinfo("not-an-ip", "80", &hints);
        ASSERT_FALSE(list.ok());
        EXPECT_TRUE(absl::IsNotFound(list.status())) << list.status();  // EAI_NONAME
        EXPECT_TRUE(HasSubstr(list.status().message(), "getaddrinfo(\"not-an-ip\", \"80\")"));
        EXPECT_TRUE(HasSubstr(list.status().message(), gai_strerror(EAI_NONAME)));
      },
      mn::Options{.procs = 2});
}

TEST(Syscalls, GetaddrinfoEmptyHostIsNullAndBadFlagsAreInvalidArgument) {
  mn::run(
      [&] {
        addrinfo hints{};
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        absl::StatusOr<mn::sys::AddrInfoList> any = mn::sys::getaddrinfo("", "8080", &hints);
        ASSERT_TRUE(any.ok()) << any.status();
        ASSERT_EQ(any->size(), 1u);
        const auto* sin = reinterpret_cast<const sockaddr_in*>(any->begin()->ai_addr);
        EXPECT_EQ(ntohl(sin->sin_addr.s_addr), INADDR_ANY);
        EXPECT_EQ(ntohs(sin->sin_port), 8080);

        // Moving hands the list over; the moved-from owner is empty and frees nothing.
        mn::sys::AddrInfoList moved = std::move(*any);
        EXPECT_TRUE(any->empty());
        EXPECT_EQ(any->size(), 0u);
        EXPECT_EQ(moved.size(), 1u);

        // POSIX: AI_CANONNAME with no host is EAI_BADFLAGS.
        hints.ai_flags = AI_CANONNAME;
        absl::StatusOr<mn::sys::AddrInfoList> bad = mn::sys::getaddrinfo("", "80", &hints);
        ASSERT_FALSE(bad.ok());
        EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
      },
      mn::Options{.procs = 2});
}

// ---- waitpid -------------------------------------------------------------------------

TEST(Syscalls, WaitpidReapsAChildInAG) {
  HangGuard guard;
  mn::run([&] { ExpectReapsExit7(); }, mn::Options{.procs = 2});
}

TEST(Syscalls, WaitpidWnohangPollsUntilTheChildHasExited) {
  HangGuard guard;  // bounds the poll loop
  mn::run(
      [&] {
        pid_t child = fork();
        ASSERT_GE(child, 0) << std::strerror(errno);
        if (child == 0) _exit(7);
        absl::StatusOr<mn::sys::WaitResult> w;
        do {
          w = mn::sys::waitpid(child, WNOHANG);
          ASSERT_TRUE(w.ok()) << w.status();
          if (w->pid == 0) mn::yield();
        } while (w->pid == 0);
        EXPECT_EQ(w->pid, child);
        ASSERT_TRUE(WIFEXITED(w->status));
        EXPECT_EQ(WEXITSTATUS(w->status), 7);
        // Reaped: it is no longer our child.
        absl::StatusOr<mn::sys::WaitResult> again = mn::sys::waitpid(child, WNOHANG);
        ASSERT_FALSE(again.ok());
        EXPECT_EQ(mn::sys::errno_of(again.status()), ECHILD);
      },
      mn::Options{.procs = 2});
}

TEST(Syscalls, WaitpidOnANonChildIsECHILD) {
  mn::run(
      [&] {
        const pid_t parent = getppid();  // never our child
        absl::StatusOr<mn::sys::WaitResult> w = mn::sys::waitpid(parent);
        ASSERT_FALSE(w.ok());
        EXPECT_EQ(mn::sys::errno_of(w.status()), ECHILD);
        EXPECT_TRUE(HasSubstr(w.status().message(), "waitpid(pid " + std::to_string(parent) + ")"));
      },
      mn::Options{.procs = 2});
}

// ---- outside the runtime -------------------------------------------------------------

TEST(Syscalls, TheSameCallsWorkFromAPlainThread) {
  HangGuard guard;
  TempFile f;
  ASSERT_FALSE(f.path().empty());
  bool finished = false;
  std::thread t([&] {
    EXPECT_FALSE(mn::in_runtime());
    RoundTrip(f.path());
    ExpectBadFdRead(-1);
    ExpectNumericLookup();
    ExpectReapsExit7();
    finished = !testing::Test::HasFatalFailure();
  });
  t.join();
  EXPECT_TRUE(finished);
}

}  // namespace
