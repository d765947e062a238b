// The sched_ext scheduler (bpf/scx.bpf.c) from the runtime (MN_KERNEL_FEEDBACK=scx,
// userspace/scx_runtime.cpp) and from outside it (tools/mnsched-scx): that it loads, that the
// kernel names it, that the Ms and only the Ms run under it, that the scheduler keeps their
// telemetry, and every way it falls back to telemetry only, said once.
//
// ScxHost.* run where sched_ext is missing (this project's host kernel) and skip where it is
// there; ScxLoaded.* need it, as root: they run in the VM (tests/vm, ctest -L vm). Each case
// runs in its own process.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <mn/mn.hpp>

#include "sched.hpp"
#include "scx.hpp"
#include "test_util.hpp"

namespace {

using mn::detail::GetM;
using mn::detail::ScxScheduler;
using mn::testing_util::HangGuard;

constexpr int kSchedExt = 7;

bool HaveSchedExt() {
  struct stat st {};
  return stat("/sys/kernel/sched_ext", &st) == 0;
}

#define REQUIRE_SCX()                                                                  \
  do {                                                                                 \
    if (!HaveSchedExt()) GTEST_SKIP() << "the kernel has no sched_ext (run ctest -L vm)"; \
    if (geteuid() != 0) GTEST_SKIP() << "loading a sched_ext scheduler needs root";     \
  } while (0)

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// The command's stdout and stderr, and its exit code in *rc.
std::string RunCommand(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  int status = -1;
  if (FILE* f = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    status = pclose(f);
  }
  if (rc != nullptr) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

mn::Options ScxOptions(int procs = 2) {
  unsetenv("MN_KERNEL_FEEDBACK");
  return mn::Options{.procs = procs, .kernel_feedback = mn::KernelFeedback::kScx};
}

// The tids of the runtime's running Ms (from inside a G).
std::vector<pid_t> MTids() {
  std::vector<pid_t> tids;
  mn::detail::Runtime* rt = GetM()->rt;
  std::lock_guard<mn::detail::SchedLock> lock(rt->lock);
  for (const auto& m : rt->allm) {
    pid_t tid = m->tid.load(std::memory_order_relaxed);
    if (tid != 0 && !m->exited.load(std::memory_order_relaxed)) tids.push_back(tid);
  }
  return tids;
}

// Keeps every P busy for a while, so that every M has run and been switched.
void BusyEveryP(int gs, int rounds) {
  mn::WaitGroup wg;
  for (int i = 0; i < gs; i++) {
    wg.add(1);
    mn::go([&] {
      for (int r = 0; r < rounds; r++) {
        volatile uint64_t x = 0;
        for (int k = 0; k < 20000; k++) x = x + k;
        mn::yield();
      }
      wg.done();
    });
  }
  wg.wait();
}

// ---- where there is no sched_ext -------------------------------------------------------------

TEST(ScxHost, WithoutSchedExtTheRuntimeRunsAndSaysWhyOnce) {
  if (HaveSchedExt()) GTEST_SKIP() << "this kernel has sched_ext";
  HangGuard guard;
  ::testing::internal::CaptureStderr();
  mn::KernelFeedbackStatus st;
  int sum = 0;
  mn::run(
      [&] {
        st = mn::kernel_feedback_status();
        mn::WaitGroup wg;
        std::atomic<int> n{0};
        for (int i = 0; i < 100; i++) {
          wg.add(1);
          mn::go([&] {
            n.fetch_add(1);
            wg.done();
          });
        }
        wg.wait();
        sum = n.load();
      },
      ScxOptions());
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(sum, 100);
  EXPECT_FALSE(st.scx);
  EXPECT_FALSE(st.scx_reason.empty());
  EXPECT_EQ(Count(err, "mn: sched_ext scheduler: off: "), 1) << err;
  EXPECT_NE(err.find(st.scx_reason), std::string::npos) << err;
  if (st.active) {
    // Telemetry loaded (root): the reason is the kernel's.
    EXPECT_NE(st.scx_reason.find("no sched_ext"), std::string::npos) << st.scx_reason;
    EXPECT_NE(err.find("continues with telemetry only"), std::string::npos) << err;
  }
}

TEST(ScxHost, PreflightNamesTheMissingKernelSupport) {
  if (HaveSchedExt()) GTEST_SKIP() << "this kernel has sched_ext";
  std::string why = ScxScheduler::Preflight();
  EXPECT_NE(why.find("no sched_ext"), std::string::npos) << why;
  EXPECT_EQ(ScxScheduler::State(), "");
  absl::StatusOr<std::unique_ptr<ScxScheduler>> s = ScxScheduler::Load(mn::detail::ScxMode::kPartial);
  EXPECT_FALSE(s.ok());
}

TEST(ScxHostDeath, RequiredWithoutSchedExtExitsWithCode2AndTheReason) {
  if (HaveSchedExt()) GTEST_SKIP() << "this kernel has sched_ext";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MN_KERNEL_FEEDBACK", "required,scx", 1);
        mn::run([] {}, mn::Options{.procs = 1});
      },
      ::testing::ExitedWithCode(2), "mn: kernel feedback is required but");
}

