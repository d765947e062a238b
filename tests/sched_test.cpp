// The scheduler end to end: spawning, parallelism, yield fairness, runnext order, trees of
// Gs, outside spawners, exit and restart.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "skynet_tree.hpp"
#include "test_util.hpp"

namespace {

class SpawnCount : public testing::TestWithParam<int> {};

TEST_P(SpawnCount, NSpawnsGiveNCompletions) {
  const int procs = GetParam();
  // Under TSan every G that starts maps and unmaps a fiber of its own: 100,000 of them
  // took 40 s a case there, for nothing that 10,000 does not show.
  constexpr int kN = mn::testing_util::kUnderTsan ? 10000 : 100000;
  std::atomic<int> ran{0};
  int rc = mn::run(
      [&] {
        EXPECT_EQ(mn::procs(), procs);
        mn::WaitGroup wg;
        wg.add(kN);
        for (int i = 0; i < kN; i++) {
          mn::go([&] {
            ran.fetch_add(1, std::memory_order_relaxed);
            wg.done();
          });
        }
        wg.wait();
        return ran.load() == kN ? 0 : 1;
      },
      mn::Options{.procs = procs});
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(ran.load(), kN);
}

INSTANTIATE_TEST_SUITE_P(Procs, SpawnCount, testing::Values(1, 2, 4, 8));

// procs Gs that each wait, without any runtime call, for all the others to arrive: this
// completes only if every P runs one of them at the same time.
class Parallel : public testing::TestWithParam<int> {};

TEST_P(Parallel, ProcsGsRunAtTheSameTime) {
  const int procs = GetParam();
  std::atomic<int> arrived{0};
  std::atomic<int> saw_all{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(procs);
        for (int i = 0; i < procs; i++) {
          mn::go([&] {
            arrived.fetch_add(1);
            // A hang guard, not a timing assertion: far beyond any scheduling delay.
            auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            while (arrived.load() < procs && std::chrono::steady_clock::now() < give_up) {
            }
            if (arrived.load() == procs) saw_all.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = procs});
  EXPECT_EQ(saw_all.load(), procs);
}

INSTANTIATE_TEST_SUITE_P(Procs, Parallel, testing::Values(2, 4));

TEST(Yield, LoopingYielderDoesNotStarveSetterAtProcs1) {
  std::atomic<bool> flag{false};
  int64_t yields = 0;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          while (!flag.load()) {
            mn::yield();
            yields++;
          }
          wg.done();
        });
        mn::go([&] {
          flag.store(true);
          wg.done();
        });
        wg.wait();
      },
      mn::Options{.procs = 1});
  EXPECT_TRUE(flag.load());
  EXPECT_GE(yields, 0);
}

