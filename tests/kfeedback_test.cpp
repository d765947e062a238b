// Kernel telemetry (bpf/telemetry.bpf.c, userspace/kfeedback.cpp): what the kernel does to
// the runtime's Ms, as the runtime reads it and as bpftool shows it; pins and their
// cleanup; several runtimes at once; and the ways feedback is off or required.
//
// Tests that need the programs loaded skip, saying why, when they cannot be (not root,
// no BTF, MN_KERNEL_FEEDBACK=off builds). Each case runs in its own process.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <mn/mn.hpp>

#include "kfeedback.hpp"
#include "sched.hpp"
#include "test_util.hpp"

namespace {

using mn::detail::GetM;
using mn::testing_util::HangGuard;

// Feedback as the environment would set it is not what these tests are about.
void ClearEnv() { unsetenv("MN_KERNEL_FEEDBACK"); }

// Whether the programs load here; if not, why. Asked in a child process, so that this
// one has no threads yet when a test forks (TSan cannot start threads in the child of a
// multi-threaded fork).
std::string Unavailable() {
  ClearEnv();
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string why;
    mn::run([&] {
      mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
      if (!st.active) why = st.reason;
    });
    (void)!write(fds[1], why.data(), why.size());
    _exit(0);
  }
  close(fds[1]);
  std::string why;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) why.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "the probe process failed";
  return why;
}

#define REQUIRE_FEEDBACK()                                                       \
  do {                                                                           \
    std::string why = Unavailable();                                             \
    if (!why.empty()) GTEST_SKIP() << "kernel feedback unavailable: " << why;    \
  } while (0)

mn::detail::KernelTelemetry* Ktel() { return GetM()->rt->ktel.get(); }

mn::detail::mn_m_telemetry ReadSelf() {
  mn::detail::mn_m_telemetry r{};
  EXPECT_TRUE(Ktel()->ReadM(static_cast<int>(GetM()->id), &r));
  return r;
}

std::string RunCommand(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
  }
  return out;
}

bool DirExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void PinToCpu(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(sched_setaffinity(pid, sizeof set, &set), 0);
}

// A child process that burns CPU until killed.
pid_t StartHog(int cpu) {
  pid_t pid = fork();
  if (pid == 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    volatile unsigned long x = 0;
    for (;;) x = x + 1;
  }
  return pid;
}

// ---- the runtime's own view ---------------------------------------------------------------

TEST(KernelTelemetry, StatusNamesThePinDirAndItHoldsTheFourMaps) {
  REQUIRE_FEEDBACK();
  mn::run([] {
    mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
    EXPECT_TRUE(st.active);
    EXPECT_EQ(st.reason, "");
    EXPECT_EQ(st.pin_dir, "/sys/fs/bpf/mnsched/" + std::to_string(getpid()));
    for (const char* name : {"m_telemetry", "cpu_state", "hints", "p_state"}) {
      struct stat s {};
      EXPECT_EQ(stat((st.pin_dir + "/" + name).c_str(), &s), 0) << name;
    }
  });
}

// An M pinned to a CPU with a CPU hog: the kernel preempts it and it waits for the CPU.
TEST(KernelTelemetry, MSharingItsCpuWithAHogIsPreemptedAndWaits) {
  REQUIRE_FEEDBACK();
  HangGuard guard;
  PinToCpu(0, 0);  // before run(): the Ms inherit the mask
  pid_t hog = StartHog(0);
  ASSERT_GT(hog, 0);
  mn::detail::mn_m_telemetry r{};
  mn::run(
      [&] {
        // Spin until the kernel has taken the CPU from us at least once, then read.
        for (;;) {
          for (int i = 0; i < 1'000'000; i++) asm volatile("");
          r = ReadSelf();
          if (r.nr_preempted > 0 && r.runq_wait_ns > 0) break;
        }
      },
      mn::Options{.procs = 1});
  kill(hog, SIGKILL);
  waitpid(hog, nullptr, 0);
  EXPECT_GT(r.nr_preempted, 0u);
  EXPECT_GT(r.runq_wait_ns, 0u);
  EXPECT_GT(r.runq_wait_count, 0u);
  EXPECT_GE(r.runq_wait_max_ns * r.runq_wait_count, r.runq_wait_ns);
  uint64_t hist = 0;
  for (uint64_t b : r.runq_wait_hist) hist += b;
  EXPECT_EQ(hist, r.runq_wait_count);
  EXPECT_EQ(r.state, mn::detail::mn_on_cpu);  // it is running: it read its own record
  EXPECT_EQ(r.cpu, 0);
  EXPECT_EQ(r.tid, static_cast<uint32_t>(r.tid));
}

