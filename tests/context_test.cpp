// Context: cancellation trees, deadlines and timeouts, select on done(), races between
// cancelling and creating or dropping children, and use from plain threads.
//
// No timing assertions: waits for a deadline are bounded by a 60 s hang guard (a select
// timeout case or a watchdog that aborts the test).
#include <gtest/gtest.h>
#include <mn/context.hpp>
#include <mn/mn.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;

using mn::testing_util::HangGuard;

// Whether done() is closed, without blocking.
bool IsDone(const mn::Context& ctx) {
  return mn::select(mn::on_recv(ctx.done()), mn::on_default()) == 0;
}

// Waits for done() to close; false if it has not after 60 s (the hang guard).
bool WaitDone(const mn::Context& ctx) {
  return mn::select(mn::on_recv(ctx.done()), mn::on_timeout(60s)) == 0;
}

bool IsCanceled(const mn::Context& ctx) {
  absl::Status s = ctx.err();
  return absl::IsCancelled(s) && std::string(s.message()) == "context canceled";
}

bool IsDeadlineExceeded(const mn::Context& ctx) {
  absl::Status s = ctx.err();
  return absl::IsDeadlineExceeded(s) && std::string(s.message()) == "context deadline exceeded";
}

// ---- cancellation trees ----------------------------------------------------------------

TEST(Context, BackgroundIsNeverDone) {
  mn::Context bg = mn::Context::background();
  EXPECT_FALSE(IsDone(bg));
  EXPECT_TRUE(bg.err().ok());
  EXPECT_FALSE(bg.deadline().has_value());
  mn::Context dflt;  // the default is a background context
  EXPECT_FALSE(IsDone(dflt));
  EXPECT_TRUE(dflt.err().ok());
}

TEST(Context, CancellingTheRootCancelsEveryDescendant) {
  auto [root, cancel_root] = mn::with_cancel(mn::Context::background());
  auto [a, cancel_a] = mn::with_cancel(root);
  auto [b, cancel_b] = mn::with_cancel(root);
  auto [a1, cancel_a1] = mn::with_cancel(a);
  auto [a2, cancel_a2] = mn::with_cancel(a);
  auto [b1, cancel_b1] = mn::with_cancel(b);
  auto [a11, cancel_a11] = mn::with_cancel(a1);
  std::vector<mn::Context> all = {root, a, b, a1, a2, b1, a11};
  for (const auto& c : all) {
    EXPECT_FALSE(IsDone(c));
    EXPECT_TRUE(c.err().ok());
  }
  cancel_root();
  for (const auto& c : all) {
    EXPECT_TRUE(IsDone(c));
    EXPECT_TRUE(IsCanceled(c)) << c.err();
    EXPECT_FALSE(c.done().recv().has_value());  // closed: returns at once, no value
  }
}

TEST(Context, CancellingAChildLeavesParentAndSiblingsAlone) {
  auto [root, cancel_root] = mn::with_cancel(mn::Context::background());
  auto [a, cancel_a] = mn::with_cancel(root);
  auto [b, cancel_b] = mn::with_cancel(root);
  auto [a1, cancel_a1] = mn::with_cancel(a);
  auto [b1, cancel_b1] = mn::with_cancel(b);
  cancel_a();
  EXPECT_TRUE(IsCanceled(a));
  EXPECT_TRUE(IsCanceled(a1));  // a's own child goes with it
  for (const auto* c : {&root, &b, &b1}) {
    EXPECT_FALSE(IsDone(*c));
    EXPECT_TRUE(c->err().ok());
  }
  // The root still cancels what is left.
  cancel_root();
  EXPECT_TRUE(IsCanceled(b));
  EXPECT_TRUE(IsCanceled(b1));
}

TEST(Context, ChildOfACancelledParentIsBornCancelled) {
  auto [parent, cancel] = mn::with_cancel(mn::Context::background());
  cancel();
  auto [child, cancel_child] = mn::with_cancel(parent);
  EXPECT_TRUE(IsDone(child));
  EXPECT_TRUE(IsCanceled(child));
  auto [grandchild, cancel_grandchild] = mn::with_cancel(child);
  EXPECT_TRUE(IsCanceled(grandchild));
  cancel_child();  // nothing changes
  EXPECT_TRUE(IsCanceled(child));
}

TEST(Context, CancelIsIdempotentAcrossCopies) {
  auto [ctx, cancel] = mn::with_cancel(mn::Context::background());
  mn::CancelFunc copy = cancel;
  cancel();
  copy();
  cancel();
  EXPECT_TRUE(IsCanceled(ctx));
  mn::CancelFunc none;
  none();  // a default CancelFunc does nothing
}

