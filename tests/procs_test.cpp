// Tests for the P-count decision (userspace/procs.cpp): MN_PROCS parsing, the
// Go 1.25 default rule, cgroup limit discovery against fake /proc and
// /sys/fs/cgroup trees, and the precedence of the three sources.

#include "procs.hpp"

#include <sched.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace mn::detail {
namespace {

// Plain gtest only: the test links GTest::gtest_main, not gmock.
::testing::AssertionResult Contains(const std::string& haystack, const std::string& needle) {
  if (haystack.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << haystack << "\" does not contain \"" << needle
                                       << "\"";
}

::testing::AssertionResult IsLimit(const std::optional<double>& got, double want) {
  if (!got) return ::testing::AssertionFailure() << "no limit, want " << want;
  if (std::fabs(*got - want) > 1e-12) {
    return ::testing::AssertionFailure() << "limit " << *got << ", want " << want;
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// ParseProcsEnv

TEST(ParseProcsEnvTest, AcceptsPositiveIntegersUpToMax) {
  struct Case {
    const char* value;
    int want;
  };
  for (const Case& c : std::vector<Case>{{"1", 1}, {"4", 4}, {"04", 4}, {"1023", 1023}, {"1024", 1024}}) {
    absl::StatusOr<int> got = ParseProcsEnv(c.value);
    ASSERT_TRUE(got.ok()) << c.value << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.value;
  }
}

TEST(ParseProcsEnvTest, RejectsWithMessageNamingVariableAndQuotedValue) {
  for (const char* value : {"", "0", "-1", "abc", "4x", " 4", "4 ", "+4", "0x10", "1.5", "1025",
                            "99999", "99999999999999999999"}) {
    absl::StatusOr<int> got = ParseProcsEnv(value);
    ASSERT_FALSE(got.ok()) << "accepted \"" << value << "\" as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << value;
    const std::string msg(got.status().message());
    EXPECT_TRUE(Contains(msg, "MN_PROCS")) << value;
    std::string quoted = "\"";  // built stepwise: g++ 12 warns falsely on "x" + s + "x"
    quoted.append(value).append("\"");
    EXPECT_TRUE(Contains(msg, quoted)) << value;
  }
}

TEST(ParseProcsEnvTest, SaysWhyTheValueIsWrong) {
  EXPECT_TRUE(Contains(std::string(ParseProcsEnv("abc").status().message()), "not a positive integer"));
  EXPECT_TRUE(Contains(std::string(ParseProcsEnv("-1").status().message()), "not a positive integer"));
  EXPECT_TRUE(Contains(std::string(ParseProcsEnv("1025").status().message()), "larger than 1024"));
  // Overflowing every integer type is still just "too large", not "garbage".
  EXPECT_TRUE(Contains(std::string(ParseProcsEnv("99999999999999999999").status().message()), "larger than 1024"));
  EXPECT_EQ(std::string(ParseProcsEnv("99999").status().message()),
            "MN_PROCS=\"99999\": larger than 1024");
}

TEST(ParseProcsEnvTest, EscapesQuotesInTheValue) {
  absl::StatusOr<int> got = ParseProcsEnv("4\"");
  ASSERT_FALSE(got.ok());
  EXPECT_TRUE(Contains(std::string(got.status().message()), "MN_PROCS=\"4\\\"\""));
}

// ---------------------------------------------------------------------------
// DefaultProcs

TEST(DefaultProcsTest, FollowsGoRule) {
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  const double kInf = std::numeric_limits<double>::infinity();
  struct Case {
    int cpus;
    std::optional<double> limit;
    int want;
  };
  const std::vector<Case> cases = {
      {8, std::nullopt, 8},   // no cgroup limit: the affinity count
      {8, 4.0, 4},            // whole limit below the CPUs
      {8, 2.5, 3},            // fractions round up
      {8, 2.0000001, 3},
      {8, 1.5, 2},            // limits below 2 become 2
      {8, 0.5, 2},
      {8, 0.0, 2},
      {8, 16.0, 8},           // a limit above the CPUs does not add Ps
      {8, 8.0, 8},
      {3, 2.0, 2},
      {2, 0.1, 2},
      {1, 0.5, 1},            // the floor of 2 never exceeds the CPUs
      {1, std::nullopt, 1},
      {0, std::nullopt, 1},   // never less than 1
      {-3, 1.0, 1},
      {8, kNaN, 8},           // unusable limits are ignored
      {8, kInf, 8},
      {8, 1e300, 8},
      {4096, std::nullopt, kMaxProcs},  // capped at kMaxProcs
      {4096, 2000.0, kMaxProcs},
      {4096, 100.0, 100},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DefaultProcs(c.cpus, c.limit), c.want)
        << "cpus=" << c.cpus << " limit=" << (c.limit ? std::to_string(*c.limit) : "none");
  }
}

// ---------------------------------------------------------------------------
// CpusFromAffinity

TEST(CpusFromAffinityTest, AtLeastOneAndMatchesTheMask) {
  const int n = CpusFromAffinity();
  EXPECT_GE(n, 1);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    EXPECT_EQ(n, CPU_COUNT(&set));
  }
}

TEST(CpusFromAffinityTest, ReportsThisThreadsMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) {
      first = i;
      break;
    }
  }
  ASSERT_GE(first, 0);