// An M inside mn::blocking, asleep in read(2): blocked to the kernel, and "blocking" in
// the hints the runtime writes.
TEST(KernelTelemetry, MInABlockingCallShowsAsBlocked) {
  REQUIRE_FEEDBACK();
  HangGuard guard;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<int> slot{-1};
  std::atomic<uint32_t> tid{0};
  mn::detail::mn_m_telemetry seen{};
  uint32_t hint_blocking = 0;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        wg.add(1);
        mn::go([&] {
          mn::blocking([&] {
            slot = static_cast<int>(GetM()->id);
            tid = static_cast<uint32_t>(gettid());
            char c;
            EXPECT_EQ(read(fds[0], &c, 1), 1);
          });
          wg.done();
        });
        while (slot.load() < 0) mn::yield();
        // Wait for the kernel to see it asleep; then let it go.
        for (;;) {
          mn::detail::mn_m_telemetry r{};
          if (Ktel()->ReadM(slot.load(), &r) && r.state == mn::detail::mn_blocked) {
            seen = r;
            hint_blocking = std::atomic_ref<__u32>(Ktel()->hints(slot.load())->blocking).load();
            break;
          }
          mn::sleep_for(std::chrono::milliseconds(1));
        }
        EXPECT_EQ(write(fds[1], "x", 1), 1);
        wg.wait();
      },
      mn::Options{.procs = 2});
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(seen.state, mn::detail::mn_blocked);
  EXPECT_EQ(seen.tid, tid.load());
  EXPECT_GT(seen.nr_blocked, 0u);
  EXPECT_EQ(hint_blocking, 1u);
}

// The hints name the P this M holds and the G it runs; cpu_state shows our CPU running
// one of our Ms (this one).
TEST(KernelTelemetry, HintsAndCpuStateDescribeTheRunningM) {
  REQUIRE_FEEDBACK();
  HangGuard guard;
  mn::run(
      [&] {
        mn::detail::M* m = GetM();
        mn::detail::mn_m_hints* h = Ktel()->hints(static_cast<int>(m->id));
        ASSERT_NE(h, nullptr);
        EXPECT_EQ(h, m->hints);
        EXPECT_EQ(std::atomic_ref<__s32>(h->p).load(), m->p->id);
        EXPECT_EQ(std::atomic_ref<__u64>(h->g).load(), m->curg->id);
        EXPECT_EQ(std::atomic_ref<__u32>(h->tid).load(), static_cast<uint32_t>(gettid()));
        EXPECT_EQ(std::atomic_ref<__u32>(h->parked).load(), 0u);
        // The CPU we run on shows this M, unless we migrated between the two reads. It
        // learns of an M at a switch after the M registered: sleep once to make one.
        usleep(1000);
        bool shown = false;
        for (int i = 0; i < 1000 && !shown; i++) {
          int cpu = sched_getcpu();
          mn::detail::mn_cpu_state c{};
          if (Ktel()->ReadCpu(cpu, &c) && sched_getcpu() == cpu) {
            shown = c.runs_m == 1 && c.idle == 0 && c.m == static_cast<int32_t>(m->id) &&
                    c.tid == static_cast<uint32_t>(gettid());
          }
        }
        EXPECT_TRUE(shown);
        // The other P is idle, and its M (if one exists) parked.
        EXPECT_EQ(Ktel()->ncpus() > 0, true);
      },
      mn::Options{.procs = 2});
}

// ---- live inspection ----------------------------------------------------------------------

TEST(KernelTelemetry, BpftoolDumpsThePinnedMapsWithFieldNames) {
  REQUIRE_FEEDBACK();
  std::string tel, cpu, hints, ps;
  mn::run(
      [&] {
        std::string dir = mn::kernel_feedback_status().pin_dir;
        // bpftool runs in a plain thread of this process, outside the runtime.
        mn::blocking([&] {
          tel = RunCommand("bpftool map dump pinned " + dir + "/m_telemetry 2>&1 | head -c 20000");
          cpu = RunCommand("bpftool map dump pinned " + dir + "/cpu_state 2>&1");
          hints = RunCommand("bpftool map dump pinned " + dir + "/hints 2>&1 | head -c 4000");
          ps = RunCommand("bpftool map dump pinned " + dir + "/p_state 2>&1");
        });
      },
      mn::Options{.procs = 2});
  for (const char* f : {"\"tid\"", "\"cpu\"", "\"state\"", "\"since_ns\"", "\"oncpu_ns\"",
                        "\"nr_preempted\"", "\"nr_blocked\"", "\"runq_wait_ns\"",
                        "\"runq_wait_max_ns\"", "\"runq_wait_hist\"", "\"nr_migrations\""}) {
    EXPECT_NE(tel.find(f), std::string::npos) << f << " in\n" << tel.substr(0, 2000);
  }
  EXPECT_NE(tel.find("\"state\": \"mn_"), std::string::npos) << tel.substr(0, 2000);  // by name
  for (const char* f : {"\"idle\"", "\"runs_m\"", "\"m\"", "\"tid\""}) {
    EXPECT_NE(cpu.find(f), std::string::npos) << f << " in\n" << cpu.substr(0, 2000);
  }
  for (const char* f : {"\"p\"", "\"g\"", "\"spinning\"", "\"blocking\"", "\"parked\""}) {
    EXPECT_NE(hints.find(f), std::string::npos) << f << " in\n" << hints.substr(0, 2000);
  }
  for (const char* f : {"\"runq\"", "\"steals\"", "\"handoffs\""}) {
    EXPECT_NE(ps.find(f), std::string::npos) << f << " in\n" << ps.substr(0, 2000);
  }
}