// A child dropped without being cancelled unlinks itself; the parent's later cancellation
// must not touch it (ASan would report a use after free).
TEST(Context, DroppedChildrenAreUnlinked) {
  auto [root, cancel_root] = mn::with_cancel(mn::Context::background());
  mn::Context kept;
  for (int i = 0; i < 100; i++) {
    auto [child, cancel_child] = mn::with_cancel(root);
    auto [grandchild, cancel_grandchild] = mn::with_cancel(child);
    if (i == 50) kept = grandchild;
  }
  EXPECT_FALSE(IsDone(kept));
  cancel_root();
  EXPECT_TRUE(IsCanceled(kept));  // kept alive by its handle, so still reached
}

TEST(Context, DeadlineNeedsARuntime) {
  EXPECT_THROW(mn::with_timeout(mn::Context::background(), 1s), std::logic_error);
  EXPECT_THROW(mn::with_deadline(mn::Context::background(), mn::Clock::now()),
               std::logic_error);
}

// ---- deadlines -------------------------------------------------------------------------

TEST(Context, TimeoutExpires) {
  HangGuard guard;
  bool fired = false, parent_exceeded = false, child_exceeded = false, still_exceeded = false;
  mn::run([&] {
    auto [ctx, cancel] = mn::with_timeout(mn::Context::background(), 20ms);
    auto [child, cancel_child] = mn::with_cancel(ctx);
    EXPECT_TRUE(ctx.deadline().has_value());
    fired = WaitDone(ctx);
    parent_exceeded = IsDeadlineExceeded(ctx);
    child_exceeded = WaitDone(child) && IsDeadlineExceeded(child);
    cancel();  // after the deadline: the reason stays
    still_exceeded = IsDeadlineExceeded(ctx);
  });
  EXPECT_TRUE(fired);
  EXPECT_TRUE(parent_exceeded);
  EXPECT_TRUE(child_exceeded);
  EXPECT_TRUE(still_exceeded);
}

TEST(Context, CancelBeforeTheDeadlineIsCanceled) {
  HangGuard guard;
  mn::run([&] {
    auto [ctx, cancel] = mn::with_timeout(mn::Context::background(), 1h);
    EXPECT_FALSE(IsDone(ctx));
    cancel();
    EXPECT_TRUE(IsDone(ctx));
    EXPECT_TRUE(IsCanceled(ctx));
  });
}

TEST(Context, ChildDeadlineIsTheEarlierOfParentsAndOwn) {
  HangGuard guard;
  mn::run([&] {
    auto [parent, cancel_parent] = mn::with_timeout(mn::Context::background(), 1h);
    ASSERT_TRUE(parent.deadline().has_value());
    const mn::Clock::time_point pd = *parent.deadline();
    // A later own deadline: the parent's applies.
    auto [later, cancel_later] = mn::with_timeout(parent, 2h);
    EXPECT_EQ(later.deadline(), parent.deadline());
    // No own deadline: inherited.
    auto [plain, cancel_plain] = mn::with_cancel(parent);
    EXPECT_EQ(plain.deadline(), parent.deadline());
    // An earlier own deadline: it applies, and fires on its own, leaving the parent.
    auto [sooner, cancel_sooner] = mn::with_timeout(parent, 10ms);
    ASSERT_TRUE(sooner.deadline().has_value());
    EXPECT_LT(*sooner.deadline(), pd);
    auto [under_sooner, cancel_under] = mn::with_timeout(sooner, 1h);
    EXPECT_EQ(under_sooner.deadline(), sooner.deadline());
    EXPECT_TRUE(WaitDone(sooner));
    EXPECT_TRUE(IsDeadlineExceeded(sooner));
    EXPECT_TRUE(WaitDone(under_sooner));
    EXPECT_TRUE(IsDeadlineExceeded(under_sooner));
    EXPECT_FALSE(IsDone(parent));
    EXPECT_FALSE(IsDone(later));
    cancel_parent();
    EXPECT_TRUE(IsCanceled(later));
    EXPECT_TRUE(IsCanceled(plain));
    EXPECT_TRUE(IsDeadlineExceeded(sooner));  // cancelled earlier, for its own reason
  });
}

TEST(Context, PastDeadlineIsBornExceeded) {
  mn::run([&] {
    auto [ctx, cancel] = mn::with_deadline(mn::Context::background(),
                                           mn::Clock::now() - 1s);
    EXPECT_TRUE(IsDone(ctx));
    EXPECT_TRUE(IsDeadlineExceeded(ctx));
    auto [child, cancel_child] = mn::with_cancel(ctx);
    EXPECT_TRUE(IsDeadlineExceeded(child));  // a cancelled parent's reason is inherited
    auto [zero, cancel_zero] = mn::with_timeout(mn::Context::background(), 0s);
    EXPECT_TRUE(IsDeadlineExceeded(zero));
  });
}

