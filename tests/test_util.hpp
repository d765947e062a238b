// Helpers shared by the tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <mn/mn.hpp>

#include "sched.hpp"

namespace mn::testing_util {

// TSan counts every started G (a fiber) as a thread and allows about 8,000 at once, so
// tests that keep more Gs started at the same time shrink under it.
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif
#else
inline constexpr bool kUnderTsan = false;
#endif

// Aborts the test process if the test has not finished within 60 s: a hang guard, not a
// timing assertion. Declare one at the top of a test that could hang.
class HangGuard {
 public:
  HangGuard() {
    watchdog_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(60), [this] { return done_; })) {
        const auto* info = testing::UnitTest::GetInstance()->current_test_info();
        std::fprintf(stderr, "hang guard: %s.%s did not finish within 60 s\n",
                     info ? info->test_suite_name() : "?", info ? info->name() : "?");
        std::abort();
      }
    });
  }
  ~HangGuard() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    watchdog_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watchdog_;
};

// Called from main: waits until every other G has exited. A G still runnable when main
// returns is abandoned with its stack (docs/design.md, "Exit"), which LeakSanitizer reports
// when that stack held the last reference to heap memory.
inline void WaitForOtherGs() {
  auto* rt = mn::detail::GetM()->rt;
  while (mn::detail::GCount(rt) > 1) mn::yield();
}

// Called from a G: yields until at least n Gs are parked. A test that needs "G x has
// blocked by now" uses this rather than a bare yield(): sysmon may ask any G that has held
// its P for 10 ms to yield (a slow sanitized build on a loaded machine gets there), and a
// preempted G goes to the back of the global queue, which reorders a yield-based handshake.
inline void WaitForParkedGs(int n) {
  auto* rt = mn::detail::GetM()->rt;
  for (;;) {
    int parked = 0;
    {
      std::lock_guard<std::mutex> lock(rt->gfree_lock);
      for (auto* g : rt->allg) {
        if (g->status.load(std::memory_order_acquire) == mn::detail::GStatus::kWaiting) parked++;
      }
    }
    if (parked >= n) return;
    mn::yield();
  }
}

// How a command ended and what it printed on stdout.
struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;
};

// Runs `cmd` through the shell (the tools' tests run their binaries this way; add "2>&1"
// to capture stderr too).
inline CommandResult RunCommand(const std::string& cmd) {
  CommandResult r;
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) {
    r.out = std::string("popen: ") + std::strerror(errno);
    return r;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  int status = pclose(f);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

}  // namespace mn::testing_util
