// select: readiness, fairness, default, timeout, closed channels, mixed types, blocking
// forever, and Go's select tests (self-select, duplicate channel, stress).
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <atomic>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

TEST(Select, ChoosesTheReadyCase) {
  mn::run([] {
    mn::Chan<int> a(1), b(1);
    b.send(5);
    int got = 0;
    int i = mn::select(mn::on_recv(a, [&](std::optional<int> v) { got = *v; }),
                       mn::on_recv(b, [&](std::optional<int> v) { got = *v * 10; }));
    EXPECT_EQ(i, 1);
    EXPECT_EQ(got, 50);
  });
}

// With every case ready, each is chosen about 1/n of the time (uniform random choice).
TEST(Select, FairAmongReadyCases) {
  constexpr int kRounds = 30000;
  std::vector<int> counts(3);
  mn::run([&] {
    mn::Chan<int> c[3] = {mn::Chan<int>(1), mn::Chan<int>(1), mn::Chan<int>(1)};
    for (auto& ch : c) ch.send(0);
    for (int r = 0; r < kRounds; r++) {
      int i = mn::select(mn::on_recv(c[0]), mn::on_recv(c[1]), mn::on_recv(c[2]));
      counts[i]++;
      c[i].send(0);  // ready again
    }
  });
  for (int n : counts) {
    // Expected 10,000 each; a fair choice falls outside [8,500, 11,500] with probability
    // far below 1e-30.
    EXPECT_GT(n, 8500);
    EXPECT_LT(n, 11500);
  }
}

TEST(Select, DefaultWhenNothingReady) {
  mn::run([] {
    mn::Chan<int> a;
    bool ran_default = false;
    int i = mn::select(mn::on_recv(a), mn::on_default([&] { ran_default = true; }));
    EXPECT_EQ(i, 1);
    EXPECT_TRUE(ran_default);
    // A ready case beats default.
    mn::Chan<int> b(1);
    b.send(1);
    EXPECT_EQ(mn::select(mn::on_default(), mn::on_recv(b)), 1);
  });
}

TEST(Select, TimeoutWhenNothingArrives) {
  mn::run([] {
    mn::Chan<int> never;
    bool timed_out = false;
    int i = mn::select(mn::on_recv(never), mn::on_timeout(10ms, [&] { timed_out = true; }));
    EXPECT_EQ(i, 1);
    EXPECT_TRUE(timed_out);
    // A value that is there wins over the timeout.
    mn::Chan<int> ready(1);
    ready.send(3);
    EXPECT_EQ(mn::select(mn::on_timeout(1h), mn::on_recv(ready)), 1);
  });
}

TEST(Select, ClosedChannelRecvIsAlwaysReady) {
  mn::run([] {
    mn::Chan<int> closed, never;
    closed.close();
    for (int r = 0; r < 10; r++) {
      bool got_nullopt = false;
      int i = mn::select(mn::on_recv(never),
                         mn::on_recv(closed, [&](std::optional<int> v) { got_nullopt = !v; }));
      EXPECT_EQ(i, 1);
      EXPECT_TRUE(got_nullopt);
    }
  });
}

TEST(Select, SendOnClosedThrows) {
  mn::run([] {
    mn::Chan<int> c;
    c.close();
    EXPECT_THROW(mn::select(mn::on_send(c, 1)), mn::ChannelClosed);
  });
}

TEST(Select, SendToWaitingReceiverAndMixedTypes) {
  mn::run([] {
    mn::Chan<std::string> s;
    mn::Chan<int> n;
    mn::WaitGroup wg;
    wg.add(1);
    std::string got;
    mn::go([&] {
      got = *s.recv();
      wg.done();
    });
    bool sent = false;
    int i = mn::select(mn::on_recv(n), mn::on_send(s, std::string("hello"), [&] { sent = true; }));
    EXPECT_EQ(i, 1);
    EXPECT_TRUE(sent);
    wg.wait();
    EXPECT_EQ(got, "hello");
  });
}

