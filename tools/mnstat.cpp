// mnstat: a live, top-like view of one running mnsched process.
//
//   mnstat [--interval=1s] [--once] [--json] <pid>
//
// What it reads. A runtime with kernel feedback on pins five BPF array maps under
// /sys/fs/bpf/mnsched/<pid>/ (record layouts in bpf/mn_telemetry.h):
//   m_telemetry  per M (slot = M id): its state as the kernel sees it, and counters
//                (switches out, wakeups, migrations, time waiting for a CPU and a log2
//                histogram of those waits). Written by the BPF programs.
//   cpu_state    per possible CPU: idle or not, running one of the Ms or not, and
//                nr_waiting (tasks queued there besides the running one; kept only with
//                the spin policy on, 0 otherwise). Written by the BPF programs.
//   hints        per M: the P held, the G running, spinning / blocking / parked. Written by
//                the runtime.
//   p_state      per P: running or idle, owning M, local queue length, steals, handoffs,
//                schedtick. Written by the runtime's sysmon on each of its ticks.
//   rt_state     one entry: the kernel-feedback counters (kernel handoffs, idle wakeups,
//                spin backstops, spins, spins and wakes declined, spin time), written by
//                sysmon every 10 ms, and want_cpu. Optional: a runtime older than it pins none, and mnstat
//                then leaves the runtime line out (JSON "runtime": null).
// plus /proc/<pid>/comm (the name) and /proc/<pid>/stat (the start time, so that a reused
// pid is noticed). Each map is mapped PROT_READ (MapPinned says why its fd is not
// read-only): mnstat never writes to what it watches, and reading a record is plain
// loads, no system call.
//
// Why the reads are consistent.
//  - m_telemetry and cpu_state records change under us (BPF programs on other CPUs). Each
//    carries `seq`, odd while a writer is inside; writers move it with atomic RMWs (full
//    barriers). SeqRead copies a record word by word with acquire loads between an
//    acquire load of an even seq and a second load of seq that must find the same value
//    (the acquires keep it after every word of the copy); otherwise it retries. So each record used is one the programs left
//    whole: counters, histogram, state and since_ns agree with each other. A record that
//    stays busy through every retry is taken from the previous sample (and counted as
//    "unreadable" in the frame).
//  - hints, p_state and rt_state have no seq: the runtime stores each field alone, one
//    aligned word with a relaxed store (cpu_state's nr_waiting too, written by BPF outside
//    the seq protocol). mnstat loads each field alone with an atomic load, so every value
//    is one its writer wrote, but two fields of one record may be from different moments
//    (a P's queue length and its owner, say). They are samples and shown as such.
//  - Rates are deltas between two samples --interval apart, divided by the time between
//    them on CLOCK_MONOTONIC (the clock of bpf_ktime_get_ns and of the runtime). A P's
//    counters are as sysmon last published them (AGE is how long ago): within 10 ms while
//    any P runs; when every P is idle sysmon sleeps, but then nothing moves them either.
//    So P rates use the same interval (dividing by the span between sysmon's two
//    sample_ns would inflate the rate of a P that went idle during the interval), and so
//    do the runtime's (rt_state is published on the same ticks, every 10 ms).
//
// Output. Per M: slot, tid, CPU, state (on_cpu/runnable/preempted/blocked/exited; "new"
// for a registered M the kernel has not switched yet) and for how long, %CPU over the
// interval, preemptions/s and blocks/s (nr_preempted: switched out still runnable, which
// includes sched_yield; nr_blocked: switched out asleep), the number of waits for a CPU
// that ended in the interval, their P99 and the M's max wait since it started, the P
// held and the G running (hints), and flags. Per P: state, owning M, local
// queue, steals and handoffs (totals and per second), schedules per second, sample age.
// Per CPU: idle or busy, the M running there (if one of ours), how long it has been so,
// and WAITING (nr_waiting); text lists only the CPUs busy or with tasks waiting. The
// runtime line (rt_state): kernel handoffs, idle wakeups, spin backstops, spins, spins
// declined and wakes declined (totals and per second), the time Ms spent spinning (total, and over the
// interval as %CPU: 100% is one CPU's worth, and several spinners can exceed it),
// want_cpu, and the sample age.
//
// Wait P99: the histogram counts added during the interval; the bucket [2^b, 2^(b+1)) ns
// that holds rank ceil(0.99 n) is found and its upper bound 2^(b+1) ns is reported, capped
// at the M's max wait so far (no wait of the interval exceeds it). So "<=4.2ms" means the
// interval's P99 is at most 4.2 ms and (bucket 0 aside) at least half of 2^(b+1). No
// interpolation. JSON: runq_wait_p99_le_ns, null when no wait ended in the interval.
//
// --interval takes an absl duration ("1s", "250ms", "1m30s") or a whole number of
// milliseconds ("250"); 10ms to 1h. --once takes two samples that far apart and prints one
// frame. --json prints one JSON object per frame, one per line (with --once, exactly one);
// "none" is null there (no P held, no G, a P without owner). Keys: pid, comm, time_unix_ns,
// interval_ns; cpus {total, idle, running_ms, unknown, per_cpu: [{cpu, state, m, tid,
// state_for_ns, nr_waiting}]}; ms_live, ms_exited, unreadable, dropped; ms [...] and
// ps [...] (the columns above, counters as totals and *_per_s); runtime {kernel_handoffs,
// idle_wakeups, spin_backstops, spins, spins_declined, wakes_declined (each with *_per_s),
// spin_ns, spin_cpu_pct, want_cpu, sample_age_ns}, or null without rt_state. In text mode on a
// terminal a live view repaints each frame over the last (ANSI codes); otherwise frames are
// separated by a blank line. Exited Ms are all listed in JSON; text lists those that
// exited during the interval and counts the others.
//
// A live view follows the process from one runtime to the next (mn::run again); while
// none runs it says so on stderr and waits. It ends when the process does.
//
// Exit codes: 0 done (--once printed its frame, Ctrl-C, or the watched process ended
// while watching live); 1 no such process, not an mnsched process with kernel feedback
// on, maps unreadable, or (--once) the process or its runtime ended before its frame;
// 2 bad usage (absl's own parse errors and --help exit 1; mnstat maps them to 2 and 0);
// 130 Ctrl-C during --once, before its frame.
// linux/types.h first: mn_telemetry.h uses __u32 and friends and includes nothing.
#include <linux/types.h>

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli_parse.hpp"
#include "mn_seqread.hpp"