// ---- loaded (in the VM) ----------------------------------------------------------------------

TEST(ScxLoaded, TheSchedulerLoadsAndTheKernelNamesIt) {
  REQUIRE_SCX();
  HangGuard guard;
  std::string state, ops, struct_ops;
  mn::KernelFeedbackStatus st;
  mn::run(
      [&] {
        st = mn::kernel_feedback_status();
        BusyEveryP(4, 50);
        state = ScxScheduler::State();
        ops = ScxScheduler::OpsName();
        struct_ops = RunCommand("bpftool struct_ops show");
      },
      ScxOptions());
  ASSERT_TRUE(st.scx) << st.scx_reason;
  EXPECT_EQ(state, "enabled");
  EXPECT_EQ(ops, "mnsched");
  if (access("/usr/sbin/bpftool", X_OK) == 0) {
    EXPECT_NE(struct_ops.find("mnsched"), std::string::npos) << struct_ops;
  }
  // Unloaded with the runtime (and the kernel done disabling it).
  EXPECT_EQ(ScxScheduler::State(), "disabled");
}

TEST(ScxLoaded, TheMsRunUnderItAndOtherThreadsDoNot) {
  REQUIRE_SCX();
  HangGuard guard;
  pid_t run_tid = gettid();
  std::vector<int> m_policies;
  int run_policy = -1, sysmon_policy = -1;
  mn::run(
      [&] {
        BusyEveryP(4, 50);
        for (pid_t tid : MTids()) m_policies.push_back(mn::detail::SchedPolicyOf(tid));
        run_policy = mn::detail::SchedPolicyOf(run_tid);
        sysmon_policy = mn::detail::SchedPolicyOf(
            static_cast<pid_t>(GetM()->rt->sysmon_tid.load(std::memory_order_relaxed)));
      },
      ScxOptions());
  ASSERT_GE(m_policies.size(), 2u);
  for (int p : m_policies) EXPECT_EQ(p, kSchedExt);
  EXPECT_EQ(run_policy, SCHED_OTHER);
  EXPECT_EQ(sysmon_policy, SCHED_OTHER);
}

TEST(ScxLoaded, ItKeepsTheMsTelemetryAndCountsWhatItDid) {
  REQUIRE_SCX();
  HangGuard guard;
  mn::detail::mn_scx_stats stats{};
  mn::detail::mn_m_telemetry rec{};
  bool read = false, loaded = false;
  mn::run(
      [&] {
        mn::detail::Runtime* rt = GetM()->rt;
        loaded = rt->scx != nullptr;
        if (!loaded) return;
        BusyEveryP(4, 200);
        mn::sleep_for(std::chrono::milliseconds(20));  // this M blocks at least once
        read = rt->ktel->ReadM(static_cast<int>(GetM()->id), &rec);
        stats = rt->scx->Stats();
      },
      ScxOptions());
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(read);
  EXPECT_GT(rec.oncpu_ns, 0u);
  EXPECT_GT(rec.nr_blocked + rec.nr_preempted, 0u);
  EXPECT_GT(stats.enq_run + stats.enq_other + stats.direct_idle, 0u);
  EXPECT_GT(stats.dispatched_run + stats.dispatched_other + stats.direct_idle, 0u);
}