  // Pin a separate thread so the test process itself keeps its mask.
  int pinned_result = -1;
  int seen = -1;
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    pinned_result = sched_setaffinity(0, sizeof one, &one);
    if (pinned_result == 0) seen = CpusFromAffinity();
  });
  t.join();
  if (pinned_result != 0) GTEST_SKIP() << "sched_setaffinity not permitted here";
  EXPECT_EQ(seen, 1);
}

// ---------------------------------------------------------------------------
// CgroupCpuLimit against fake trees

// A temporary directory laid out like "/": <dir>/proc/self/{cgroup,mountinfo}
// and <dir>/sys/fs/cgroup/..., passed as proc_self and root_prefix.
class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir();
    if (tmpl.empty() || tmpl.back() != '/') tmpl += '/';
    tmpl += "procs_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(mkdtemp(buf.data()), nullptr) << "mkdtemp " << tmpl;
    root_ = buf.data();
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // Writes <root>/<rel>, creating parent directories.
  void Write(const std::string& rel, const std::string& content) {
    const std::filesystem::path p = std::filesystem::path(root_) / rel;
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    ASSERT_FALSE(ec) << ec.message();
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    ASSERT_TRUE(out) << "writing " << p;
  }

  void WriteProc(const std::string& cgroup, const std::string& mountinfo) {
    Write("proc/self/cgroup", cgroup);
    Write("proc/self/mountinfo", mountinfo);
  }

  std::optional<double> Limit() { return CgroupCpuLimit(root_ + "/proc/self", root_); }

  std::string root_;
};

