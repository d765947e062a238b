// RWMutex, Cond, Semaphore, Once, and Mutex's starvation mode: exclusion, wakeup counts and
// order, fairness, from Gs and from plain threads, and Go's fatal misuse errors.
//
// No timing assertions: every test that could hang runs under a HangGuard, which aborts
// (failing the test) if it has not finished after 60 s.
#include <gtest/gtest.h>
#include <mn/cond.hpp>
#include <mn/mn.hpp>
#include <mn/once.hpp>
#include <mn/rwmutex.hpp>
#include <mn/semaphore.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

using mn::testing_util::HangGuard;  // every test here finishes in well under a second

// Yields until pred() holds (under a HangGuard, so it cannot spin forever unnoticed).
template <class Pred>
void YieldUntil(Pred pred) {
  while (!pred()) mn::yield();
}

void Yields(int n) {
  for (int i = 0; i < n; i++) mn::yield();
}

void AtomicMax(std::atomic<int>& max, int v) {
  int cur = max.load();
  while (v > cur && !max.compare_exchange_weak(cur, v)) {
  }
}

// The order in which Gs passed their marks.
class OrderLog {
 public:
  void record(const char* what) {
    std::lock_guard<mn::Mutex> lock(mu_);
    order_.emplace_back(what);
  }
  std::vector<std::string> order() {
    std::lock_guard<mn::Mutex> lock(mu_);
    return order_;
  }

 private:
  mn::Mutex mu_;
  std::vector<std::string> order_;  // guarded by mu_
};

using Fn = std::function<void()>;

// Inside mn::run with `procs` Ps: runs each of on_threads on a plain thread of its own and
// each of in_gs in a G of its own, all at the same time, and returns when all are done.
void RunOnThreadsAndGs(const std::vector<Fn>& on_threads, const std::vector<Fn>& in_gs,
                       int procs) {
  mn::run(
      [&] {
        std::vector<std::thread> threads;
        for (const Fn& f : on_threads) threads.emplace_back(f);
        mn::WaitGroup wg;
        wg.add(static_cast<int64_t>(in_gs.size()));
        for (const Fn& f : in_gs) {
          mn::go([&] {
            f();
            wg.done();
          });
        }
        wg.wait();
        for (auto& t : threads) t.join();
      },
      mn::Options{.procs = procs});
}

// ---- RWMutex -------------------------------------------------------------------------

