// bpf_switch_cost: what the kernel telemetry programs (bpf/telemetry.bpf.c) add to a context
// switch, for a task of the runtime's process that is an M (tracked), one that is not
// (untracked), and a task of any other process.
//
// Two threads of this process, pinned to one CPU, ping-pong through a futex word n times
// (default 100,000 round trips): each waits for its turn, passes it and wakes the other,
// so every round trip is (at least) two switches on that CPU: a thread going to sleep
// (after a wakeup of the other), or a woken thread preempting its waker. The program loads
// the telemetry skeleton itself, twice: once with target_tgid = this process, once with
// target_tgid = 1 (another process); and an empty raw tracepoint program ("return 0") for
// sched_switch and one for sched_wakeup. After an uncounted warm-up, each repetition
// (--rounds, default 5) runs five configurations, each round starting one further along:
//   detached   no program attached: the baseline
//   empty      the empty programs attached: the floor of any program (the tracepoint's
//              dispatch; in the stats, their own clock read)
//   untracked  this process's instance attached, the two threads not in `tracked`: the
//              programs' cost for a thread of the runtime that is not an M
//   tracked    the same with both threads in `tracked` (slots 0 and 1): an M's cost
//   other      the instance for pid 1 attached: the cost every other task on the machine
//              pays for each mnsched process that runs with kernel feedback
// and each configuration but detached twice: a "wall" pass with BPF run-time stats off
// (only the ping-pong's wall time counts), then a "stats" pass with them on
// (bpf_enable_stats(BPF_STATS_RUN_TIME), its fd held for the pass), reading each program's
// run_time_ns and run_cnt (bpf_obj_get_info_by_fd) before and after: the kernel's own
// measure of a program run.
//
// Figures, per configuration (medians over the rounds):
//   switches_per_rt      the threads' switches per round trip
//   wall_ns_per_switch   wall time of the wall pass / the threads' switches (voluntary +
//                        involuntary, from getrusage(RUSAGE_THREAD))
//   wall_delta_ns        wall_ns_per_switch minus the detached one: the whole added cost
//                        (tracepoint dispatch included), but within the machine's noise
//   switch_prog_ns       mean ns per run of the sched_switch program (all its runs on the
//                        machine in the stats pass, both CPUs)
//   wakeup_prog_ns       the same for sched_wakeup
//   switch_own_ns        switch_prog_ns for the pinned threads' switches alone: the runs on
//                        the machine's other tasks are counted at the "other" config's mean
//                        ("empty"'s for empty) and taken out (an estimate; equal to
//                        switch_prog_ns for "other" and "empty")
//   wakeup_own_ns        the same for sched_wakeup (the threads' own wakeups: one per
//                        voluntary switch)
//   added_ns_per_switch  switch_own_ns + wakeup_own_ns * (wakeups per switch): what the
//                        programs add to one of these switches, by the kernel's count
//   over_empty_ns        added_ns_per_switch minus empty's: the programs' own work
//   own_runs_pct         the share of the switch program's runs that were the threads'
// The stats leave out the tracepoint's dispatch to the program and include the stats' own
// clock read; wall_delta_ns includes everything but is noisy.
//
// Output: a table, notes (other instances of the programs attached: other mnsched
// processes with feedback; kernel.bpf_stats_enabled already on; recursion misses), then
// one line per configuration:
//   bpf_switch_cost config=<name> n=<N> rounds=<R> cpu=<C> switches_per_rt=<x.xx>
//     wall_ns_per_switch=<x.x> wall_delta_ns=<x.x> switch_prog_ns=<x.x> wakeup_prog_ns=<x.x>
//     switch_own_ns=<x.x> wakeup_own_ns=<x.x> added_ns_per_switch=<x.x> over_empty_ns=<x.x>
//     own_runs_pct=<x.x>
//   ("-" where a figure does not apply: the detached config has no programs).
// Progress goes to stderr. bench/run-feedback-cost.sh runs it after the suite.
// Exit status: 0 on success; 1 if loading, attaching or measuring failed; 2 on bad
// arguments or without root (loading tracing programs and enabling BPF stats need
// CAP_SYS_ADMIN).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_flags.hpp"
#include "telemetry.skel.h"

