// Configuration: Options and environment variables, and the exit code 2 with a message
// naming what was wrong.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

class ConfigDeath : public testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(ConfigDeath, BadMnProcsExits2) {
  for (const char* bad : {"abc", "0", "-3", "100000", ""}) {
    EXPECT_EXIT(
        {
          setenv("MN_PROCS", bad, 1);
          mn::run([] {});
        },
        testing::ExitedWithCode(2), std::string("MN_PROCS=\"") + bad + "\"")
        << bad;
  }
}

TEST_F(ConfigDeath, BadOptionsExit2) {
  EXPECT_EXIT(mn::run([] {}, mn::Options{.procs = -1}), testing::ExitedWithCode(2),
              "Options.procs=-1");
  EXPECT_EXIT(mn::run([] {}, mn::Options{.stack_size = 100}), testing::ExitedWithCode(2),
              "Options.stack_size=100");
}

TEST_F(ConfigDeath, BadSchedTraceExits2) {
  EXPECT_EXIT(
      {
        setenv("MN_SCHEDTRACE", "soon", 1);
        mn::run([] {});
      },
      testing::ExitedWithCode(2), "MN_SCHEDTRACE=\"soon\"");
}

TEST(Config, ValidateNamesTheField) {
  EXPECT_TRUE(mn::Validate({}).ok());
  EXPECT_TRUE(mn::Validate({.procs = 4, .stack_size = 1 << 20}).ok());
  auto s = mn::Validate({.procs = 5000});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Options.procs=5000"), std::string::npos);
}

TEST(Config, MnProcsAndOptionPrecedence) {
  setenv("MN_PROCS", "3", 1);
  EXPECT_EQ(mn::run([] { return mn::procs(); }), 3);
  EXPECT_EQ(mn::run([] { return mn::procs(); }, mn::Options{.procs = 2}), 2);
  unsetenv("MN_PROCS");
  EXPECT_GE(mn::run([] { return mn::procs(); }), 1);
}

TEST(Config, StackSizeIsHonoured) {
  // A G can use most of a 1 MiB stack when asked for one.
  int rc = mn::run(
      [] {
        mn::WaitGroup wg;
        wg.add(1);
        int ok = 0;
        mn::go([&] {
          volatile char big[768 * 1024];
          big[0] = 1;
          big[sizeof big - 1] = 2;
          ok = big[0] + big[sizeof big - 1];
          wg.done();
        });
        wg.wait();
        return ok;
      },
      mn::Options{.procs = 1, .stack_size = 1 << 20});
  EXPECT_EQ(rc, 3);
}

// MN_SCHEDTRACE prints Go-style lines to stderr. stderr goes to a file for the run; main
// waits until a line appears (a hang guard, not a timing assertion).
TEST(Config, SchedTracePrintsLines) {
  char path[] = "/tmp/mn_schedtrace_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  setenv("MN_SCHEDTRACE", "5", 1);
  bool seen = mn::run(
      [&] {
        for (int i = 0; i < 6000; i++) {
          std::ifstream f(path);
          std::stringstream ss;
          ss << f.rdbuf();
          if (ss.str().find("SCHED ") != std::string::npos) return true;
          usleep(10000);
        }
        return false;
      },
      mn::Options{.procs = 2});
  unsetenv("MN_SCHEDTRACE");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  unlink(path);
  EXPECT_TRUE(seen);
  EXPECT_NE(ss.str().find("procs=2 idleprocs="), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("spinningthreads="), std::string::npos);
  EXPECT_NE(ss.str().find("runqueue="), std::string::npos);
}

}  // namespace
