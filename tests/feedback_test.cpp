// Kernel-feedback policies (userspace/feedback.cpp). The decision logic is driven through its
// seam with synthetic telemetry: the upcall events, the M's kernel record and the CPUs'
// states are made up, while the Ms, Ps and Gs are real. Then tests on the real kernel, as
// root: an M that shares its CPU with a hog, or blocks in a call the runtime does not
// know of, has its P handed off and the Gs queued on it run; the kernel answers a request
// for an idle CPU and counts the tasks waiting for one.
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
                  .state = mn::detail::mn_preempted, .since_ns = kSince, .cpu = 0, .pad0 = 0};
}

mn_event CpuIdle(int cpu) {
  return mn_event{.type = mn::detail::mn_ev_cpu_idle, .m = -1, .p = -1, .state = 0,
                  .since_ns = kSince, .cpu = cpu, .pad0 = 0};
}

// Made-up CPUs for the spin policy: cpu_state by CPU number and the want_cpu word.
struct FakeCpus {
  static constexpr int kN = 4;
  mn::detail::mn_cpu_state cpus[kN]{};
  uint32_t want_cpu = 0;
  uint32_t scx_active = 0;  // rt_state.scx_active
  // Every CPU busy, with a task waiting for each.
  FakeCpus() {
    for (auto& c : cpus) c.nr_waiting = 1;
  }
  void Install(Feedback* fb, std::vector<int> allowed = {0, 1, 2}) {
    fb->SetCpuView(cpus, kN, std::move(allowed), &want_cpu, &scx_active);
  }
  void SetIdle(int cpu, bool idle) {
    __atomic_store_n(&cpus[cpu].idle, idle ? 1u : 0u, __ATOMIC_RELAXED);
    __atomic_store_n(&cpus[cpu].nr_waiting, idle ? 0u : 1u, __ATOMIC_RELAXED);
  }
};

int64_t Spins(mn::detail::Runtime* rt) { return mn::detail::SumSpins(rt).spins; }

int64_t Declined(mn::detail::Runtime* rt) {
  mn::detail::SpinCounters c = mn::detail::SumSpins(rt);
  return c.spins_declined + c.wakes_declined;
}

