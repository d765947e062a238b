#pragma once
// How many Ps the runtime runs with. See procs.cpp for the rule and how it
// relates to Go 1.25's default GOMAXPROCS.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mn::detail {

// As Go's _MaxGomaxprocs; larger MN_PROCS values are rejected.
inline constexpr int kMaxProcs = 1024;

// Parses the value of MN_PROCS. Accepts a positive decimal integer
// 1..kMaxProcs; surrounding whitespace and a sign are NOT accepted. On error
// returns InvalidArgument whose message names the variable and quotes the
// value, e.g.  MN_PROCS="abc": not a positive integer
//              MN_PROCS="0": must be at least 1
//              MN_PROCS="99999": larger than 1024
absl::StatusOr<int> ParseProcsEnv(std::string_view value);

// Number of CPUs in this thread's affinity mask (sched_getaffinity, growing
// the buffer for masks larger than CPU_SETSIZE). Never less than 1.
int CpusFromAffinity();

// The CPU limit of the leaf cgroup of this process, as quota/period (e.g.
// 1.5), or nullopt when there is none ("max" in v2, -1 quota in v1) or it
// cannot be read.
//
// Reads <proc_self>/cgroup and <proc_self>/mountinfo (proc_self is used as
// given, it is NOT put under root_prefix) to find the cgroup v1 "cpu"
// controller mount (cpu.cfs_quota_us / cpu.cfs_period_us), or failing that
// the cgroup v2 unified mount (cpu.max); maps the process's cgroup path onto
// the mount, respecting the mount's root field; and reads only the leaf.
// Mount points taken from mountinfo are resolved under root_prefix, so
// /sys/fs/cgroup becomes <root_prefix>/sys/fs/cgroup.
std::optional<double> CgroupCpuLimit(const std::string& proc_self = "/proc/self",
                                     const std::string& root_prefix = "");

// Go 1.25's default: n = affinity_cpus; if a cgroup limit L applies,
// n = min(n, max(2, ceil(L))). The result is in [1, kMaxProcs].
int DefaultProcs(int affinity_cpus, std::optional<double> cgroup_limit);

// What the runtime calls: option_procs > 0 wins; else if env (the value of
// MN_PROCS, nullptr when unset) is non-null it is parsed (the empty string is
// an error too); else DefaultProcs(CpusFromAffinity(), CgroupCpuLimit()).
// option_procs < 0 or > kMaxProcs is InvalidArgument naming "Options.procs".
absl::StatusOr<int> ResolveProcs(int option_procs, const char* env);

}  // namespace mn::detail
