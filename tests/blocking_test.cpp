// mn::blocking / blocking_now: a G in a blocking call never holds up its P's other Gs,
// short calls keep their P, and threads are reused.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

// At procs=1 a G sleeps 300 ms in a blocking call while 1,000 other Gs must run: they can
// only do so if sysmon hands the P to another M. The order is asserted, not a time.
void BlockerDoesNotHoldUpOthers(bool now) {
  HangGuard guard;
  constexpr int kOthers = 1000;
  std::atomic<int> finished{0};
  int finished_when_call_returned = -1;
  mn::run(
      [&] {
        mn::Chan<int> started;
        mn::WaitGroup blocker_done;
        blocker_done.add(1);
        mn::go([&] {
          started.send(1);
          auto body = [] { usleep(300'000); return 7; };
          int r = now ? mn::blocking_now(body) : mn::blocking(body);
          EXPECT_EQ(r, 7);
          finished_when_call_returned = finished.load();
          blocker_done.done();
        });
        started.recv();
        mn::WaitGroup wg;
        wg.add(kOthers);
        for (int i = 0; i < kOthers; i++) {
          mn::go([&] {
            finished.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        blocker_done.wait();
        EXPECT_GE(mn::stats().handoffs, 1);
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(finished_when_call_returned, kOthers);
}

TEST(Blocking, SleepingCallDoesNotHoldUpItsP) { BlockerDoesNotHoldUpOthers(false); }
TEST(Blocking, BlockingNowDoesNotHoldUpItsP) { BlockerDoesNotHoldUpOthers(true); }

TEST(Blocking, ReturnsValuesAndReferencesAndRethrows) {
  mn::run([] {
    EXPECT_EQ(mn::blocking([] { return std::string("abc"); }), "abc");
    int x = 1;
    int& r = mn::blocking([&]() -> int& { return x; });
    r = 5;
    EXPECT_EQ(x, 5);
    bool ran = false;
    mn::blocking([&] { ran = true; });
    EXPECT_TRUE(ran);
    EXPECT_THROW(mn::blocking([]() -> int { throw std::runtime_error("boom"); }),
                 std::runtime_error);
    EXPECT_THROW(mn::blocking_now([] { throw std::out_of_range("x"); }), std::out_of_range);
    // Still a working G afterwards: it can park and be woken.
    mn::Chan<int> ch(1);
    ch.send(3);
    EXPECT_EQ(ch.recv(), 3);
  });
}

TEST(Blocking, OutsideTheRuntimeJustCalls) {
  EXPECT_EQ(mn::blocking([] { return 4; }), 4);
  EXPECT_EQ(mn::blocking_now([] { return 5; }), 5);
}

// A blocking call whose body calls into the runtime gives up the call's state first.
TEST(Blocking, BodyMayUseTheRuntime) {
  HangGuard guard;
  mn::run(
      [] {
        mn::Chan<int> ch;
        mn::go([&] { ch.send(mn::blocking([&] { return *ch.recv() + 1; })); });
        ch.send(1);
        EXPECT_EQ(ch.recv(), 2);
      },
      mn::Options{.procs = 2});
}

// Thread cache: 10,000 blocking calls, many long enough to lose their P, run on far
// fewer than 10,000 threads.
TEST(Blocking, ThreadsAreReused) {
  HangGuard guard;
  constexpr int kGs = 20;
  constexpr int kCalls = 500;  // 10,000 in all
  std::atomic<int> calls{0};
  int64_t threads = 0;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int g = 0; g < kGs; g++) {
          mn::go([&, g] {
            for (int i = 0; i < kCalls; i++) {
              if (i % 10 == g % 10) {
                mn::blocking([] { usleep(100); });  // long: sysmon may take the P
              } else {
                mn::blocking([] { return syscall(SYS_getppid); });
              }
              calls.fetch_add(1);
            }
            wg.done();
          });
        }
        wg.wait();
        threads = mn::stats().threads;
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(calls.load(), kGs * kCalls);
  EXPECT_GE(threads, 1);
  EXPECT_LT(threads, 100);
}

}  // namespace