// Installs the spin policy on the running runtime with made-up CPUs (the runtime itself was
// started with feedback off, so that only the fake view decides).
void InstallSpinPolicy(mn::detail::Runtime* rt, FakeCpus* cpus) {
  rt->feedback = std::make_unique<Feedback>(rt);
  cpus->Install(rt->feedback.get());
  rt->kf_spin.store(true, std::memory_order_release);
  // A spinner woken before the policy was on (at start-up) finishes its spin and gives its
  // P back first: every spin and wakeup from here on goes through the policy.
  while (rt->nmspinning.load() != 0 || rt->npidle.load() != rt->procs - 1) mn::yield();
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

// ---- MN_KERNEL_FEEDBACK's words ---------------------------------------------------------

TEST(FeedbackWords, ModesAndPoliciesParse) {
  using mn::detail::ParseKernelFeedback;
  struct Case {
    const char* text;
    mn::KernelFeedback mode;
    uint32_t policies;
  };
  const Case good[] = {
      {"auto", mn::KernelFeedback::kAuto, mn::detail::kDefaultPolicies},
      {"off", mn::KernelFeedback::kOff, mn::detail::kDefaultPolicies},
      {"required", mn::KernelFeedback::kRequired, mn::detail::kDefaultPolicies},
      {"telemetry", mn::KernelFeedback::kAuto, 0},
      {"handoff", mn::KernelFeedback::kAuto, MN_POLICY_HANDOFF},
      {"required,spin", mn::KernelFeedback::kRequired, MN_POLICY_SPIN},
      {"spin,handoff", mn::KernelFeedback::kAuto,
       MN_POLICY_SPIN | MN_POLICY_HANDOFF},
      {"all", mn::KernelFeedback::kAuto, mn::detail::kAllPolicies},
      {"scx", mn::KernelFeedback::kAuto, mn::detail::kPolicyScx},
      {"required,scx,all", mn::KernelFeedback::kRequired,
       mn::detail::kPolicyScx | mn::detail::kAllPolicies},
  };
  for (const Case& c : good) {
    mn::KernelFeedback mode = mn::KernelFeedback::kOff;
    uint32_t policies = 99;
    std::string error;
    EXPECT_TRUE(ParseKernelFeedback(c.text, &mode, &policies, &error)) << c.text << ": " << error;
    EXPECT_EQ(mode, c.mode) << c.text;
    EXPECT_EQ(policies, c.policies) << c.text;
  }
  const char* bad[] = {"", "sometimes", "auto,", "auto,required", "off,spin", "spin,,all", "off,scx",
                       "sched_ext"};
  for (const char* text : bad) {
    mn::KernelFeedback mode;
    uint32_t policies;
    std::string error;
    EXPECT_FALSE(ParseKernelFeedback(text, &mode, &policies, &error)) << text;
    EXPECT_NE(error.find(std::string("MN_KERNEL_FEEDBACK=\"") + text + "\""), std::string::npos)
        << error;
  }
  EXPECT_EQ(mn::detail::PolicyNames(mn::detail::kAllPolicies), "handoff,spin");
  EXPECT_EQ(mn::detail::PolicyNames(0), "telemetry only");
  EXPECT_EQ(mn::detail::PolicyNames(mn::detail::kPolicyScx | MN_POLICY_SPIN), "spin,scx");
}

// ---- the spin policy -----------------------------------------------------------------------

TEST(FeedbackSpin, AnMSpinsOnlyWhereACpuIsFree) {
  mn::run(
      [] {
        Feedback fb(GetM()->rt);
        FakeCpus f;
        f.Install(&fb);  // the process may run on CPUs 0, 1 and 2
        // Every CPU busy, a task waiting for each: no spinning, and the kernel is asked
        // for an idle CPU.
        EXPECT_FALSE(fb.MaySpin(0));
        EXPECT_EQ(f.want_cpu, 1u);
        EXPECT_FALSE(fb.MayWake(0));
        // An idle CPU the process may not use changes nothing.
        f.SetIdle(3, true);
        EXPECT_FALSE(fb.MaySpin(0));
        EXPECT_FALSE(fb.MayWake(0));
        // Its own CPU with nobody else waiting: the spinner takes CPU from nobody, but a
        // woken M would need another CPU.
        f.cpus[0].nr_waiting = 0;
        f.want_cpu = 0;
        EXPECT_TRUE(fb.MaySpin(0));
        EXPECT_FALSE(fb.MayWake(0));
        EXPECT_EQ(f.want_cpu, 1u);
        // Another allowed CPU idle: both.
        f.cpus[0].nr_waiting = 1;
        f.want_cpu = 0;
        f.SetIdle(2, true);
        EXPECT_TRUE(fb.MaySpin(0));
        EXPECT_TRUE(fb.MayWake(0));
        EXPECT_EQ(f.want_cpu, 0u);  // no request when a CPU is free
        // The idle CPU is the caller's own (it is about to sleep there): not another one.
        EXPECT_FALSE(fb.MayWake(2));
      },
      NoFeedback(1));
}

TEST(FeedbackSpin, UnderFullModeSchedExtACpuRunningNoMIsFree) {
  mn::run(
      [] {
        Feedback fb(GetM()->rt);
        FakeCpus f;
        f.Install(&fb);
        // Every CPU busy with another program's task (runs_m = 0).
        EXPECT_FALSE(fb.MayWake(0));  // the fair scheduler: nothing free
        f.scx_active = MN_SCX_ACTIVE_PARTIAL;
        EXPECT_FALSE(fb.MayWake(0));  // partial mode: those tasks outrank the Ms
        f.scx_active = MN_SCX_ACTIVE_FULL;
        EXPECT_TRUE(fb.MayWake(0));   // full mode: a woken M takes their CPU
        EXPECT_TRUE(fb.MaySpin(0));
        // Our own Ms on every other allowed CPU: nothing to take.
        f.cpus[1].runs_m = 1;
        f.cpus[2].runs_m = 1;
        f.want_cpu = 0;
        EXPECT_FALSE(fb.MayWake(0));
        EXPECT_EQ(f.want_cpu, 1u);
        // A CPU the process may not use counts for nothing.
        f.cpus[3].runs_m = 0;
        EXPECT_FALSE(fb.MayWake(0));
        // The caller's own CPU is not another one.
        f.cpus[0].runs_m = 1;
        f.cpus[1].runs_m = 0;
        EXPECT_FALSE(fb.MayWake(1));
        EXPECT_TRUE(fb.MayWake(0));
      },
      NoFeedback(1));
}

TEST(FeedbackSpin, NoMSpinsWhenNoCpuIsFree) {
  HangGuard guard;
  int64_t spins_before = -1, spins_after = -1, declined = -1, backstops = -1;
  int sum = 0;
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        FakeCpus f;
        InstallSpinPolicy(rt, &f);
        spins_before = Spins(rt);
        const int64_t backstops_before = rt->spin_backstops.load();
        // Work that would wake spinners: Gs handing a value along a chain of channels.
        for (int round = 0; round < 200; round++) {
          mn::Chan<int> a, b;
          mn::go([a, b] { b.send(*a.recv() + 1); });
          a.send(round);
          sum += *b.recv();
        }
        // The only spins allowed are sysmon's backstop's, when this M was off its CPU for
        // a millisecond with work queued (a loaded machine, a sanitizer): each is counted
        // before its M starts, and is over once nmspinning is back to 0.
        while (rt->nmspinning.load() != 0) mn::yield();
        spins_after = Spins(rt);
        backstops = rt->spin_backstops.load() - backstops_before;
        declined = Declined(rt);
        rt->kf_spin.store(false);
      },
      NoFeedback(2));
  EXPECT_EQ(sum, 200 * 199 / 2 + 200);  // every round ran
  EXPECT_GE(spins_before, 0);
  EXPECT_LE(spins_after - spins_before, backstops);
  EXPECT_GT(declined, 0);
}

