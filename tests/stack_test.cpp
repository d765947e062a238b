// Stacks: the allocator's guard/zone layout, and stack overflows reported (never silent),
// both on a guarded stack and on an unguarded one past the guard budget.
#include "stack.hpp"

#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "sched.hpp"
#include "test_util.hpp"

namespace {

using mn::detail::StackAllocator;
using mn::detail::StackSlot;

TEST(StackAllocator, GuardedWhileBudgetLastsThenZoneChecked) {
  // A budget smaller than one segment: nothing is guarded.
  StackAllocator none(64 * 1024, 0);
  StackSlot s[2];
  ASSERT_EQ(none.Allocate(s, 2), 2u);
  EXPECT_FALSE(s[0].guarded);
  EXPECT_EQ(s[0].lo - s[0].zone, 64);
  EXPECT_GE(static_cast<size_t>(s[0].hi - s[0].lo), 64u * 1024);
  // Back to back: the second slot's canary is the top of the first.
  EXPECT_EQ(s[1].zone, s[0].hi);
  EXPECT_TRUE(StackAllocator::CanaryIntact(s[0]));
  EXPECT_TRUE(StackAllocator::CanaryIntact(s[1]));
  s[1].lo[-1] = 1;  // what an overflow leaves behind
  EXPECT_FALSE(StackAllocator::CanaryIntact(s[1]));
  EXPECT_TRUE(StackAllocator::CanaryIntact(s[0]));

  StackAllocator all(64 * 1024, 1 << 20);
  StackSlot g[4];
  ASSERT_EQ(all.Allocate(g, 4), 4u);
  for (const auto& x : g) EXPECT_TRUE(x.guarded);
  EXPECT_GT(all.guarded_stacks(), 0);
  // Slots are disjoint and laid out upward.
  EXPECT_EQ(g[0].hi, g[1].zone);
  EXPECT_EQ(g[1].lo - g[1].zone, 4096);
}

TEST(StackAllocator, SizeRoundedToPages) {
  StackAllocator a(20000, 0);
  EXPECT_EQ(a.usable_size() % 4096, 0u);
  EXPECT_GE(a.usable_size(), 20000u);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"  // the point of the test
int Recurse(volatile char* prev, int depth) {
  volatile char buf[512];
  buf[0] = static_cast<char>(depth);
  buf[511] = prev != nullptr ? prev[0] : 0;
  return Recurse(buf, depth + 1) + buf[511];
}
#pragma GCC diagnostic pop

TEST(StackDeath, OverflowOnGuardedStackNamesTheG) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(mn::run([] {
                 mn::WaitGroup wg;
                 wg.add(1);
                 mn::go([&] {
                   Recurse(nullptr, 0);
                   wg.done();
                 });
                 wg.wait();
               }),
               "stack overflow in G [0-9]+ .*guard page");
}

// SIGSEGV sent by kill(2) is not a fault: the overflow handler must neither take it for an
// overflow nor swallow it (there is no faulting instruction to run again and die on).
TEST(StackDeath, SegvSentByKillStillKills) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(mn::run([] {
                mn::WaitGroup wg;
                wg.add(1);
                mn::go([&] {
                  kill(getpid(), SIGSEGV);
                  mn::sleep_for(std::chrono::seconds(30));  // not reached
                  wg.done();
                });
                wg.wait();
              }),
              // SIGSEGV itself; where a sanitizer's handler (which ours passes non-faults
              // on to) reports it, SIGABRT (ASan) or exit code 66 (TSan).
              [](int status) { return WIFSIGNALED(status) || WEXITSTATUS(status) != 0; }, "");
}

// Past the guard budget, a G that writes below its stack is caught when it next switches.
TEST(StackDeath, OverflowOnUnguardedStackCaughtAtSwitch) {
  if (mn::testing_util::kUnderTsan) {
    GTEST_SKIP() << "needs ~17,000 started Gs; TSan allows about 8,000 fibers at once";
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(mn::run([] {
                 int64_t budget = StackAllocator::DefaultGuardBudget();
                 mn::WaitGroup hold, started;
                 hold.add(1);
                 // Use up the guarded stacks with blocked Gs.
                 started.add(budget + 1000);
                 for (int64_t i = 0; i < budget + 1000; i++) {
                   mn::go([&] {
                     started.done();
                     hold.wait();
                   });
                 }
                 started.wait();
                 mn::WaitGroup wg;
                 wg.add(1);
                 mn::go([&] {
                   mn::detail::G* g = mn::detail::CurrentG();
                   if (g->stack.guarded) return;  // budget not used up: no death, test fails
                   g->stack.lo[-8] = 0x5a;        // an overflow's footprint in the zone
                   mn::yield();
                   wg.done();
                 });
                 wg.wait();
               }),
               "stack overflow in G [0-9]+ .*wrote below its stack");
}

}  // namespace
