// 10,000 concurrent loopback connections, each echoing its own message exactly.
//
// Both ends of 10,000 connections are 20,000 fds, and the machines this runs on cap
// RLIMIT_NOFILE's hard limit at 20,000 without the capability to raise it. So the clients
// live in a second process: this test binary again (/proc/self/exe), running only the
// client case, which is skipped unless MN_NET_SCALE_ADDR tells it where the server is.
// Each side holds 10,000 sockets at once: the clients all connect and write before any
// reads its echo, and the server's Gs are all parked in read at the peak.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "test_util.hpp"

extern char** environ;

namespace {

using mn::testing_util::HangGuard;
using mn::testing_util::kUnderTsan;

// TSan counts every started G as a thread and dies past 8,128 of them in one process.
constexpr int kConns = kUnderTsan ? 3'000 : 10'000;
constexpr int kRounds = 3;

// Room for kConns sockets plus the runtime's and the test's own fds.
bool RaiseNoFile(rlim_t want) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  if (rl.rlim_cur >= want) return true;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  return setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want;
}

std::string Message(int i, int round) {
  // Different lengths, so a message delivered to the wrong connection cannot pass.
  return "conn " + std::to_string(i) + " round " + std::to_string(round) + " " +
         std::string(static_cast<std::size_t>(i % 97), static_cast<char>('a' + i % 26));
}

TEST(NetScale, TenThousandConnectionsEchoExactly) {
  HangGuard guard;
  if (!RaiseNoFile(kConns + 200)) {
    GTEST_SKIP() << "RLIMIT_NOFILE cannot reach " << kConns + 200 << " fds in this process";
  }
  std::atomic<int> served{0}, bad_server{0};
  int client_status = -1;
  mn::run([&] {
    auto l = mn::net::listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(l.ok()) << l.status();
    std::string addr = l->addr().to_string();
    mn::WaitGroup wg;
    wg.add(kConns);
    mn::go([&] {
      for (int i = 0; i < kConns; i++) {
        auto c = l->accept();
        if (!c.ok()) {
          bad_server++;
          wg.done();
          continue;
        }
        mn::go([&, c = std::move(*c)]() mutable {
          char buf[512];
          for (;;) {
            auto n = c.read(buf, sizeof buf);
            if (!n.ok()) {
              bad_server++;
              break;
            }
            if (*n == 0) break;  // the client closed: every round echoed
            if (!c.write_all(buf, *n).ok()) {
              bad_server++;
              break;
            }
          }
          served++;
          wg.done();
        });
      }
    });
    // The clients: this binary again, in its own process.
    std::string env_addr = "MN_NET_SCALE_ADDR=" + addr;
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; e++) envp.push_back(*e);
    envp.push_back(env_addr.data());
    envp.push_back(nullptr);
    std::string filter = "--gtest_filter=NetScale.ClientSide";
    char exe[] = "/proc/self/exe";
    char* argv[] = {exe, filter.data(), nullptr};
    pid_t pid = -1;
    ASSERT_EQ(posix_spawn(&pid, exe, nullptr, nullptr, argv, envp.data()), 0);
    auto w = mn::sys::waitpid(pid);
    ASSERT_TRUE(w.ok()) << w.status();
    client_status = w->status;
    if (WIFEXITED(client_status) && WEXITSTATUS(client_status) == 0) {
      wg.wait();
    } else {
      (void)l->close();  // no point waiting for connections that will not come
    }
  });
  ASSERT_TRUE(WIFEXITED(client_status)) << "client process status " << client_status;
  EXPECT_EQ(WEXITSTATUS(client_status), 0) << "the client process saw a failure (its output is above)";
  EXPECT_EQ(served.load(), kConns);
  EXPECT_EQ(bad_server.load(), 0);
}

// The client half; runs only when started by the test above.
TEST(NetScale, ClientSide) {
  const char* addr = std::getenv("MN_NET_SCALE_ADDR");
  if (addr == nullptr) GTEST_SKIP() << "the client half of TenThousandConnectionsEchoExactly";
  ASSERT_TRUE(RaiseNoFile(kConns + 200));
  std::atomic<int> exact{0}, failed{0};
  mn::run([&] {
    // Every client connects first; only when all are connected does any of them send, so
    // that all 10,000 are open at once on both sides.
    mn::WaitGroup connected, done;
    connected.add(kConns);
    done.add(kConns);
    mn::Chan<int> start;  // closed when everyone is connected
    for (int i = 0; i < kConns; i++) {
      mn::go([&, i] {
        auto c = mn::net::dial("tcp", addr);
        connected.done();
        if (!c.ok()) {
          ADD_FAILURE() << c.status();
          failed++;
          done.done();
          return;
        }
        (void)start.recv();
        bool ok = true;
        for (int r = 0; r < kRounds && ok; r++) {
          std::string msg = Message(i, r);
          ok = c->write_all(msg).ok();
          std::string back(msg.size(), '\0');
          ok = ok && c->read_full(back.data(), back.size()).ok() && back == msg;
        }
        if (ok) {
          exact++;
        } else {
          failed++;
        }
        done.done();
      });
    }
    connected.wait();
    start.close();
    done.wait();
  });
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(exact.load(), kConns);
}

}  // namespace
