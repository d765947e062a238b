// The local run queue: single-threaded semantics, then a multi-threaded stress of push,
// pop and steal that proves no G is lost or taken twice.
#include "runq.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace mn::detail {
namespace {

std::vector<std::unique_ptr<G>> MakeGs(int n) {
  std::vector<std::unique_ptr<G>> gs;
  for (int i = 0; i < n; i++) {
    gs.push_back(std::make_unique<G>());
    gs.back()->id = static_cast<uint64_t>(i);
  }
  return gs;
}

TEST(RunQueue, FifoOrder) {
  RunQueue q;
  auto gs = MakeGs(10);
  GQueue spill;
  for (auto& g : gs) ASSERT_TRUE(q.Put(g.get(), &spill));
  EXPECT_EQ(q.Size(), 10u);
  bool inherit = true;
  for (int i = 0; i < 10; i++) {
    G* g = q.Get(&inherit);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->id, static_cast<uint64_t>(i));
    EXPECT_FALSE(inherit);
  }
  EXPECT_EQ(q.Get(&inherit), nullptr);
  EXPECT_TRUE(q.Empty());
}

TEST(RunQueue, RunnextFirstAndInheritsSlice) {
  RunQueue q;
  auto gs = MakeGs(3);
  GQueue spill;
  q.Put(gs[0].get(), &spill);
  EXPECT_EQ(q.PutNext(gs[1].get()), nullptr);
  // A second PutNext displaces the first; the caller queues it at the tail.
  G* displaced = q.PutNext(gs[2].get());
  EXPECT_EQ(displaced, gs[1].get());
  q.Put(displaced, &spill);
  bool inherit = false;
  EXPECT_EQ(q.Get(&inherit), gs[2].get());
  EXPECT_TRUE(inherit);
  EXPECT_EQ(q.Get(&inherit), gs[0].get());
  EXPECT_FALSE(inherit);
  EXPECT_EQ(q.Get(&inherit), gs[1].get());
  EXPECT_TRUE(q.Empty());
}

TEST(RunQueue, OverflowSpillsHalfPlusOne) {
  RunQueue q;
  auto gs = MakeGs(RunQueue::kSize + 1);
  GQueue spill;
  for (uint32_t i = 0; i < RunQueue::kSize; i++) ASSERT_TRUE(q.Put(gs[i].get(), &spill));
  EXPECT_TRUE(spill.empty());
  EXPECT_FALSE(q.Put(gs[RunQueue::kSize].get(), &spill));
  // The oldest half and the new G go to the spill batch, in order.
  ASSERT_EQ(spill.size, static_cast<int32_t>(RunQueue::kSize / 2 + 1));
  for (uint32_t i = 0; i < RunQueue::kSize / 2; i++) EXPECT_EQ(spill.PopFront()->id, i);
  EXPECT_EQ(spill.PopFront()->id, RunQueue::kSize);
  EXPECT_EQ(q.Size(), RunQueue::kSize / 2);
  bool inherit;
  EXPECT_EQ(q.Get(&inherit)->id, RunQueue::kSize / 2);
}

TEST(RunQueue, StealTakesHalfRoundedUp) {
  RunQueue victim, thief;
  auto gs = MakeGs(7);
  GQueue spill;
  for (auto& g : gs) victim.Put(g.get(), &spill);
  G* g = thief.StealFrom(victim, false, false);
  ASSERT_NE(g, nullptr);
  // 4 taken: one returned to run, three queued on the thief.
  EXPECT_EQ(g->id, 3u);
  EXPECT_EQ(thief.Size(), 3u);
  EXPECT_EQ(victim.Size(), 3u);
  bool inherit;
  EXPECT_EQ(thief.Get(&inherit)->id, 0u);
  EXPECT_EQ(victim.Get(&inherit)->id, 4u);
}

TEST(RunQueue, RunnextStolenOnlyWhenAllowed) {
  RunQueue victim, thief;
  auto gs = MakeGs(1);
  victim.PutNext(gs[0].get());
  EXPECT_FALSE(victim.Empty());
  EXPECT_EQ(thief.StealFrom(victim, false, false), nullptr);
  EXPECT_EQ(thief.StealFrom(victim, true, false), gs[0].get());
  EXPECT_TRUE(victim.Empty());
}

// The owner pushes (and sometimes pops) kTotal Gs while thieves steal concurrently. Every
// G must be taken exactly once, whether by a pop, a steal or the overflow spill.
TEST(RunQueue, StressNoLossNoDuplicate) {
  constexpr int kTotal = 200000;
  constexpr int kThieves = 3;
  auto gs = MakeGs(kTotal);
  std::vector<std::atomic<int>> taken(kTotal);
  RunQueue owner_q;
  std::vector<RunQueue> thief_q(kThieves);
  std::atomic<bool> done{false};
  auto take = [&](G* g) { taken[g->id].fetch_add(1, std::memory_order_relaxed); };

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; t++) {
    thieves.emplace_back([&, t] {
      bool inherit;
      for (;;) {
        bool finished = done.load(std::memory_order_acquire);
        if (G* g = thief_q[t].StealFrom(owner_q, t == 0, true)) {
          take(g);
          while (G* x = thief_q[t].Get(&inherit)) take(x);
        } else if (finished) {
          break;
        }
      }
    });
  }
  bool inherit;
  for (int i = 0; i < kTotal; i++) {
    GQueue spill;
    if (i % 5 == 0) {
      if (G* prev = owner_q.PutNext(gs[i].get())) {
        if (!owner_q.Put(prev, &spill)) while (G* x = spill.PopFront()) take(x);
      }
    } else if (!owner_q.Put(gs[i].get(), &spill)) {
      while (G* x = spill.PopFront()) take(x);
    }
    if (i % 3 == 0) {
      if (G* g = owner_q.Get(&inherit)) take(g);
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  while (G* g = owner_q.Get(&inherit)) take(g);
  for (auto& q : thief_q) while (G* g = q.Get(&inherit)) take(g);

  int lost = 0, dup = 0;
  for (int i = 0; i < kTotal; i++) {
    int n = taken[i].load();
    if (n == 0) lost++;
    if (n > 1) dup++;
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(dup, 0);
}

}  // namespace
}  // namespace mn::detail
