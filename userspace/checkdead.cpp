// Deadlock detection and G dumps (Go's checkdead and the SIGQUIT traceback).
//
// checkdead runs under the scheduler lock whenever an M goes idle. The program can never
// run again when all of these hold at once:
//  - every M that exists is idle (parked in the thread cache or waiting for its locked G):
//    no M is running a G, spinning, in a blocking call, or blocked in the poller;
//  - no G is queued, no timer is pending, and no G waits on an fd (the world outside the
//    process may make it ready; an M polls for it, but it is counted here too so that the
//    answer does not hang on which M happens to be the poller at this instant);
//  - the process has no thread but the runtime's own (its Ms, sysmon, and the caller
//    of run()): any other thread may still spawn or wake a G, and the runtime cannot see
//    what it will do. Once one is seen, detection is off for the runtime's life: the
//    scan of /proc is paid once, not at every idle moment of a program fed from outside.
// Then every G that exists is parked on a runtime object only another G could signal. As
// the check runs under the lock that every M takes before it leaves the idle list, no
// M can start between its reads.
//
// Dumps list Gs without stopping the world: a G's fields are read as they are, so a dump
// of a running program is a sample. The deadlock dump runs when nothing moves.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "context.hpp"  // MN_TSAN
#include "sched.hpp"

namespace mn::detail {

namespace {

// ThreadSanitizer runs a background thread of its own in every process.
#if MN_TSAN
constexpr int kSanitizerThreads = 1;
#else
constexpr int kSanitizerThreads = 0;
#endif

std::string WaitedFor(int64_t ns) {
  if (ns < 1'000'000'000) return "";
  int64_t s = ns / 1'000'000'000;
  if (s < 60) return absl::StrFormat(", %d seconds", s);
  return absl::StrFormat(", %d minutes", s / 60);
}

std::string GLine(G* g, int64_t now) {
  std::string state;
  switch (g->status.load(std::memory_order_acquire)) {
    case GStatus::kRunnable:
      state = "runnable";
      break;
    case GStatus::kRunning: {
      M* m = g->m.load(std::memory_order_relaxed);
      bool syscall = m != nullptr && (m->pstate.load(std::memory_order_relaxed) & kPStateSyscall);
      state = syscall ? "blocking call" : "running";
      if (m != nullptr) absl::StrAppend(&state, " on M ", m->id);
      break;
    }
    case GStatus::kWaiting: {
      state = WaitReasonString(g->wait_reason.load(std::memory_order_relaxed));
      int64_t since = g->wait_since_ns.load(std::memory_order_relaxed);
      if (since != 0) state += WaitedFor(now - since);
      break;
    }
    default:
      return "";
  }
  return absl::StrFormat("G %d [%s]%s%s\n", g->id, state, g->is_main ? " main" : "",
                         g->lockedm != nullptr ? " (locked to thread)" : "");
}

void WriteAll(const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(2, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

// Does the process have a thread that is not the runtime's? (lock held: allm is stable)
bool ForeignThreads(Runtime* rt) {
  std::vector<int32_t> ours;
  for (const auto& m : rt->allm) ours.push_back(m->tid.load(std::memory_order_relaxed));
  ours.push_back(static_cast<int32_t>(rt->sysmon_tid.load(std::memory_order_relaxed)));
  ours.push_back(static_cast<int32_t>(rt->feedback_tid.load(std::memory_order_relaxed)));
  ours.push_back(static_cast<int32_t>(rt->tracer_tid.load(std::memory_order_relaxed)));
  ours.push_back(rt->run_tid);
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return true;  // cannot tell: assume the worst
  int foreign = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int32_t tid = 0;
    if (!absl::SimpleAtoi(e->d_name, &tid)) continue;
    if (std::find(ours.begin(), ours.end(), tid) == ours.end()) foreign++;
  }
  closedir(dir);
  return foreign > kSanitizerThreads;
}

void QuitHandler(int, siginfo_t*, void*) {
  // Only async-signal-safe work here: sysmon does the dump.
  Runtime* rt = ActiveRuntimeForSignal();
  if (rt == nullptr) {
    signal(SIGQUIT, SIG_DFL);
    raise(SIGQUIT);
    return;
  }
  rt->sigquit.store(1, std::memory_order_relaxed);
  WakeSysmon(rt);
}

}  // namespace

void DumpGs(Runtime* rt, const char* header) {
  int64_t now = NanoTime();
  std::vector<std::pair<uint64_t, std::string>> lines;
  {
    std::lock_guard<std::mutex> lock(rt->gfree_lock);
    for (G* g : rt->allg) {
      std::string line = GLine(g, now);
      if (!line.empty()) lines.emplace_back(g->id, std::move(line));
    }
  }
  std::sort(lines.begin(), lines.end());  // by G id: main first, then in spawn order
  std::string out = absl::StrCat(header, "\n\n");
  for (const auto& [id, line] : lines) out += line;
  WriteAll(out);
}

void CheckDead(Runtime* rt) {
  if (!rt->detect_deadlock || rt->foreign_threads_seen ||
      rt->stopping.load(std::memory_order_relaxed)) {
    return;
  }
  int32_t running = rt->mcount.load(std::memory_order_relaxed) - rt->nmidle -
                    rt->nmidlelocked - rt->nmexited;
  if (running > 0 || rt->runq.size != 0 || EarliestTimer(rt) != 0 ||
      rt->netpoll->waiters.load(std::memory_order_seq_cst) > 0) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(rt->gfree_lock);
    int64_t waiting = 0;
    for (G* g : rt->allg) {
      GStatus st = g->status.load(std::memory_order_acquire);
      if (st == GStatus::kWaiting) {
        waiting++;
      } else if (st != GStatus::kDead) {
        return;  // being spawned or queued: not asleep
      }
    }
    if (waiting == 0) return;
  }
  if (ForeignThreads(rt)) {
    rt->foreign_threads_seen = true;
    return;
  }
  DumpGs(rt, "mn: all Gs are asleep - deadlock!");
  _exit(2);
}

void InstallQuitHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    // A program that handles SIGQUIT itself keeps its handler.
    struct sigaction old {};
    if (sigaction(SIGQUIT, nullptr, &old) != 0 || old.sa_handler != SIG_DFL ||
        (old.sa_flags & SA_SIGINFO) != 0) {
      return;
    }
    struct sigaction sa {};
    sa.sa_sigaction = &QuitHandler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

}  // namespace mn::detail