namespace mnstat {
#include "mn_telemetry.h"

// The refresh interval: an absl duration, or a bare whole number of milliseconds. Kept
// as nanoseconds in one word, so that absl stores the flag as one atomic word (an
// absl::Duration would take its sequence lock, whose fence TSan builds warn about).
struct Interval {
  int64_t ns = 1'000'000'000;
  absl::Duration d() const { return absl::Nanoseconds(ns); }
};

bool AbslParseFlag(absl::string_view text, Interval* out, std::string* error) {
  absl::Duration d;
  int64_t ms = 0;
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (digits && absl::SimpleAtoi(text, &ms)) {
    d = absl::Milliseconds(ms);
  } else if (!absl::ParseDuration(text, &d)) {
    *error = "not a duration (1s, 250ms, 1m30s) or a whole number of milliseconds";
    return false;
  }
  if (d < absl::Milliseconds(10) || d > absl::Hours(1)) {
    *error = "must be from 10ms to 1h";
    return false;
  }
  out->ns = absl::ToInt64Nanoseconds(d);
  return true;
}

std::string AbslUnparseFlag(Interval i) { return absl::FormatDuration(i.d()); }

}  // namespace mnstat

ABSL_FLAG(mnstat::Interval, interval, mnstat::Interval{},
          "time between frames, and between the two samples a frame's rates come from: an "
          "absl duration (1s, 250ms, 1m30s) or a whole number of milliseconds; 10ms to 1h");
ABSL_FLAG(bool, once, false, "print one frame (two samples --interval apart) and exit");
ABSL_FLAG(bool, json, false, "print each frame as one JSON object on one line");

namespace mnstat {
namespace {

constexpr const char* kUsageLine = "usage: mnstat [--interval=DURATION] [--once] [--json] <pid>";
constexpr const char* kBpfFs = "/sys/fs/bpf";
constexpr const char* kPinRoot = "/sys/fs/bpf/mnsched";
constexpr int kSeqTries = 1000;

// ---- parsing the command line -------------------------------------------------------------

std::string VersionString() {
#ifdef MN_VERSION
  return absl::StrFormat("mnstat (mnsched %s)\n", MN_VERSION);
#else
  return "mnstat\n";
#endif
}

// "1234" -> 1234; anything but 1..10 digits naming a positive int is malformed.
bool ParsePid(std::string_view s, pid_t* out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  if (v <= 0 || v > INT32_MAX) return false;
  *out = static_cast<pid_t>(v);
  return true;
}

// ---- small helpers ---------------------------------------------------------------------------

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock bpf_ktime_get_ns and the runtime read
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool ReadFile(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      close(fd);
      errno = err;
      return n == 0;
    }
    out->append(buf, static_cast<std::size_t>(n));
  }
}

std::string Comm(pid_t pid) {
  std::string s;
  if (!ReadFile(absl::StrFormat("/proc/%d/comm", pid), &s)) return "?";
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Field 22 of /proc/<pid>/stat (clock ticks since boot), or 0 if the process is gone.
uint64_t StartTime(pid_t pid) {
  std::string s;
  if (!ReadFile(absl::StrFormat("/proc/%d/stat", pid), &s)) return 0;
  std::size_t paren = s.rfind(')');  // comm may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::string_view rest = std::string_view(s).substr(paren + 1);
  // After ')' come fields 3, 4, ...: skip to field 22.
  int field = 2;
  std::size_t i = 0;
  while (i < rest.size() && field < 22) {
    while (i < rest.size() && rest[i] == ' ') i++;
    field++;
    if (field == 22) break;
    while (i < rest.size() && rest[i] != ' ') i++;
  }
  uint64_t v = 0;
  while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') v = v * 10 + (rest[i++] - '0');
  return v;
}

// The Tgid line of /proc/<pid>/status, or -1.
pid_t Tgid(pid_t pid) {
  std::string s;
  if (!ReadFile(absl::StrFormat("/proc/%d/status", pid), &s)) return -1;
  std::size_t at = s.find("\nTgid:");
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(std::strtol(s.c_str() + at + 6, nullptr, 10));
}

// "812ns", "3.4us", "12.0ms", "2.31s".
std::string HumanNs(double ns) {
  if (ns < 1e3) return absl::StrFormat("%.0fns", ns);
  if (ns < 1e6) return absl::StrFormat("%.1fus", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.1fms", ns / 1e6);
  return absl::StrFormat("%.2fs", ns / 1e9);
}

// ---- consistent copies -----------------------------------------------------------------------

using mn_telemetry::SeqRead;  // bpf/mn_seqread.hpp: the reader's half of the seq protocol

// A field the runtime stores alone (hints, p_state).
template <typename T>
T LoadField(const T& f) {
  return __atomic_load_n(&f, __ATOMIC_RELAXED);
}

mn_m_hints ReadHints(const mn_m_hints* h) {
  mn_m_hints r{};
  r.tid = LoadField(h->tid);
  r.p = LoadField(h->p);
  r.g = LoadField(h->g);
  r.spinning = LoadField(h->spinning);
  r.blocking = LoadField(h->blocking);
  r.parked = LoadField(h->parked);
  return r;
}

mn_rt_state ReadRt(const mn_rt_state* s) {
  mn_rt_state r{};
  r.want_cpu = LoadField(s->want_cpu);
  r.counters.kernel_handoffs = LoadField(s->counters.kernel_handoffs);
  r.counters.idle_wakeups = LoadField(s->counters.idle_wakeups);
  r.counters.spins = LoadField(s->counters.spins);
  r.counters.spins_declined = LoadField(s->counters.spins_declined);
  r.counters.wakes_declined = LoadField(s->counters.wakes_declined);
  r.counters.spin_ns = LoadField(s->counters.spin_ns);
  r.counters.sample_ns = LoadField(s->counters.sample_ns);
  r.counters.spin_backstops = LoadField(s->counters.spin_backstops);
  return r;
}

mn_p_state ReadP(const mn_p_state* p) {
  mn_p_state r{};
  r.id = LoadField(p->id);
  r.running = LoadField(p->running);
  r.m = LoadField(p->m);
  r.runq = LoadField(p->runq);
  r.steals = LoadField(p->steals);
  r.handoffs = LoadField(p->handoffs);
  r.schedtick = LoadField(p->schedtick);
  r.sample_ns = LoadField(p->sample_ns);
  return r;
}

// ---- the target's maps -----------------------------------------------------------------------

struct MappedMap {
  const void* base = nullptr;
  std::size_t len = 0;
  __u32 entries = 0;
  __u32 id = 0;
};

// A pinned map, mapped read-only. *error says what went wrong, as a sentence for the user;
// *missing (if given) whether that was only the pin not existing.
// The fd is read-write although mnstat only reads: a BPF map can be mmapped only
// MAP_SHARED, and the kernel makes a shared mapping of a file opened read-only private
// (no VM_SHARED), which the map's mmap refuses (EINVAL). The mapping itself is PROT_READ,
// and the kernel then clears VM_MAYWRITE on it: it cannot be made writable later.
bool MapPinned(const std::string& path, __u32 want_value_size, MappedMap* out, std::string* error,
               bool* missing = nullptr) {
  int fd = bpf_obj_get(path.c_str());
  if (missing != nullptr) *missing = fd < 0 && errno == ENOENT;
  if (fd < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      *error = absl::StrFormat("%s: %s: the pinned maps are readable by root only (run mnstat as root)",
                               path, std::strerror(err));
    } else if (err == ENOENT) {
      *error = absl::StrFormat("%s is missing: the runtime is starting or stopping, or is not "
                               "an mnsched runtime with kernel feedback on", path);
    } else {
      *error = absl::StrFormat("opening the pinned map %s: %s", path, std::strerror(err));
    }
    return false;
  }
  bpf_map_info info{};
  __u32 info_len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &info_len) != 0) {
    *error = absl::StrFormat("reading the info of %s: %s", path, std::strerror(errno));
    close(fd);
    return false;
  }
  if (info.type != BPF_MAP_TYPE_ARRAY || (info.map_flags & BPF_F_MMAPABLE) == 0 ||
      info.value_size != want_value_size || info.max_entries == 0) {
    *error = absl::StrFormat(
        "%s is not the map mnstat knows (type %u, flags %#x, value size %u, %u entries; want an "
        "mmapable array of %u-byte values): mnstat and the runtime were built from different "
        "versions of bpf/mn_telemetry.h",
        path, info.type, info.map_flags, info.value_size, info.max_entries, want_value_size);
    close(fd);
    return false;
  }
  std::size_t elem = (std::size_t{info.value_size} + 7) & ~std::size_t{7};
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::size_t len = (elem * info.max_entries + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);  // the mapping keeps the map alive
  if (p == MAP_FAILED) {
    *error = absl::StrFormat("mapping %s: %s", path, std::strerror(err));
    return false;
  }
  *out = MappedMap{p, len, info.max_entries, info.id};
  return true;
}