// A child runtime that reports its pin dir through a pipe, then waits for a byte on
// another before it returns.
struct ChildRuntime {
  pid_t pid = -1;
  int to_child = -1;
  FILE* from_child = nullptr;

  void Start() {
    int up[2], down[2];
    ASSERT_EQ(pipe(up), 0);
    ASSERT_EQ(pipe(down), 0);
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(up[0]);
      close(down[1]);
      mn::run(
          [&] {
            mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
            // Every tid the maps hold must be one of this process's threads.
            bool own = true;
            int tracked = 0;
            auto* kt = GetM()->rt->ktel.get();
            for (int s = 0; kt != nullptr && s < MN_MAX_MS; s++) {
              mn::detail::mn_m_telemetry r{};
              if (!kt->ReadM(s, &r) || r.tid == 0) continue;
              tracked++;
              own = own && DirExists("/proc/self/task/" + std::to_string(r.tid));
            }
            std::string line = st.pin_dir + " " + std::to_string(own) + " " +
                               std::to_string(tracked) + "\n";
            mn::blocking([&] {
              (void)!write(up[1], line.data(), line.size());
              char c;
              (void)!read(down[0], &c, 1);
            });
          },
          mn::Options{.procs = 2});
      _exit(0);
    }
    close(up[1]);
    close(down[0]);
    to_child = down[1];
    from_child = fdopen(up[0], "r");
  }
  // "<pin dir> <own 0|1> <tracked Ms>"
  std::string Report() {
    char buf[512] = {};
    if (fgets(buf, sizeof buf, from_child) == nullptr) return "";
    std::string s = buf;
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  int Finish() {
    (void)!write(to_child, "x", 1);
    close(to_child);
    fclose(from_child);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }
};

std::string MapId(const std::string& path) {
  std::string out = RunCommand("bpftool map show pinned " + path + " 2>&1");
  return out.substr(0, out.find(':'));
}

TEST(KernelTelemetry, PinsDisappearAtExit) {
  REQUIRE_FEEDBACK();
    ChildRuntime child;
  child.Start();
  HangGuard guard;  // after the fork: the child must start from a single-threaded parent
  std::istringstream report(child.Report());
  std::string dir;
  report >> dir;
  EXPECT_EQ(dir, "/sys/fs/bpf/mnsched/" + std::to_string(child.pid));
  EXPECT_TRUE(DirExists(dir));
  int status = child.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(DirExists(dir));
}

TEST(KernelTelemetry, PinsOfAKilledProcessAreCleanedAtTheNextStart) {
  REQUIRE_FEEDBACK();
    ChildRuntime child;
  child.Start();
  HangGuard guard;  // after the fork: the child must start from a single-threaded parent
  std::istringstream report(child.Report());
  std::string dir;
  report >> dir;
  ASSERT_FALSE(dir.empty());
  EXPECT_TRUE(DirExists(dir));
  kill(child.pid, SIGKILL);  // it cannot remove them now
  waitpid(child.pid, nullptr, 0);
  close(child.to_child);
  fclose(child.from_child);
  // The next runtime start removes them: ours, or one of a test running beside this one.
  mn::run([] {});
  EXPECT_FALSE(DirExists(dir));
}

TEST(KernelTelemetry, TwoRuntimeProcessesKeepSeparateMaps) {
  REQUIRE_FEEDBACK();
    ChildRuntime a, b;
  a.Start();
  b.Start();
  HangGuard guard;  // after the forks: see PinsDisappearAtExit
  std::istringstream ra(a.Report()), rb(b.Report());
  std::string dir_a, dir_b;
  int own_a = 0, own_b = 0, tracked_a = 0, tracked_b = 0;
  ra >> dir_a >> own_a >> tracked_a;
  rb >> dir_b >> own_b >> tracked_b;
  // Both alive now, each with its own pins and maps.
  EXPECT_NE(dir_a, dir_b);
  std::string id_a = MapId(dir_a + "/m_telemetry"), id_b = MapId(dir_b + "/m_telemetry");
  EXPECT_FALSE(id_a.empty());
  EXPECT_NE(id_a, id_b);
  EXPECT_EQ(own_a, 1);
  EXPECT_EQ(own_b, 1);
  EXPECT_GE(tracked_a, 1);
  EXPECT_GE(tracked_b, 1);
  EXPECT_EQ(a.Finish(), 0);
  EXPECT_EQ(b.Finish(), 0);
}

