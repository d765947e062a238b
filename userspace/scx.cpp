// ScxScheduler: see scx.hpp for the invariants, bpf/scx.bpf.c for the scheduler itself.
#include "scx.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "libbpf_log.hpp"

#if MN_WITH_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

// The skeleton names the .bss types at global scope; scx.hpp has them in mn::detail.
using mn::detail::mn_cpu_run;
using mn::detail::mn_scx_exit;
#include "scx.skel.h"
#endif

namespace mn::detail {

namespace {

constexpr const char* kScxDir = "/sys/kernel/sched_ext";
constexpr int kSchedExt = 7;  // SCHED_EXT: not in Debian 12's headers
constexpr int kSchedResetOnFork = 0x40000000;

// The first line of a sysfs file, or "" if it cannot be read.
std::string ReadLine(const char* path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) return "";
  return line;
}

// Polls State() until it is `want` or `timeout` has passed.
[[maybe_unused]] bool WaitState(std::string_view want, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ScxScheduler::State() == want) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// struct sched_attr (uapi linux/sched/types.h), SCHED_ATTR_SIZE_VER0.
struct SchedAttr {
  __u32 size;
  __u32 sched_policy;
  __u64 sched_flags;
  __s32 sched_nice;
  __u32 sched_priority;
  __u64 sched_runtime;
  __u64 sched_deadline;
  __u64 sched_period;
};

// Changes only the policy: the nice value is kept, as it weighs the thread in both classes.
absl::Status SetPolicy(pid_t tid, int policy, const char* name) {
  SchedAttr attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("sched_getattr(%d)", tid));
  }
  int nice = attr.sched_nice;
  attr = SchedAttr{};
  attr.size = sizeof attr;
  attr.sched_policy = static_cast<__u32>(policy);
  attr.sched_nice = nice;
  if (syscall(SYS_sched_setattr, tid, &attr, 0) != 0) {
    int err = errno;
    return absl::ErrnoToStatus(
        err, absl::StrFormat("moving thread %d to %s: sched_setattr%s", tid, name,
                             err == EINVAL && policy == kSchedExt
                                 ? " (no sched_ext in the kernel, or the thread's policy is "
                                   "one a sched_ext scheduler does not take)"
                                 : ""));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ScxScheduler::State() { return ReadLine("/sys/kernel/sched_ext/state"); }

std::string ScxScheduler::OpsName() { return ReadLine("/sys/kernel/sched_ext/root/ops"); }

absl::Status SetSchedExt(pid_t tid) { return SetPolicy(tid, kSchedExt, "SCHED_EXT"); }

absl::Status SetSchedOther(pid_t tid) { return SetPolicy(tid, SCHED_OTHER, "SCHED_OTHER"); }

int SchedPolicyOf(pid_t tid) {
  int p = sched_getscheduler(tid);
  return p < 0 ? -1 : (p & ~kSchedResetOnFork);
}

#if MN_WITH_BPF

namespace {

// Not in Debian 12's uapi headers (6.1); the kernel's values since 6.4.
constexpr __u32 kBpfFLink = 1U << 13;            // BPF_F_LINK, as a map flag
constexpr int kBpfStructOpsAttach = 44;          // BPF_STRUCT_OPS
constexpr __u32 kBpfFSleepable = 1U << 4;        // BPF_F_SLEEPABLE

// BPF_LINK_CREATE for a struct_ops map: the kernel reads the map's fd from
// link_create.map_fd, which shares its slot with prog_fd (named map_fd only in 6.4's
// headers). Done by hand, as libbpf 1.1's bpf_link_create predates BPF_STRUCT_OPS.
int CreateStructOpsLink(int map_fd) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.link_create.prog_fd = static_cast<__u32>(map_fd);
  attr.link_create.target_fd = 0;
  attr.link_create.attach_type = static_cast<bpf_attach_type>(kBpfStructOpsAttach);
  int fd = static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof attr));
  return fd < 0 ? -errno : fd;
}

}  // namespace

std::string ScxScheduler::Preflight() {
  if (access(kScxDir, F_OK) != 0) {
    return "the kernel has no sched_ext (CONFIG_SCHED_CLASS_EXT is off)";
  }
  if (std::string cap = BpfCapabilityProblem(); !cap.empty()) return cap;
  // One being disabled (the last of an earlier Load, a tool that just quit) is no rival.
  if (!WaitState("disabled", std::chrono::seconds(1))) {
    std::string ops = OpsName();
    return absl::StrFormat("another sched_ext scheduler is loaded: %s",
                           ops.empty() ? "(state " + State() + ")" : ops);
  }
  return "";
}