TEST(FeedbackSpin, AnIdleCpuLetsAnMSpin) {
  HangGuard guard;
  int64_t spins = 0, declined = -1;
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        FakeCpus f;
        // Every CPU idle, so that one other than main's own is, wherever main runs.
        for (int c = 0; c < FakeCpus::kN; c++) f.SetIdle(c, true);
        InstallSpinPolicy(rt, &f);
        std::atomic<bool> ran{false};
        mn::go([&] { ran = true; });  // wakep: P 1 is idle, and so is a CPU
        while (!ran.load()) asm volatile("");  // main keeps its P: the G runs elsewhere
        while ((spins = Spins(rt)) == 0) mn::yield();
        declined = mn::detail::SumSpins(rt).wakes_declined;
      },
      NoFeedback(2));
  EXPECT_GE(spins, 1);
  EXPECT_EQ(declined, 0);
}

TEST(FeedbackSpin, AnIdleCpuWithQueuedWorkWakesExactlyOneM) {
  HangGuard guard;
  std::atomic<int> ran{0};
  int64_t declined = -1, wakeups_first = -1, wakeups_again = -1, idle_events = -1;
  mn::run(
      [&] {
        auto* rt = GetM()->rt;
        rt->sysmon_retake = false;  // only the upcall can get the queued Gs run
        FakeCpus f;
        InstallSpinPolicy(rt, &f);
        for (int i = 0; i < 5; i++) mn::go([&] { ran.fetch_add(1); });
        declined = mn::detail::SumSpins(rt).wakes_declined;
        std::thread feedback([&] {
          // The feedback thread's upcall: a CPU turned idle, work is queued, nobody spins.
          f.SetIdle(1, true);
          rt->feedback->OnEvent(CpuIdle(1), 0);
          wakeups_first = rt->idle_wakeups.load();
          while (ran.load() < 5) std::this_thread::yield();
          // Again, with nothing queued any more: nobody is woken.
          rt->feedback->OnEvent(CpuIdle(1), 0);
          wakeups_again = rt->idle_wakeups.load();
          idle_events = rt->feedback->idle_events();
        });
        // Main keeps its P in its own code: only an M woken by the upcall runs the Gs.
        while (ran.load(std::memory_order_acquire) < 5) {
          for (int i = 0; i < 1000; i++) asm volatile("");
        }
        feedback.join();
      },
      NoFeedback(2));
  EXPECT_GE(declined, 1);
  EXPECT_EQ(wakeups_first, 1);
  EXPECT_EQ(wakeups_again, 1);
  EXPECT_EQ(idle_events, 2);
  EXPECT_EQ(ran.load(), 5);
}