namespace {

constexpr mn_bench::FlagSpec kFlags = {
    .program = "bpf_switch_cost",
    .usage = "usage: bpf_switch_cost [--n N] [--rounds R]  (round trips per pass, default "
             "100000; repetitions, default 5; needs root)",
    .n = 100'000,
    .max_n = 1'000'000'000,
    .has_rounds = true,
    .rounds = 5,
    .max_rounds = 1000,
};

enum Config { kDetached, kEmpty, kUntracked, kTracked, kOther, kNumConfigs };
const char* const kConfigName[kNumConfigs] = {"detached", "empty", "untracked", "tracked", "other"};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

long Futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val,
                 nullptr, nullptr, 0);
}

// getrusage(RUSAGE_THREAD): (voluntary, involuntary) switches of the calling thread.
void ThreadSwitches(int64_t* vol, int64_t* invol) {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  *vol = ru.ru_nvcsw;
  *invol = ru.ru_nivcsw;
}

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

// One ping-pong between two threads pinned to `cpu`.
struct PingPong {
  int cpu = 0;
  int64_t n = 0;
  std::atomic<uint32_t> turn{0};   // whose turn: 0 or 1
  std::atomic<uint32_t> go{0};     // the start gate
  std::atomic<int> ready{0};
  std::atomic<pid_t> tid[2] = {0, 0};
  std::atomic<bool> pin_failed{false};
  int64_t wall_ns = 0;           // thread 0's loop
  int64_t vol[2] = {0, 0};       // switches during the loop, per thread
  int64_t invol[2] = {0, 0};

  void Thread(int me) {
    if (!PinTo(cpu)) pin_failed = true;
    tid[me] = static_cast<pid_t>(syscall(SYS_gettid));
    ready.fetch_add(1);
    while (go.load() == 0) Futex(&go, FUTEX_WAIT, 0);
    int64_t v0, i0, v1, i1, t0 = 0;
    ThreadSwitches(&v0, &i0);
    if (me == 0) t0 = NowNs();
    const uint32_t mine = static_cast<uint32_t>(me), other = 1 - mine;
    for (int64_t i = 0; i < n; i++) {
      uint32_t t;
      while ((t = turn.load(std::memory_order_acquire)) != mine) Futex(&turn, FUTEX_WAIT, t);
      turn.store(other, std::memory_order_release);
      Futex(&turn, FUTEX_WAKE, 1);
    }
    if (me == 0) {  // the last round trip ends when the turn comes back
      uint32_t t;
      while ((t = turn.load(std::memory_order_acquire)) != mine) Futex(&turn, FUTEX_WAIT, t);
      wall_ns = NowNs() - t0;
    }
    ThreadSwitches(&v1, &i1);
    vol[me] = v1 - v0;
    invol[me] = i1 - i0;
  }
};

// Each program's cumulative run-time stats.
struct ProgStats {
  uint64_t run_ns = 0, run_cnt = 0, recursion_misses = 0;
};

bool ReadProgStats(int prog_fd, ProgStats* out) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return false;
  out->run_ns = info.run_time_ns;
  out->run_cnt = info.run_cnt;
  out->recursion_misses = info.recursion_misses;
  return true;
}

// One pass's results.
struct Pass {
  double wall_per_switch = NAN;
  double switches = 0, vol = 0;   // the two threads' switches, and their voluntary ones
  double switch_ns = 0, switch_cnt = 0, wakeup_ns = 0, wakeup_cnt = 0;  // stats deltas
  uint64_t misses = 0;
};

double Median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t k = v.size();
  return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

