// Preemption without signals: a G that never calls the runtime cannot starve the Gs
// queued behind it, and cooperative preemption points yield when sysmon asks.
#include <atomic>

#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

// At procs=1 a G spins on an atomic flag, calling spin_body() each turn; then a second G
// sets the flag. The setter (and main, readied while the spinner runs) can only run if the
// spinner yields or sysmon takes its P. Returns the runtime's counters at the end.
template <class SpinBody>
mn::Stats SpinnerAndSetter(SpinBody spin_body) {
  HangGuard guard;
  std::atomic<bool> flag{false};
  mn::Stats st;
  mn::run(
      [&] {
        mn::Chan<int> started;
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          started.send(1);  // readies main, which must wait for this P
          while (!flag.load(std::memory_order_relaxed)) spin_body();
          wg.done();
        });
        started.recv();
        mn::go([&] {
          flag.store(true, std::memory_order_relaxed);
          wg.done();
        });
        wg.wait();
        st = mn::stats();
      },
      // sysmon's own preemption is under test: on a loaded machine kernel feedback would
      // hand the spinner's descheduled P off first (feedback_test covers that path).
      mn::Options{.procs = 1, .kernel_feedback = mn::KernelFeedback::kOff});
  EXPECT_TRUE(flag.load());
  return st;
}

// No runtime call at all in the loop: sysmon must take the hog's P.
TEST(Preempt, HogDoesNotStarveTheGThatStopsIt) {
  EXPECT_GE(SpinnerAndSetter([] {}).hogs, 1);
}

// With preempt_point() in the loop, the G yields when sysmon asks.
TEST(Preempt, PreemptPointYields) {
  EXPECT_GE(SpinnerAndSetter([] { mn::preempt_point(); }).preempt_requests, 1);
}

// Go's PingPongHog shape: two Gs handing a token back and forth keep runnext and its
// time slice; the preempt flag checked at each channel operation lets a third G in.
TEST(Preempt, PingPongPairDoesNotStarveAThirdG) {
  HangGuard guard;
  std::atomic<bool> stop{false};
  mn::run(
      [&] {
        mn::Chan<int> a, b;
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            a.send(1);
            b.recv();
          }
          a.close();
          wg.done();
        });
        mn::go([&] {
          while (a.recv()) b.send(1);
          wg.done();
        });
        mn::go([&] { stop.store(true); });
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_TRUE(stop.load());
}

// Many hogs at procs=2: each P is taken from its hog in turn until every hog is released.
TEST(Preempt, MoreHogsThanPs) {
  HangGuard guard;
  constexpr int kHogs = 4;
  std::atomic<int> arrived{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kHogs);
        for (int i = 0; i < kHogs; i++) {
          mn::go([&] {
            arrived.fetch_add(1);
            // Each hog waits for all the others, without a runtime call.
            while (arrived.load(std::memory_order_relaxed) < kHogs) {
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(arrived.load(), kHogs);
}

}  // namespace
