// mnsched-scx: runs mnsched's sched_ext scheduler (bpf/scx.bpf.c) for several runtime
// processes at once, from outside them.
//
//   mnsched-scx [--full] [--other_slice=3ms] [--stats] [--interval=1s] [--duration=0]
//               (--all | <pid>...)
//
// A runtime with kernel feedback on pins its telemetry maps in /sys/fs/bpf/mnsched/<pid>/
// (bpf/mn_telemetry.h). mnsched-scx loads the scheduler, enters each runtime's tracked,
// hints, m_telemetry and rt_state maps in the scheduler's outer maps (bpf/mn_scx.h), and
// in partial mode (the default) moves that runtime's Ms, the threads in its `tracked`
// map, to SCHED_EXT. Every --interval it looks again: Ms started since are moved too, a
// runtime that ended is dropped, and with --all a runtime that started is taken on.
// --full schedules every task of the system (ops "mnsched_all"), for experiments: then
// a CPU hog of another program competes with the Ms inside the scheduler, not from the
// fair class above it. --other_slice sets the slice of the tasks the scheduler ranks last
// but for spinners (class OTHER: in full mode every task that is not an M, and the Ms that
// neither hold a P nor were just woken); 3 ms by default, the kernel's 20 ms being long
// enough to delay those Ms behind a CPU hog by as much (docs/kernel-feedback.md).
//
// It stops at SIGINT or SIGTERM, after --duration, or when the kernel ejects the
// scheduler (then it prints the kernel's reason and exits 1). On the way out it gives
// the Ms back to SCHED_OTHER and tells the runtimes their telemetry programs keep the
// records again (rt_state.scx_active). The scheduler is link-backed: if mnsched-scx is
// killed outright, the kernel unloads it and the Ms run in the fair class again.
//
// --stats prints the scheduler's counters (mn_scx_stats, per second over the interval)
// every --interval. Exit codes: 0 stopped as asked, 1 the scheduler could not be loaded
// or was ejected, 2 bad usage (a pid that is not a runtime with its maps pinned, say).
#include <linux/types.h>

#include <bpf/bpf.h>
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli_parse.hpp"
#include "scx.hpp"

namespace mn::detail {
#include "mn_telemetry.h"
}

ABSL_FLAG(bool, all, false, "serve every runtime that pins its maps, now and later");
ABSL_FLAG(bool, full, false, "schedule every task of the system (ops mnsched_all), not only the Ms");
ABSL_FLAG(absl::Duration, other_slice, absl::Milliseconds(3),
          "the slice of class OTHER (tasks that are not Ms, and Ms without a P), 100us to 1s");
ABSL_FLAG(bool, stats, false, "print the scheduler's counters every --interval");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(1),
          "how often to look for new Ms and runtimes (and print --stats); 10ms to 1h");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(), "stop after this long (0: run until signalled)");

namespace {

using mn::detail::mn_rt_state;
using mn::detail::mn_scx_exit;
using mn::detail::mn_scx_stats;
using mn::detail::ScxScheduler;

constexpr const char* kUsageLine =
    "usage: mnsched-scx [--full] [--other_slice=DURATION] [--stats] [--interval=DURATION] [--duration=DURATION] "
    "(--all | <pid>...)";
constexpr const char* kPinRoot = "/sys/fs/bpf/mnsched";

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// One runtime served: its pinned maps and the Ms moved so far.
struct Served {
  int tracked_fd = -1;
  mn_rt_state* rt = nullptr;  // its rt_state, mapped: scx_active is set through it
  std::size_t rt_len = 0;
  std::set<pid_t> moved;

