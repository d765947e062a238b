// Timers: sleeping never wakes early, many sleepers all wake, Timer/Ticker/after/AfterFunc
// semantics, and stop/reset races (no stale value after stop or reset returns).
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using mn::Clock;

TEST(Sleep, NeverWakesEarly) {
  std::atomic<int> early{0};
  mn::run([&] {
    mn::WaitGroup wg;
    for (int i = 0; i < 200; i++) {
      wg.add(1);
      mn::go([&, i] {
        auto d = std::chrono::microseconds(100 * (i % 50));
        auto deadline = Clock::now() + d;
        mn::sleep_for(d);
        if (Clock::now() < deadline) early++;
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(early.load(), 0);
}

TEST(Sleep, ManySleepersAllWake) {
  const int kN = mn::testing_util::kUnderTsan ? 5000 : 100000;
  std::atomic<int> woke{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kN);
        for (int i = 0; i < kN; i++) {
          mn::go([&, i] {
            mn::sleep_for(std::chrono::microseconds(i % 10000));
            woke++;
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(woke.load(), kN);
}

TEST(Sleep, OutsideRuntimeSleepsTheThreadAndTimersNeedARuntime) {
  EXPECT_FALSE(mn::in_runtime());
  mn::sleep_for(1ms);  // a plain thread: no runtime involved, nothing to throw
  EXPECT_THROW(mn::Timer(1ms), std::logic_error);
  EXPECT_THROW(mn::after(1ms), std::logic_error);
}

TEST(Timer, FiresOnceWithTheTime) {
  mn::run([] {
    auto t0 = Clock::now();
    mn::Timer t(2ms);
    auto v = t.c().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(*v, t0 + 2ms);
    EXPECT_FALSE(t.stop());  // already fired
    EXPECT_EQ(t.c().try_recv(), std::nullopt);
  });
}

TEST(Timer, StopBeforeFiringDeliversNothing) {
  mn::run([] {
    mn::Timer t(20ms);
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
    // Nothing arrives, ever: the select times out.
    EXPECT_EQ(mn::select(mn::on_recv(t.c()), mn::on_timeout(40ms)), 1);
  });
}

TEST(Timer, ResetRearms) {
  mn::run([] {
    mn::Timer t(1h);
    EXPECT_TRUE(t.reset(1ms));
    EXPECT_TRUE(t.c().recv().has_value());
    EXPECT_FALSE(t.reset(1ms));  // had fired
    EXPECT_TRUE(t.c().recv().has_value());
  });
}

// Stop and reset racing with firing: once stop() returns, no value can be received.
TEST(Timer, StopResetRacesLeaveNoStaleValue) {
  const int kIters = mn::testing_util::kUnderTsan ? 300 : 3000;
  std::atomic<int> stale{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        for (int g = 0; g < 4; g++) {
          wg.add(1);
          mn::go([&, g] {
            for (int i = 0; i < kIters; i++) {
              mn::Timer t(std::chrono::microseconds((i + g) % 50));
              if (i % 3 == 0) mn::sleep_for(std::chrono::microseconds(i % 40));
              if (i % 2 == 0) {
                t.stop();
              } else {
                t.reset(1h);
                t.stop();
              }
              if (t.c().try_recv().has_value()) stale++;
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(stale.load(), 0);
}

TEST(Ticker, TicksUntilStopped) {
  mn::run([] {
    mn::Ticker tk(1ms);
    for (int i = 0; i < 5; i++) EXPECT_TRUE(tk.c().recv().has_value());
    tk.stop();
    EXPECT_EQ(mn::select(mn::on_recv(tk.c()), mn::on_timeout(20ms)), 1);
    EXPECT_THROW(mn::Ticker(0ms), std::logic_error);
  });
}

TEST(After, DeliversOnce) {
  mn::run([] {
    auto c = mn::after(1ms);
    EXPECT_TRUE(c.recv().has_value());
    EXPECT_EQ(c.try_recv(), std::nullopt);
  });
}

TEST(AfterFunc, RunsInAGUnlessStopped) {
  std::atomic<int> ran{0};
  mn::run([&] {
    mn::WaitGroup wg;
    wg.add(1);
    mn::Timer t(1ms, [&] {
      EXPECT_TRUE(mn::in_runtime());
      ran++;
      wg.done();
    });
    wg.wait();
    mn::Timer never(20ms, [&] { ran += 100; });
    EXPECT_TRUE(never.stop());
    mn::sleep_for(40ms);
  });
  EXPECT_EQ(ran.load(), 1);
}

// A timer created from a plain thread while the runtime runs.
TEST(Timer, FromPlainThread) {
  bool got = false;
  mn::run([&] {
    std::thread th([&] {
      mn::Timer t(1ms);
      got = t.c().recv().has_value();
    });
    th.join();
  });
  EXPECT_TRUE(got);
}

}  // namespace