std::string Fmt(double x, const char* fmt = "%.1f") {
  if (std::isnan(x)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

std::string libbpf_messages;

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int k = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (k > 0 && libbpf_messages.size() < 16384) libbpf_messages.append(buf);
  return 0;
}

[[noreturn]] void Fail(const char* what, int err) {
  std::fprintf(stderr, "bpf_switch_cost: %s: %s\n", what, std::strerror(err < 0 ? -err : err));
  if (!libbpf_messages.empty()) std::fprintf(stderr, "libbpf said:\n%s", libbpf_messages.c_str());
  std::exit(1);
}

mn_telemetry_bpf* LoadTelemetry(uint32_t target_tgid) {
  mn_telemetry_bpf* skel = mn_telemetry_bpf__open();
  if (skel == nullptr) Fail("opening the BPF object", errno);
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) Fail("counting the possible CPUs", ncpus);
  skel->rodata->target_tgid = target_tgid;
  bpf_map__set_max_entries(skel->maps.cpu_state, static_cast<__u32>(ncpus));
  bpf_map__set_max_entries(skel->maps.p_state, 1);
  if (int err = mn_telemetry_bpf__load(skel); err != 0) Fail("loading the BPF programs", err);
  return skel;
}

// An empty program ("return 0") of the raw tracepoint type: the floor of a program run as
// BPF stats count it (their own clock read, the call), and, attached, what the
// tracepoint's dispatch to any program costs.
int LoadEmptyProgram(const char* name) {
  const bpf_insn insns[2] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, name, "GPL", insns, 2, nullptr);
  if (fd < 0) Fail("loading an empty raw tracepoint program", errno);
  return fd;
}