absl::StatusOr<std::unique_ptr<ScxScheduler>> ScxScheduler::Load(ScxMode mode, uint64_t other_slice_ns) {
  if (std::string why = Preflight(); !why.empty()) return absl::FailedPreconditionError(why);
  const char* debug = std::getenv("MN_SCX_DEBUG");
  bool echo = debug != nullptr && debug[0] != 0 && std::strcmp(debug, "0") != 0;
  LibbpfLog log(echo, echo && std::strcmp(debug, "2") == 0);
  auto fail = [&](const char* step, int err) {
    return absl::InternalError(log.Failure(step, err));
  };

  std::unique_ptr<ScxScheduler> s(new ScxScheduler());
  s->mode_ = mode;
  s->skel_ = mn_scx_bpf__open();
  if (s->skel_ == nullptr) return fail("opening the BPF object", errno);
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return fail("counting the possible CPUs", ncpus);
  // The scheduler's per-CPU array bounds the CPUs it knows (MN_MAX_CPUS).
  constexpr int kMaxCpus = sizeof(mn_scx_bpf::mn_scx_bpf__bss::cpu_run) / sizeof(mn_cpu_run);
  if (ncpus > kMaxCpus) ncpus = kMaxCpus;
  s->skel_->rodata->nr_cpus = static_cast<__u32>(ncpus);
  if (other_slice_ns != 0) s->skel_->rodata->other_slice_ns = other_slice_ns;

  bpf_map* ops = mode == ScxMode::kPartial ? s->skel_->maps.mnsched : s->skel_->maps.mnsched_all;
  bpf_map* unused = mode == ScxMode::kPartial ? s->skel_->maps.mnsched_all : s->skel_->maps.mnsched;
  bpf_map__set_autocreate(unused, false);
  if (int err = bpf_map__set_map_flags(ops, bpf_map__map_flags(ops) | kBpfFLink); err != 0) {
    return fail("making the struct_ops map link-backed", err);
  }
  // scx_bpf_create_dsq may sleep; libbpf 1.1 knows no SEC("struct_ops.s/...").
  bpf_program__set_flags(s->skel_->progs.mnsched_init,
                         bpf_program__flags(s->skel_->progs.mnsched_init) | kBpfFSleepable);
  if (int err = mn_scx_bpf__load(s->skel_); err != 0) return fail("loading the BPF programs", err);

  // With BPF_F_LINK, this map update (all libbpf 1.1's attach does) only fills in the
  // programs and marks the map ready; the link below registers the scheduler. The
  // bpf_link it returns stands for the map's fd: disconnect it so that destroying it
  // neither deletes the map's value nor closes that fd.
  bpf_link* ready = bpf_map__attach_struct_ops(ops);
  if (ready == nullptr) return fail("preparing the struct_ops map", errno);
  bpf_link__disconnect(ready);
  bpf_link__destroy(ready);
  int link = CreateStructOpsLink(bpf_map__fd(ops));
  if (link < 0) {
    if (link == -EBUSY || link == -EEXIST) {
      std::string other = OpsName();
      return absl::FailedPreconditionError(absl::StrFormat(
          "another sched_ext scheduler is loaded: %s", other.empty() ? "(just now)" : other));
    }
    return fail("registering the scheduler (BPF_LINK_CREATE)", link);
  }
  s->link_fd_ = link;
  // The kernel has enabled it when the link exists, unless init failed or it was
  // disabled at once (an error in an op); then the exit record says why.
  mn_scx_exit ex{};
  if (!s->Alive(&ex)) {
    return absl::InternalError(absl::StrFormat(
        "disabled right after it was registered (state %s, kind %d, "
        "code %d): %s%s%s",
        State(), ex.kind, ex.exit_code, ex.reason, ex.msg[0] ? ": " : "", ex.msg));
  }
  return s;
}

ScxScheduler::~ScxScheduler() {
  if (link_fd_ >= 0) {
    close(link_fd_);
    WaitState("disabled", std::chrono::seconds(2));
  }
  if (skel_ != nullptr) mn_scx_bpf__destroy(skel_);
}

