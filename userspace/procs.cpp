// Decides how many Ps (logical processors) the runtime uses.
//
// The rule follows Go 1.25's default GOMAXPROCS (runtime/cgroup_linux.go,
// defaultGOMAXPROCS, and internal/runtime/cgroup), because a runtime modelled
// on Go's scheduler should size itself the way Go programs in the same
// container would:
//
//   1. An explicit count wins: Options.procs > 0, else MN_PROCS (Go: the
//      GOMAXPROCS environment variable).
//   2. Otherwise n = number of CPUs in the sched_getaffinity mask, lowered to
//      max(2, ceil(quota/period)) when the process's leaf CPU cgroup has a
//      bandwidth limit. We keep Go's floor of 2 (Go's source leaves its
//      rationale as a TODO): the quota is an average over a period, so short
//      parallel bursts fit within even a 0.5 CPU limit, and a single P would
//      serialise work that runs alongside user code, such as a collector.
//
// Where we deliberately differ from Go 1.25:
//
//   * An invalid MN_PROCS is an error. Go silently ignores a GOMAXPROCS it
//     cannot parse and falls back to the default, so a typo quietly changes
//     how parallel a program is; we would rather say so. For the same reason
//     counts above kMaxProcs (Go's historical _MaxGomaxprocs) are rejected,
//     and the automatic default is capped at kMaxProcs.
//   * The count is decided once, at start-up. Go 1.25 re-reads the cgroup
//     limit and affinity from sysmon and adjusts GOMAXPROCS while running.
//   * There is no GODEBUG=containermaxprocs=0 switch; MN_PROCS or
//     Options.procs overrides the cgroup rule instead.
//   * The cgroup path from /proc/self/cgroup is mapped onto the mount using the
//     mount's root field (mountinfo field 4). The first Go 1.25 releases
//     appended the whole cgroup path to the mount point, which misses the
//     limit when a host bind-mounts a sub-tree of the hierarchy into a
//     container (golang/go#76390, reported on 1.25.4); Go's fix strips the
//     mount root as we do.
//   * If /proc/self/cgroup names a v1 "cpu" hierarchy that is not mounted in
//     our mount namespace we fall back to the v2 hierarchy instead of giving
//     up. That can only find a limit where Go would find none.
//   * If sched_getaffinity fails outright (say, a seccomp filter denies it)
//     we use the online CPU count; Go uses 1, which would serialise the
//     program for a reason unrelated to the CPUs it may use.
//
// Like Go, only the leaf cgroup is read: an ancestor's tighter limit is not
// seen. Container runtimes hide the ancestors anyway, and walking up would
// read cgroups we were not placed in.

