// Deadlock detection and SIGQUIT dumps. Death tests: the child re-runs the binary, so no
// HangGuard here (its watchdog thread would be a thread the runtime cannot see, which
// turns detection off by design).
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "test_util.hpp"

namespace {

class CheckDeadDeath : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(CheckDeadDeath, MainBlockedOnAChannelNobodySendsOn) {
  EXPECT_EXIT(
      {
        mn::run([] {
          mn::Chan<int> ch;
          ch.recv();
        });
        std::exit(0);
      },
      testing::ExitedWithCode(2), "mn: all Gs are asleep - deadlock!\n\nG 1 \\[chan receive\\] main");
}

TEST_F(CheckDeadDeath, ListsEveryBlockedGWithItsReason) {
  EXPECT_EXIT(
      {
        mn::run(
            [] {
              mn::Mutex mu;
              mu.lock();
              mn::WaitGroup wg;
              wg.add(1);
              mn::go([&] { mu.lock(); });
              mn::go([&] { wg.wait(); });
              mn::Chan<int> ch;
              ch.send(1);
            },
            mn::Options{.procs = 2});
        std::exit(0);
      },
      testing::ExitedWithCode(2),
      "deadlock!\n\nG 1 \\[chan send\\] main\nG 2 \\[mn::Mutex::lock\\]\n"
      "G 3 \\[mn::WaitGroup::wait\\]\n");
}

TEST_F(CheckDeadDeath, SigquitDumpsEveryG) {
  EXPECT_EXIT(
      {
        mn::run([] {
          mn::Chan<int> never;
          mn::go([&] { never.recv(); });
          mn::yield();
          raise(SIGQUIT);
          // Sleeping, not blocked: a pending timer is not a deadlock, so the exit is
          // sysmon's, after the dump.
          for (;;) mn::sleep_for(std::chrono::milliseconds(1));
        });
        std::exit(0);
      },
      testing::ExitedWithCode(2), 
      // G 2 may not have reached its receive yet on a slow (sanitized) run.
      "SIGQUIT: quit\n\nG 1 \\[(running|sleep)[^\n]*main\nG 2 \\[(chan receive|runnable)\\]");
}

// Not deadlocks: a pending timer, a blocking call in flight, a thread outside the
// runtime that will send. Each of these programs ends normally.
TEST(CheckDead, PendingTimerIsNotADeadlock) {
  mn::run([] { mn::sleep_for(std::chrono::milliseconds(30)); });
  SUCCEED();
}

TEST(CheckDead, BlockingCallInFlightIsNotADeadlock) {
  int v = 0;
  mn::run(
      [&] {
        mn::Chan<int> ch;
        mn::go([&] { ch.send(mn::blocking([] { usleep(30'000); return 9; })); });
        v = *ch.recv();
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(v, 9);
}

TEST(CheckDead, AThreadOutsideTheRuntimeMayStillSend) {
  int v = 0;
  mn::run([&] {
    mn::Chan<int> ch;
    std::thread t([&] {
      usleep(30'000);
      ch.send(5);
    });
    v = *ch.recv();
    t.join();
  });
  EXPECT_EQ(v, 5);
}

TEST(Stats, CountsOfTheActiveRuntime) {
  mn::Stats outside = mn::stats();
  EXPECT_EQ(outside.procs, 0);
  mn::Stats inside;
  mn::run([&] { inside = mn::stats(); }, mn::Options{.procs = 2});
  EXPECT_EQ(inside.procs, 2);
  EXPECT_GE(inside.gs, 1);
  EXPECT_GE(inside.threads, 1);
}

}  // namespace
