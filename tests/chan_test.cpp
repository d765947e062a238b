// Channels: Go's semantics (close, rendezvous, FIFO waiters, direct handoff), stress, and
// behaviours ported from Go's runtime/chan_test.go.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

using mn::testing_util::kUnderTsan;

TEST(Chan, RecvAfterCloseDrainsThenNullopt) {
  mn::run([] {
    mn::Chan<int> ch(3);
    ch.send(1);
    ch.send(2);
    ch.close();
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.recv(), 2);
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.recv(), std::nullopt);
  });
}

TEST(Chan, SendOnClosedAndDoubleCloseThrow) {
  mn::run([] {
    mn::Chan<int> ch;
    ch.close();
    EXPECT_THROW(ch.send(1), mn::ChannelClosed);
    EXPECT_THROW(ch.close(), mn::ChannelClosed);
    int v = 1;
    EXPECT_THROW(ch.try_send(v), mn::ChannelClosed);
  });
}

// Unbuffered: the send completes only after a receiver took the value.
TEST(Chan, UnbufferedRendezvous) {
  std::vector<std::string> events;
  mn::run(
      [&] {
        mn::Chan<int> ch;
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          events.push_back("send");
          ch.send(42);
          events.push_back("sent");
          wg.done();
        });
        mn::testing_util::WaitForParkedGs(1);  // the sender runs and blocks
        events.push_back("recv");
        EXPECT_EQ(ch.recv(), 42);
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(events, (std::vector<std::string>{"send", "recv", "sent"}));
}