// The id of the map pinned at path, or 0 (gone, or not readable).
__u32 PinnedMapId(const std::string& path) {
  LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
  int fd = bpf_obj_get_opts(path.c_str(), &opts);
  if (fd < 0) return 0;
  bpf_map_info info{};
  __u32 len = sizeof info;
  __u32 id = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
  close(fd);
  return id;
}

// 1: process `pid` has an fd on the map `id`; 0: it has not; -1: cannot tell (its fdinfo is
// not readable by us).
int ProcessHoldsMap(pid_t pid, __u32 id) {
  std::string dir = absl::StrFormat("/proc/%d/fdinfo", pid);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  std::string want = absl::StrFormat("map_id:\t%u\n", id);
  int found = 0;
  std::string text;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (ReadFile(dir + "/" + e->d_name, &text) && text.find(want) != std::string::npos) {
      found = 1;
      break;
    }
  }
  closedir(d);
  return found;
}

class Target {
 public:
  Target() = default;
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  ~Target() { Unmap(); }

  // Finds and maps the process's pins. On failure *error is the message for the user.
  bool Open(pid_t pid, std::string* error) {
    pid_ = pid;
    dir_ = absl::StrFormat("%s/%d", kPinRoot, pid);
    struct stat st {};
    if (stat(absl::StrFormat("/proc/%d", pid).c_str(), &st) != 0) {
      *error = absl::StrFormat("no process %d", pid);
      return false;
    }
    pid_t tgid = Tgid(pid);
    if (tgid > 0 && tgid != pid) {
      *error = absl::StrFormat("%d is a thread of process %d (%s), not a process: run mnstat %d",
                               pid, tgid, Comm(tgid), tgid);
      return false;
    }
    start_time_ = StartTime(pid);
    struct statfs fs {};
    if (statfs(kBpfFs, &fs) != 0 || fs.f_type != BPF_FS_MAGIC) {
      *error = absl::StrFormat(
          "%s is not mounted (no BPF filesystem there), so no process has pinned mnsched maps; "
          "an mnsched runtime with kernel feedback mounts it when it starts as root "
          "(or: mount -t bpf bpf %s)", kBpfFs, kBpfFs);
      return false;
    }
    if (stat(dir_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      int err = errno;
      std::string comm = Comm(pid);
      if (err == EACCES || err == EPERM) {
        *error = absl::StrFormat("cannot look in %s (%s): the maps an mnsched runtime pins there "
                                 "are readable by root only; run mnstat as root",
                                 kPinRoot, std::strerror(err));
      } else {
        *error = NotMnsched(pid, comm, absl::StrFormat("%s does not exist", dir_));
      }
      return false;
    }
    if (!MapPinned(dir_ + "/m_telemetry", sizeof(mn_m_telemetry), &m_map_, error) ||
        !MapPinned(dir_ + "/cpu_state", sizeof(mn_cpu_state), &cpu_map_, error) ||
        !MapPinned(dir_ + "/hints", sizeof(mn_m_hints), &hints_map_, error) ||
        !MapPinned(dir_ + "/p_state", sizeof(mn_p_state), &p_map_, error)) {
      Unmap();
      return false;
    }
    // rt_state is optional: a runtime older than it does not pin it (and one starting may
    // not have yet: MapRtIfMissing tries again at each frame).
    bool missing = false;
    if (!MapPinned(dir_ + "/rt_state", sizeof(mn_rt_state), &rt_map_, error, &missing) && !missing) {
      Unmap();
      return false;
    }
    // Pins left by a process that died without removing them, its pid now someone else's.
    if (ProcessHoldsMap(pid, m_map_.id) == 0) {
      Unmap();
      *error = NotMnsched(pid, Comm(pid),
                          absl::StrFormat("%s is stale (the process does not hold those maps: "
                                          "an earlier process with this pid left them)", dir_));
      return false;
    }
    return true;
  }

  enum class State { kSame, kProcessGone, kRuntimeGone, kReplaced };

  // Whether the process still runs and its runtime's maps are still the ones we mapped.
  State Check() const {
    if (StartTime(pid_) != start_time_) return State::kProcessGone;
    __u32 id = PinnedMapId(dir_ + "/m_telemetry");
    if (id == m_map_.id) return State::kSame;
    return id == 0 ? State::kRuntimeGone : State::kReplaced;
  }

  // Maps rt_state if it was not pinned at Open but is now (pinned last: Open may have run
  // between the runtime's pins). Call after Check() said kSame, so that it is this
  // runtime's. A pin that is there but cannot be mapped is reported once, then left alone.
  void MapRtIfMissing() {
    if (rt_map_.base != nullptr || rt_given_up_) return;
    std::string error;
    bool missing = false;
    if (MapPinned(dir_ + "/rt_state", sizeof(mn_rt_state), &rt_map_, &error, &missing) || missing) return;
    std::fprintf(stderr, "mnstat: %s\n", error.c_str());
    rt_given_up_ = true;
  }

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  int nms() const { return static_cast<int>(std::min<__u32>(m_map_.entries, hints_map_.entries)); }
  int ncpus() const { return static_cast<int>(cpu_map_.entries); }
  int nps() const { return static_cast<int>(p_map_.entries); }
  const mn_m_telemetry* m(int i) const { return static_cast<const mn_m_telemetry*>(m_map_.base) + i; }
  const mn_cpu_state* cpu(int i) const { return static_cast<const mn_cpu_state*>(cpu_map_.base) + i; }
  const mn_m_hints* hints(int i) const { return static_cast<const mn_m_hints*>(hints_map_.base) + i; }
  const mn_p_state* p(int i) const { return static_cast<const mn_p_state*>(p_map_.base) + i; }
  // nullptr without rt_state.
  const mn_rt_state* rt() const { return static_cast<const mn_rt_state*>(rt_map_.base); }

 private:
  static std::string NotMnsched(pid_t pid, const std::string& comm, const std::string& why) {
    return absl::StrFormat(
        "process %d (%s) is not an mnsched process with kernel feedback on: %s.\n"
        "  A runtime pins its maps in %s/<pid> only while it runs (inside mn::run) with kernel\n"
        "  feedback active: MN_KERNEL_FEEDBACK unset, auto or required (not off), and the process\n"
        "  running as root (or with CAP_BPF and CAP_PERFMON): loading the BPF programs and pinning\n"
        "  the maps need root. With MN_KERNEL_FEEDBACK=required a runtime that cannot load them\n"
        "  exits with code 2, saying why.",
        pid, comm, why, kPinRoot);
  }

  void Unmap() {
    for (MappedMap* mm : {&m_map_, &cpu_map_, &hints_map_, &p_map_, &rt_map_}) {
      if (mm->base != nullptr) munmap(const_cast<void*>(mm->base), mm->len);
      *mm = MappedMap{};
    }
  }

  pid_t pid_ = 0;
  uint64_t start_time_ = 0;
  std::string dir_;
  MappedMap m_map_, cpu_map_, hints_map_, p_map_, rt_map_;
  bool rt_given_up_ = false;
};

// ---- samples ---------------------------------------------------------------------------------

struct MRec {
  bool present = false;
  mn_m_telemetry t{};
  mn_m_hints h{};
};

struct Sample {
  int64_t mono_ns = 0;  // CLOCK_MONOTONIC after the records were copied
  std::vector<MRec> ms;  // by slot
  std::vector<mn_cpu_state> cpus;
  std::vector<char> cpu_ok;
  std::vector<mn_p_state> ps;
  bool rt_ok = false;  // rt_state was mapped
  mn_rt_state rt{};
  int unreadable = 0;  // records busy through every retry
};

// Copies every record. A busy M record is taken from prev (if any).
Sample TakeSample(const Target& t, const Sample* prev) {
  Sample s;
  s.ms.resize(static_cast<std::size_t>(t.nms()));
  for (int i = 0; i < t.nms(); i++) {
    MRec& r = s.ms[static_cast<std::size_t>(i)];
    // tid shares the word after seq with cpu: a cheap look before the full copy.
    const auto* words = reinterpret_cast<const mn_telemetry::AliasU64*>(t.m(i));
    uint32_t tid_word = static_cast<uint32_t>(__atomic_load_n(&words[1], __ATOMIC_RELAXED));
    r.h = ReadHints(t.hints(i));
    if (tid_word == 0 && r.h.tid == 0) continue;
    if (!SeqRead(t.m(i), &r.t, kSeqTries)) {
      s.unreadable++;
      if (prev == nullptr || !prev->ms[static_cast<std::size_t>(i)].present) continue;
      r.t = prev->ms[static_cast<std::size_t>(i)].t;
    }
    r.present = r.t.tid != 0 || r.h.tid != 0;
  }
  s.cpus.resize(static_cast<std::size_t>(t.ncpus()));
  s.cpu_ok.resize(static_cast<std::size_t>(t.ncpus()));
  for (int c = 0; c < t.ncpus(); c++) {
    s.cpu_ok[static_cast<std::size_t>(c)] = SeqRead(t.cpu(c), &s.cpus[static_cast<std::size_t>(c)], kSeqTries);
    if (!s.cpu_ok[static_cast<std::size_t>(c)]) s.unreadable++;
    // Outside the seq protocol (its writers do not move seq): read alone, busy record or not.
    s.cpus[static_cast<std::size_t>(c)].nr_waiting = LoadField(t.cpu(c)->nr_waiting);
  }
  s.ps.resize(static_cast<std::size_t>(t.nps()));
  for (int p = 0; p < t.nps(); p++) s.ps[static_cast<std::size_t>(p)] = ReadP(t.p(p));
  if (t.rt() != nullptr) {
    s.rt_ok = true;
    s.rt = ReadRt(t.rt());
  }
  s.mono_ns = MonoNs();
  return s;
}

// ---- a frame: what is shown ------------------------------------------------------------------

struct MRow {
  int slot = 0;
  uint32_t tid = 0;
  int cpu = -1;
  std::string state;
  int64_t state_for_ns = 0;
  double cpu_pct = 0;
  uint64_t preempted = 0, blocked = 0, wakeups = 0, migrations = 0;
  double preempted_per_s = 0, blocked_per_s = 0, wakeups_per_s = 0, migrations_per_s = 0;
  uint64_t waits = 0;           // waits for a CPU that ended in the interval
  int64_t wait_mean_ns = -1;    // -1: no wait
  int64_t wait_p99_le_ns = -1;  // -1: no wait
  uint64_t wait_max_ns = 0;     // since the M started
  int p = -1;
  uint64_t g = 0;
  bool spinning = false, blocking = false, parked = false;
  uint64_t dropped = 0;
  bool exited = false;
  bool exited_in_interval = false;
};

struct PRow {
  int id = 0;
  bool running = false;
  int m = -1;
  uint32_t runq = 0;
  uint64_t steals = 0, handoffs = 0, schedtick = 0;
  double steals_per_s = 0, handoffs_per_s = 0, sched_per_s = 0;
  int64_t age_ns = -1;  // -1: sysmon has not sampled it yet
};

struct CRow {
  int cpu = 0;
  const char* state = "unknown";  // idle, busy, or unknown (no switch seen there yet, or busy)
  int m = -1;                     // the M running there, or -1
  uint32_t tid = 0;               // its thread, or 0
  int64_t for_ns = -1;            // since the last change of the above; -1: unknown
  uint32_t nr_waiting = 0;
};

// rt_state's counters: totals, and rates over the interval.
struct RtRow {
  uint64_t kernel_handoffs = 0, idle_wakeups = 0, spin_backstops = 0, spins = 0, spins_declined = 0,
           wakes_declined = 0;
  double kernel_handoffs_per_s = 0, idle_wakeups_per_s = 0, spin_backstops_per_s = 0, spins_per_s = 0,
         spins_declined_per_s = 0, wakes_declined_per_s = 0;
  uint64_t spin_ns = 0;
  double spin_cpu_pct = 0;  // spin time in the interval over the interval; 100 = one CPU
  bool want_cpu = false;
  int64_t age_ns = -1;  // -1: sysmon has not published yet
};

struct Frame {
  pid_t pid = 0;
  std::string comm;
  int64_t time_unix_ns = 0;
  int64_t interval_ns = 0;
  int cpus_total = 0, cpus_idle = 0, cpus_running_ms = 0, cpus_unknown = 0;
  std::vector<CRow> cpus;
  bool has_rt = false;  // rt_state in both samples
  RtRow rt;
  int ms_live = 0, ms_exited = 0;
  std::vector<MRow> ms;
  std::vector<PRow> ps;
  int unreadable = 0;
  uint64_t dropped = 0;
};

const char* StateName(uint32_t s) {
  switch (s) {
    case mn_none: return "new";
    case mn_on_cpu: return "on_cpu";
    case mn_runnable: return "runnable";
    case mn_preempted: return "preempted";
    case mn_blocked: return "blocked";
    case mn_exited: return "exited";
    default: return "unknown";
  }
}

// A counter's growth; a counter that went back (cannot happen within one map) counts from 0.
uint64_t Delta(uint64_t now, uint64_t before) { return now >= before ? now - before : now; }

// The same for p_state.schedtick: a __u64 in the map, but the runtime's P::schedtick is 32
// bits wide, so the value published wraps at 2^32.
uint64_t Delta32(uint64_t now, uint64_t before) {
  if (now < before && before <= UINT32_MAX) return (now - before) & UINT32_MAX;
  return Delta(now, before);
}

// Time on a CPU up to `at`: the total to the last switch out, plus the current run.
uint64_t BusyNs(const mn_m_telemetry& t, int64_t at) {
  uint64_t busy = t.oncpu_ns;
  if (t.state == mn_on_cpu && static_cast<uint64_t>(at) > t.since_ns) busy += static_cast<uint64_t>(at) - t.since_ns;
  return busy;
}

// Upper bound of the bucket holding the interval's P99 wait (see the top), or -1.
int64_t P99UpperBound(const mn_m_telemetry& a, const mn_m_telemetry& b, uint64_t* n_out) {
  uint64_t d[MN_WAIT_BUCKETS];
  uint64_t n = 0;
  for (int i = 0; i < MN_WAIT_BUCKETS; i++) {
    d[i] = Delta(b.runq_wait_hist[i], a.runq_wait_hist[i]);
    n += d[i];
  }
  *n_out = n;
  if (n == 0) return -1;
  uint64_t rank = (n * 99 + 99) / 100;  // ceil(0.99 n)
  uint64_t cum = 0;
  for (int i = 0; i < MN_WAIT_BUCKETS; i++) {
    cum += d[i];
    if (cum >= rank) {
      uint64_t hi = i + 1 < 63 ? (uint64_t{1} << (i + 1)) : UINT64_MAX;
      if (b.runq_wait_max_ns > 0 && b.runq_wait_max_ns < hi) hi = b.runq_wait_max_ns;
      return static_cast<int64_t>(hi);
    }
  }
  return -1;
}

Frame MakeFrame(const Target& t, const Sample& a, const Sample& b) {
  Frame f;
  f.pid = t.pid();
  f.comm = Comm(t.pid());
  f.time_unix_ns = absl::ToUnixNanos(absl::Now());
  f.interval_ns = b.mono_ns - a.mono_ns;
  double secs = f.interval_ns > 0 ? f.interval_ns / 1e9 : 1e-9;
  f.unreadable = b.unreadable;
  static const MRec kNone;
  for (std::size_t i = 0; i < b.ms.size(); i++) {
    const MRec& rb = b.ms[i];
    if (!rb.present) continue;
    const MRec& ra = a.ms[i].present && a.ms[i].t.tid == rb.t.tid ? a.ms[i] : kNone;
    const mn_m_telemetry& x = ra.t;
    const mn_m_telemetry& y = rb.t;
    MRow r;
    r.slot = static_cast<int>(i);
    r.tid = y.tid != 0 ? y.tid : rb.h.tid;
    r.cpu = y.cpu;
    r.state = StateName(y.state);
    r.exited = y.state == mn_exited;
    r.exited_in_interval = r.exited && (ra.t.tid == 0 || x.state != mn_exited);
    r.state_for_ns = y.since_ns > 0 && b.mono_ns > static_cast<int64_t>(y.since_ns)
                         ? b.mono_ns - static_cast<int64_t>(y.since_ns) : 0;
    uint64_t busy = Delta(BusyNs(y, b.mono_ns), ra.t.tid == 0 ? 0 : BusyNs(x, a.mono_ns));
    r.cpu_pct = std::min(100.0, 100.0 * static_cast<double>(busy) / (secs * 1e9));
    r.preempted = y.nr_preempted;
    r.blocked = y.nr_blocked;
    r.wakeups = y.nr_wakeups;
    r.migrations = y.nr_migrations;
    r.preempted_per_s = static_cast<double>(Delta(y.nr_preempted, x.nr_preempted)) / secs;
    r.blocked_per_s = static_cast<double>(Delta(y.nr_blocked, x.nr_blocked)) / secs;
    r.wakeups_per_s = static_cast<double>(Delta(y.nr_wakeups, x.nr_wakeups)) / secs;
    r.migrations_per_s = static_cast<double>(Delta(y.nr_migrations, x.nr_migrations)) / secs;
    r.wait_p99_le_ns = P99UpperBound(x, y, &r.waits);
    uint64_t count = Delta(y.runq_wait_count, x.runq_wait_count);
    if (count > 0) {
      r.wait_mean_ns = static_cast<int64_t>(Delta(y.runq_wait_ns, x.runq_wait_ns) / count);
    }
    r.wait_max_ns = y.runq_wait_max_ns;
    r.dropped = y.nr_dropped;
    f.dropped += y.nr_dropped;
    if (!r.exited) {  // an exited M holds nothing; its last hints are stale
      r.p = rb.h.p;
      r.g = rb.h.g;
      r.spinning = rb.h.spinning != 0;
      r.blocking = rb.h.blocking != 0;
      r.parked = rb.h.parked != 0;
      f.ms_live++;
    } else {
      f.ms_exited++;
    }
    f.ms.push_back(std::move(r));
  }
  f.cpus_total = static_cast<int>(b.cpus.size());
  for (std::size_t c = 0; c < b.cpus.size(); c++) {
    const mn_cpu_state& cs = b.cpus[c];
    CRow cr;
    cr.cpu = static_cast<int>(c);
    cr.nr_waiting = cs.nr_waiting;
    if (!b.cpu_ok[c] || cs.seq == 0) {  // busy, or no switch seen there since the load
      f.cpus_unknown++;
      f.cpus.push_back(cr);
      continue;
    }
    if (cs.idle) f.cpus_idle++;
    if (cs.runs_m) f.cpus_running_ms++;
    cr.state = cs.idle ? "idle" : "busy";
    if (cs.runs_m) {
      cr.m = cs.m;
      cr.tid = cs.tid;
    }
    cr.for_ns = cs.since_ns > 0 && b.mono_ns > static_cast<int64_t>(cs.since_ns)
                    ? b.mono_ns - static_cast<int64_t>(cs.since_ns) : 0;
    f.cpus.push_back(cr);
  }
  if (a.rt_ok && b.rt_ok) {
    const auto& x = a.rt.counters;
    const auto& y = b.rt.counters;
    RtRow& r = f.rt;
    f.has_rt = true;
    r.kernel_handoffs = y.kernel_handoffs;
    r.idle_wakeups = y.idle_wakeups;
    r.spin_backstops = y.spin_backstops;
    r.spins = y.spins;
    r.spins_declined = y.spins_declined;
    r.wakes_declined = y.wakes_declined;
    r.spin_ns = y.spin_ns;
    r.want_cpu = b.rt.want_cpu != 0;
    if (y.sample_ns > 0) {
      r.age_ns = std::max<int64_t>(0, b.mono_ns - static_cast<int64_t>(y.sample_ns));
      r.kernel_handoffs_per_s = static_cast<double>(Delta(y.kernel_handoffs, x.kernel_handoffs)) / secs;
      r.idle_wakeups_per_s = static_cast<double>(Delta(y.idle_wakeups, x.idle_wakeups)) / secs;
      r.spin_backstops_per_s = static_cast<double>(Delta(y.spin_backstops, x.spin_backstops)) / secs;
      r.spins_per_s = static_cast<double>(Delta(y.spins, x.spins)) / secs;
      r.spins_declined_per_s = static_cast<double>(Delta(y.spins_declined, x.spins_declined)) / secs;
      r.wakes_declined_per_s = static_cast<double>(Delta(y.wakes_declined, x.wakes_declined)) / secs;
      r.spin_cpu_pct = 100.0 * static_cast<double>(Delta(y.spin_ns, x.spin_ns)) / (secs * 1e9);
    }
  }
  for (std::size_t i = 0; i < b.ps.size(); i++) {
    const mn_p_state& y = b.ps[i];
    const mn_p_state& x = a.ps[i];
    PRow r;
    r.id = y.id;
    r.running = y.running != 0;
    r.m = y.m;
    r.runq = y.runq;
    r.steals = y.steals;
    r.handoffs = y.handoffs;
    r.schedtick = y.schedtick;
    if (y.sample_ns > 0) {
      r.age_ns = std::max<int64_t>(0, b.mono_ns - static_cast<int64_t>(y.sample_ns));
      r.steals_per_s = static_cast<double>(Delta(y.steals, x.steals)) / secs;
      r.handoffs_per_s = static_cast<double>(Delta(y.handoffs, x.handoffs)) / secs;
      r.sched_per_s = static_cast<double>(Delta32(y.schedtick, x.schedtick)) / secs;
    }
    f.ps.push_back(r);
  }
  return f;
}

// ---- text ------------------------------------------------------------------------------------

std::string Flags(const MRow& r) {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ",";
    s += name;
  };
  add(r.spinning, "spinning");
  add(r.blocking, "blocking");
  add(r.parked, "parked");
  return s.empty() ? "-" : s;
}

