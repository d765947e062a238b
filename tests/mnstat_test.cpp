// tools/mnstat against a live mnsched process: a forked child runs a runtime of 2 Ps with
// 4 busy Gs, and `mnstat --once --json` must describe it (its Ms by their tids, its 2 Ps,
// every CPU with nr_waiting, the runtime's counters from rt_state); without the rt_state
// pin (an older runtime) it must carry on, "runtime" null and no runtime line in text;
// then the error paths: no such process, a process that is not mnsched, bad usage.
//
// The live test needs root (the maps are pinned in /sys/fs/bpf, readable by root only) and
// kernel feedback loaded in the child; it skips, saying why, otherwise. The child is forked
// while this process is single-threaded (TSan cannot follow a multithreaded fork whose
// child starts threads); it runs only the runtime and leaves with _exit.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json.hpp"
#include "test_util.hpp"

#ifndef MNSTAT_PATH
#error "MNSTAT_PATH (the mnstat binary) must be defined by the build"
#endif

namespace {

using mn::testing_util::HangGuard;

testing::AssertionResult HasSubstr(std::string_view hay, std::string_view needle) {
  if (hay.find(needle) != std::string_view::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << hay << "\" does not contain \"" << needle << "\"";
}

using Result = mn::testing_util::CommandResult;

// Runs mnstat with `args` (shell words) and returns its exit code and stdout (and stderr
// too when `with_stderr`; otherwise stderr goes to the test's own).
Result RunMnstat(const std::string& args, bool with_stderr = true) {
  return mn::testing_util::RunCommand(std::string(MNSTAT_PATH) + " " + args + (with_stderr ? " 2>&1" : ""));
}

// ---- mnstat's JSON, read with tools/json.hpp and held as the checks below want it -------------

struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject } type = kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;

  const Json* Get(std::string_view key) const {
    for (const auto& [k, v] : object) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

Json FromValue(const mn_tools::json::Value& v) {
  using T = mn_tools::json::Value::Type;
  Json j;
  switch (v.type()) {
    case T::kNull: break;
    case T::kBool: j.type = Json::kBool, j.boolean = v.as_bool(); break;
    case T::kNumber: j.type = Json::kNumber, j.number = v.as_number(); break;
    case T::kString: j.type = Json::kString, j.string = v.as_string(); break;
    case T::kArray:
      j.type = Json::kArray;
      for (const auto& e : v.as_array()) j.array.push_back(FromValue(e));
      break;
    case T::kObject:
      j.type = Json::kObject;
      for (const auto& [k, e] : v.as_object()) j.object.emplace_back(k, FromValue(e));
      break;
  }
  return j;
}

// The whole text is one JSON value (whitespace around it aside).
bool ParseJson(std::string_view text, Json* out) {
  absl::StatusOr<mn_tools::json::Value> v = mn_tools::json::Parse(text);
  if (!v.ok()) return false;
  *out = FromValue(*v);
  return true;
}

// obj[key] is a number, a whole one and not negative (a counter).
testing::AssertionResult IsCount(const Json& obj, const char* key) {
  const Json* v = obj.Get(key);
  if (v == nullptr) return testing::AssertionFailure() << "no \"" << key << "\"";
  if (v->type != Json::kNumber) return testing::AssertionFailure() << "\"" << key << "\" is not a number";
  if (v->number < 0 || std::floor(v->number) != v->number) {
    return testing::AssertionFailure() << "\"" << key << "\" is " << v->number << ", not a count";
  }
  return testing::AssertionSuccess();
}

// obj[key] is a number not negative (a rate).
testing::AssertionResult IsRate(const Json& obj, const char* key) {
  const Json* v = obj.Get(key);
  if (v == nullptr) return testing::AssertionFailure() << "no \"" << key << "\"";
  if (v->type != Json::kNumber || v->number < 0) {
    return testing::AssertionFailure() << "\"" << key << "\" is not a number >= 0";
  }
  return testing::AssertionSuccess();
}

// ---- the child: a runtime of 2 Ps with 4 busy Gs ------------------------------------------------

std::set<long> TaskIds(pid_t pid) {
  std::set<long> tids;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') tids.insert(std::strtol(e->d_name, nullptr, 10));
    }
    closedir(d);
  }
  return tids;
}