// A deadline context may outlive the runtime it was made in: once that runtime is gone its
// timer never fires, and cancelling or dropping it afterwards is safe.
TEST(Context, DeadlineContextOutlivesItsRuntime) {
  mn::Context escaped, escaped_child;
  mn::CancelFunc cancel_escaped;
  mn::run([&] {
    std::tie(escaped, cancel_escaped) = mn::with_timeout(mn::Context::background(), 1h);
    escaped_child = mn::with_timeout(escaped, 2h).first;  // its CancelFunc is dropped
  });
  EXPECT_FALSE(IsDone(escaped));
  EXPECT_TRUE(escaped.err().ok());
  cancel_escaped();
  EXPECT_TRUE(IsCanceled(escaped));
  EXPECT_TRUE(IsCanceled(escaped_child));
  // And one dropped without being cancelled, after its runtime ended.
  mn::Context dropped;
  mn::run([&] { dropped = mn::with_timeout(mn::Context::background(), 1h).first; });
  EXPECT_TRUE(dropped.err().ok());
  dropped = mn::Context::background();
}

// A deadline context that is dropped (and cancelled) long before its timer would fire
// leaves nothing behind that fires later into freed memory.
TEST(Context, ManyShortLivedDeadlineContexts) {
  HangGuard guard;
  int exceeded = 0;
  mn::run(
      [&] {
        auto [root, cancel_root] = mn::with_cancel(mn::Context::background());
        for (int i = 0; i < 200; i++) {
          auto [ctx, cancel] = mn::with_timeout(root, i % 2 == 0 ? 1h : 1ms);
          if (i % 4 == 1) {
            if (WaitDone(ctx) && IsDeadlineExceeded(ctx)) exceeded++;
          }
          if (i % 3 == 0) cancel();
        }
        mn::sleep_for(5ms);  // let any 1 ms timers of dropped contexts fire
        cancel_root();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(exceeded, 50);
}

// ---- select on done() ------------------------------------------------------------------

// A worker serves a channel until its context is cancelled: Go's canonical loop.
TEST(Context, WorkerStopsOnCancelWhileServingAChannel) {
  HangGuard guard;
  constexpr int kItems = 100;
  int64_t processed = 0, sum = 0;
  bool stopped_by_cancel = false;
  mn::run(
      [&] {
        // Gs capture by reference: a G must hold nothing of its own when it signals the
        // WaitGroup, since main may return (stopping the runtime) before it finishes.
        auto made = mn::with_cancel(mn::Context::background());
        const mn::Context& ctx = made.first;
        mn::Chan<int> work;
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          for (;;) {
            bool stop = false;
            mn::select(mn::on_recv(ctx.done(), [&](std::optional<std::monostate> v) {
                         stop = true;
                         stopped_by_cancel = !v.has_value() && IsCanceled(ctx);
                       }),
                       mn::on_recv(work, [&](std::optional<int> v) {
                         processed++;
                         sum += *v;
                       }));
            if (stop) break;
          }
          wg.done();
        });
        for (int i = 1; i <= kItems; i++) work.send(i);  // unbuffered: each one is taken
        made.second();
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(processed, kItems);
  EXPECT_EQ(sum, int64_t{kItems} * (kItems + 1) / 2);
  EXPECT_TRUE(stopped_by_cancel);
}

// A deadline interrupts a wait on a channel nobody sends on.
TEST(Context, DeadlineInterruptsAChannelWait) {
  HangGuard guard;
  int chosen = -1;
  mn::run([&] {
    auto [ctx, cancel] = mn::with_timeout(mn::Context::background(), 20ms);
    mn::Chan<int> never;
    chosen = mn::select(mn::on_recv(never), mn::on_recv(ctx.done()), mn::on_timeout(60s));
    EXPECT_TRUE(IsDeadlineExceeded(ctx));
  });
  EXPECT_EQ(chosen, 1);
}

// Cancelling wakes every G blocked on done(), directly or through select.
TEST(Context, CancelWakesEveryWaiter) {
  HangGuard guard;
  constexpr int kWaiters = 50;
  std::atomic<int> woken{0};
  mn::run(
      [&] {
        auto made = mn::with_cancel(mn::Context::background());
        const mn::Context& ctx = made.first;  // captured by reference, as above
        mn::Chan<int> never;
        mn::WaitGroup wg;
        wg.add(kWaiters);
        for (int i = 0; i < kWaiters; i++) {
          mn::go([&, i] {
            if (i % 2 == 0) {
              if (!ctx.done().recv().has_value()) woken.fetch_add(1);
            } else if (mn::select(mn::on_recv(never), mn::on_recv(ctx.done())) == 1) {
              woken.fetch_add(1);
            }
            wg.done();
          });
        }
        for (int i = 0; i < 10; i++) mn::yield();
        made.second();
        wg.wait();
      },
      mn::Options{.procs = 2});
  EXPECT_EQ(woken.load(), kWaiters);
}

// ---- concurrency -----------------------------------------------------------------------

// Gs keep creating (and some dropping) children while the parent is cancelled: every child
// that exists afterwards is cancelled, whether it was linked before the cancellation or
// born after it.
TEST(Context, CreatingChildrenRacesWithCancel) {
  HangGuard guard;
  constexpr int kGs = 8, kPerG = 200;
  std::atomic<int> live_after{0}, checked{0};
  std::atomic<bool> cancel_returned{false};
  mn::run(
      [&] {
        auto made = mn::with_cancel(mn::Context::background());
        const mn::Context& parent = made.first;  // captured by reference, as above
        auto work = [&](int g) {
          std::vector<mn::Context> kept;
          for (int i = 0; i < kPerG; i++) {
            auto [child, cancel_child] = mn::with_cancel(parent);
            auto [grandchild, cancel_grandchild] = mn::with_cancel(child);
            if (i % 2 == 0) kept.push_back(grandchild);
            if (i % 5 == g % 5) cancel_child();
            if (i % 16 == 0) mn::yield();
          }
          // Not just until parent is done: as in Go, done closes before the cancellation
          // reaches the descendants, and only the cancel call's return says it has.
          while (!cancel_returned.load()) mn::yield();
          for (const auto& c : kept) {
            if (!IsDone(c) || c.err().ok()) live_after.fetch_add(1);
            checked.fetch_add(1);
          }
        };  // kept is gone before the G signals the WaitGroup
        mn::WaitGroup wg;
        wg.add(kGs);
        for (int g = 0; g < kGs; g++) {
          mn::go([&, g] {
            work(g);
            wg.done();
          });
        }
        mn::yield();
        made.second();
        cancel_returned.store(true);
        wg.wait();
      },
      mn::Options{.procs = 4});
  EXPECT_EQ(live_after.load(), 0);
  EXPECT_EQ(checked.load(), kGs * kPerG / 2);
}

// ---- plain threads -----------------------------------------------------------------------

// A plain thread blocks on done() (its M is a real thread, not a G) until a G cancels;
// and a G blocks until a plain thread cancels.
TEST(Context, PlainThreadsWaitAndCancel) {
  HangGuard guard;
  bool thread_saw_cancel = false, g_saw_cancel = false;
  mn::run(
      [&] {
        auto made_a = mn::with_cancel(mn::Context::background());
        auto made_b = mn::with_cancel(mn::Context::background());
        const mn::Context& b = made_b.first;  // Gs capture by reference, as above
        std::thread waiter([&, a = made_a.first] {
          thread_saw_cancel = !a.done().recv().has_value() && IsCanceled(a);
        });
        std::thread canceller([cancel_b = made_b.second] { cancel_b(); });
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          g_saw_cancel = WaitDone(b) && IsCanceled(b);
          wg.done();
        });
        mn::go([&] {
          made_a.second();
          wg.done();
        });
        wg.wait();
        waiter.join();
        canceller.join();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(thread_saw_cancel);
  EXPECT_TRUE(g_saw_cancel);
}

// Outside any runtime, with_cancel works from plain threads alone (no timer involved).
TEST(Context, CancelTreeWithoutARuntime) {
  HangGuard guard;
  auto [root, cancel] = mn::with_cancel(mn::Context::background());
  auto [child, cancel_child] = mn::with_cancel(root);
  bool saw = false;
  std::thread waiter([&, child = child] { saw = !child.done().recv().has_value(); });
  cancel();
  waiter.join();
  EXPECT_TRUE(saw);
  EXPECT_TRUE(IsCanceled(child));
}

// A plain thread may create a deadline context while a runtime is active: the timer fires
// in the runtime and the thread, blocked on done(), wakes.
TEST(Context, PlainThreadCreatesATimeoutWhileARuntimeRuns) {
  HangGuard guard;
  bool exceeded = false;
  mn::run(
      [&] {
        std::thread t([&] {
          auto [ctx, cancel] = mn::with_timeout(mn::Context::background(), 20ms);
          exceeded = !ctx.done().recv().has_value() && IsDeadlineExceeded(ctx);
          cancel();
        });
        t.join();
      },
      mn::Options{.procs = 2});
  EXPECT_TRUE(exceeded);
}

}  // namespace