std::string RenderText(const Frame& f) {
  std::string out;
  out += absl::StrFormat("mnstat  pid %d (%s)  CPUs idle %d/%d, %d running its Ms", f.pid, f.comm,
                         f.cpus_idle, f.cpus_total, f.cpus_running_ms);
  if (f.cpus_unknown > 0) out += absl::StrFormat(" (%d not seen yet)", f.cpus_unknown);
  out += absl::StrFormat("  Ps %d  Ms %d (+%d exited)  interval %s  %s\n", static_cast<int>(f.ps.size()),
                         f.ms_live, f.ms_exited, HumanNs(static_cast<double>(f.interval_ns)),
                         absl::FormatTime("%H:%M:%S", absl::FromUnixNanos(f.time_unix_ns),
                                          absl::LocalTimeZone()));
  if (f.unreadable > 0 || f.dropped > 0) {
    out += absl::StrFormat("  %d records busy through every retry (shown from the last sample); "
                           "%u events dropped by the programs in all\n",
                           f.unreadable, f.dropped);
  }
  if (f.has_rt) {
    const RtRow& r = f.rt;
    out += absl::StrFormat("runtime  kernel handoffs %u (%.1f/s)  idle wakeups %u (%.1f/s)  backstops %u "
                           "(%.1f/s)  want_cpu %d  sample age %s\n",
                           r.kernel_handoffs, r.kernel_handoffs_per_s, r.idle_wakeups, r.idle_wakeups_per_s,
                           r.spin_backstops, r.spin_backstops_per_s, r.want_cpu ? 1 : 0, r.age_ns < 0 ? "-" : HumanNs(static_cast<double>(r.age_ns)));
    out += absl::StrFormat("  spins %u (%.1f/s)  spin time %s (%.1f%% CPU)  declined: spins %u (%.1f/s), "
                           "wakes %u (%.1f/s)\n",
                           r.spins, r.spins_per_s, HumanNs(static_cast<double>(r.spin_ns)), r.spin_cpu_pct,
                           r.spins_declined, r.spins_declined_per_s, r.wakes_declined, r.wakes_declined_per_s);
  }
  out += "\n";
  out += absl::StrFormat("%4s %7s %3s %-9s %7s %5s %9s %8s %6s %8s %8s %3s %8s  %s\n", "SLOT", "TID",
                         "CPU", "STATE", "FOR", "%CPU", "PREEMPT/s", "BLOCK/s", "WAITS", "WAITP99",
                         "MAXWAIT", "P", "G", "FLAGS");
  int exited_hidden = 0;
  for (const MRow& r : f.ms) {
    if (r.exited && !r.exited_in_interval) {
      exited_hidden++;
      continue;
    }
    std::string p99 = r.wait_p99_le_ns < 0 ? "-" : "<=" + HumanNs(static_cast<double>(r.wait_p99_le_ns));
    std::string maxw = r.wait_max_ns == 0 ? "-" : HumanNs(static_cast<double>(r.wait_max_ns));
    out += absl::StrFormat("%4d %7u %3d %-9s %7s %5.1f %9.1f %8.1f %6u %8s %8s %3s %8s  %s\n", r.slot,
                           r.tid, r.cpu, r.state, HumanNs(static_cast<double>(r.state_for_ns)), r.cpu_pct,
                           r.preempted_per_s, r.blocked_per_s, r.waits, p99, maxw,
                           r.p < 0 ? "-" : absl::StrFormat("%d", r.p),
                           r.g == 0 ? "-" : absl::StrFormat("%u", r.g), Flags(r));
  }
  if (exited_hidden > 0) out += absl::StrFormat("  (%d Ms that exited earlier not shown)\n", exited_hidden);
  out += "\n";
  out += absl::StrFormat("%3s %-7s %4s %6s %8s %8s %8s %10s %9s %8s\n", "P", "STATE", "M", "RUNQ", "STEALS",
                         "STEALS/s", "HANDOFFS", "HANDOFFS/s", "SCHED/s", "AGE");
  for (const PRow& r : f.ps) {
    out += absl::StrFormat("%3d %-7s %4s %6u %8u %8.1f %8u %10.1f %9.1f %8s\n", r.id,
                           r.running ? "running" : "idle", r.m < 0 ? "-" : absl::StrFormat("%d", r.m),
                           r.runq, r.steals, r.steals_per_s, r.handoffs, r.handoffs_per_s, r.sched_per_s,
                           r.age_ns < 0 ? "-" : HumanNs(static_cast<double>(r.age_ns)));
  }
  out += "\n";
  out += absl::StrFormat("%3s %-7s %4s %7s %7s %8s\n", "CPU", "STATE", "M", "TID", "WAITING", "FOR");
  int cpus_hidden = 0;
  for (const CRow& r : f.cpus) {
    if (std::string_view(r.state) != "busy" && r.nr_waiting == 0) {
      cpus_hidden++;
      continue;
    }
    out += absl::StrFormat("%3d %-7s %4s %7s %7u %8s\n", r.cpu, r.state,
                           r.m < 0 ? "-" : absl::StrFormat("%d", r.m),
                           r.tid == 0 ? "-" : absl::StrFormat("%u", r.tid), r.nr_waiting,
                           r.for_ns < 0 ? "-" : HumanNs(static_cast<double>(r.for_ns)));
  }
  if (cpus_hidden > 0) {
    out += absl::StrFormat("  (%d CPUs idle or not seen yet, with nothing waiting, not shown)\n", cpus_hidden);
  }
  return out;
}