// ---- the real kernel ---------------------------------------------------------------------

// Pins the test's thread (and so the runtime's Ms, which inherit its mask) to CPU 0 and
// starts a hog process there, which spins until Stop.
class PinnedHog {
 public:
  PinnedHog() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      volatile unsigned long x = 0;
      for (;;) x = x + 1;
    }
  }
  ~PinnedHog() { Stop(); }
  bool ok() const { return pid_ > 0; }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

TEST(FeedbackKernel, AnMSharingItsCpuWithAHogHasItsPHandedOff) {
  setenv("MN_KERNEL_FEEDBACK", "all", 1);  // the policies are opt-in
  PinnedHog hog;
  ASSERT_TRUE(hog.ok());
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
  hog.Stop();
  if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;
  EXPECT_EQ(ran.load(), 5);
  EXPECT_GE(handoffs, 1);
}

TEST(FeedbackKernel, AnMBlockedInAnUnwrappedCallHasItsPHandedOff) {
  setenv("MN_KERNEL_FEEDBACK", "all", 1);  // the policies are opt-in
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
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
        for (int i = 0; i < 5; i++) {
          mn::go([&] {
            // The last one unblocks main: so main returns only if they all ran.
            if (ran.fetch_add(1) == 4) (void)!write(fds[1], "x", 1);
          });
        }
        // A read the runtime knows nothing of (not mn::blocking): main's M sleeps in the
        // kernel holding the only P, with five Gs queued on it.
        char c;
        EXPECT_EQ(read(fds[0], &c, 1), 1);
        handoffs = rt->kernel_handoffs.load();
      },
      mn::Options{.procs = 1});
  close(fds[0]);
  close(fds[1]);
  if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;
  EXPECT_EQ(ran.load(), 5);
  EXPECT_GE(handoffs, 1);
}

TEST(FeedbackKernel, TheKernelAnswersARequestForAnIdleCpu) {
  setenv("MN_KERNEL_FEEDBACK", "all", 1);  // the policies are opt-in
  HangGuard guard;
  std::string why;
  int64_t events = 0;
  uint32_t want_after = 1;
  mn::run(
      [&] {
        mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
        if (!st.active) {
          why = st.reason;
          return;
        }
        auto* rt = GetM()->rt;
        uint32_t* want = &rt->ktel->rt_state()->want_cpu;
        int64_t before = rt->feedback->idle_events();
        __atomic_store_n(want, 1, __ATOMIC_SEQ_CST);
        // Some CPU goes idle soon (this M sleeps, for one): the program clears the flag
        // and the feedback thread receives the upcall.
        while (rt->feedback->idle_events() == before) mn::sleep_for(std::chrono::milliseconds(1));
        events = rt->feedback->idle_events() - before;
        want_after = __atomic_load_n(want, __ATOMIC_SEQ_CST);
      },
      mn::Options{.procs = 1});
  if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;
  EXPECT_GE(events, 1);
  EXPECT_EQ(want_after, 0u);
}

TEST(FeedbackKernel, TheKernelCountsTasksWaitingForAnMsCpu) {
  setenv("MN_KERNEL_FEEDBACK", "all", 1);  // the policies are opt-in
  PinnedHog hog;
  ASSERT_TRUE(hog.ok());
  HangGuard guard;
  std::string why;
  uint32_t waiting = 0;
  mn::run(
      [&] {
        mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
        if (!st.active) {
          why = st.reason;
          return;
        }
        const mn::detail::mn_cpu_state* cpu0 = &GetM()->rt->ktel->cpus()[0];
        // Running on CPU 0 beside the hog: one of the two is always waiting for it.
        while ((waiting = __atomic_load_n(&cpu0->nr_waiting, __ATOMIC_RELAXED)) == 0) {
          for (int i = 0; i < 1000; i++) asm volatile("");
        }
      },
      mn::Options{.procs = 1});
  hog.Stop();
  if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;
  EXPECT_GE(waiting, 1u);
}

}  // namespace
