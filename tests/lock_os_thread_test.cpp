// lock_os_thread: a locked G runs only on its thread, the thread runs nothing else, and
// a G that exits locked ends its thread.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

TEST(LockOSThread, LockedGAlwaysSeesTheSameThread) {
  HangGuard guard;
  std::atomic<pid_t> locked_tid{0};
  std::atomic<int> others_on_locked_thread{0};
  std::atomic<bool> done{false};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(1);
        mn::Chan<int> ping, pong;
        mn::go([&] {
          mn::lock_os_thread();
          pid_t tid = gettid();
          locked_tid.store(tid);
          for (int i = 0; i < 300; i++) {
            // Every way of leaving the CPU: yield, sleep, channel handoffs.
            if (i % 3 == 0) mn::yield();
            if (i % 3 == 1) mn::sleep_for(std::chrono::microseconds(50));
            if (i % 3 == 2) {
              ping.send(i);
              EXPECT_EQ(pong.recv(), i);
            }
            EXPECT_EQ(gettid(), tid);
          }
          mn::unlock_os_thread();
          done.store(true);
          ping.close();
          wg.done();
        });
        // Other Gs keep both Ps busy; none may run on the locked thread meanwhile.
        mn::WaitGroup others;
        others.add(8);
        for (int k = 0; k < 8; k++) {
          mn::go([&] {
            while (!done.load()) {
              if (gettid() == locked_tid.load()) others_on_locked_thread.fetch_add(1);
              mn::yield();
            }
            others.done();
          });
        }
        mn::go([&] {
          while (auto v = ping.recv()) pong.send(*v);
        });
        wg.wait();
        others.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_NE(locked_tid.load(), 0);
  EXPECT_EQ(others_on_locked_thread.load(), 0);
}

TEST(LockOSThread, CallsNest) {
  HangGuard guard;
  mn::run(
      [] {
        mn::lock_os_thread();
        mn::lock_os_thread();
        pid_t tid = gettid();
        mn::unlock_os_thread();  // still locked once
        for (int i = 0; i < 100; i++) {
          mn::sleep_for(std::chrono::microseconds(20));
          EXPECT_EQ(gettid(), tid);
        }
        mn::unlock_os_thread();
        mn::unlock_os_thread();  // unlocking an unlocked G does nothing
      },
      mn::Options{.procs = 2});
}

// A G that exits while locked takes its thread with it.
TEST(LockOSThread, ExitWhileLockedEndsTheThread) {
  HangGuard guard;
  std::atomic<pid_t> tid{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          mn::lock_os_thread();
          tid.store(gettid());
          wg.done();
        });
        wg.wait();
        // The thread ends shortly after its G: poll until /proc no longer lists it.
        std::string path = "/proc/self/task/" + std::to_string(tid.load());
        struct stat st;
        while (stat(path.c_str(), &st) == 0) mn::sleep_for(std::chrono::milliseconds(1));
        // The runtime still works with the thread gone.
        mn::WaitGroup more;
        more.add(100);
        for (int i = 0; i < 100; i++) mn::go([&] { more.done(); });
        more.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_NE(tid.load(), 0);
}

// main returns while a locked G waits forever: run() must still return (the locked M,
// asleep waiting for its G, is woken to exit).
TEST(LockOSThread, RunReturnsWhileALockedGWaits) {
  HangGuard guard;
  mn::Chan<int> never;
  std::atomic<bool> locked{false};
  mn::run(
      [&] {
        mn::go([&] {
          mn::lock_os_thread();
          locked.store(true);
          never.recv();
        });
        while (!locked.load()) mn::sleep_for(std::chrono::microseconds(100));
        mn::sleep_for(std::chrono::milliseconds(2));  // let it park
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(locked.load());
}

}  // namespace