#include "procs.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace mn::detail {
namespace {

constexpr std::string_view kEnvName = "MN_PROCS";

// Debian's Abseil is built with its own absl::string_view rather than an alias
// of std::string_view, so the two are converted explicitly where they meet.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Splitting is done on std::string_view by hand instead of with
// absl::StrSplit for the same reason. Empty pieces are kept.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

std::string_view StripTrailingWhitespace(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// sched_getaffinity only reports EINVAL, never the size it wants, so the
// buffer is doubled until it fits. Linux's NR_CPUS is at most 8192; the bound
// only stops a runaway loop on a kernel that keeps saying EINVAL.
constexpr int kAffinityMaxCpus = 1 << 20;

// File reads use open/read rather than iostreams: /proc files report size 0,
// O_CLOEXEC keeps the descriptor out of children forked meanwhile, and no
// exceptions or locale machinery is involved.
std::optional<std::string> ReadWholeFile(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return std::nullopt;

  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// Strict integer parse: from_chars rejects whitespace and '+', and the whole
// string must be consumed, so "100000us" is not silently read as 100000.
std::optional<int64_t> ParseInt64(std::string_view s) {
  int64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (s.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// Exact token match on a comma-separated list: "cpuacct" and "cpuset" are
// other controllers and must not be mistaken for "cpu".
bool ListContainsCpu(std::string_view csv) {
  for (std::string_view item : Split(csv, ',')) {
    if (item == "cpu") return true;
  }
  return false;
}

// The kernel's show_path escapes space, tab, newline and backslash in
// mountinfo paths as a backslash and three octal digits (\040 for space).
// Anything else after a backslash means the line is not what we think it is.
std::optional<std::string> UnescapeMountPath(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 3 >= in.size()) return std::nullopt;
    int c = 0;
    for (size_t k = 1; k <= 3; ++k) {
      char d = in[i + k];
      if (d < '0' || d > '7') return std::nullopt;
      c = c * 8 + (d - '0');
    }
    if (c > 0xff) return std::nullopt;
    out.push_back(static_cast<char>(c));
    i += 3;
  }
  return out;
}

// Where this process sits in the CPU hierarchies, from /proc/<pid>/cgroup.
struct CgroupMembership {
  std::optional<std::string> v1_cpu;  // path in the v1 hierarchy holding "cpu"
  std::optional<std::string> v2;      // path in the unified hierarchy ("0::")
};

CgroupMembership ParseProcCgroup(std::string_view text) {
  CgroupMembership m;
  for (std::string_view line : Split(text, '\n')) {
    // hierarchy-ID:controller-list:cgroup-path. Split only twice: the path
    // itself may contain ':'.
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view id = line.substr(0, c1);
    std::string_view controllers = line.substr(c1 + 1, c2 - c1 - 1);
    std::string_view path = line.substr(c2 + 1);
    if (path.empty() || path.front() != '/') continue;
    if (id == "0") {
      m.v2 = std::string(path);
    } else if (!m.v1_cpu && ListContainsCpu(controllers)) {
      m.v1_cpu = std::string(path);
    }
  }
  return m;
}

enum class CgroupVersion { kV1, kV2 };

struct CgroupMount {
  CgroupVersion version;
  std::string root;         // mountinfo field 4: what part of the hierarchy is mounted
  std::string mount_point;  // mountinfo field 5
};

// Collects the cgroup2 mounts and the cgroup v1 mounts carrying the cpu
// controller. Lines we cannot parse are skipped rather than failing the whole
// lookup: they are usually unrelated mounts, and the worst outcome of missing
// a cgroup mount is the no-limit default.
std::vector<CgroupMount> ParseMountinfo(std::string_view text) {
  // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
  // (1)(2)(3)   (4)   (5)      (6)      (7)*   (8) (9)   (10)      (11)
  // (7) is zero or more optional fields, so the fields after it are found by
  // the lone "-" separator, never by position.
  std::vector<CgroupMount> mounts;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(line, ' ');
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (sep + 3 >= f.size()) continue;
    std::string_view fstype = f[sep + 1];
    std::string_view super_options = f[sep + 3];

    CgroupVersion version;
    if (fstype == "cgroup2") {
      version = CgroupVersion::kV2;
    } else if (fstype == "cgroup" && ListContainsCpu(super_options)) {
      version = CgroupVersion::kV1;
    } else {
      continue;
    }
    std::optional<std::string> root = UnescapeMountPath(f[3]);
    std::optional<std::string> mount_point = UnescapeMountPath(f[4]);
    if (!root || !mount_point) continue;
    mounts.push_back({version, *std::move(root), *std::move(mount_point)});
  }
  return mounts;
}

// The part of `cgroup` below a mount whose root is `root`, or nullopt when the
// cgroup is not visible through that mount. When a host bind-mounts
// /docker/<id> of the hierarchy into a container, mountinfo shows root
// "/docker/<id>" while /proc/self/cgroup still says "/docker/<id>"; the
// cgroup's directory is then the mount point itself, not
// <mount>/docker/<id>.
std::optional<std::string_view> PathBelowRoot(std::string_view cgroup, std::string_view root) {
  if (cgroup.empty() || cgroup.front() != '/') return std::nullopt;
  std::string_view rest;
  if (root == "/") {
    rest = cgroup == "/" ? std::string_view() : cgroup;
  } else {
    if (!cgroup.starts_with(root)) return std::nullopt;
    cgroup.remove_prefix(root.size());
    // "/a/bc" starts with "/a/b" but is not below it.
    if (!cgroup.empty() && cgroup.front() != '/') return std::nullopt;
    rest = cgroup;
  }
  // A process moved outside its cgroup namespace sees paths like "/../x";
  // joining those would read a file outside the mount.
  for (std::string_view part : Split(rest, '/')) {
    if (part == "..") return std::nullopt;
  }
  return rest;
}

// The outcome of reading one candidate cgroup directory. `found` is false when
// the limit file does not exist there, so that another mount may be tried;
// once a file is found its content decides, even when it says "no limit".
struct LimitRead {
  bool found = false;
  std::optional<double> limit;
};

LimitRead ReadV2Limit(const std::string& dir) {
  std::optional<std::string> text = ReadWholeFile(dir + "/cpu.max");
  if (!text) return {};
  // "<quota> <period>\n", quota may be "max".
  std::vector<std::string_view> parts = Split(StripTrailingWhitespace(*text), ' ');
  if (parts.size() != 2 || parts[0] == "max") return {true, std::nullopt};
  std::optional<int64_t> quota = ParseInt64(parts[0]);
  std::optional<int64_t> period = ParseInt64(parts[1]);
  if (!quota || !period || *quota < 0 || *period <= 0) return {true, std::nullopt};
  return {true, static_cast<double>(*quota) / static_cast<double>(*period)};
}

LimitRead ReadV1Limit(const std::string& dir) {
  std::optional<std::string> quota_text = ReadWholeFile(dir + "/cpu.cfs_quota_us");
  if (!quota_text) return {};
  std::optional<int64_t> quota = ParseInt64(StripTrailingWhitespace(*quota_text));
  // -1 is v1's "no limit"; like Go the period is not even read then.
  if (!quota || *quota < 0) return {true, std::nullopt};
  std::optional<std::string> period_text = ReadWholeFile(dir + "/cpu.cfs_period_us");
  if (!period_text) return {true, std::nullopt};
  std::optional<int64_t> period = ParseInt64(StripTrailingWhitespace(*period_text));
  if (!period || *period <= 0) return {true, std::nullopt};
  return {true, static_cast<double>(*quota) / static_cast<double>(*period)};
}

// Tries each mount of `version` through which `cgroup` is visible; the same
// hierarchy may be mounted more than once, and some of those mounts may not
// show our cgroup.
LimitRead ReadLimitVia(const std::vector<CgroupMount>& mounts, CgroupVersion version,
                       std::string_view cgroup, const std::string& root_prefix) {
  for (const CgroupMount& m : mounts) {
    if (m.version != version) continue;
    std::optional<std::string_view> rest = PathBelowRoot(cgroup, m.root);
    if (!rest) continue;
    std::string_view mount_point = m.mount_point;
    while (mount_point.size() > 1 && mount_point.back() == '/') mount_point.remove_suffix(1);
    if (mount_point == "/") mount_point = "";
    std::string dir = absl::StrCat(root_prefix, ToAbsl(mount_point), ToAbsl(*rest));
    LimitRead r = version == CgroupVersion::kV1 ? ReadV1Limit(dir) : ReadV2Limit(dir);
    if (r.found) return r;
  }
  return {};
}

}  // namespace

absl::StatusOr<int> ParseProcsEnv(std::string_view value) {
  auto invalid = [value](std::string_view why) {
    // CHexEscape keeps a value with quotes or control characters readable
    // and unambiguous inside the quotes.
    return absl::InvalidArgumentError(
        absl::StrFormat("%s=\"%s\": %s", ToAbsl(kEnvName), absl::CHexEscape(ToAbsl(value)),
                        ToAbsl(why)));
  };
  if (value.empty() ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid("not a positive integer");
  }
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > kMaxProcs)) {
    return invalid(absl::StrFormat("larger than %d", kMaxProcs));
  }
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    return invalid("not a positive integer");
  }
  if (n == 0) return invalid("must be at least 1");
  return static_cast<int>(n);
}