  ~Served() {
    if (rt != nullptr) munmap(rt, rt_len);
    if (tracked_fd >= 0) close(tracked_fd);
  }
};

bool ParsePid(const char* s, pid_t* out) {
  int v = 0;
  if (!absl::SimpleAtoi(s, &v) || v <= 0 || std::strspn(s, "0123456789") != std::strlen(s)) return false;
  *out = v;
  return true;
}

std::string PinDir(pid_t pid) { return absl::StrFormat("%s/%d", kPinRoot, pid); }

// Opens a runtime's pinned maps and enters them; false with *error when it cannot.
bool Serve(ScxScheduler& sched, pid_t pid, std::map<pid_t, std::unique_ptr<Served>>* served,
           std::string* error) {
  std::string dir = PinDir(pid);
  const char* names[] = {"tracked", "hints", "m_telemetry", "rt_state"};
  int fds[4] = {-1, -1, -1, -1};
  auto close_all = [&] {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  };
  for (int i = 0; i < 4; i++) {
    fds[i] = bpf_obj_get((dir + "/" + names[i]).c_str());
    if (fds[i] < 0) {
      *error = absl::StrFormat("process %d: %s/%s: %s (is it an mnsched runtime with kernel "
                               "feedback on, and is this mnsched-scx as new as it?)",
                               pid, dir, names[i], std::strerror(errno));
      close_all();
      return false;
    }
  }
  // Optional: a runtime older than the trace ring does not pin one.
  int trace_fd = bpf_obj_get((dir + "/trace_events").c_str());
  absl::Status s = sched.AddRuntime(static_cast<uint32_t>(pid), fds[0], fds[1], fds[2], fds[3], trace_fd);
  if (trace_fd >= 0) close(trace_fd);
  if (!s.ok()) {
    *error = absl::StrFormat("process %d: %s", pid, s.message());
    close_all();
    return false;
  }
  auto sv = std::make_unique<Served>();
  long page = sysconf(_SC_PAGESIZE);
  sv->rt_len = static_cast<std::size_t>(page);
  void* p = mmap(nullptr, sv->rt_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[3], 0);
  if (p != MAP_FAILED) {
    sv->rt = static_cast<mn_rt_state*>(p);
    __atomic_store_n(&sv->rt->scx_active,
                     sched.mode() == mn::detail::ScxMode::kFull ? MN_SCX_ACTIVE_FULL : MN_SCX_ACTIVE_PARTIAL,
                     __ATOMIC_RELAXED);
  }
  sv->tracked_fd = fds[0];
  fds[0] = -1;
  close_all();
  (*served)[pid] = std::move(sv);
  return true;
}

// Moves the Ms of one runtime not moved yet to SCHED_EXT (partial mode).
void MoveNewMs(Served& sv) {
  __u32 key = 0, next = 0;
  __u32* prev = nullptr;
  while (bpf_map_get_next_key(sv.tracked_fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    pid_t tid = static_cast<pid_t>(key);
    if (sv.moved.count(tid) != 0) continue;
    if (mn::detail::SetSchedExt(tid).ok()) sv.moved.insert(tid);
  }
}

void Release(pid_t pid, Served& sv, ScxScheduler& sched) {
  if (sv.rt != nullptr) __atomic_store_n(&sv.rt->scx_active, 0u, __ATOMIC_RELAXED);
  for (pid_t tid : sv.moved) (void)mn::detail::SetSchedOther(tid);
  sched.RemoveRuntime(static_cast<uint32_t>(pid));
}

std::vector<pid_t> PinnedRuntimes() {
  std::vector<pid_t> pids;
  if (DIR* d = opendir(kPinRoot)) {
    while (dirent* e = readdir(d)) {
      pid_t pid;
      if (ParsePid(e->d_name, &pid) && kill(pid, 0) == 0) pids.push_back(pid);
    }
    closedir(d);
  }
  return pids;
}

void PrintStats(const mn_scx_stats& now, const mn_scx_stats& before, double secs, int runtimes) {
  auto rate = [&](__u64 a, __u64 b) { return secs > 0 ? static_cast<double>(a - b) / secs : 0.0; };
  std::printf(
      "runtimes %d  enq/s run %.0f other %.0f spin %.0f  direct-idle/s %.0f (prev cpu %.0f)  "
      "kicks/s %.0f  spin-yields/s %.0f  slice-ext/s %.0f  dispatched/s run %.0f other %.0f spin %.0f  "
      "spin-wakeups/s %.0f\n",
      runtimes, rate(now.enq_run, before.enq_run), rate(now.enq_other, before.enq_other),
      rate(now.enq_spin, before.enq_spin), rate(now.direct_idle, before.direct_idle),
      rate(now.prev_cpu_idle, before.prev_cpu_idle), rate(now.kicks, before.kicks),
      rate(now.spin_yields, before.spin_yields), rate(now.slice_extensions, before.slice_extensions),
      rate(now.dispatched_run, before.dispatched_run), rate(now.dispatched_other, before.dispatched_other),
      rate(now.dispatched_spin, before.dispatched_spin), rate(now.spin_wakeups, before.spin_wakeups));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrFormat(
      "%s\n\nRuns mnsched's sched_ext scheduler for the given runtime processes (or all), "
      "favouring the threads that hold the runtimes' Ps (run as root, on a kernel with sched_ext).",
      kUsageLine));
  std::vector<char*> args = mn_tools::ParseFlags(argc, argv, kUsageLine);
  bool all = absl::GetFlag(FLAGS_all);
  absl::Duration interval = absl::GetFlag(FLAGS_interval);
  absl::Duration duration = absl::GetFlag(FLAGS_duration);
  auto usage = [&](const std::string& why) {
    std::fprintf(stderr, "mnsched-scx: %s\n%s\n", why.c_str(), kUsageLine);
    return 2;
  };
  if (interval < absl::Milliseconds(10) || interval > absl::Hours(1)) {
    return usage(absl::StrFormat("--interval=%s: must be from 10ms to 1h", absl::FormatDuration(interval)));
  }
  absl::Duration other_slice = absl::GetFlag(FLAGS_other_slice);
  if (other_slice < absl::Microseconds(100) || other_slice > absl::Seconds(1)) {
    return usage(absl::StrFormat("--other_slice=%s: must be from 100us to 1s", absl::FormatDuration(other_slice)));
  }
  if (duration < absl::ZeroDuration()) {
    return usage(absl::StrFormat("--duration=%s: must not be negative", absl::FormatDuration(duration)));
  }
  std::vector<pid_t> pids;
  for (std::size_t i = 1; i < args.size(); i++) {
    pid_t pid;
    if (!ParsePid(args[i], &pid)) return usage(absl::StrFormat("\"%s\" is not a process id", args[i]));
    pids.push_back(pid);
  }
  if (all == !pids.empty()) {
    return usage(all ? "--all takes no pids" : "no pid given (or --all)");
  }

  if (std::string why = ScxScheduler::Preflight(); !why.empty()) {
    std::fprintf(stderr, "mnsched-scx: cannot load the scheduler: %s\n", why.c_str());
    return 1;
  }
  auto mode = absl::GetFlag(FLAGS_full) ? mn::detail::ScxMode::kFull : mn::detail::ScxMode::kPartial;
  absl::StatusOr<std::unique_ptr<ScxScheduler>> loaded = ScxScheduler::Load(mode, static_cast<uint64_t>(absl::ToInt64Nanoseconds(other_slice)));
  if (!loaded.ok()) {
    std::fprintf(stderr, "mnsched-scx: cannot load the scheduler: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 1;
  }
  ScxScheduler& sched = **loaded;
  std::map<pid_t, std::unique_ptr<Served>> served;
  for (pid_t pid : pids) {
    std::string error;
    if (!Serve(sched, pid, &served, &error)) {
      for (auto& [p, sv] : served) Release(p, *sv, sched);
      return usage(error);
    }
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("mnsched-scx: %s loaded (%s), serving %s\n", ScxScheduler::OpsName().c_str(),
              mode == mn::detail::ScxMode::kFull ? "every task" : "the runtimes' Ms",
              all ? "every runtime" : absl::StrFormat("%d runtime(s)", static_cast<int>(pids.size())).c_str());
  std::fflush(stdout);

  int rc = 0;
  absl::Time start = absl::Now(), last = start;
  mn_scx_stats before = sched.Stats();
  while (!g_stop) {
    if (all) {
      for (pid_t pid : PinnedRuntimes()) {
        std::string error;
        if (served.count(pid) == 0 && pid != getpid() && !Serve(sched, pid, &served, &error)) {
          std::fprintf(stderr, "mnsched-scx: skipping %s\n", error.c_str());
        }
      }
    }
    for (auto it = served.begin(); it != served.end();) {
      if (kill(it->first, 0) != 0 && errno == ESRCH) {
        sched.RemoveRuntime(static_cast<uint32_t>(it->first));
        it = served.erase(it);
        continue;
      }
      if (mode == mn::detail::ScxMode::kPartial) MoveNewMs(*it->second);
      ++it;
    }
    mn_scx_exit ex{};
    if (!sched.Alive(&ex)) {
      std::fprintf(stderr, "mnsched-scx: the kernel ejected the scheduler: %s%s%s\n",
                   ex.reason[0] ? ex.reason : "no reason given", ex.msg[0] ? ": " : "", ex.msg);
      rc = 1;
      break;
    }
    if (!all && served.empty()) break;  // every runtime asked for has ended
    absl::Duration nap = interval;
    if (duration > absl::ZeroDuration()) {
      absl::Duration left = duration - (absl::Now() - start);
      if (left <= absl::ZeroDuration()) break;
      nap = std::min(nap, left);
    }
    absl::SleepFor(nap);
    if (absl::GetFlag(FLAGS_stats)) {
      absl::Time t = absl::Now();
      mn_scx_stats s = sched.Stats();
      PrintStats(s, before, absl::ToDoubleSeconds(t - last), static_cast<int>(served.size()));
      before = s;
      last = t;
    }
  }
  for (auto& [pid, sv] : served) Release(pid, *sv, sched);
  loaded->reset();
  return rc;
}