// Waiting receivers are served in the order they arrived.
TEST(Chan, WaitersAreFifo) {
  std::vector<int> got(3, -1);
  mn::run(
      [&] {
        mn::Chan<int> ch;
        mn::WaitGroup wg;
        for (int i = 0; i < 3; i++) {
          wg.add(1);
          mn::go([&, i] {
            got[i] = *ch.recv();
            wg.done();
          });
          mn::testing_util::WaitForParkedGs(i + 1);  // G i blocks before G i+1 starts
        }
        for (int v = 10; v < 13; v++) ch.send(v);
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(got, (std::vector<int>{10, 11, 12}));
}

TEST(Chan, CloseWakesBlockedReceiversAndSenders) {
  std::atomic<int> nullopts{0}, throws{0};
  mn::run([&] {
    mn::Chan<int> r, s;
    mn::WaitGroup wg;
    for (int i = 0; i < 5; i++) {
      wg.add(2);
      mn::go([&] {
        if (!r.recv()) nullopts++;
        wg.done();
      });
      mn::go([&] {
        try {
          s.send(1);
        } catch (const mn::ChannelClosed&) {
          throws++;
        }
        wg.done();
      });
    }
    mn::sleep_for(std::chrono::milliseconds(5));  // let them block (not required for correctness)
    r.close();
    s.close();
    wg.wait();
  });
  EXPECT_EQ(nullopts.load(), 5);
  EXPECT_EQ(throws.load(), 5);
}

TEST(Chan, MoveOnlyValues) {
  mn::run([] {
    mn::Chan<std::unique_ptr<int>> ch;
    mn::go([ch] { ch.send(std::make_unique<int>(7)); });
    auto v = ch.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(**v, 7);
    mn::Chan<std::unique_ptr<int>> b(1);
    EXPECT_TRUE(b.try_send(std::make_unique<int>(8)));
    auto p = std::make_unique<int>(9);
    EXPECT_FALSE(b.try_send(p));  // full: p is left alone
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(**b.try_recv(), 8);
  });
}

TEST(Chan, CopiesShareOneChannelAndConstLambdasWork) {
  int sum = 0;
  mn::run([&] {
    mn::Chan<int> ch(10);
    const mn::Chan<int> copy = ch;
    EXPECT_TRUE(copy == ch);
    auto producer = [copy] {  // not mutable: every operation works on a const handle
      for (int i = 1; i <= 10; i++) copy.send(i);
      copy.close();
    };
    mn::go(producer);
    for (int v : ch) sum += v;  // range-for ends at close
  });
  EXPECT_EQ(sum, 55);
}

TEST(Chan, TrySendTryRecv) {
  mn::run(
      [] {
        mn::Chan<int> ch;
        int v = 1;
        EXPECT_FALSE(ch.try_send(v));  // nobody receiving
        EXPECT_EQ(ch.try_recv(), std::nullopt);
        mn::WaitGroup wg;
        wg.add(1);
        int got = 0;
        mn::go([&] {
          got = *ch.recv();
          wg.done();
        });
        mn::testing_util::WaitForParkedGs(1);  // the receiver is now waiting
        EXPECT_TRUE(ch.try_send(v));
        wg.wait();
        EXPECT_EQ(got, 1);
        mn::Chan<int> b(2);
        EXPECT_TRUE(b.try_send(1));
        EXPECT_TRUE(b.try_send(2));
        EXPECT_FALSE(b.try_send(3));
        EXPECT_EQ(b.size(), 2u);
        EXPECT_EQ(b.capacity(), 2u);
      },
      mn::Options{.procs = 1});
}

// 4 producers x 4 consumers over a buffered channel; the exact sum must come out.
TEST(Chan, BufferedMpmcStress) {
  const int64_t kItems = kUnderTsan ? 200000 : 1000000;
  std::atomic<int64_t> sum{0}, count{0};
  mn::run(
      [&] {
        mn::Chan<int64_t> ch(128);
        mn::WaitGroup producers, consumers;
        for (int p = 0; p < 4; p++) {
          producers.add(1);
          mn::go([&, p] {
            for (int64_t v = p; v < kItems; v += 4) ch.send(v);
            producers.done();
          });
        }
        for (int c = 0; c < 4; c++) {
          consumers.add(1);
          mn::go([&] {
            int64_t s = 0, n = 0;
            for (int64_t v : ch) {
              s += v;
              n++;
            }
            sum += s;
            count += n;
            consumers.done();
          });
        }
        producers.wait();
        ch.close();
        consumers.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(count.load(), kItems);
  EXPECT_EQ(sum.load(), kItems * (kItems - 1) / 2);
}

// Plain threads and Gs on one channel, both directions.
TEST(Chan, PlainThreadsAndGs) {
  std::atomic<int64_t> sum{0};
  mn::run(
      [&] {
        mn::Chan<int> in, out(4);
        std::thread feeder([&] {
          for (int i = 1; i <= 1000; i++) in.send(i);
          in.close();
        });
        mn::go([&] {
          for (int v : in) out.send(v * 2);
          out.close();
        });
        std::thread drainer([&] {
          for (int v : out) sum += v;
        });
        feeder.join();
        drainer.join();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(sum.load(), 1000 * 1001);
}

// From Go's TestChan: for several capacities, a value sent is received, in order, even
// when sender and receiver start in either order.
TEST(ChanGo, SendRecvEveryCapacity) {
  mn::run([] {
    for (int cap : {0, 1, 2, 10, 100}) {
      mn::Chan<int> c(cap);
      mn::go([c] {
        for (int i = 0; i < 100; i++) c.send(i);
      });
      for (int i = 0; i < 100; i++) ASSERT_EQ(c.recv(), i) << cap;
      // Receiver first.
      mn::Chan<int> d(cap);
      mn::WaitGroup wg;
      wg.add(1);
      mn::go([&] {
        for (int i = 0; i < 100; i++) EXPECT_EQ(d.recv(), i);
        wg.done();
      });
      mn::yield();
      for (int i = 0; i < 100; i++) d.send(i);
      wg.wait();
      // Len and cap of a buffered channel.
      mn::Chan<int> e(cap);
      for (int i = 0; i < cap; i++) e.send(i);
      EXPECT_EQ(e.size(), static_cast<size_t>(cap));
      EXPECT_EQ(e.capacity(), static_cast<size_t>(cap));
    }
  });
}

// From Go's TestNonblockRecvRace: a buffered value sent before close is always received
// by a non-blocking receive racing with close.
TEST(ChanGo, NonblockRecvRace) {
  int n = kUnderTsan ? 200 : 2000;
  int missed = 0;
  mn::run(
      [&] {
        for (int i = 0; i < n; i++) {
          mn::Chan<int> c(1);
          c.send(1);
          mn::WaitGroup wg;
          wg.add(1);
          mn::go([&] {
            if (!c.try_recv().has_value()) missed++;
            wg.done();
          });
          c.close();
          wg.wait();
        }
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(missed, 0);
}

// From Go's TestMultiConsumer: every value is received exactly once across consumers.
TEST(ChanGo, MultiConsumer) {
  constexpr int kWorkers = 10, kItems = 10000;
  std::atomic<int64_t> sum{0}, n{0};
  mn::run(
      [&] {
        mn::Chan<int> q(1), r(1);
        mn::WaitGroup wg;
        for (int i = 0; i < kWorkers; i++) {
          wg.add(1);
          mn::go([&] {
            for (int v : q) r.send(v);
            wg.done();
          });
        }
        mn::go([&] {
          wg.wait();
          r.close();
        });
        mn::go([&] {
          for (int i = 0; i < kItems; i++) q.send(i);
          q.close();
        });
        for (int v : r) {
          sum += v;
          n++;
        }
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(n.load(), kItems);
  EXPECT_EQ(sum.load(), int64_t{kItems} * (kItems - 1) / 2);
}

}  // namespace