// At procs=1 the most recently readied G runs next (runnext); the one it displaced waits
// at the tail, behind what was already queued.
TEST(Order, RunnextRunsNewestFirst) {
  std::vector<int> order;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(3);
        for (int i = 0; i < 3; i++) {
          mn::go([&, i] {
            order.push_back(i);
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 1});
  // 2 is in runnext; 0 and 1 were kicked to the ring in that order.
  EXPECT_EQ(order, (std::vector<int>{2, 0, 1}));
}

class Skynet : public testing::TestWithParam<int> {};

TEST_P(Skynet, TreeOf100kLeaves) {
  const int64_t leaves = mn::testing_util::kUnderTsan ? 10000 : 100000;
  int64_t sum = -1;
  mn::run(
      [&] {
        sum = mn_bench::SkynetTree(0, leaves);
        mn::testing_util::WaitForOtherGs();
      },
      mn::Options{.procs = GetParam()});
  EXPECT_EQ(sum, leaves * (leaves - 1) / 2);
}

INSTANTIATE_TEST_SUITE_P(Procs, Skynet, testing::Values(1, 2, 4));

TEST(Run, ReturnsMainsResult) {
  EXPECT_EQ(mn::run([] { return 7; }), 7);
  EXPECT_EQ(mn::run([] {}), 0);
}

TEST(Run, RethrowsMainsException) {
  EXPECT_THROW(mn::run([]() -> int { throw std::runtime_error("boom"); }), std::runtime_error);
  // And the process can run again afterwards.
  EXPECT_EQ(mn::run([] { return 3; }), 3);
}

TEST(Run, NestedRunThrows) {
  bool threw = false;
  mn::run([&] {
    try {
      mn::run([] {});
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  EXPECT_TRUE(threw);
}

TEST(Run, ConcurrentRunFromAnotherThreadThrows) {
  bool threw = false;
  mn::run([&] {
    std::thread t([&] {
      try {
        mn::run([] {});
      } catch (const std::logic_error&) {
        threw = true;
      }
    });
    t.join();
  });
  EXPECT_TRUE(threw);
}

TEST(Go, OutsideRuntimeThrows) {
  EXPECT_FALSE(mn::in_runtime());
  EXPECT_THROW(mn::go([] {}), std::logic_error);
}

TEST(Go, FromOutsideThreadQueuesGlobally) {
  constexpr int kN = 2000;
  std::atomic<int> ran{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kN);
        std::thread outside([&] {
          EXPECT_FALSE(mn::in_runtime());
          for (int i = 0; i < kN; i++) {
            mn::go([&] {
              EXPECT_TRUE(mn::in_runtime());
              ran.fetch_add(1);
              wg.done();
            });
          }
        });
        wg.wait();
        outside.join();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(ran.load(), kN);
}

TEST(Go, MoveOnlyAndLargeCallables) {
  std::atomic<int64_t> got{0};
  mn::run([&] {
    mn::WaitGroup wg;
    wg.add(2);
    auto p = std::make_unique<int64_t>(41);
    mn::go([p = std::move(p), &got, &wg] {
      got += *p;
      wg.done();
    });
    // A capture larger than G::kInlineFnBytes goes to the heap.
    std::array<int64_t, 2100> big{};  // 16.8 KB > 64 KiB / 4
    big[2099] = 1;
    mn::go([big, &got, &wg] {
      got += big[2099];
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(got.load(), 42);
}

TEST(Exit, UnfinishedGsAreDroppedAndRunWorksAgain) {
  std::atomic<int> finished{0};
  // Nobody calls done(): the Gs waiting on it are abandoned at exit. It is never freed: a
  // G still running when main returns may touch it after run() has returned.
  static auto& never = *new mn::WaitGroup;
  never.add(1);
  mn::run(
      [&] {
        for (int i = 0; i < 100; i++) {
          mn::go([&] {
            never.wait();
            finished.fetch_add(1);
          });
        }
        mn::yield();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(finished.load(), 0);
  EXPECT_EQ(mn::run([] { return 5; }, mn::Options{.procs = 2}), 5);
  EXPECT_EQ(finished.load(), 0);
}

TEST(Exit, ManyRunsInARow) {
  for (int i = 0; i < 50; i++) {
    std::atomic<int> n{0};
    mn::run(
        [&] {
          mn::WaitGroup wg;
          wg.add(10);
          for (int k = 0; k < 10; k++) mn::go([&] { n++; wg.done(); });
          wg.wait();
        },
        mn::Options{.procs = 1 + i % 4});
    ASSERT_EQ(n.load(), 10);
  }
}

TEST(GDeath, UncaughtExceptionInGNamesIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(mn::run([] {
                 mn::WaitGroup wg;
                 wg.add(1);
                 mn::go([]() { throw std::runtime_error("kaboom"); });
                 wg.wait();
               }),
               "uncaught exception in G [0-9]+: kaboom");
}

}  // namespace

// The C++ runtime's exception state follows the G: a G that parks inside a catch block and
// resumes on another thread can still rethrow its exception, and uncaught_exceptions()
// counts only its own.
TEST(Exceptions, CatchBlockSurvivesParkingAndMigration) {
  mn::testing_util::HangGuard guard;
  constexpr int kGs = 200;
  std::atomic<int> rethrown_right{0};
  std::atomic<int> counts_right{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int i = 0; i < kGs; i++) {
          mn::go([&, i] {
            try {
              throw std::runtime_error(std::to_string(i));
            } catch (const std::exception&) {
              for (int k = 0; k < 10; k++) mn::sleep_for(std::chrono::microseconds(10));
              if (std::uncaught_exceptions() == 0) counts_right.fetch_add(1);
              try {
                throw;
              } catch (const std::exception& e) {
                if (std::string(e.what()) == std::to_string(i)) rethrown_right.fetch_add(1);
              }
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(rethrown_right.load(), kGs);
  EXPECT_EQ(counts_right.load(), kGs);
}