// Ordinary mounts that every realistic mountinfo has around the cgroup ones.
constexpr char kBaseMounts[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
    "20 22 0:19 / /proc rw,nosuid,nodev,noexec shared:5 - proc proc rw\n"
    "21 22 0:20 / /sys rw,nosuid,nodev,noexec shared:6 - sysfs sysfs rw\n";

constexpr char kV2Mount[] =
    "25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

TEST_F(FakeTree, V2MaxMeansNoLimit) {
  WriteProc("0::/user.slice/app.scope\n", std::string(kBaseMounts) + kV2Mount);
  Write("sys/fs/cgroup/user.slice/app.scope/cpu.max", "max 100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, V2QuotaOverPeriod) {
  WriteProc("0::/user.slice/app.scope\n", std::string(kBaseMounts) + kV2Mount);
  Write("sys/fs/cgroup/user.slice/app.scope/cpu.max", "150000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.5));
  Write("sys/fs/cgroup/user.slice/app.scope/cpu.max", "50000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 0.5));
}

TEST_F(FakeTree, V2ReadsOnlyTheLeaf) {
  WriteProc("0::/parent/leaf\n", std::string(kBaseMounts) + kV2Mount);
  Write("sys/fs/cgroup/parent/cpu.max", "100000 100000\n");
  Write("sys/fs/cgroup/parent/leaf/cpu.max", "max 100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, V2MalformedCpuMaxIsNoLimit) {
  WriteProc("0::/a\n", std::string(kBaseMounts) + kV2Mount);
  for (const char* content : {"garbage\n", "100000us 100000\n", "100000 0\n", "100000 -5\n",
                              "100000\n", "1 2 3\n", ""}) {
    Write("sys/fs/cgroup/a/cpu.max", content);
    EXPECT_EQ(Limit(), std::nullopt) << "cpu.max=\"" << content << "\"";
  }
}

TEST_F(FakeTree, V2MountWithoutOptionalFields) {
  WriteProc("0::/a\n",
            "22 1 8:1 / / rw - ext4 /dev/root rw\n"
            "25 22 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/a/cpu.max", "200000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 2.0));
}

TEST_F(FakeTree, V2MountWithSeveralOptionalFields) {
  WriteProc("0::/a\n",
            std::string(kBaseMounts) +
                "25 21 0:22 / /sys/fs/cgroup rw,nosuid shared:9 master:3 propagate_from:2 unbindable "
                "- cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/a/cpu.max", "300000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 3.0));
}

TEST_F(FakeTree, EscapedMountPoint) {
  WriteProc("0::/a\n", std::string(kBaseMounts) +
                           "25 21 0:22 / /sys/fs/cgroup\\040v2\\011x rw shared:9 - cgroup2 none rw\n");
  Write("sys/fs/cgroup v2\tx/a/cpu.max", "250000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 2.5));
}

TEST_F(FakeTree, EscapedBackslashInMountPoint) {
  WriteProc("0::/a\n",
            std::string(kBaseMounts) + "25 21 0:22 / /sys/fs/c\\134g rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/c\\g/a/cpu.max", "100000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.0));
}

constexpr char kV1Mounts[] =
    "30 21 0:26 / /sys/fs/cgroup tmpfs ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/systemd rw shared:10 - cgroup cgroup rw,xattr,name=systemd\n"
    "33 30 0:29 / /sys/fs/cgroup/cpuset rw shared:13 - cgroup cgroup rw,cpuset\n"
    "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 30 0:31 / /sys/fs/cgroup/memory rw shared:15 - cgroup cgroup rw,memory\n";

constexpr char kV1Cgroup[] =
    "12:memory:/docker/abc\n"
    "4:cpu,cpuacct:/docker/abc\n"
    "3:cpuset:/docker/abc\n"
    "1:name=systemd:/docker/abc\n";

TEST_F(FakeTree, V1QuotaOverPeriod) {
  WriteProc(kV1Cgroup, std::string(kBaseMounts) + kV1Mounts);
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 2.0));
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
  EXPECT_TRUE(IsLimit(Limit(), 0.5));
}

TEST_F(FakeTree, V1MinusOneMeansNoLimit) {
  WriteProc(kV1Cgroup, std::string(kBaseMounts) + kV1Mounts);
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, V1MissingPeriodIsNoLimit) {
  WriteProc(kV1Cgroup, std::string(kBaseMounts) + kV1Mounts);
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, V1CpusetOrCpuacctAloneIsNotTheCpuController) {
  // Only cpuset and cpuacct hierarchies: quota files placed where a sloppy
  // substring match on "cpu" would look must be ignored.
  WriteProc("3:cpuset:/x\n2:cpuacct:/x\n",
            std::string(kBaseMounts) +
                "33 21 0:29 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
                "34 21 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n");
  for (const char* dir : {"sys/fs/cgroup/cpuset/x/", "sys/fs/cgroup/cpuacct/x/"}) {
    Write(std::string(dir) + "cpu.cfs_quota_us", "100000\n");
    Write(std::string(dir) + "cpu.cfs_period_us", "100000\n");
  }
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, HybridPrefersV1CpuController) {
  WriteProc(std::string(kV1Cgroup) + "0::/docker/abc\n",
            std::string(kBaseMounts) + kV1Mounts +
                "36 30 0:32 / /sys/fs/cgroup/unified rw shared:16 - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/unified/docker/abc/cpu.max", "50000 100000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 3.0));
}

TEST_F(FakeTree, HybridV1NoLimitDoesNotFallThroughToV2) {
  // The v1 controller answered "no limit"; a stray cpu.max in the v2 tree is
  // not consulted.
  WriteProc(std::string(kV1Cgroup) + "0::/docker/abc\n",
            std::string(kBaseMounts) + kV1Mounts +
                "36 30 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/unified/docker/abc/cpu.max", "50000 100000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, HybridWithoutV1CpuMountUsesV2) {
  WriteProc(std::string(kV1Cgroup) + "0::/docker/abc\n",
            std::string(kBaseMounts) +
                "35 21 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                "36 21 0:32 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/unified/docker/abc/cpu.max", "50000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 0.5));
}

TEST_F(FakeTree, MountRootIsStrippedFromTheCgroupPath) {
  // The host bind-mounted /kubepods/pod1/ctr of the hierarchy at
  // /sys/fs/cgroup, so the container's cgroup is the mount point itself. The
  // decoy is where appending the whole path would look.
  WriteProc("0::/kubepods/pod1/ctr\n",
            std::string(kBaseMounts) +
                "25 21 0:22 /kubepods/pod1/ctr /sys/fs/cgroup ro,nosuid master:9 - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/cpu.max", "150000 100000\n");
  Write("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "800000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.5));
}

TEST_F(FakeTree, MountRootMapsSubCgroups) {
  WriteProc("0::/kubepods/pod1/ctr/worker\n",
            std::string(kBaseMounts) +
                "25 21 0:22 /kubepods/pod1/ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroup/worker/cpu.max", "250000 100000\n");
  Write("sys/fs/cgroup/kubepods/pod1/ctr/worker/cpu.max", "800000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 2.5));
}

TEST_F(FakeTree, V1MountRootIsStrippedToo) {
  WriteProc("4:cpu,cpuacct:/docker/abc\n",
            std::string(kBaseMounts) +
                "34 21 0:30 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro master:14 - cgroup cgroup "
                "rw,cpu,cpuacct\n");
  Write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "100000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "900000\n");
  Write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.0));
}

TEST_F(FakeTree, PrivateCgroupNamespaceSeesRoot) {
  // Inside its own cgroup namespace the process is at "/" and the namespace's
  // own mount shows root "/": the limit lives at the mount point.
  WriteProc("0::/\n", std::string(kBaseMounts) + kV2Mount);
  Write("sys/fs/cgroup/cpu.max", "400000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 4.0));
}

TEST_F(FakeTree, RootPrefixMatchesWholeComponentsOnly) {
  // "/a/bc" is not below "/a/b"; stripping bytes would leave "c" and read
  // /sys/fs/cgroupc (or /sys/fs/cgroup/c with a joining slash).
  WriteProc("0::/a/bc\n",
            std::string(kBaseMounts) + "25 21 0:22 /a/b /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  Write("sys/fs/cgroupc/cpu.max", "100000 100000\n");
  Write("sys/fs/cgroup/c/cpu.max", "100000 100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, SkipsMountsThatDoNotShowTheCgroup) {
  WriteProc("0::/svc/app\n",
            std::string(kBaseMounts) +
                "25 21 0:22 /other /mnt/other rw - cgroup2 cgroup2 rw\n"
                "26 21 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  Write("mnt/other/svc/app/cpu.max", "900000 100000\n");
  Write("sys/fs/cgroup/svc/app/cpu.max", "120000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.2));
}

TEST_F(FakeTree, CgroupOutsideNamespaceRootIsNotFollowed) {
  // A process moved out of its cgroup namespace sees "/../x"; joining it would
  // escape the mount to <prefix>/sys/fs/sibling.
  WriteProc("0::/../sibling\n", std::string(kBaseMounts) + kV2Mount);
  // The mount point must exist for ".." to resolve through it; the root's own
  // cpu.max is not ours either.
  Write("sys/fs/cgroup/cpu.max", "300000 100000\n");
  Write("sys/fs/sibling/cpu.max", "100000 100000\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST_F(FakeTree, MissingFilesMeanNoLimit) {
  // Nothing at all.
  EXPECT_EQ(Limit(), std::nullopt);

  // cgroup but no mountinfo.
  Write("proc/self/cgroup", "0::/a\n");
  Write("sys/fs/cgroup/a/cpu.max", "100000 100000\n");
  EXPECT_EQ(Limit(), std::nullopt);

  // Both, but no cgroup mount in mountinfo.
  Write("proc/self/mountinfo", kBaseMounts);
  EXPECT_EQ(Limit(), std::nullopt);

  // Both and the mount, but the leaf has no cpu.max (e.g. the cpu controller
  // is not enabled for it).
  Write("proc/self/cgroup", "0::/b\n");
  Write("proc/self/mountinfo", std::string(kBaseMounts) + kV2Mount);
  EXPECT_EQ(Limit(), std::nullopt);

  // Sanity check that the same tree does produce a limit once the file is
  // there, so the nullopts above are not from a broken fixture.
  Write("sys/fs/cgroup/b/cpu.max", "100000 100000\n");
  EXPECT_TRUE(IsLimit(Limit(), 1.0));
}

TEST_F(FakeTree, EmptyOrMalformedProcFiles) {
  Write("sys/fs/cgroup/a/cpu.max", "100000 100000\n");
  WriteProc("", std::string(kBaseMounts) + kV2Mount);
  EXPECT_EQ(Limit(), std::nullopt);
  WriteProc("garbage without colons\n", std::string(kBaseMounts) + kV2Mount);
  EXPECT_EQ(Limit(), std::nullopt);
  // A truncated cgroup2 line (no separator) must not be taken as a mount.
  WriteProc("0::/a\n", std::string(kBaseMounts) + "25 21 0:22 / /sys/fs/cgroup rw cgroup2\n");
  EXPECT_EQ(Limit(), std::nullopt);
}

TEST(CgroupCpuLimitTest, RealSystemGivesPositiveLimitOrNone) {
  std::optional<double> limit = CgroupCpuLimit();
  if (limit) {
    EXPECT_TRUE(std::isfinite(*limit));
    EXPECT_GE(*limit, 0.0);
  }
  EXPECT_GE(DefaultProcs(CpusFromAffinity(), limit), 1);
}

// ---------------------------------------------------------------------------
// ResolveProcs

TEST(ResolveProcsTest, OptionWinsOverEnvironment) {
  EXPECT_EQ(ResolveProcs(3, "7").value(), 3);
  EXPECT_EQ(ResolveProcs(3, "abc").value(), 3);
  EXPECT_EQ(ResolveProcs(kMaxProcs, nullptr).value(), kMaxProcs);
  EXPECT_EQ(ResolveProcs(1, nullptr).value(), 1);
}

TEST(ResolveProcsTest, EnvironmentWinsOverDefault) {
  EXPECT_EQ(ResolveProcs(0, "7").value(), 7);
  EXPECT_EQ(ResolveProcs(0, "1024").value(), 1024);
}

TEST(ResolveProcsTest, SetButInvalidEnvironmentIsAnError) {
  for (const char* env : {"", "0", "abc", "1025"}) {
    absl::StatusOr<int> got = ResolveProcs(0, env);
    ASSERT_FALSE(got.ok()) << "MN_PROCS=\"" << env << "\" gave " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(std::string(got.status().message()), "MN_PROCS"));
  }
}

TEST(ResolveProcsTest, OutOfRangeOptionIsAnErrorEvenWithValidEnvironment) {
  for (int procs : {-1, -1000, kMaxProcs + 1, 1 << 30}) {
    absl::StatusOr<int> got = ResolveProcs(procs, "4");
    ASSERT_FALSE(got.ok()) << procs;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(std::string(got.status().message()), "Options.procs"));
  }
}

TEST(ResolveProcsTest, UnsetEverythingUsesTheDefault) {
  absl::StatusOr<int> got = ResolveProcs(0, nullptr);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, DefaultProcs(CpusFromAffinity(), CgroupCpuLimit()));
  EXPECT_GE(*got, 1);
  EXPECT_LE(*got, kMaxProcs);
}

}  // namespace
}  // namespace mn::detail