absl::Status ScxScheduler::AddRuntime(uint32_t tgid, int tracked_fd, int hints_fd,
                                      int telemetry_fd, int rt_state_fd, int trace_fd) {
  if (trace_fd >= 0) {
    // Optional, and first: the scheduler looks for it only once the runtime is entered.
    __u32 key = tgid, value = static_cast<__u32>(trace_fd);
    (void)bpf_map_update_elem(bpf_map__fd(skel_->maps.rt_traces), &key, &value, BPF_ANY);
  }
  struct Entry {
    bpf_map* outer;
    int fd;
    const char* name;
  } entries[] = {
      {skel_->maps.rt_tracked, tracked_fd, "tracked"},
      {skel_->maps.rt_hints, hints_fd, "hints"},
      {skel_->maps.rt_telemetry, telemetry_fd, "m_telemetry"},
      {skel_->maps.rt_states, rt_state_fd, "rt_state"},
  };
  // rt_tracked last: the scheduler takes a task for an M only once its tgid is there,
  // and then finds the other three.
  for (int i = 3; i >= 0; i--) {
    __u32 key = tgid, value = static_cast<__u32>(entries[i].fd);
    if (bpf_map_update_elem(bpf_map__fd(entries[i].outer), &key, &value, BPF_ANY) != 0) {
      int err = errno;
      for (int j = 3; j > i; j--) bpf_map_delete_elem(bpf_map__fd(entries[j].outer), &key);
      return absl::ErrnoToStatus(
          err, absl::StrFormat("entering runtime %u's %s map (fd %d) in the scheduler%s", tgid,
                               entries[i].name, entries[i].fd,
                               err == EINVAL ? " (not a map like telemetry.bpf.c's?)" : ""));
    }
  }
  return absl::OkStatus();
}

void ScxScheduler::RemoveRuntime(uint32_t tgid) {
  __u32 key = tgid;
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.rt_tracked), &key);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.rt_hints), &key);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.rt_telemetry), &key);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.rt_states), &key);
  bpf_map_delete_elem(bpf_map__fd(skel_->maps.rt_traces), &key);
}

bool ScxScheduler::Alive(mn_scx_exit* exit) const {
  const mn_scx_exit& e = skel_->bss->exit_info;
  __s64 kind = __atomic_load_n(&e.kind, __ATOMIC_ACQUIRE);  // written last (scx.bpf.c)
  const char* name = mode_ == ScxMode::kPartial ? "mnsched" : "mnsched_all";
  bool alive = kind == 0 && link_fd_ >= 0 && State() == "enabled" && OpsName() == name;
  if (!alive && exit != nullptr) {
    // The kernel calls `exit` at the end of disabling, after the state has left
    // "enabled": wait for the record a little rather than report no reason.
    for (int i = 0; i < 100 && kind == 0 && link_fd_ >= 0 && State() != "enabled"; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      kind = __atomic_load_n(&e.kind, __ATOMIC_ACQUIRE);
    }
    *exit = mn_scx_exit{};
    if (kind != 0) {
      *exit = e;
      exit->kind = kind;
      exit->reason[sizeof exit->reason - 1] = 0;
      exit->msg[sizeof exit->msg - 1] = 0;
    }
  }
  return alive;
}

mn_scx_stats ScxScheduler::Stats() const {
  mn_scx_stats sum{};
  int n = libbpf_num_possible_cpus();
  if (n <= 0) return sum;
  constexpr std::size_t kWords = sizeof(mn_scx_stats) / sizeof(__u64);
  static_assert(sizeof(mn_scx_stats) % sizeof(__u64) == 0);
  std::vector<__u64> per_cpu(kWords * static_cast<std::size_t>(n));
  __u32 zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &zero, per_cpu.data()) != 0) return sum;
  __u64 words[kWords] = {};
  for (int c = 0; c < n; c++) {
    for (std::size_t w = 0; w < kWords; w++) words[w] += per_cpu[c * kWords + w];
  }
  std::memcpy(&sum, words, sizeof sum);
  return sum;
}

#else  // !MN_WITH_BPF

std::string ScxScheduler::Preflight() { return "mnsched was built without BPF"; }

absl::StatusOr<std::unique_ptr<ScxScheduler>> ScxScheduler::Load(ScxMode, uint64_t) {
  return absl::UnimplementedError(
      "built without BPF (MN_WITH_BPF=OFF, or no kernel BTF on the "
      "build machine)");
}

ScxScheduler::~ScxScheduler() = default;

absl::Status ScxScheduler::AddRuntime(uint32_t, int, int, int, int, int) {
  return absl::UnimplementedError("built without BPF");
}
void ScxScheduler::RemoveRuntime(uint32_t) {}
bool ScxScheduler::Alive(mn_scx_exit* exit) const {
  if (exit != nullptr) *exit = mn_scx_exit{};
  return false;
}
mn_scx_stats ScxScheduler::Stats() const { return mn_scx_stats{}; }

#endif  // MN_WITH_BPF

}  // namespace mn::detail