// kReaders Gs each take the read lock and then wait, still holding it, until all of them
// are inside: this finishes only if readers really share the lock.
TEST(SyncExtraRWMutex, ReadersHoldTheLockTogether) {
  HangGuard guard;
  constexpr int kReaders = 8;
  std::atomic<int> inside{0}, saw_all{0};
  mn::run(
      [&] {
        mn::RWMutex rw;
        mn::WaitGroup wg;
        wg.add(kReaders);
        for (int i = 0; i < kReaders; i++) {
          mn::go([&] {
            std::shared_lock<mn::RWMutex> lock(rw);
            inside.fetch_add(1);
            YieldUntil([&] { return inside.load() == kReaders; });
            saw_all.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        // Every reader is gone, so a writer gets in.
        EXPECT_TRUE(rw.try_lock());
        rw.unlock();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(saw_all.load(), kReaders);
}

class SyncExtraRWMutexExclusion : public testing::TestWithParam<int> {};

// Writers increment a plain counter (TSan reports any unexcluded access); readers check
// that they never see a writer inside, nor a half-done update.
TEST_P(SyncExtraRWMutexExclusion, WritersExcludeEveryoneReadersExcludeWriters) {
  HangGuard guard;
  constexpr int kWriters = 4, kReaders = 4, kIters = 5000;
  mn::RWMutex rw;
  int64_t a = 0, b = 0;  // plain: both always equal outside a write section
  std::atomic<int> writers_in{0}, readers_in{0};
  std::atomic<int> max_writers{0}, bad{0};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(kWriters + kReaders);
        for (int w = 0; w < kWriters; w++) {
          mn::go([&] {
            for (int i = 0; i < kIters; i++) {
              std::unique_lock<mn::RWMutex> lock(rw);
              AtomicMax(max_writers, writers_in.fetch_add(1) + 1);
              if (readers_in.load() != 0) bad.fetch_add(1);
              a++;
              if (i % 512 == 0) mn::yield();  // a writer parked inside its section
              b++;
              writers_in.fetch_sub(1);
            }
            wg.done();
          });
        }
        for (int r = 0; r < kReaders; r++) {
          mn::go([&] {
            for (int i = 0; i < kIters; i++) {
              std::shared_lock<mn::RWMutex> lock(rw);
              readers_in.fetch_add(1);
              if (writers_in.load() != 0 || a != b) bad.fetch_add(1);
              readers_in.fetch_sub(1);
              if (i % 512 == 0) mn::yield();
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = GetParam()});
  EXPECT_EQ(a, int64_t{kWriters} * kIters);
  EXPECT_EQ(b, a);
  EXPECT_EQ(max_writers.load(), 1);
  EXPECT_EQ(bad.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Procs, SyncExtraRWMutexExclusion, testing::Values(1, 2, 4));

// Go's writer preference: once a writer waits, a newly arriving reader queues behind it
// even though the lock is only read-held, and gets in only after the writer is done.
TEST(SyncExtraRWMutex, WaitingWriterBlocksNewReaders) {
  HangGuard guard;
  OrderLog events;
  std::atomic<bool> reader_in{false}, reader_in_while_writer_waits{false};
  mn::run(
      [&] {
        mn::RWMutex rw;
        mn::WaitGroup wg;
        rw.lock_shared();  // held by main throughout the first phase
        wg.add(2);
        mn::go([&] {
          rw.lock();
          events.record("writer");
          rw.unlock();
          wg.done();
        });
        // Wait until the writer has announced itself: from then on try_lock_shared fails.
        YieldUntil([&] {
          if (!rw.try_lock_shared()) return true;
          rw.unlock_shared();
          return false;
        });
        mn::go([&] {
          rw.lock_shared();
          reader_in.store(true);
          events.record("reader");
          rw.unlock_shared();
          wg.done();
        });
        Yields(50);  // plenty of chances for the new reader to barge in, were it allowed to
        reader_in_while_writer_waits.store(reader_in.load());
        rw.unlock_shared();  // now the writer goes first, then the reader
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_FALSE(reader_in_while_writer_waits.load());
  EXPECT_EQ(events.order(), (std::vector<std::string>{"writer", "reader"}));
}

TEST(SyncExtraRWMutex, TryLockRespectsHolders) {
  mn::RWMutex rw;
  EXPECT_TRUE(rw.try_lock_shared());
  EXPECT_TRUE(rw.try_lock_shared());
  EXPECT_FALSE(rw.try_lock());  // readers inside
  rw.unlock_shared();
  rw.unlock_shared();
  EXPECT_TRUE(rw.try_lock());
  EXPECT_FALSE(rw.try_lock());
  EXPECT_FALSE(rw.try_lock_shared());  // writer inside
  rw.unlock();
  {
    std::unique_lock<mn::RWMutex> w(rw, std::try_to_lock);
    EXPECT_TRUE(w.owns_lock());
  }
  std::shared_lock<mn::RWMutex> r(rw, std::try_to_lock);
  EXPECT_TRUE(r.owns_lock());
}

TEST(SyncExtraRWMutex, SharedWithPlainThreads) {
  HangGuard guard;
  constexpr int kIters = 5000;
  mn::RWMutex rw;
  int64_t a = 0, b = 0;
  std::atomic<int> bad{0};
  auto writer = [&] {
    for (int i = 0; i < kIters; i++) {
      std::unique_lock<mn::RWMutex> lock(rw);
      a++;
      b++;
    }
  };
  auto reader = [&] {
    for (int i = 0; i < kIters; i++) {
      std::shared_lock<mn::RWMutex> lock(rw);
      if (a != b) bad.fetch_add(1);
    }
  };
  RunOnThreadsAndGs({writer, reader}, {writer, reader, writer, reader}, /*procs=*/2);
  EXPECT_EQ(a, 3 * kIters);
  EXPECT_EQ(b, a);
  EXPECT_EQ(bad.load(), 0);
}

// ---- Cond ----------------------------------------------------------------------------

// Each signal wakes exactly one of the waiters; a broadcast would wake them all.
TEST(SyncExtraCond, SignalWakesExactlyOne) {
  HangGuard guard;
  constexpr int kWaiters = 5;
  std::vector<int> woken_after_signal;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::Cond cond(mu);
        int waiting = 0, woken = 0;  // guarded by mu
        auto locked = [&](auto pred) {
          return [&mu, pred] {
            std::lock_guard<mn::Mutex> lock(mu);
            return pred();
          };
        };
        mn::WaitGroup wg;
        wg.add(kWaiters);
        for (int i = 0; i < kWaiters; i++) {
          mn::go([&] {
            std::unique_lock<mn::Mutex> lock(mu);
            waiting++;
            cond.wait();  // no spurious wakeups: one wait per signal
            woken++;
            lock.unlock();
            wg.done();
          });
        }
        // waiting is raised under mu before wait() releases it: each waiter has its ticket.
        YieldUntil(locked([&] { return waiting == kWaiters; }));
        for (int k = 1; k <= kWaiters; k++) {
          cond.signal();
          YieldUntil(locked([&] { return woken >= k; }));
          Yields(20);  // a second waiter woken by mistake would show up here
          std::lock_guard<mn::Mutex> lock(mu);
          woken_after_signal.push_back(woken);
        }
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(woken_after_signal, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST(SyncExtraCond, BroadcastWakesAllGsAndThreads) {
  HangGuard guard;
  constexpr int kGs = 20, kThreads = 2;
  int woken = 0;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::Cond cond(mu);
        int waiting = 0;  // guarded by mu
        bool go_on = false;
        mn::WaitGroup wg;
        wg.add(kGs);
        auto waiter = [&] {
          std::unique_lock<mn::Mutex> lock(mu);
          waiting++;
          cond.wait([&] { return go_on; });
          woken++;
        };
        for (int i = 0; i < kGs; i++) {
          mn::go([&] {
            waiter();
            wg.done();
          });
        }
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; i++) threads.emplace_back(waiter);
        YieldUntil([&] {
          std::lock_guard<mn::Mutex> lock(mu);
          return waiting == kGs + kThreads;
        });
        {
          std::lock_guard<mn::Mutex> lock(mu);
          go_on = true;
        }
        cond.broadcast();  // without the mutex held, which is allowed
        wg.wait();
        for (auto& t : threads) t.join();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(woken, kGs + kThreads);
}

// The notify list's ticket rule: a signal goes to a waiter that was already waiting, never
// to one that started waiting after it, even if that one queues before the first runs.
TEST(SyncExtraCond, SignalNeverWakesALaterWaiter) {
  HangGuard guard;
  bool a_woke = false, b_woke_early = true;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::Cond cond(mu);
        bool a_waiting = false, b_waiting = false, b_woke = false;  // guarded by mu
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          std::unique_lock<mn::Mutex> lock(mu);
          a_waiting = true;
          cond.wait();
          a_woke = true;
          lock.unlock();
          wg.done();
        });
        YieldUntil([&] {
          std::lock_guard<mn::Mutex> lock(mu);
          return a_waiting;
        });
        {
          std::lock_guard<mn::Mutex> lock(mu);
          cond.signal();  // for A, whose ticket is taken
          mn::go([&] {
            std::unique_lock<mn::Mutex> lock(mu);
            b_waiting = true;
            cond.wait();  // B's ticket comes after the signal
            b_woke = true;
            lock.unlock();
            wg.done();
          });
        }
        YieldUntil([&] {
          std::lock_guard<mn::Mutex> lock(mu);
          return a_woke && b_waiting;
        });
        Yields(20);
        {
          std::lock_guard<mn::Mutex> lock(mu);
          b_woke_early = b_woke;
        }
        cond.signal();  // now B's turn
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(a_woke);
  EXPECT_FALSE(b_woke_early);
}

// A bounded queue with two conditions: producers (Gs and a plain thread) and consumers
// move every item exactly once.
TEST(SyncExtraCond, ProducerConsumerQueue) {
  HangGuard guard;
  constexpr int kProducerGs = 4, kConsumers = 4, kItems = 2000;
  constexpr std::size_t kCap = 8;
  int64_t sum = 0, count = 0;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::Cond not_empty(mu), not_full(mu);
        std::deque<int64_t> q;  // guarded by mu
        bool closed = false;    // guarded by mu
        auto produce = [&] {
          for (int64_t i = 1; i <= kItems; i++) {
            std::unique_lock<mn::Mutex> lock(mu);
            not_full.wait([&] { return q.size() < kCap; });
            q.push_back(i);
            not_empty.signal();
          }
        };
        mn::WaitGroup producers, consumers;
        producers.add(kProducerGs);
        consumers.add(kConsumers);
        for (int p = 0; p < kProducerGs; p++) {
          mn::go([&] {
            produce();
            producers.done();
          });
        }
        std::thread plain_producer(produce);
        for (int c = 0; c < kConsumers; c++) {
          mn::go([&] {
            std::unique_lock<mn::Mutex> lock(mu);
            for (;;) {
              not_empty.wait([&] { return !q.empty() || closed; });
              if (q.empty()) break;
              sum += q.front();
              count++;
              q.pop_front();
              not_full.signal();
            }
            lock.unlock();
            consumers.done();
          });
        }
        producers.wait();
        plain_producer.join();
        {
          std::lock_guard<mn::Mutex> lock(mu);
          closed = true;
        }
        not_empty.broadcast();
        consumers.wait();
      },
      mn::Options{.procs = 4});
  constexpr int64_t kPerProducer = int64_t{kItems} * (kItems + 1) / 2;
  EXPECT_EQ(count, int64_t{kProducerGs + 1} * kItems);
  EXPECT_EQ(sum, (kProducerGs + 1) * kPerProducer);
}

// ---- Semaphore -----------------------------------------------------------------------

TEST(SyncExtraSemaphore, NeverMoreThanCapacityUnitsHeld) {
  HangGuard guard;
  constexpr int kCap = 5, kGs = 16, kIters = 500;
  std::atomic<int> in_use{0}, max_in_use{0}, over{0};
  mn::run(
      [&] {
        mn::Semaphore sem(kCap);
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int g = 0; g < kGs; g++) {
          mn::go([&, g] {
            for (int i = 0; i < kIters; i++) {
              int k = 1 + (g + i) % 3;  // weighted: 1..3 units
              sem.acquire(k);
              int now = in_use.fetch_add(k) + k;
              if (now > kCap) over.fetch_add(1);
              AtomicMax(max_in_use, now);
              if (i % 16 == 0) mn::yield();
              in_use.fetch_sub(k);
              sem.release(k);
            }
            wg.done();
          });
        }
        wg.wait();
        // Everything was given back: the whole capacity is free again.
        EXPECT_TRUE(sem.try_acquire(kCap));
        sem.release(kCap);
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(over.load(), 0);
  EXPECT_LE(max_in_use.load(), kCap);
  EXPECT_GE(max_in_use.load(), 1);
}

// x/sync's fairness: a large waiter at the head of the queue is served before a smaller
// one that arrived later, even while the small one would fit.
TEST(SyncExtraSemaphore, LargeWaiterIsServedBeforeALaterSmallOne) {
  HangGuard guard;
  OrderLog events;
  bool small_got_in_early = true;
  mn::run(
      [&] {
        mn::Semaphore sem(10);
        sem.acquire(10);  // main holds everything
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          sem.acquire(10);
          events.record("large");
          sem.release(10);
          wg.done();
        });
        // try_acquire(0) fails exactly when someone is queued: the large waiter is in line.
        YieldUntil([&] { return !sem.try_acquire(0); });
        mn::go([&] {
          sem.acquire(1);
          events.record("small");
          sem.release(1);
          wg.done();
        });
        Yields(50);      // let the small waiter queue up behind the large one
        sem.release(1);  // one unit free: enough for the small waiter, not for the large one
        Yields(50);
        small_got_in_early = !events.order().empty();
        sem.release(9);
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_FALSE(small_got_in_early);
  EXPECT_EQ(events.order(), (std::vector<std::string>{"large", "small"}));
}

TEST(SyncExtraSemaphore, TryAcquireAndMisuse) {
  mn::Semaphore sem(3);
  EXPECT_EQ(sem.capacity(), 3);
  EXPECT_TRUE(sem.try_acquire(2));
  EXPECT_FALSE(sem.try_acquire(2));
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
  EXPECT_THROW(sem.acquire(4), std::logic_error);   // more than the capacity: forever
  EXPECT_THROW(sem.release(4), std::logic_error);   // more than held
  EXPECT_THROW(sem.acquire(-1), std::logic_error);
  EXPECT_THROW(mn::Semaphore(-1), std::logic_error);
  sem.release(3);  // the failed calls changed nothing
  EXPECT_THROW(sem.release(1), std::logic_error);
  EXPECT_TRUE(sem.try_acquire(3));
  sem.release(3);
}

// Capacity 1 makes it a lock: a plain counter shared by Gs and plain threads stays exact.
TEST(SyncExtraSemaphore, SharedWithPlainThreads) {
  HangGuard guard;
  constexpr int kIters = 5000;
  mn::Semaphore sem(1);
  int64_t counter = 0;
  auto work = [&] {
    for (int i = 0; i < kIters; i++) {
      sem.acquire();
      counter++;
      sem.release();
    }
  };
  RunOnThreadsAndGs(std::vector<Fn>(2, work), std::vector<Fn>(4, work), /*procs=*/2);
  EXPECT_EQ(counter, 6 * kIters);
}

// ---- Once ----------------------------------------------------------------------------

TEST(SyncExtraOnce, RunsExactlyOnceAndEveryCallerSeesIt) {
  HangGuard guard;
  constexpr int kGs = 100;
  int runs = 0;      // plain: written only inside f
  int64_t value = 0;  // plain: written by f, read by every caller after call()
  std::atomic<int> saw_value{0};
  mn::run(
      [&] {
        mn::Once once;
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int g = 0; g < kGs; g++) {
          mn::go([&] {
            once.call([&] {
              runs++;
              Yields(10);  // let the other callers pile up behind the slow path
              value = 42;
            });
            if (value == 42) saw_value.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        EXPECT_TRUE(once.done());
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(saw_value.load(), kGs);
}

TEST(SyncExtraOnce, ThrowingFunctionLetsALaterCallRetry) {
  mn::Once once;
  int runs = 0;
  EXPECT_THROW(once.call([&] {
    runs++;
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_FALSE(once.done());
  once.call([&] { runs++; });
  EXPECT_TRUE(once.done());
  once.call([&] { runs++; });
  EXPECT_EQ(runs, 2);
}

TEST(SyncExtraOnce, SharedWithPlainThreads) {
  HangGuard guard;
  int runs = 0;
  int64_t value = 0;
  std::atomic<int> saw_value{0};
  mn::Once once;
  auto caller = [&] {
    once.call([&] {
      runs++;
      value = 7;
    });
    if (value == 7) saw_value.fetch_add(1);
  };
  RunOnThreadsAndGs(std::vector<Fn>(4, caller), std::vector<Fn>(50, caller), /*procs=*/2);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(saw_value.load(), 54);
}

// ---- Mutex starvation mode -------------------------------------------------------------

// A hog re-locks the mutex as soon as it unlocks it, holding it ~100 µs each time; in
// normal mode it would win nearly every race against a woken waiter. Starvation mode
// (entered once the waiter has waited 1 ms) hands the lock to the waiter, so it gets in
// long before the hog's bounded run ends. The waiter is a G or a plain thread.
class SyncExtraMutexStarvation : public testing::TestWithParam<bool> {};

TEST_P(SyncExtraMutexStarvation, WaiterGetsTheLockFromAHog) {
  HangGuard guard;
  const bool waiter_is_thread = GetParam();
  constexpr int kHogIters = 20000;  // ~2 s of holding: a bound, not a timing assertion
  std::atomic<bool> acquired{false};
  bool waiter_in_before_hog_done = false;
  int hog_iters = 0;
  mn::run(
      [&] {
        mn::Mutex mu;
        mn::WaitGroup wg;
        std::atomic<bool> hog_started{false};
        wg.add(1);
        mn::go([&] {
          int i = 0;
          for (; i < kHogIters && !acquired.load(); i++) {
            std::lock_guard<mn::Mutex> lock(mu);
            hog_started.store(true);
            auto until = std::chrono::steady_clock::now() + 100us;
            while (std::chrono::steady_clock::now() < until) {
            }
          }
          hog_iters = i;
          waiter_in_before_hog_done = acquired.load();
          wg.done();
        });
        auto waiter = [&] {
          YieldUntil([&] { return hog_started.load(); });
          mu.lock();
          acquired.store(true);
          mu.unlock();
        };
        if (waiter_is_thread) {
          std::thread t(waiter);
          wg.wait();
          t.join();
        } else {
          wg.add(1);
          mn::go([&] {
            waiter();
            wg.done();
          });
          wg.wait();
        }
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(acquired.load());
  // The hog stopped because the waiter got in, not because it ran out of iterations.
  EXPECT_TRUE(waiter_in_before_hog_done);
  EXPECT_LT(hog_iters, kHogIters);
}

INSTANTIATE_TEST_SUITE_P(Waiter, SyncExtraMutexStarvation, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "PlainThread" : "G");
                         });

// ---- Fatal misuse ----------------------------------------------------------------------

TEST(SyncExtraDeath, RWMutexUnlockOfUnlocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::RWMutex rw;
        rw.unlock();
      },
      "mn: fatal: sync: Unlock of unlocked RWMutex");
}

TEST(SyncExtraDeath, RWMutexUnlockWhileReadLocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::RWMutex rw;
        rw.lock_shared();
        rw.unlock();
      },
      "mn: fatal: sync: Unlock of unlocked RWMutex");
}

TEST(SyncExtraDeath, RWMutexUnlockSharedOfUnlocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::RWMutex rw;
        rw.unlock_shared();
      },
      "mn: fatal: sync: RUnlock of unlocked RWMutex");
}

TEST(SyncExtraDeath, RWMutexUnlockSharedWhileWriteLocked) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::RWMutex rw;
        rw.lock();
        rw.unlock_shared();
      },
      "mn: fatal: sync: RUnlock of unlocked RWMutex");
}

TEST(SyncExtraDeath, CondWaitWithoutTheMutex) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        mn::Mutex mu;
        mn::Cond cond(mu);
        cond.wait();
      },
      "mn: fatal: sync: unlock of unlocked mutex");
}

}  // namespace
