// Kernel-feedback policies (userspace/feedback.cpp). The decision logic is driven through its
// seam with synthetic telemetry: the upcall events and the M's kernel record are made up,
// while the Ms, Ps and Gs are real. Then one test on the real kernel, as root: an M that
// shares its CPU with a hog has its P handed off, and the Gs queued on it run.
//
// sysmon's own retaking (blocking calls, hogs) is switched off in these tests, so that
// kernel feedback is the only path that can move a P.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <mn/mn.hpp>

#include "feedback.hpp"
#include "sched.hpp"
#include "test_util.hpp"

namespace {

using mn::detail::Feedback;
using mn::detail::GetM;
using mn::detail::mn_event;
using mn::detail::mn_m_telemetry;
using mn::testing_util::HangGuard;

constexpr uint64_t kSince = 1'000'000'000;  // a made-up switch-out time

mn_event Descheduled(int slot, int p) {
  return mn_event{.type = mn::detail::mn_ev_descheduled, .m = slot, .p = p,
                  .state = mn::detail::mn_preempted, .since_ns = kSince};
}

// A fake kernel record for one M: what the seam returns.
struct FakeRecord {
  std::atomic<uint32_t> state{mn::detail::mn_preempted};
  std::atomic<uint64_t> since{kSince};
  void Install(Feedback* fb) {
    fb->read_m = [this](int, mn_m_telemetry* r) {
      *r = mn_m_telemetry{};
      r->state = static_cast<mn::detail::mn_m_state>(state.load());
      r->since_ns = since.load();
      return true;
    };
  }
};

mn::Options NoFeedback(int procs) {
  unsetenv("MN_KERNEL_FEEDBACK");
  return mn::Options{.procs = procs, .kernel_feedback = mn::KernelFeedback::kOff};
}

// Main spins in its own code (no runtime call: its M's in_rt is 0) until `ran` Gs queued
// behind it on its P have run. Only a handoff of its P can run them: procs is 1 and
// sysmon does not retake. `drive` runs on a plain thread with main's M and P.
template <typename Drive>
void SpinWithQueuedGs(int queued, std::atomic<int>* ran, Drive drive) {
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        rt->sysmon_retake = false;
        for (int i = 0; i < queued; i++) mn::go([ran] { ran->fetch_add(1); });
        mn::detail::M* m = GetM();
        std::thread driver([&] { drive(rt, m); });
        while (ran->load(std::memory_order_acquire) < queued) {
          for (int i = 0; i < 1000; i++) asm volatile("");
        }
        driver.join();
        mn::yield();  // a runtime call: main finds its P gone and takes the slow path
      },
      NoFeedback(1));
}

TEST(FeedbackPolicy, PreemptedMWithQueuedWorkIsHandedOffExactlyOnce) {
  HangGuard guard;
  std::atomic<int> ran{0};
  int64_t handoffs_after_first = -1, handoffs_after_repeat = -1;
  SpinWithQueuedGs(5, &ran, [&](mn::detail::Runtime* rt, mn::detail::M* m) {
    Feedback fb(rt);
    FakeRecord rec;
    rec.Install(&fb);
    int slot = static_cast<int>(m->id);
    fb.OnEvent(Descheduled(slot, 0), 0);
    fb.OnEvent(Descheduled(slot, 0), 0);  // the same switch-out, reported twice
    // Before the threshold: nothing.
    EXPECT_EQ(fb.Expire(static_cast<int64_t>(kSince) + fb.threshold_ns - 1),
              static_cast<int64_t>(kSince) + fb.threshold_ns);
    EXPECT_EQ(rt->kernel_handoffs.load(), 0);
    fb.Expire(static_cast<int64_t>(kSince) + fb.threshold_ns);
    handoffs_after_first = rt->kernel_handoffs.load();
    while (ran.load() < 5) std::this_thread::yield();
    // Later deadlines and the same event again change nothing: the P is gone from m.
    fb.OnEvent(Descheduled(slot, 0), 0);
    fb.Expire(static_cast<int64_t>(kSince) + 10 * fb.threshold_ns);
    handoffs_after_repeat = rt->kernel_handoffs.load();
  });
  EXPECT_EQ(handoffs_after_first, 1);
  EXPECT_EQ(handoffs_after_repeat, 1);
  EXPECT_EQ(ran.load(), 5);
  EXPECT_EQ(mn::stats().kernel_handoffs, 0);  // no runtime now: the counters read zero
}