// Runs in the child; never returns. Reports on `ready`: '1' and the pin dir when kernel
// feedback is active, '0' and the reason when not; runs until `stop` reaches EOF.
[[noreturn]] void ChildMain(int ready, int stop) {
  alarm(60);  // the child's hang guard
  std::atomic<bool> done{false};
  mn::run(
      [&] {
        mn::WaitGroup wg;
        for (int i = 0; i < 4; i++) {
          wg.add(1);
          mn::go([&] {
            while (!done.load(std::memory_order_relaxed)) {
              for (int k = 0; k < 10'000; k++) asm volatile("");
              mn::preempt_point();
            }
            wg.done();
          });
        }
        mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
        std::string msg = (st.active ? "1" : "0") + (st.active ? st.pin_dir : st.reason);
        if (::write(ready, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) _exit(3);
        ::close(ready);
        char c;
        mn::blocking_now([&] { return ::read(stop, &c, 1); });
        done.store(true, std::memory_order_relaxed);
        wg.wait();
      },
      mn::Options{.procs = 2});
  _exit(0);
}

TEST(Mnstat, OnceJsonDescribesALiveRuntime) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root: a runtime pins its maps in /sys/fs/bpf only as root, and only "
                    "root can read them";
  }
  int ready[2], stop[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(stop, O_CLOEXEC), 0);
  pid_t child = fork();  // before any thread of ours (HangGuard's included) exists
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    ::close(ready[0]);
    ::close(stop[1]);
    unsetenv("MN_KERNEL_FEEDBACK");
    ChildMain(ready[1], stop[0]);
  }
  ::close(ready[1]);
  ::close(stop[0]);
  HangGuard guard;
  auto finish_child = [&] {
    ::close(stop[1]);  // EOF: the child's main G stops its Gs and returns
    int status = 0;
    EXPECT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child: " << (WIFEXITED(status) ? "exit " : "signal ")
        << (WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  };

  std::string msg;
  pollfd pfd{ready[0], POLLIN, 0};
  char buf[512];
  while (poll(&pfd, 1, 30'000) == 1) {
    ssize_t n = ::read(ready[0], buf, sizeof buf);
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  ::close(ready[0]);
  if (msg.empty()) {
    kill(child, SIGKILL);
    finish_child();
    FAIL() << "the child did not report whether its runtime has kernel feedback";
  }
  if (msg[0] != '1') {
    finish_child();
    GTEST_SKIP() << "kernel feedback unavailable: " << msg.substr(1);
  }
  EXPECT_EQ(msg.substr(1), "/sys/fs/bpf/mnsched/" + std::to_string(child));

  Result r = RunMnstat("--once --json --interval=200ms " + std::to_string(child), false);
  std::set<long> tids = TaskIds(child);  // while the child still runs

  // As with a runtime older than rt_state: without its pin, mnstat carries on without it.
  // (The runtime keeps its own fd and mapping; removing a pin removes only the name.)
  std::string rt_pin = msg.substr(1) + "/rt_state";
  int unlinked = unlink(rt_pin.c_str());
  int unlink_errno = errno;
  Result no_rt_json = RunMnstat("--once --json --interval=50ms " + std::to_string(child), false);
  Result no_rt_text = RunMnstat("--once --interval=50ms " + std::to_string(child), false);
  finish_child();
  // ENOENT: not pinned at all, which the checks of the first frame below report.
  EXPECT_TRUE(unlinked == 0 || unlink_errno == ENOENT) << rt_pin << ": " << std::strerror(unlink_errno);
  ASSERT_EQ(no_rt_json.exit_code, 0) << no_rt_json.out;
  Json no_rt;
  ASSERT_TRUE(ParseJson(no_rt_json.out, &no_rt)) << "not one JSON value: " << no_rt_json.out;
  ASSERT_EQ(no_rt.type, Json::kObject) << no_rt_json.out;
  ASSERT_NE(no_rt.Get("runtime"), nullptr) << no_rt_json.out;
  EXPECT_EQ(no_rt.Get("runtime")->type, Json::kNull) << no_rt_json.out;
  EXPECT_NE(no_rt.Get("ps"), nullptr) << no_rt_json.out;
  ASSERT_EQ(no_rt_text.exit_code, 0) << no_rt_text.out;
  EXPECT_TRUE(HasSubstr(no_rt_text.out, "SLOT"));
  EXPECT_EQ(no_rt_text.out.find("\nruntime "), std::string::npos) << no_rt_text.out;

  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Exactly one object, on one line.
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
  Json frame;
  ASSERT_TRUE(ParseJson(r.out, &frame)) << "not one JSON value: " << r.out;
  ASSERT_EQ(frame.type, Json::kObject) << r.out;

  for (const char* key : {"pid", "comm", "time_unix_ns", "interval_ns", "cpus", "ms", "ps", "runtime"}) {
    EXPECT_NE(frame.Get(key), nullptr) << "no \"" << key << "\" in " << r.out;
  }
  ASSERT_NE(frame.Get("pid"), nullptr);
  EXPECT_EQ(frame.Get("pid")->number, static_cast<double>(child));
  ASSERT_NE(frame.Get("comm"), nullptr);
  EXPECT_EQ(frame.Get("comm")->type, Json::kString);
  EXPECT_FALSE(frame.Get("comm")->string.empty());
  ASSERT_NE(frame.Get("cpus"), nullptr);
  const Json& cpus = *frame.Get("cpus");
  for (const char* key : {"total", "idle", "running_ms"}) {
    ASSERT_NE(cpus.Get(key), nullptr) << key;
    EXPECT_EQ(cpus.Get(key)->type, Json::kNumber) << key;
  }
  EXPECT_GE(cpus.Get("total")->number, 1);
  EXPECT_LE(cpus.Get("idle")->number, cpus.Get("total")->number);
  EXPECT_LE(cpus.Get("running_ms")->number, cpus.Get("total")->number);

  // Every CPU, each with nr_waiting (0 unless the spin policy keeps it).
  ASSERT_NE(cpus.Get("per_cpu"), nullptr) << r.out;
  ASSERT_EQ(cpus.Get("per_cpu")->type, Json::kArray) << r.out;
  EXPECT_EQ(static_cast<double>(cpus.Get("per_cpu")->array.size()), cpus.Get("total")->number);
  for (std::size_t i = 0; i < cpus.Get("per_cpu")->array.size(); i++) {
    const Json& c = cpus.Get("per_cpu")->array[i];
    ASSERT_EQ(c.type, Json::kObject);
    for (const char* key : {"cpu", "state", "m", "tid", "state_for_ns", "nr_waiting"}) {
      EXPECT_NE(c.Get(key), nullptr) << "CPU without \"" << key << "\" in " << r.out;
    }
    EXPECT_TRUE(IsCount(c, "cpu"));
    if (c.Get("cpu") != nullptr) {
      EXPECT_EQ(c.Get("cpu")->number, static_cast<double>(i));
    }
    EXPECT_TRUE(IsCount(c, "nr_waiting"));
    if (const Json* st = c.Get("state"); st != nullptr) {
      EXPECT_TRUE(st->string == "idle" || st->string == "busy" || st->string == "unknown") << st->string;
    }
  }

  // The runtime's counters (rt_state): the runtime of this tree pins it.
  ASSERT_NE(frame.Get("runtime"), nullptr);
  ASSERT_EQ(frame.Get("runtime")->type, Json::kObject)
      << "\"runtime\" is not an object (is rt_state pinned?): " << r.out;
  const Json& rt = *frame.Get("runtime");
  for (const char* key : {"kernel_handoffs", "idle_wakeups", "spin_backstops", "spins", "spins_declined",
                          "wakes_declined", "spin_ns"}) {
    EXPECT_TRUE(IsCount(rt, key)) << r.out;
  }
  for (const char* key : {"kernel_handoffs_per_s", "idle_wakeups_per_s", "spin_backstops_per_s", "spins_per_s",
                          "spins_declined_per_s", "wakes_declined_per_s", "spin_cpu_pct"}) {
    EXPECT_TRUE(IsRate(rt, key)) << r.out;
  }
  ASSERT_NE(rt.Get("want_cpu"), nullptr) << r.out;
  EXPECT_EQ(rt.Get("want_cpu")->type, Json::kBool) << r.out;
  ASSERT_NE(rt.Get("sample_age_ns"), nullptr) << r.out;
  if (rt.Get("sample_age_ns")->type != Json::kNull) {
    EXPECT_TRUE(IsCount(rt, "sample_age_ns"));
  }

  // The Ms: every field present; the live ones are threads of the child.
  ASSERT_NE(frame.Get("ms"), nullptr);
  ASSERT_EQ(frame.Get("ms")->type, Json::kArray);
  const std::set<std::string> states = {"new", "on_cpu", "runnable", "preempted", "blocked", "exited"};
  std::set<double> slots;
  int ours = 0;
  for (const Json& m : frame.Get("ms")->array) {
    for (const char* key : {"slot", "tid", "cpu", "state", "preempted", "preempted_per_s", "blocked",
                            "blocked_per_s", "runq_waits", "runq_wait_p99_le_ns", "runq_wait_max_ns",
                            "p", "g", "spinning", "blocking", "parked"}) {
      EXPECT_NE(m.Get(key), nullptr) << "M without \"" << key << "\" in " << r.out;
    }
    const Json* tid = m.Get("tid");
    const Json* state = m.Get("state");
    const Json* slot = m.Get("slot");
    if (tid == nullptr || state == nullptr || slot == nullptr) continue;
    EXPECT_TRUE(states.count(state->string)) << "state \"" << state->string << "\"";
    slots.insert(slot->number);
    bool in_child = tids.count(static_cast<long>(tid->number)) > 0;
    if (in_child) ours++;
    if (state->string != "exited") {
      EXPECT_TRUE(in_child) << "M in slot " << slot->number << " has tid " << tid->number
                            << ", not a thread of the child";
    }
  }
  EXPECT_GE(ours, 1) << "no M with a tid of the child in " << r.out;

  // The Ps: exactly the child's 2, each owned by one of the Ms listed (or none).
  ASSERT_NE(frame.Get("ps"), nullptr);
  ASSERT_EQ(frame.Get("ps")->type, Json::kArray);
  ASSERT_EQ(frame.Get("ps")->array.size(), 2u) << r.out;
  std::set<double> ids;
  for (const Json& p : frame.Get("ps")->array) {
    for (const char* key : {"id", "state", "m", "runq", "steals", "steals_per_s", "handoffs",
                            "handoffs_per_s"}) {
      EXPECT_NE(p.Get(key), nullptr) << "P without \"" << key << "\" in " << r.out;
    }
    if (p.Get("id") != nullptr) ids.insert(p.Get("id")->number);
    if (p.Get("state") != nullptr) {
      EXPECT_TRUE(p.Get("state")->string == "running" || p.Get("state")->string == "idle")
          << p.Get("state")->string;
    }
    if (const Json* m = p.Get("m"); m != nullptr && m->type == Json::kNumber) {
      EXPECT_TRUE(slots.count(m->number)) << "P owned by M " << m->number << ", not listed";
    }
  }
  EXPECT_EQ(ids, (std::set<double>{0, 1}));
}

// ---- errors --------------------------------------------------------------------------------------

TEST(Mnstat, NoProcessExits1) {
  long pid_max = 32768;
  if (FILE* f = std::fopen("/proc/sys/kernel/pid_max", "r")) {
    if (std::fscanf(f, "%ld", &pid_max) != 1) pid_max = 32768;
    std::fclose(f);
  }
  pid_t pid = static_cast<pid_t>(pid_max - 1);
  while (pid > 1 && (kill(pid, 0) == 0 || errno != ESRCH)) pid--;
  ASSERT_GT(pid, 1);
  Result r = RunMnstat(std::to_string(pid));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "mnstat: no process " + std::to_string(pid)));
}

TEST(Mnstat, ProcessWithoutKernelFeedbackExits1) {
  // This test process: no runtime, so nothing pinned for it.
  Result r = RunMnstat(std::to_string(getpid()));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  if (geteuid() == 0) {
    EXPECT_TRUE(HasSubstr(r.out, "is not an mnsched process with kernel feedback on"));
    EXPECT_TRUE(HasSubstr(r.out, "MN_KERNEL_FEEDBACK"));
  } else {
    EXPECT_TRUE(HasSubstr(r.out, "root"));
  }
}

TEST(Mnstat, NoArgumentsIsAUsageError) {
  Result r = RunMnstat("");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "usage: mnstat"));
}

TEST(Mnstat, NonNumericPidIsAUsageError) {
  Result r = RunMnstat("--once notapid");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "\"notapid\" is not a process id"));
  EXPECT_TRUE(HasSubstr(r.out, "usage: mnstat"));
}

TEST(Mnstat, BadFlagsAreUsageErrors) {
  for (const char* args : {"--no_such_flag 1", "--interval=soon 1", "--interval=1ms 1"}) {
    Result r = RunMnstat(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.out;
    EXPECT_TRUE(HasSubstr(r.out, "usage: mnstat")) << args;
  }
}

}  // namespace