// Other instances of the telemetry programs on the machine (other mnsched processes with
// kernel feedback): each adds its own cost to every switch, ours included.
int CountOtherSwitchPrograms(const std::vector<int>& our_fds) {
  std::vector<__u32> our_ids;
  for (int fd : our_fds) {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) our_ids.push_back(info.id);
  }
  int count = 0;
  __u32 id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::strcmp(info.name, "mn_sched_switch") == 0 &&
        std::find(our_ids.begin(), our_ids.end(), info.id) == our_ids.end()) {
      count++;
    }
    close(fd);
  }
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  const mn_bench::Flags flags = mn_bench::ParseFlags(argc, argv, kFlags);
  const int64_t n = flags.n;
  const int rounds = static_cast<int>(flags.rounds);
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "bpf_switch_cost: needs root (loading tracing BPF programs and enabling BPF "
                 "run-time stats need CAP_SYS_ADMIN); run it with sudo\n");
    return 2;
  }
  libbpf_set_print(&LibbpfPrint);

  // The pinned CPU: the last one this process may use; the main thread keeps off it.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) Fail("sched_getaffinity", errno);
  int cpu = -1, other_cpu = -1;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &allowed)) continue;
    if (cpu >= 0) other_cpu = cpu;
    cpu = c;
  }
  if (other_cpu >= 0) PinTo(other_cpu);

  mn_telemetry_bpf* self = LoadTelemetry(static_cast<uint32_t>(getpid()));
  mn_telemetry_bpf* other = LoadTelemetry(1);
  const int tracked_fd = bpf_map__fd(self->maps.tracked);
  const int empty_switch_fd = LoadEmptyProgram("mn_empty_switch");
  const int empty_wakeup_fd = LoadEmptyProgram("mn_empty_wakeup");
  const int others = CountOtherSwitchPrograms({bpf_program__fd(self->progs.mn_sched_switch),
                                               bpf_program__fd(other->progs.mn_sched_switch)});

  std::FILE* sysctl = std::fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
  int stats_already_on = 0;
  if (sysctl != nullptr) {
    if (std::fscanf(sysctl, "%d", &stats_already_on) != 1) stats_already_on = 0;
    std::fclose(sysctl);
  }

  // [config] -> one pass per round
  std::vector<std::vector<Pass>> wall(kNumConfigs), stats(kNumConfigs);
  uint64_t misses = 0;

  auto run = [&](Config config, bool with_stats, int64_t round_trips) -> Pass {
    mn_telemetry_bpf* skel = config == kOther ? other : (config == kUntracked || config == kTracked) ? self : nullptr;
    int switch_fd = -1, wakeup_fd = -1;  // the programs whose stats count
    int empty_links[2] = {-1, -1};
    if (skel != nullptr) {
      if (int err = mn_telemetry_bpf__attach(skel); err != 0) Fail("attaching the BPF programs", err);
      switch_fd = bpf_program__fd(skel->progs.mn_sched_switch);
      wakeup_fd = bpf_program__fd(skel->progs.mn_sched_wakeup);
    } else if (config == kEmpty) {
      empty_links[0] = bpf_raw_tracepoint_open("sched_switch", empty_switch_fd);
      empty_links[1] = bpf_raw_tracepoint_open("sched_wakeup", empty_wakeup_fd);
      if (empty_links[0] < 0 || empty_links[1] < 0) Fail("attaching the empty programs", errno);
      switch_fd = empty_switch_fd;
      wakeup_fd = empty_wakeup_fd;
    }
    int stats_fd = -1;
    if (with_stats) {
      stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
      if (stats_fd < 0) Fail("bpf_enable_stats(BPF_STATS_RUN_TIME)", errno);
    }
    PingPong pp;
    pp.cpu = cpu;
    pp.n = round_trips;
    std::thread t0([&] { pp.Thread(0); }), t1([&] { pp.Thread(1); });
    while (pp.ready.load() < 2) std::this_thread::yield();
    if (pp.pin_failed) Fail("sched_setaffinity of a ping-pong thread", EINVAL);
    if (config == kTracked) {
      for (__u32 slot = 0; slot < 2; slot++) {
        __u32 key = static_cast<__u32>(pp.tid[slot].load());
        if (bpf_map_update_elem(tracked_fd, &key, &slot, BPF_ANY) != 0) Fail("adding to `tracked`", errno);
      }
    }
    ProgStats sw0, wk0, sw1, wk1;
    if (with_stats && (!ReadProgStats(switch_fd, &sw0) || !ReadProgStats(wakeup_fd, &wk0))) {
      Fail("reading the programs' stats", errno);
    }
    pp.go.store(1);
    Futex(&pp.go, FUTEX_WAKE, 2);
    t0.join();
    t1.join();
    Pass p;
    if (with_stats) {
      if (!ReadProgStats(switch_fd, &sw1) || !ReadProgStats(wakeup_fd, &wk1)) {
        Fail("reading the programs' stats", errno);
      }
      p.switch_ns = static_cast<double>(sw1.run_ns - sw0.run_ns);
      p.switch_cnt = static_cast<double>(sw1.run_cnt - sw0.run_cnt);
      p.wakeup_ns = static_cast<double>(wk1.run_ns - wk0.run_ns);
      p.wakeup_cnt = static_cast<double>(wk1.run_cnt - wk0.run_cnt);
      p.misses = (sw1.recursion_misses - sw0.recursion_misses) + (wk1.recursion_misses - wk0.recursion_misses);
      close(stats_fd);
    }
    if (config == kTracked) {
      for (int slot = 0; slot < 2; slot++) {
        __u32 key = static_cast<__u32>(pp.tid[slot].load());
        bpf_map_delete_elem(tracked_fd, &key);
      }
    }
    if (skel != nullptr) mn_telemetry_bpf__detach(skel);
    for (int fd : empty_links) {
      if (fd >= 0) close(fd);
    }
    p.switches = static_cast<double>(pp.vol[0] + pp.vol[1] + pp.invol[0] + pp.invol[1]);
    p.vol = static_cast<double>(pp.vol[0] + pp.vol[1]);
    p.wall_per_switch = p.switches > 0 ? static_cast<double>(pp.wall_ns) / p.switches : NAN;
    return p;
  };

  std::fprintf(stderr, "bpf_switch_cost: %lld round trips per pass on CPU %d, %d round(s)\n",
               static_cast<long long>(n), cpu, rounds);
  run(kDetached, false, std::max<int64_t>(1, n / 10));  // warm-up, not counted
  for (int r = 0; r < rounds; r++) {
    // Each round starts at another config, so that none always follows the same one.
    for (int k = 0; k < kNumConfigs; k++) {
      Config config = static_cast<Config>((r + k) % kNumConfigs);
      wall[config].push_back(run(config, false, n));
      if (config != kDetached) {
        Pass s = run(config, true, n);
        misses += s.misses;
        stats[config].push_back(s);
      }
    }
    std::fprintf(stderr, "bpf_switch_cost: round %d/%d: wall ns/switch", r + 1, rounds);
    for (int c = 0; c < kNumConfigs; c++) {
      std::fprintf(stderr, " %s=%.1f", kConfigName[c], wall[c].back().wall_per_switch);
    }
    std::fprintf(stderr, "\n");
  }

  // Per config: medians over the rounds.
  struct Row {
    double wall = NAN, sw_per_rt = NAN, switch_ns = NAN, wakeup_ns = NAN, own_pct = NAN;
    double switch_own = NAN, wakeup_own = NAN, added = NAN;
  };
  Row rows[kNumConfigs];
  auto per_round = [&](int c, auto f) {
    std::vector<double> v;
    for (const Pass& p : stats[c]) v.push_back(f(p));
    return Median(v);
  };
  for (int c = 0; c < kNumConfigs; c++) {
    std::vector<double> w, spr;
    for (const Pass& p : wall[c]) {
      w.push_back(p.wall_per_switch);
      spr.push_back(p.switches / static_cast<double>(n));
    }
    rows[c].wall = Median(w);
    rows[c].sw_per_rt = Median(spr);
    if (c == kDetached) continue;
    rows[c].switch_ns = per_round(c, [](const Pass& p) { return p.switch_cnt > 0 ? p.switch_ns / p.switch_cnt : NAN; });
    rows[c].wakeup_ns = per_round(c, [](const Pass& p) { return p.wakeup_cnt > 0 ? p.wakeup_ns / p.wakeup_cnt : NAN; });
    rows[c].own_pct = per_round(c, [](const Pass& p) {
      return p.switch_cnt > 0 ? 100.0 * std::min(p.switches, p.switch_cnt) / p.switch_cnt : NAN;
    });
  }
  // The pinned threads' own runs: the machine's other tasks are counted at what they cost
  // where every task is another process's (the "other" config; "empty" for itself).
  for (int c = kEmpty; c < kNumConfigs; c++) {
    const int ref = c == kEmpty ? kEmpty : kOther;
    const double m_sw = rows[ref].switch_ns, m_wk = rows[ref].wakeup_ns;
    if (c == ref) {
      rows[c].switch_own = m_sw;
      rows[c].wakeup_own = m_wk;
    } else {
      rows[c].switch_own = per_round(c, [&](const Pass& p) {
        double theirs = std::max(0.0, p.switch_cnt - p.switches);
        return p.switches > 0 ? (p.switch_ns - theirs * m_sw) / std::min(p.switches, p.switch_cnt) : NAN;
      });
      rows[c].wakeup_own = per_round(c, [&](const Pass& p) {
        double theirs = std::max(0.0, p.wakeup_cnt - p.vol);
        return p.vol > 0 ? (p.wakeup_ns - theirs * m_wk) / std::min(p.vol, p.wakeup_cnt) : NAN;
      });
    }
    double wakeups_per_switch = per_round(c, [](const Pass& p) { return p.switches > 0 ? p.vol / p.switches : NAN; });
    rows[c].added = rows[c].switch_own + rows[c].wakeup_own * wakeups_per_switch;
  }

  const char* const row_fmt = "%-10s %6s %9s %9s %8s %8s %8s %8s %9s %9s %6s\n";
  std::printf("\nbpf_switch_cost: two threads pinned to CPU %d ping-pong through a futex, %lld round trips "
              "per pass; medians of %d round(s)\n",
              cpu, static_cast<long long>(n), rounds);
  std::printf("wall: ns per switch, BPF stats off; delta: minus detached's (noisy); prog: mean ns per run of the\n"
              "sched_switch / sched_wakeup program (BPF_STATS_RUN_TIME, all CPUs); own: the pinned threads' runs\n"
              "alone (estimate); added: own switch + own wakeups per switch; over empty: added minus empty's\n");
  std::printf(row_fmt, "config", "sw/rt", "wall", "delta", "switch", "wakeup", "switch", "wakeup", "added", "over", "own");
  std::printf(row_fmt, "", "", "ns", "ns", "prog ns", "prog ns", "own ns", "own ns", "ns", "empty", "runs%");
  std::printf(row_fmt, "----------", "------", "---------", "---------", "--------", "--------", "--------", "--------",
              "---------", "---------", "------");
  auto delta_of = [&](int c) { return c == kDetached ? NAN : rows[c].wall - rows[kDetached].wall; };
  auto over_empty = [&](int c) { return c <= kEmpty ? NAN : rows[c].added - rows[kEmpty].added; };
  for (int c = 0; c < kNumConfigs; c++) {
    const Row& r = rows[c];
    std::printf(row_fmt, kConfigName[c], Fmt(r.sw_per_rt, "%.2f").c_str(), Fmt(r.wall).c_str(),
                Fmt(delta_of(c), "%+.1f").c_str(), Fmt(r.switch_ns).c_str(), Fmt(r.wakeup_ns).c_str(),
                Fmt(r.switch_own).c_str(), Fmt(r.wakeup_own).c_str(), Fmt(r.added).c_str(),
                Fmt(over_empty(c), "%+.1f").c_str(), Fmt(r.own_pct).c_str());
  }
  std::printf("\n");
  if (others > 0) {
    std::printf("note: %d other instance(s) of the telemetry programs were attached at the start (other mnsched "
                "processes with kernel feedback): they add their cost to every switch, in every config\n",
                others);
  }
  if (stats_already_on) {
    std::printf("note: kernel.bpf_stats_enabled was already 1: the wall passes ran with BPF stats on too\n");
  }
  if (misses > 0) {
    std::printf("note: %llu program runs were skipped (recursion_misses)\n", static_cast<unsigned long long>(misses));
  }
  for (int c = 0; c < kNumConfigs; c++) {
    const Row& r = rows[c];
    std::printf("bpf_switch_cost config=%s n=%lld rounds=%d cpu=%d switches_per_rt=%s wall_ns_per_switch=%s "
                "wall_delta_ns=%s switch_prog_ns=%s wakeup_prog_ns=%s switch_own_ns=%s wakeup_own_ns=%s "
                "added_ns_per_switch=%s over_empty_ns=%s own_runs_pct=%s\n",
                kConfigName[c], static_cast<long long>(n), rounds, cpu, Fmt(r.sw_per_rt, "%.2f").c_str(),
                Fmt(r.wall).c_str(), Fmt(delta_of(c)).c_str(), Fmt(r.switch_ns).c_str(), Fmt(r.wakeup_ns).c_str(),
                Fmt(r.switch_own).c_str(), Fmt(r.wakeup_own).c_str(), Fmt(r.added).c_str(),
                Fmt(over_empty(c)).c_str(), Fmt(r.own_pct).c_str());
  }
  std::fflush(stdout);
  close(empty_switch_fd);
  close(empty_wakeup_fd);
  mn_telemetry_bpf__destroy(self);
  mn_telemetry_bpf__destroy(other);
  return 0;
}