TEST(FeedbackPolicy, AnMThatRanAgainOrIsOnItsCpuKeepsItsP) {
  HangGuard guard;
  std::atomic<int> ran{0};
  int64_t after_on_cpu = -1, after_new_since = -1, after_real = -1;
  SpinWithQueuedGs(3, &ran, [&](mn::detail::Runtime* rt, mn::detail::M* m) {
    int slot = static_cast<int>(m->id);
    int64_t due = static_cast<int64_t>(kSince) + mn::detail::kHandoffThresholdNs;
    {
      Feedback fb(rt);
      FakeRecord rec;
      rec.Install(&fb);
      rec.state = mn::detail::mn_on_cpu;  // it is running again
      fb.OnEvent(Descheduled(slot, 0), 0);
      EXPECT_EQ(fb.Expire(due), 0);  // the case is closed
      after_on_cpu = rt->kernel_handoffs.load();
    }
    {
      Feedback fb(rt);
      FakeRecord rec;
      rec.Install(&fb);
      rec.since = kSince + 5;  // switched out again since: a later event will say so
      fb.OnEvent(Descheduled(slot, 0), 0);
      EXPECT_EQ(fb.Expire(due), 0);
      after_new_since = rt->kernel_handoffs.load();
    }
    // Then a real case, so that main's queued Gs run and the test ends.
    Feedback fb(rt);
    FakeRecord rec;
    rec.Install(&fb);
    fb.OnEvent(Descheduled(slot, 0), 0);
    fb.Expire(due);
    after_real = rt->kernel_handoffs.load();
  });
  EXPECT_EQ(after_on_cpu, 0);
  EXPECT_EQ(after_new_since, 0);
  EXPECT_EQ(after_real, 1);
  EXPECT_EQ(ran.load(), 3);
}

TEST(FeedbackPolicy, APWithNoWorkIsLeftAloneUntilWorkArrives) {
  HangGuard guard;
  std::atomic<bool> go_on{false};
  std::atomic<int> ran{0};
  int64_t while_idle = -1, once_queued = -1;
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        rt->sysmon_retake = false;
        mn::detail::M* m = GetM();
        std::thread driver([&] {
          Feedback fb(rt);
          FakeRecord rec;
          rec.Install(&fb);
          int64_t due = static_cast<int64_t>(kSince) + fb.threshold_ns;
          fb.OnEvent(Descheduled(static_cast<int>(m->id), 0), 0);
          // Nothing queued behind main: no handoff, and a re-check is scheduled.
          int64_t next = fb.Expire(due);
          EXPECT_GT(next, due);
          while_idle = rt->kernel_handoffs.load();
          go_on = true;  // main queues work now
          while (rt->allp[0]->runq.Empty()) std::this_thread::yield();
          fb.Expire(next);
          once_queued = rt->kernel_handoffs.load();
        });
        while (!go_on.load()) asm volatile("");
        mn::go([&] { ran = 1; });
        while (ran.load() == 0) asm volatile("");
        driver.join();
      },
      NoFeedback(1));
  EXPECT_EQ(while_idle, 0);
  EXPECT_EQ(once_queued, 1);
  EXPECT_EQ(ran.load(), 1);
}

TEST(FeedbackPolicy, AnMInABlockingCallIsLeftToSysmon) {
  HangGuard guard;
  int64_t handoffs = -1;
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        rt->sysmon_retake = false;
        mn::detail::M* m = nullptr;
        std::atomic<bool> ran{false};
        mn::go([&] { ran = true; });  // work queued behind the blocking call
        mn::blocking([&] {
          m = GetM();
          std::thread driver([&] {
            Feedback fb(rt);
            FakeRecord rec;
            rec.state = mn::detail::mn_blocked;
            rec.Install(&fb);
            fb.OnEvent(Descheduled(static_cast<int>(m->id), 0), 0);
            // The P has work, but its M is in a blocking call: pstate's protocol refuses.
            EXPECT_TRUE(mn::detail::PHasWork(rt, rt->allp[0].get(), 0));
            fb.Expire(static_cast<int64_t>(kSince) + fb.threshold_ns);
            handoffs = rt->kernel_handoffs.load();
          });
          driver.join();
        });
        EXPECT_FALSE(ran.load());  // still queued: nobody took the P
        while (!ran.load()) mn::yield();
      },
      NoFeedback(1));
  EXPECT_EQ(handoffs, 0);
}

// ---- the real kernel ---------------------------------------------------------------------

TEST(FeedbackKernel, AnMSharingItsCpuWithAHogHasItsPHandedOff) {
  unsetenv("MN_KERNEL_FEEDBACK");
  // Everything on CPU 0: the runtime's Ms (they inherit the mask) and a hog process.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
  pid_t hog = fork();
  if (hog == 0) {
    volatile unsigned long x = 0;
    for (;;) x = x + 1;
  }
  ASSERT_GT(hog, 0);
  HangGuard guard;
  std::string why;
  std::atomic<int> ran{0};
  int64_t handoffs = 0;
  mn::run(
      [&] {
        mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
        if (!st.active) {
          why = st.reason;
          return;
        }
        auto* rt = GetM()->rt;
        rt->sysmon_retake = false;  // only kernel feedback can free the queued Gs
        for (int i = 0; i < 5; i++) mn::go([&] { ran.fetch_add(1); });
        while (ran.load(std::memory_order_acquire) < 5) {
          for (int i = 0; i < 1000; i++) asm volatile("");
        }
        handoffs = rt->kernel_handoffs.load();
      },
      mn::Options{.procs = 1});
  kill(hog, SIGKILL);
  waitpid(hog, nullptr, 0);
  if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;
  EXPECT_EQ(ran.load(), 5);
  EXPECT_GE(handoffs, 1);
}

}  // namespace
