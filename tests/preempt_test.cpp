// Preemption without signals: a G that never calls the runtime cannot starve the Gs
// queued behind it, and cooperative preemption points yield when sysmon asks.
#include <atomic>

#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

// At procs=1 a G spins on an atomic flag with no runtime call. The G that will set the
// flag (and main, readied while the hog runs) can only run if sysmon takes the hog's P.
TEST(Preempt, HogDoesNotStarveTheGThatStopsIt) {
  HangGuard guard;
  std::atomic<bool> flag{false};
  int64_t hogs = 0;
  mn::run(
      [&] {
        mn::Chan<int> started;
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          started.send(1);  // readies main, which must wait for this P
          while (!flag.load(std::memory_order_relaxed)) {
          }
          wg.done();
        });
        started.recv();
        mn::go([&] {
          flag.store(true, std::memory_order_relaxed);
          wg.done();
        });
        wg.wait();
        hogs = mn::stats().hogs;
      },
      mn::Options{.procs = 1});
  EXPECT_TRUE(flag.load());
  EXPECT_GE(hogs, 1);
}

// The same with preempt_point(): the loop yields when sysmon asks.
TEST(Preempt, PreemptPointYields) {
  HangGuard guard;
  std::atomic<bool> flag{false};
  int64_t requests = 0;
  mn::run(
      [&] {
        mn::Chan<int> started;
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          started.send(1);
          while (!flag.load(std::memory_order_relaxed)) mn::preempt_point();
          wg.done();
        });
        started.recv();
        mn::go([&] {
          flag.store(true, std::memory_order_relaxed);
          wg.done();
        });
        wg.wait();
        requests = mn::stats().preempt_requests;
      },
      mn::Options{.procs = 1});
  EXPECT_GE(requests, 1);
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
