// Mutex and WaitGroup: exclusion and counting under contention, from Gs and from plain
// threads, and Go's misuse errors.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

class MutexContention : public testing::TestWithParam<int> {};

TEST_P(MutexContention, CountsEveryCriticalSection) {
  constexpr int kGs = 16, kIters = 20000;
  mn::Mutex mu;
  int64_t counter = 0;  // plain: TSan flags any section that is not excluded
  std::atomic<int> inside{0}, max_inside{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int g = 0; g < kGs; g++) {
          mn::go([&] {
            for (int i = 0; i < kIters; i++) {
              std::lock_guard<mn::Mutex> lock(mu);
              int now = inside.fetch_add(1) + 1;
              if (now > max_inside.load()) max_inside.store(now);
              counter++;
              inside.fetch_sub(1);
              if (i % 1000 == 0) mn::yield();
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = GetParam()});
  EXPECT_EQ(counter, int64_t{kGs} * kIters);
  EXPECT_EQ(max_inside.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Procs, MutexContention, testing::Values(1, 2, 4));

TEST(Mutex, TryLock) {
  mn::Mutex mu;
  EXPECT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// A G holding the lock parks waiters, not their Ms: at procs=1 a waiter blocked on the
// mutex leaves the P to the G that will unlock it.
TEST(Mutex, WaiterParksTheGNotTheM) {
  std::vector<int> order;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::WaitGroup wg;
        mu.lock();
        wg.add(2);
        mn::go([&] {
          mu.lock();  // parks until main unlocks
          order.push_back(2);
          mu.unlock();
          wg.done();
        });
        mn::go([&] {
          order.push_back(1);
          wg.done();
        });
        // Both Gs get to run: the waiter parks, the other finishes.
        mn::testing_util::WaitForParkedGs(1);
        while (order.size() < 1) mn::yield();
        order.push_back(0);
        mu.unlock();
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_EQ(order, (std::vector<int>{1, 0, 2}));
}

TEST(Mutex, SharedWithPlainThreads) {
  mn::Mutex mu;
  int64_t counter = 0;
  constexpr int kIters = 20000;
  mn::run(
      [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < 2; t++) {
          threads.emplace_back([&] {
            for (int i = 0; i < kIters; i++) {
              std::lock_guard<mn::Mutex> lock(mu);
              counter++;
            }
          });
        }
        mn::WaitGroup wg;
        wg.add(4);
        for (int g = 0; g < 4; g++) {
          mn::go([&] {
            for (int i = 0; i < kIters; i++) {
              std::lock_guard<mn::Mutex> lock(mu);
              counter++;
            }
            wg.done();
          });
        }
        wg.wait();
        for (auto& t : threads) t.join();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(counter, 6 * kIters);
}

TEST(WaitGroup, ManyWaiters) {
  std::atomic<int> released{0};
  mn::run(
      [&] {
        mn::WaitGroup gate, all;
        gate.add(1);
        all.add(50);
        for (int i = 0; i < 50; i++) {
          mn::go([&] {
            gate.wait();
            released.fetch_add(1);
            all.done();
          });
        }
        mn::yield();
        EXPECT_EQ(released.load(), 0);
        gate.done();
        all.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(released.load(), 50);
}

TEST(WaitGroup, PlainThreadWaitsForGs) {
  std::atomic<int> n{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(100);
        std::thread waiter([&] {
          wg.wait();
          EXPECT_EQ(n.load(), 100);
        });
        for (int i = 0; i < 100; i++) {
          mn::go([&] {
            n.fetch_add(1);
            wg.done();
          });
        }
        waiter.join();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(n.load(), 100);
}

// Go allows the waiter to free a WaitGroup as soon as wait() returns, and whoever locks a
// Mutex last to free it. The waker must not touch either after the woken party may run:
// on the heap, ASan reports any such access, and TSan reports it as a race with the free.
TEST(WaitGroup, WaiterFreesItAsSoonAsWaitReturns) {
  const int kRounds = mn::testing_util::kUnderTsan ? 500 : 3000;
  std::atomic<int> rounds{0};
  mn::run(
      [&] {
        for (int i = 0; i < kRounds; i++) {
          auto* wg = new mn::WaitGroup;
          wg->add(2);
          mn::go([wg] { wg->done(); });
          mn::go([wg] { wg->done(); });
          wg->wait();
          delete wg;
          rounds.fetch_add(1);
        }
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(rounds.load(), kRounds);
}

TEST(Mutex, LastLockerFreesIt) {
  const int kRounds = mn::testing_util::kUnderTsan ? 500 : 3000;
  struct Shared {
    mn::Mutex mu;
    int finished = 0;  // guarded by mu
  };
  std::atomic<int> freed{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kRounds);
        for (int i = 0; i < kRounds; i++) {
          auto* sh = new Shared;
          for (int k = 0; k < 2; k++) {
            mn::go([sh, &freed, &wg] {
              sh->mu.lock();
              mn::yield();  // hold it, so the other G queues behind us
              bool last = ++sh->finished == 2;
              sh->mu.unlock();
              if (last) {
                delete sh;
                freed.fetch_add(1);
                wg.done();
              }
            });
          }
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(freed.load(), kRounds);
}

TEST(WaitGroup, NegativeCounterThrows) {
  mn::WaitGroup wg;
  wg.add(1);
  wg.done();
  EXPECT_THROW(wg.done(), std::logic_error);
}

TEST(WaitGroup, ZeroCounterWaitReturnsAtOnce) {
  mn::WaitGroup wg;
  wg.wait();  // outside the runtime too
  bool ok = false;
  mn::run([&] {
    mn::WaitGroup w2;
    w2.wait();
    ok = true;
  });
  EXPECT_TRUE(ok);
}

TEST(MutexDeath, UnlockOfUnlockedIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::Mutex mu;
        mu.unlock();
      },
      "unlock of unlocked mutex");
}

}  // namespace