TEST(Select, BlockedSelectWokenByClose) {
  mn::run([] {
    mn::Chan<int> a, b;
    mn::WaitGroup wg;
    wg.add(1);
    int chosen = -1;
    bool was_nullopt = false;
    mn::go([&] {
      chosen = mn::select(mn::on_recv(a), mn::on_recv(b, [&](std::optional<int> v) { was_nullopt = !v; }));
      wg.done();
    });
    mn::sleep_for(1ms);
    b.close();
    wg.wait();
    EXPECT_EQ(chosen, 1);
    EXPECT_TRUE(was_nullopt);
  });
}

// select with no cases blocks forever (until the runtime ends).
TEST(Select, NoCasesBlocksForever) {
  std::atomic<bool> returned{false};
  mn::run([&] {
    mn::go([&] {
      mn::select();
      returned = true;
    });
    mn::sleep_for(5ms);
  });
  EXPECT_FALSE(returned.load());
}

// From Go's TestSelfSelect: Gs select to send and receive on the same channel; every
// value sent is received, none by its own sender's select.
TEST(SelectGo, SelfSelect) {
  for (int cap : {0, 10}) {
    std::atomic<int> received{0};
    mn::run(
        [&] {
          mn::Chan<int> c(cap);
          mn::WaitGroup wg;
          const int kIters = mn::testing_util::kUnderTsan ? 200 : 2000;
          for (int p = 0; p < 2; p++) {
            wg.add(1);
            mn::go([&, p] {
              for (int i = 0; i < kIters; i++) {
                if ((p == 0 || i % 2 == 0)) {
                  mn::select(mn::on_send(c, p), mn::on_recv(c, [&](std::optional<int> v) {
                               if (cap == 0) { EXPECT_NE(*v, p); }
                               received++;
                             }));
                } else {
                  mn::select(mn::on_recv(c, [&](std::optional<int> v) {
                               if (cap == 0) { EXPECT_NE(*v, p); }
                               received++;
                             }),
                             mn::on_send(c, p));
                }
              }
              wg.done();
            });
          }
          wg.wait();
          // Drain what is left in the buffer.
          while (c.try_recv()) received++;
        },
        mn::Options{.procs = 2});
    EXPECT_GT(received.load(), 0) << cap;
  }
}

// From Go's TestSelectDuplicateChannel: the same channel in two cases of one select.
TEST(SelectGo, DuplicateChannel) {
  mn::run([] {
    mn::Chan<int> c, d, e;
    mn::WaitGroup wg;
    wg.add(1);
    mn::go([&] {
      mn::select(mn::on_recv(c), mn::on_recv(c), mn::on_recv(d));
      e.send(9);
      wg.done();
    });
    mn::sleep_for(1ms);
    mn::go([c] { mn::select(mn::on_recv(c)); });  // another waiter on c; by value: it
                                                  // may still be in select after main returns
    mn::sleep_for(1ms);
    d.send(7);
    EXPECT_EQ(e.recv(), 9);
    wg.wait();
    c.close();  // releases the second waiter
  });
}

// From Go's TestSelectStress: 4 channels, a sender per channel, one select-based
// receiver; every value arrives exactly once.
TEST(SelectGo, Stress) {
  const int kN = mn::testing_util::kUnderTsan ? 2000 : 20000;
  std::vector<int> got(4);
  mn::run(
      [&] {
        mn::Chan<int> c[4] = {mn::Chan<int>(0), mn::Chan<int>(0), mn::Chan<int>(2), mn::Chan<int>(3)};
        for (int k = 0; k < 4; k++) {
          mn::go([&, k] {
            for (int i = 0; i < kN; i++) c[k].send(i);
          });
        }
        for (int total = 0; total < 4 * kN; total++) {
          mn::select(mn::on_recv(c[3], [&](auto) { got[3]++; }),
                     mn::on_recv(c[1], [&](auto) { got[1]++; }),
                     mn::on_recv(c[0], [&](auto) { got[0]++; }),
                     mn::on_recv(c[2], [&](auto) { got[2]++; }));
        }
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(got, std::vector<int>(4, kN));
}

}  // namespace