// ---- JSON ------------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t Utf8Len(std::string_view s, std::size_t i) {
  auto cont = [&](std::size_t k) { return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80; };
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c == 0xED && c1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    if (c == 0xF0 && c1 < 0x90) return 0;
    if (c == 0xF4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}

// A JSON string: quotes, backslashes and control characters escaped; bytes that are not
// UTF-8 (a comm can hold any) become U+FFFD.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      out += absl::StrFormat("\\u%04x", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (std::size_t n = Utf8Len(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += "\\ufffd";
    }
    i++;
  }
  out += "\"";
  return out;
}

// Builds one JSON object; commas go in as values follow one another.
class JsonWriter {
 public:
  JsonWriter& Begin(char open) {
    Sep();
    out_ += open;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& End(char close) {
    out_ += close;
    first_.pop_back();
    return *this;
  }
  JsonWriter& Key(std::string_view k) {
    Sep();
    out_ += JsonString(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& Raw(std::string_view v) {
    Sep();
    out_.append(v);
    return *this;
  }
  JsonWriter& Str(std::string_view v) { return Raw(JsonString(v)); }
  JsonWriter& Int(int64_t v) { return Raw(absl::StrFormat("%d", v)); }
  JsonWriter& Uint(uint64_t v) { return Raw(absl::StrFormat("%u", v)); }
  JsonWriter& Real(double v) { return Raw(absl::StrFormat("%.3f", v)); }
  JsonWriter& Bool(bool v) { return Raw(v ? "true" : "false"); }
  JsonWriter& IntOrNull(int64_t v, bool null) { return null ? Raw("null") : Int(v); }
  std::string Take() { return std::move(out_); }

 private:
  void Sep() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

std::string RenderJson(const Frame& f) {
  JsonWriter j;
  j.Begin('{');
  j.Key("pid").Int(f.pid);
  j.Key("comm").Str(f.comm);
  j.Key("time_unix_ns").Int(f.time_unix_ns);
  j.Key("interval_ns").Int(f.interval_ns);
  j.Key("cpus").Begin('{');
  j.Key("total").Int(f.cpus_total);
  j.Key("idle").Int(f.cpus_idle);
  j.Key("running_ms").Int(f.cpus_running_ms);
  j.Key("unknown").Int(f.cpus_unknown);
  j.Key("per_cpu").Begin('[');
  for (const CRow& r : f.cpus) {
    j.Begin('{');
    j.Key("cpu").Int(r.cpu);
    j.Key("state").Str(r.state);
    j.Key("m").IntOrNull(r.m, r.m < 0);
    j.Key("tid").IntOrNull(r.tid, r.tid == 0);
    j.Key("state_for_ns").IntOrNull(r.for_ns, r.for_ns < 0);
    j.Key("nr_waiting").Uint(r.nr_waiting);
    j.End('}');
  }
  j.End(']');
  j.End('}');
  j.Key("ms_live").Int(f.ms_live);
  j.Key("ms_exited").Int(f.ms_exited);
  j.Key("unreadable").Int(f.unreadable);
  j.Key("dropped").Uint(f.dropped);
  j.Key("ms").Begin('[');
  for (const MRow& r : f.ms) {
    j.Begin('{');
    j.Key("slot").Int(r.slot);
    j.Key("tid").Uint(r.tid);
    j.Key("cpu").Int(r.cpu);
    j.Key("state").Str(r.state);
    j.Key("state_for_ns").Int(r.state_for_ns);
    j.Key("cpu_pct").Real(r.cpu_pct);
    j.Key("preempted").Uint(r.preempted);
    j.Key("preempted_per_s").Real(r.preempted_per_s);
    j.Key("blocked").Uint(r.blocked);
    j.Key("blocked_per_s").Real(r.blocked_per_s);
    j.Key("wakeups").Uint(r.wakeups);
    j.Key("wakeups_per_s").Real(r.wakeups_per_s);
    j.Key("migrations").Uint(r.migrations);
    j.Key("migrations_per_s").Real(r.migrations_per_s);
    j.Key("runq_waits").Uint(r.waits);
    j.Key("runq_wait_mean_ns").IntOrNull(r.wait_mean_ns, r.wait_mean_ns < 0);
    j.Key("runq_wait_p99_le_ns").IntOrNull(r.wait_p99_le_ns, r.wait_p99_le_ns < 0);
    j.Key("runq_wait_max_ns").Uint(r.wait_max_ns);
    j.Key("p").IntOrNull(r.p, r.p < 0);
    j.Key("g").IntOrNull(static_cast<int64_t>(r.g), r.g == 0);
    j.Key("spinning").Bool(r.spinning);
    j.Key("blocking").Bool(r.blocking);
    j.Key("parked").Bool(r.parked);
    j.Key("dropped").Uint(r.dropped);
    j.End('}');
  }
  j.End(']');
  j.Key("ps").Begin('[');
  for (const PRow& r : f.ps) {
    j.Begin('{');
    j.Key("id").Int(r.id);
    j.Key("state").Str(r.running ? "running" : "idle");
    j.Key("m").IntOrNull(r.m, r.m < 0);
    j.Key("runq").Uint(r.runq);
    j.Key("steals").Uint(r.steals);
    j.Key("steals_per_s").Real(r.steals_per_s);
    j.Key("handoffs").Uint(r.handoffs);
    j.Key("handoffs_per_s").Real(r.handoffs_per_s);
    j.Key("schedtick").Uint(r.schedtick);
    j.Key("sched_per_s").Real(r.sched_per_s);
    j.Key("sample_age_ns").IntOrNull(r.age_ns, r.age_ns < 0);
    j.End('}');
  }
  j.End(']');
  j.Key("runtime");
  if (!f.has_rt) {
    j.Raw("null");
  } else {
    const RtRow& r = f.rt;
    j.Begin('{');
    j.Key("kernel_handoffs").Uint(r.kernel_handoffs);
    j.Key("kernel_handoffs_per_s").Real(r.kernel_handoffs_per_s);
    j.Key("idle_wakeups").Uint(r.idle_wakeups);
    j.Key("idle_wakeups_per_s").Real(r.idle_wakeups_per_s);
    j.Key("spin_backstops").Uint(r.spin_backstops);
    j.Key("spin_backstops_per_s").Real(r.spin_backstops_per_s);
    j.Key("spins").Uint(r.spins);
    j.Key("spins_per_s").Real(r.spins_per_s);
    j.Key("spins_declined").Uint(r.spins_declined);
    j.Key("spins_declined_per_s").Real(r.spins_declined_per_s);
    j.Key("wakes_declined").Uint(r.wakes_declined);
    j.Key("wakes_declined_per_s").Real(r.wakes_declined_per_s);
    j.Key("spin_ns").Uint(r.spin_ns);
    j.Key("spin_cpu_pct").Real(r.spin_cpu_pct);
    j.Key("want_cpu").Bool(r.want_cpu);
    j.Key("sample_age_ns").IntOrNull(r.age_ns, r.age_ns < 0);
    j.End('}');
  }
  j.End('}');
  return j.Take() + "\n";
}

// ---- the loop --------------------------------------------------------------------------------

// Sleeps d; false when SIGINT, SIGTERM or SIGHUP (blocked, in `sigs`) arrived meanwhile.
bool Sleep(absl::Duration d, const sigset_t& sigs) {
  absl::Time until = absl::Now() + d;
  for (;;) {
    absl::Duration left = until - absl::Now();
    if (left <= absl::ZeroDuration()) return true;
    timespec ts = absl::ToTimespec(left);
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig > 0) return false;
    if (errno == EAGAIN) return true;
    // EINTR (SIGWINCH, SIGCONT, ...): sleep the rest.
  }
}

bool WriteAll(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) return false;
  return std::fflush(stdout) == 0;
}

int Watch(pid_t pid, absl::Duration interval, bool once, bool json) {
  auto target = std::make_unique<Target>();
  std::string error;
  if (!target->Open(pid, &error)) {
    std::fprintf(stderr, "mnstat: %s\n", error.c_str());
    return 1;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  // Repaint in place only for a live view on a terminal; --once prints like any command.
  const bool tty = !json && !once && isatty(STDOUT_FILENO);
  Sample prev = TakeSample(*target, nullptr);
  bool waiting = false;  // live: the runtime stopped, the process may start another
  int failed_opens = 0;
  for (int frames = 0;;) {
    if (!Sleep(interval, sigs)) return once ? 130 : 0;
    switch (target->Check()) {
      case Target::State::kSame:
        target->MapRtIfMissing();
        break;
      case Target::State::kProcessGone:
        std::fprintf(stderr, "mnstat: process %d has exited\n", pid);
        return once ? 1 : 0;
      case Target::State::kRuntimeGone:
        if (once) {
          std::fprintf(stderr, "mnstat: process %d's runtime has stopped (%s was removed)\n", pid,
                       target->dir().c_str());
          return 1;
        }
        if (!waiting) {
          std::fprintf(stderr, "mnstat: process %d's runtime has stopped (%s was removed); "
                       "waiting for it to start another (Ctrl-C to quit)\n", pid, target->dir().c_str());
          waiting = true;
        }
        continue;
      case Target::State::kReplaced: {
        // A new runtime in the same process (mn::run again): start over with its maps. Its
        // pins may be half made: try again next round, a few times.
        auto fresh = std::make_unique<Target>();
        if (!fresh->Open(pid, &error)) {
          if (++failed_opens < 3) continue;
          std::fprintf(stderr, "mnstat: %s\n", error.c_str());
          return 1;
        }
        failed_opens = 0;
        target = std::move(fresh);
        prev = TakeSample(*target, nullptr);
        if (waiting) std::fprintf(stderr, "mnstat: process %d has started a new runtime\n", pid);
        waiting = false;
        continue;
      }
    }
    Sample cur = TakeSample(*target, &prev);
    Frame f = MakeFrame(*target, prev, cur);
    std::string text;
    if (json) {
      text = RenderJson(f);
    } else {
      text = RenderText(f);
      if (tty) {
        // Home, each line cleared to its end, the rest of the screen cleared: no flicker.
        std::string painted = frames == 0 ? "\x1b[H\x1b[2J" : "\x1b[H";
        for (std::size_t at = 0; at < text.size();) {
          std::size_t nl = text.find('\n', at);
          painted.append(text, at, nl - at);
          painted += "\x1b[K\n";
          at = nl + 1;
        }
        painted += "\x1b[J";
        text = std::move(painted);
      } else if (frames > 0) {
        text = "\n" + text;
      }
    }
    if (!WriteAll(text)) return 1;
    frames++;
    if (once) return 0;
    prev = std::move(cur);
  }
}

}  // namespace
}  // namespace mnstat

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrFormat(
      "%s\n\nA live, top-like view of a running mnsched process, from the BPF maps its runtime "
      "pins in /sys/fs/bpf/mnsched/<pid>/ when kernel feedback is on (run as root).",
      mnstat::kUsageLine));
  absl::FlagsUsageConfig config;
  config.version_string = &mnstat::VersionString;
  absl::SetFlagsUsageConfig(config);

  std::vector<char*> args = mn_tools::ParseFlags(argc, argv, mnstat::kUsageLine);

  if (args.size() != 2) {
    std::fprintf(stderr, "mnstat: %s\n%s\n", args.size() < 2 ? "no pid given" : "more than one pid given",
                 mnstat::kUsageLine);
    return 2;
  }
  pid_t pid = 0;
  if (!mnstat::ParsePid(args[1], &pid)) {
    std::fprintf(stderr, "mnstat: \"%s\" is not a process id\n%s\n", args[1], mnstat::kUsageLine);
    return 2;
  }
  return mnstat::Watch(pid, absl::GetFlag(FLAGS_interval).d(), absl::GetFlag(FLAGS_once),
                       absl::GetFlag(FLAGS_json));
}
