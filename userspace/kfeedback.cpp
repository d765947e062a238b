// KernelTelemetry: see kfeedback.hpp for the invariants, bpf/telemetry.bpf.c for what
// the programs record, and docs/kernel-feedback.md for the user's view.
#include "kfeedback.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "absl/strings/str_format.h"
#include "../bpf/mn_seqread.hpp"
#include "libbpf_log.hpp"

#if MN_WITH_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "telemetry.skel.h"
#endif

namespace mn::detail {

#if MN_WITH_BPF
namespace {

constexpr const char* kBpfFsRoot = "/sys/fs/bpf";
constexpr const char* kPinRoot = "/sys/fs/bpf/mnsched";
constexpr const char* kPinnedMaps[] = {"m_telemetry", "cpu_state", "hints", "p_state", "rt_state",
                                      "tracked", "trace_events"};

int64_t MonoNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock bpf_ktime_get_ns reads
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void RemoveDir(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      unlink((dir + "/" + e->d_name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

void* MapArray(bpf_map* map, std::size_t* len) {
  std::size_t elem = (bpf_map__value_size(map) + 7) & ~std::size_t{7};
  std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  *len = (elem * bpf_map__max_entries(map) + page - 1) / page * page;
  void* p = mmap(nullptr, *len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
  return p == MAP_FAILED ? nullptr : p;
}

// The kernel's id of the map behind fd, or 0.
__u32 MapId(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof info;
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// The id of the map pinned at path, or 0.
__u32 PinnedMapId(const std::string& path) {
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return 0;
  __u32 id = MapId(fd);
  close(fd);
  return id;
}

// Whether process `pid` still holds the map pinned at `path` (its fds name the map's id).
bool ProcessHoldsMap(pid_t pid, const std::string& path) {
  __u32 id = PinnedMapId(path);
  if (id == 0) return false;
  std::string want = absl::StrFormat("map_id:\t%u\n", id);
  std::string fdinfo = absl::StrFormat("/proc/%d/fdinfo", pid);
  DIR* d = opendir(fdinfo.c_str());
  if (d == nullptr) return false;
  bool found = false;
  char buf[1024];
  while (!found) {
    dirent* e = readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] == '.') continue;
    int f = open((fdinfo + "/" + e->d_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) continue;
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n > 0) {
      buf[n] = 0;
      found = std::strstr(buf, want.c_str()) != nullptr;
    }
  }
  closedir(d);
  return found;
}

// Removes pin directories whose process is gone (or is another program now).
void CleanStalePins() {
  DIR* d = opendir(kPinRoot);
  if (d == nullptr) return;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != 0 || pid <= 0) continue;
    std::string dir = absl::StrFormat("%s/%ld", kPinRoot, pid);
    bool alive = kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    // Our own pid: a runtime of this process that never ended (or a reused pid). A live
    // process whose m_telemetry is not pinned yet may be pinning right now: left alone.
    std::string first = dir + "/m_telemetry";
    if (!alive || pid == getpid() ||
        (PinnedMapId(first) != 0 && !ProcessHoldsMap(static_cast<pid_t>(pid), first))) {
      RemoveDir(dir);
    }
  }
  closedir(d);
}

}  // namespace
#endif  // MN_WITH_BPF

bool ParseKernelFeedback(const char* text, KernelFeedback* mode, uint32_t* policies,
                         std::string* error) {
  auto bad = [&](std::string_view why) {
    *error = absl::StrFormat(
        "MN_KERNEL_FEEDBACK=\"%s\": %s (one of auto, required or off, optionally followed by "
        "policies: telemetry (none), handoff, spin, all, scx; e.g. \"auto\", "
        "\"required,handoff\", \"telemetry\", \"scx,all\")",
        text, why);
    return false;
  };
  std::string_view rest = text;
  bool have_mode = false, have_policy = false, off = false;
  KernelFeedback m = KernelFeedback::kAuto;
  uint32_t pol = 0;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view w = rest.substr(0, comma);
    if (w == "auto" || w == "required" || w == "off") {
      if (have_mode) return bad("more than one of auto, required and off");
      have_mode = true;
      off = w == "off";
      m = w == "auto" ? KernelFeedback::kAuto : w == "required" ? KernelFeedback::kRequired
                                                                : KernelFeedback::kOff;
    } else if (w == "telemetry") {
      have_policy = true;
    } else if (w == "handoff") {
      have_policy = true;
      pol |= MN_POLICY_HANDOFF;
    } else if (w == "spin") {
      have_policy = true;
      pol |= MN_POLICY_SPIN;
    } else if (w == "all") {
      have_policy = true;
      pol |= kAllPolicies;
    } else if (w == "scx") {
      have_policy = true;
      pol |= kPolicyScx;
    } else {
      return bad(w.empty() ? "an empty word" : absl::StrFormat("unknown word \"%s\"", w));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (off && have_policy) return bad("off takes no policies");
  *mode = m;
  *policies = have_policy ? pol : kDefaultPolicies;
  return true;
}

std::string PolicyNames(uint32_t policies) {
  if (policies == 0) return "telemetry only";
  std::string s;
  auto add = [&](const char* w) { s += s.empty() ? w : std::string(",") + w; };
  if (policies & MN_POLICY_HANDOFF) add("handoff");
  if (policies & MN_POLICY_SPIN) add("spin");
  if (policies & kPolicyScx) add("scx");
  return s;
}

#if MN_WITH_BPF

std::unique_ptr<KernelTelemetry> KernelTelemetry::Open(int procs, uint32_t policies,
                                                       std::string* why_not,
                                                       std::string* pin_error) {
  if (std::string cap = BpfCapabilityProblem(); !cap.empty()) {
    *why_not = cap;
    return nullptr;
  }
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    *why_not = "the kernel has no BTF (/sys/kernel/btf/vmlinux is missing: CONFIG_DEBUG_INFO_BTF is off)";
    return nullptr;
  }
  std::optional<LibbpfLog> log(std::in_place);
  std::unique_ptr<KernelTelemetry> kt(new KernelTelemetry());
  auto fail = [&](const char* step, int err) {
    *why_not = log->Failure(step, err);
    return nullptr;
  };
  kt->skel_ = mn_telemetry_bpf__open();
  if (kt->skel_ == nullptr) return fail("opening the BPF object", errno);
  kt->procs_ = procs;
  kt->ncpus_ = libbpf_num_possible_cpus();
  if (kt->ncpus_ <= 0) return fail("counting the possible CPUs", kt->ncpus_);
  kt->skel_->rodata->target_tgid = static_cast<__u32>(getpid());
  kt->skel_->rodata->policies = policies & kAllPolicies;
  bpf_map__set_max_entries(kt->skel_->maps.cpu_state, static_cast<__u32>(kt->ncpus_));
  bpf_map__set_max_entries(kt->skel_->maps.p_state, static_cast<__u32>(procs));
  if (int err = mn_telemetry_bpf__load(kt->skel_); err != 0) return fail("loading the BPF programs", err);
  if (int err = mn_telemetry_bpf__attach(kt->skel_); err != 0) return fail("attaching the BPF programs", err);
  log.reset();

  auto& maps = kt->skel_->maps;
  kt->m_ = static_cast<mn_m_telemetry*>(MapArray(maps.m_telemetry, &kt->m_len_));
  kt->cpu_ = static_cast<mn_cpu_state*>(MapArray(maps.cpu_state, &kt->cpu_len_));
  kt->hints_ = static_cast<mn_m_hints*>(MapArray(maps.hints, &kt->hints_len_));
  kt->p_ = static_cast<mn_p_state*>(MapArray(maps.p_state, &kt->p_len_));
  kt->rt_ = static_cast<mn_rt_state*>(MapArray(maps.rt_state, &kt->rt_len_));
  if (kt->m_ == nullptr || kt->cpu_ == nullptr || kt->hints_ == nullptr || kt->p_ == nullptr ||
      kt->rt_ == nullptr) {
    *why_not = absl::StrFormat("mapping the BPF maps: %s", std::strerror(errno));
    return nullptr;
  }
  for (int i = 0; i < MN_MAX_MS; i++) kt->hints_[i].p = -1;
  for (int i = 0; i < procs; i++) {
    kt->p_[i].id = i;
    kt->p_[i].m = -1;
  }
  kt->tracked_fd_ = bpf_map__fd(maps.tracked);
  kt->events_fd_ = bpf_map__fd(maps.events);
  kt->trace_events_fd_ = bpf_map__fd(maps.trace_events);
  *pin_error = kt->Pin();
  return kt;
}

std::string KernelTelemetry::Pin() {
  struct statfs fs {};
  if (statfs(kBpfFsRoot, &fs) != 0 || fs.f_type != BPF_FS_MAGIC) {
    // As bpftool does: mount the BPF filesystem where it belongs when nobody has.
    if (mount("bpf", kBpfFsRoot, "bpf", 0, "mode=0700") != 0) {
      return absl::StrFormat("%s is not a BPF filesystem and mounting one failed: %s", kBpfFsRoot,
                             std::strerror(errno));
    }
  }
  if (mkdir(kPinRoot, 0755) != 0 && errno != EEXIST) {
    return absl::StrFormat("mkdir %s: %s", kPinRoot, std::strerror(errno));
  }
  CleanStalePins();
  std::string dir = absl::StrFormat("%s/%d", kPinRoot, getpid());
  if (mkdir(dir.c_str(), 0755) != 0) {
    return absl::StrFormat("mkdir %s: %s", dir, std::strerror(errno));
  }
  // tracked and trace_events too: tools/mnsched-scx enters them in the sched_ext
  // scheduler's maps.
  bpf_map* maps[] = {skel_->maps.m_telemetry, skel_->maps.cpu_state, skel_->maps.hints,
                     skel_->maps.p_state, skel_->maps.rt_state, skel_->maps.tracked,
                     skel_->maps.trace_events};
  for (std::size_t i = 0; i < std::size(maps); i++) {
    std::string path = dir + "/" + kPinnedMaps[i];
    if (int err = bpf_map__pin(maps[i], path.c_str()); err != 0) {
      RemoveDir(dir);
      return absl::StrFormat("pinning %s: %s", path, std::strerror(-err));
    }
  }
  pin_dir_ = dir;
  return "";
}

KernelTelemetry::~KernelTelemetry() {
  // Only if the pins are still ours: a later runtime of this process may have replaced
  // them (CleanStalePins) while this one waited for a straggling M thread.
  if (!pin_dir_.empty() &&
      PinnedMapId(pin_dir_ + "/m_telemetry") == MapId(bpf_map__fd(skel_->maps.m_telemetry))) {
    RemoveDir(pin_dir_);
  }
  if (m_ != nullptr) munmap(m_, m_len_);
  if (cpu_ != nullptr) munmap(cpu_, cpu_len_);
  if (hints_ != nullptr) munmap(hints_, hints_len_);
  if (rt_ != nullptr) munmap(rt_, rt_len_);
  if (p_ != nullptr) munmap(p_, p_len_);
  if (skel_ != nullptr) mn_telemetry_bpf__destroy(skel_);
}

namespace {

// Writes an M's record from user space under its seq, as the programs do (odd while
// writing), so that a reader never copies it half-written. A program holds seq odd for a
// few dozen instructions, so the wait is short; it cannot last.
// One field of a record that readers may be copying at the same time (they retry on a
// changed seq): a whole-word store, which TSan also sees as one.
template <typename T, typename V>
void Store(T& field, V v) {
  std::atomic_ref<T>(field).store(static_cast<T>(v), std::memory_order_relaxed);
}

template <typename F>
void WriteRecord(mn_m_telemetry* r, F&& write) {
  std::atomic_ref<__u64> seq(r->seq);
  for (int tries = 0;; tries++) {
    __u64 s = seq.load(std::memory_order_relaxed);
    // acquire: after a program's last write to the record.
    if ((s & 1) == 0 && seq.compare_exchange_weak(s, s + 1, std::memory_order_acquire)) break;
    if (tries > 100) sched_yield();  // its CPU may have been taken by an interrupt
  }
  write(r);
  seq.fetch_add(1, std::memory_order_release);  // pairs with SeqRead's acquire
}

}  // namespace

void KernelTelemetry::RegisterM(int slot, pid_t tid) {
  if (slot < 0 || slot >= MN_MAX_MS) return;
  WriteRecord(&m_[slot], [&](mn_m_telemetry* r) {
    Store(r->tid, static_cast<__u32>(tid));
    Store(r->cpu, sched_getcpu());
    Store(r->state, mn_on_cpu);
    Store(r->since_ns, static_cast<__u64>(MonoNs()));
  });
  std::atomic_ref<__u32>(hints_[slot].tid).store(static_cast<__u32>(tid), std::memory_order_relaxed);
  // From here the programs follow the thread.
  __u32 key = static_cast<__u32>(tid), value = static_cast<__u32>(slot);
  bpf_map_update_elem(tracked_fd_, &key, &value, BPF_ANY);
}

void KernelTelemetry::UnregisterM(int slot, pid_t tid) {
  if (slot < 0 || slot >= MN_MAX_MS) return;
  __u32 key = static_cast<__u32>(tid);
  bpf_map_delete_elem(tracked_fd_, &key);
  // A program that looked the tid up just before may still be writing: WriteRecord waits.
  WriteRecord(&m_[slot], [](mn_m_telemetry* r) {
    Store(r->state, mn_exited);
    Store(r->since_ns, static_cast<__u64>(MonoNs()));
  });
  std::atomic_ref<__s32>(hints_[slot].p).store(-1, std::memory_order_relaxed);
}

int KernelTelemetry::MapFd(const char* name) const {
  bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name);
  return map != nullptr ? bpf_map__fd(map) : -1;
}

mn_m_hints* KernelTelemetry::hints(int slot) const {
  return slot >= 0 && slot < MN_MAX_MS ? &hints_[slot] : nullptr;
}

mn_p_state* KernelTelemetry::p_state(int p) const {
  return p >= 0 && p < procs_ ? &p_[p] : nullptr;
}

bool KernelTelemetry::ReadM(int slot, mn_m_telemetry* out) const {
  if (slot < 0 || slot >= MN_MAX_MS) return false;
  return mn_telemetry::SeqRead(&m_[slot], out, 100);
}

bool KernelTelemetry::ReadCpu(int cpu, mn_cpu_state* out) const {
  if (cpu < 0 || cpu >= ncpus_) return false;
  return mn_telemetry::SeqRead(&cpu_[cpu], out, 100);
}

#else  // !MN_WITH_BPF

std::unique_ptr<KernelTelemetry> KernelTelemetry::Open(int, uint32_t, std::string* why_not,
                                                       std::string*) {
  *why_not = "mnsched was built without BPF (MN_WITH_BPF=OFF, or no kernel BTF on the build machine)";
  return nullptr;
}
KernelTelemetry::~KernelTelemetry() = default;
void KernelTelemetry::RegisterM(int, pid_t) {}
void KernelTelemetry::UnregisterM(int, pid_t) {}
int KernelTelemetry::MapFd(const char*) const { return -1; }
mn_m_hints* KernelTelemetry::hints(int) const { return nullptr; }
mn_p_state* KernelTelemetry::p_state(int) const { return nullptr; }
bool KernelTelemetry::ReadM(int, mn_m_telemetry*) const { return false; }
bool KernelTelemetry::ReadCpu(int, mn_cpu_state*) const { return false; }
std::string KernelTelemetry::Pin() { return ""; }

#endif  // MN_WITH_BPF

}  // namespace mn::detail