// ---- off, required, and failing to load -----------------------------------------------------

TEST(KernelFeedbackConfig, OffSaysSoAndLoadsNothing) {
  setenv("MN_KERNEL_FEEDBACK", "off", 1);
  mn::KernelFeedbackStatus st;
  bool no_ktel = false;
  mn::run([&] {
    st = mn::kernel_feedback_status();
    no_ktel = GetM()->rt->ktel == nullptr && GetM()->hints == &GetM()->own_hints;
  });
  unsetenv("MN_KERNEL_FEEDBACK");
  EXPECT_FALSE(st.active);
  EXPECT_NE(st.reason.find("turned off"), std::string::npos) << st.reason;
  EXPECT_EQ(st.pin_dir, "");
  EXPECT_TRUE(no_ktel);
  EXPECT_FALSE(DirExists("/sys/fs/bpf/mnsched/" + std::to_string(getpid())));
}

TEST(KernelFeedbackConfig, OptionsOffWithoutTheEnvironment) {
  ClearEnv();
  mn::KernelFeedbackStatus st;
  mn::run([&] { st = mn::kernel_feedback_status(); },
          mn::Options{.kernel_feedback = mn::KernelFeedback::kOff});
  EXPECT_FALSE(st.active);
  EXPECT_NE(st.reason.find("turned off"), std::string::npos) << st.reason;
}

TEST(KernelFeedbackConfig, OutsideARuntime) {
  mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
  EXPECT_FALSE(st.active);
  EXPECT_EQ(st.reason, "no runtime is active");
}

TEST(KernelFeedbackConfigDeath, BadValueExitsWithCode2NamingIt) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MN_KERNEL_FEEDBACK", "sometimes", 1);
        mn::run([] {});
      },
      testing::ExitedWithCode(2),
      "MN_KERNEL_FEEDBACK=\"sometimes\": unknown word \"sometimes\" \\(one of auto, required or off");
}

// Drops every capability from the calling process's effective set: the programs then
// cannot load, as for an ordinary user (a load made to fail for real).
void DropCapabilities() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  syscall(SYS_capget, &hdr, data);
  for (auto& d : data) d.effective = 0;
  syscall(SYS_capset, &hdr, data);
}

TEST(KernelFeedbackConfigDeath, RequiredWithoutCapabilitiesExitsWithCode2AndTheReason) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearEnv();
        DropCapabilities();
        mn::run([] {}, mn::Options{.kernel_feedback = mn::KernelFeedback::kRequired});
      },
      testing::ExitedWithCode(2),
      "kernel feedback is required but unavailable: .*(CAP_BPF with CAP_PERFMON|built without BPF)");
}

TEST(KernelFeedbackConfigDeath, AutoWithoutCapabilitiesRunsAndSaysWhy) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ClearEnv();
        DropCapabilities();
        int sum = 0;
        mn::KernelFeedbackStatus st;
        mn::run([&] {
          st = mn::kernel_feedback_status();
          mn::WaitGroup wg;
          wg.add(10);
          for (int i = 0; i < 10; i++) mn::go([&, i] { sum += i; wg.done(); });
          wg.wait();
        }, mn::Options{.procs = 1});
        std::fprintf(stderr, "active=%d sum=%d reason=%s\n", st.active, sum, st.reason.c_str());
        std::exit(st.active ? 1 : 3);
      },
      testing::ExitedWithCode(3),
      "active=0 sum=45 reason=.*(CAP_BPF with CAP_PERFMON|built without BPF)");
}

TEST(KernelFeedbackConfig, SchedTraceSaysOnceWhetherFeedbackIsOn) {
  char path[] = "/tmp/mn_kf_trace_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  setenv("MN_SCHEDTRACE", "5", 1);
  setenv("MN_KERNEL_FEEDBACK", "off", 1);
  mn::run([] { mn::sleep_for(std::chrono::milliseconds(30)); });
  unsetenv("MN_SCHEDTRACE");
  unsetenv("MN_KERNEL_FEEDBACK");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  unlink(path);
  std::string out = ss.str();
  std::size_t first = out.find("mn: kernel feedback: off: turned off");
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_EQ(out.find("mn: kernel feedback", first + 1), std::string::npos) << out;
}

}  // namespace