int CpusFromAffinity() {
  struct CpuSetFree {
    void operator()(cpu_set_t* s) const { CPU_FREE(s); }
  };
  for (int ncpus = CPU_SETSIZE; ncpus <= kAffinityMaxCpus; ncpus *= 2) {
    std::unique_ptr<cpu_set_t, CpuSetFree> set(CPU_ALLOC(ncpus));
    if (!set) break;
    const size_t bytes = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(bytes, set.get());
    if (::sched_getaffinity(0, bytes, set.get()) == 0) {
      return std::max(1, CPU_COUNT_S(bytes, set.get()));
    }
    // EINVAL means the kernel's mask is larger than our buffer; anything else
    // will not be cured by a larger buffer.
    if (errno != EINVAL) break;
  }
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 1) return 1;
  return static_cast<int>(std::min<long>(online, INT_MAX));
}

std::optional<double> CgroupCpuLimit(const std::string& proc_self, const std::string& root_prefix) {
  std::optional<std::string> cgroup_text = ReadWholeFile(proc_self + "/cgroup");
  if (!cgroup_text) return std::nullopt;
  CgroupMembership member = ParseProcCgroup(*cgroup_text);
  if (!member.v1_cpu && !member.v2) return std::nullopt;

  std::optional<std::string> mountinfo_text = ReadWholeFile(proc_self + "/mountinfo");
  if (!mountinfo_text) return std::nullopt;
  std::vector<CgroupMount> mounts = ParseMountinfo(*mountinfo_text);

  // On hybrid hosts both lines exist; the cpu controller can be attached to
  // only one hierarchy, and when the v1 one has it the v2 cpu.max does not
  // exist, so v1 is asked first, as Go does.
  if (member.v1_cpu) {
    LimitRead r = ReadLimitVia(mounts, CgroupVersion::kV1, *member.v1_cpu, root_prefix);
    if (r.found) return r.limit;
  }
  if (member.v2) {
    LimitRead r = ReadLimitVia(mounts, CgroupVersion::kV2, *member.v2, root_prefix);
    if (r.found) return r.limit;
  }
  return std::nullopt;
}

int DefaultProcs(int affinity_cpus, std::optional<double> cgroup_limit) {
  int n = std::clamp(affinity_cpus, 1, kMaxProcs);
  // Compared as doubles so that a huge or infinite limit cannot overflow an
  // int conversion; NaN and infinity mean the limit file said nothing usable.
  if (cgroup_limit && std::isfinite(*cgroup_limit)) {
    double cap = std::max(2.0, std::ceil(*cgroup_limit));
    if (cap < static_cast<double>(n)) n = static_cast<int>(cap);
  }
  return n;
}

absl::StatusOr<int> ResolveProcs(int option_procs, const char* env) {
  if (option_procs < 0 || option_procs > kMaxProcs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Options.procs=%d: must be between 1 and %d (or 0 for the default)", option_procs,
        kMaxProcs));
  }
  if (option_procs > 0) return option_procs;
  if (env != nullptr) return ParseProcsEnv(env);
  return DefaultProcs(CpusFromAffinity(), CgroupCpuLimit());
}

}  // namespace mn::detail