// A spinning M woken by wakep (a G made runnable, a P idle) is ranked RUN on that wakeup,
// not SPIN (scx.bpf.c, "A wakeup ranks RUN"): spin_wakeups counts the woken spinners ranked
// RUN, and stays 0 where they rank SPIN. The G spawned after each sleep finds the other M
// parked, so wakep wakes it as a spinner.
TEST(ScxLoaded, AWokenSpinnerRanksRunAndIsCounted) {
  REQUIRE_SCX();
  HangGuard guard;
  mn::detail::mn_scx_stats before{}, after{};
  bool loaded = false;
  int64_t spins = 0;
  mn::run(
      [&] {
        mn::detail::Runtime* rt = GetM()->rt;
        loaded = rt->scx != nullptr;
        if (!loaded) return;
        before = rt->scx->Stats();
        int64_t spins0 = mn::stats().spins;
        for (int i = 0; i < 200; i++) {
          mn::sleep_for(std::chrono::microseconds(500));  // both Ms park
          mn::WaitGroup wg;
          wg.add(1);
          mn::go([&] { wg.done(); });  // wakep: the other M, parked, wakes as a spinner
          wg.wait();
        }
        after = rt->scx->Stats();
        spins = mn::stats().spins - spins0;
      },
      ScxOptions());
  ASSERT_TRUE(loaded);
  EXPECT_GT(spins, 0) << "the runtime started no spinner: the test does not exercise wakep";
  EXPECT_GT(after.spin_wakeups, before.spin_wakeups);
  // Counted only for Ms woken while spinning, each at most once per wakeup.
  EXPECT_LE(after.spin_wakeups - before.spin_wakeups,
            (after.enq_run - before.enq_run) + (after.direct_idle - before.direct_idle));
}

TEST(ScxLoaded, AnotherSchedulerLoadedIsSaidOnceAndTheRuntimeRuns) {
  REQUIRE_SCX();
  HangGuard guard;
  absl::StatusOr<std::unique_ptr<ScxScheduler>> other = ScxScheduler::Load(mn::detail::ScxMode::kPartial);
  ASSERT_TRUE(other.ok()) << other.status();
  ::testing::internal::CaptureStderr();
  mn::KernelFeedbackStatus st;
  int done = 0;
  mn::run(
      [&] {
        st = mn::kernel_feedback_status();
        BusyEveryP(4, 20);
        done = 1;
      },
      ScxOptions());
  std::string err = ::testing::internal::GetCapturedStderr();
  other->reset();
  EXPECT_EQ(done, 1);
  EXPECT_FALSE(st.scx);
  EXPECT_TRUE(st.active) << "telemetry goes on without the scheduler";
  EXPECT_NE(st.scx_reason.find("another sched_ext scheduler is loaded"), std::string::npos)
      << st.scx_reason;
  EXPECT_EQ(Count(err, "another sched_ext scheduler is loaded"), 1) << err;
}

TEST(ScxLoaded, EjectionIsNoticedSaidOnceAndTheMsGoBack) {
  REQUIRE_SCX();
  HangGuard guard;
  ::testing::internal::CaptureStderr();
  bool was_on = false;
  mn::KernelFeedbackStatus after;
  std::vector<int> policies;
  int sum = 0;
  mn::run(
      [&] {
        was_on = mn::kernel_feedback_status().scx;
        // SysRq-S: the kernel disables the sched_ext scheduler, whatever it is doing.
        if (std::ofstream sysrq("/proc/sysrq-trigger"); sysrq) sysrq << 'S';
        for (int i = 0; i < 500 && mn::kernel_feedback_status().scx; i++) {
          mn::sleep_for(std::chrono::milliseconds(10));
        }
        after = mn::kernel_feedback_status();
        BusyEveryP(4, 20);  // the runtime goes on
        for (pid_t tid : MTids()) policies.push_back(mn::detail::SchedPolicyOf(tid));
        sum = 1;
      },
      ScxOptions());
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(was_on);
  EXPECT_EQ(sum, 1);
  EXPECT_FALSE(after.scx);
  EXPECT_TRUE(after.active);
  EXPECT_NE(after.scx_reason.find("ejected by the kernel"), std::string::npos) << after.scx_reason;
  EXPECT_EQ(Count(err, "ejected by the kernel"), 1) << err;
  ASSERT_FALSE(policies.empty());
  for (int p : policies) EXPECT_EQ(p, SCHED_OTHER);
  EXPECT_EQ(ScxScheduler::State(), "disabled");
}

// ---- tools/mnsched-scx -------------------------------------------------------------------------

const std::string kTool = MNSCHED_SCX_PATH;

TEST(ScxTool, BadUsageExitsWithCode2AndSaysWhat) {
  struct Case {
    std::string args, says;
  } cases[] = {
      {"", "no pid given"},
      {"abc", "\"abc\" is not a process id"},
      {"--all 1", "--all takes no pids"},
      {"--interval=1ms 1", "--interval=1ms: must be from 10ms to 1h"},
      {"--other_slice=5us 1", "--other_slice=5us: must be from 100us to 1s"},
      {"--nonsense 1", "usage: mnsched-scx"},
  };
  for (const Case& c : cases) {
    int rc = 0;
    std::string out = RunCommand(kTool + " " + c.args, &rc);
    EXPECT_EQ(rc, 2) << c.args << ": " << out;
    EXPECT_NE(out.find(c.says), std::string::npos) << c.args << ": " << out;
  }
}

TEST(ScxTool, WithoutSchedExtItExits1NamingWhy) {
  if (HaveSchedExt()) GTEST_SKIP() << "this kernel has sched_ext";
  int rc = 0;
  std::string out = RunCommand(kTool + " 1", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot load the scheduler"), std::string::npos) << out;
}

// A runtime process with kernel feedback on (its maps pinned), busy until killed; returns
// its pid once the maps are pinned, or -1.
pid_t StartRuntimeProcess() {
  pid_t pid = fork();
  if (pid == 0) {
    unsetenv("MN_KERNEL_FEEDBACK");
    mn::run(
        [] {
          for (;;) BusyEveryP(4, 10);
        },
        mn::Options{.procs = 2});
    _exit(0);
  }
  std::string pin = "/sys/fs/bpf/mnsched/" + std::to_string(pid) + "/tracked";
  for (int i = 0; i < 1000; i++) {
    struct stat st {};
    if (stat(pin.c_str(), &st) == 0) return pid;
    usleep(10'000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// The scheduling policies of a process's threads.
std::vector<int> ThreadPolicies(pid_t pid) {
  std::vector<int> out;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      out.push_back(mn::detail::SchedPolicyOf(static_cast<pid_t>(std::atoi(e->d_name))));
    }
    closedir(d);
  }
  return out;
}

TEST(ScxTool, ServesARuntimeFromOutsideAndGivesItsMsBack) {
  REQUIRE_SCX();
  pid_t child = StartRuntimeProcess();
  ASSERT_GT(child, 0) << "the runtime process did not pin its maps";
  int rc = -1;
  std::string out;
  std::thread tool([&] {
    out = RunCommand(kTool + " --stats --interval=100ms --duration=3s " + std::to_string(child), &rc);
  });
  // While it runs, the child's Ms (and only some of its threads) become SCHED_EXT. The
  // tool moves them one at a time, so a sample may catch it between two: look until two.
  int most_ext = 0, threads = 0;
  for (int i = 0; i < 250 && most_ext < 2; i++) {
    usleep(10'000);
    std::vector<int> pol = ThreadPolicies(child);
    threads = static_cast<int>(pol.size());
    int ext = 0;
    for (int p : pol) ext += p == kSchedExt;
    most_ext = std::max(most_ext, ext);
  }
  tool.join();
  std::vector<int> after = ThreadPolicies(child);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("mnsched loaded"), std::string::npos) << out;
  EXPECT_NE(out.find("runtimes 1"), std::string::npos) << out;
  EXPECT_GE(most_ext, 2) << "Ms under the scheduler";
  EXPECT_LT(most_ext, threads) << "run()'s thread and sysmon stay in the fair class";
  for (int p : after) EXPECT_EQ(p, SCHED_OTHER);
  EXPECT_EQ(ScxScheduler::State(), "disabled");
}

}  // namespace
