// What the Boost.Fiber peers of the side-by-side workloads (bench/boost/boost_<target>.cpp)
// share: the thread count from MN_PROCS, a pool of threads scheduling fibers with
// boost::fibers::algo::work_stealing, a Go-like spawn and a WaitGroup. Their flags are
// bench/bench_flags.hpp's, as for the mnsched programs.
//
// Threads. MN_PROCS (default 1) is the number of OS threads that run fibers, the main thread
// included; it is validated as mnsched validates it (a positive decimal integer up to 1024;
// anything else prints "<program>: MN_PROCS="<value>": <why>" and exits 2).
//  * MN_PROCS >= 2: every thread installs work_stealing(procs). Its constructor waits on a
//    barrier for all of them, and the algorithm keeps its schedulers in static members, so the
//    pool is set up once per process (Boost cannot tear it down and build another: its
//    instance counter is never reset). The helper threads then block their main fiber on a
//    fiber condition variable until the workload is done, and their dispatchers run and steal
//    fibers meanwhile. work_stealing is constructed with suspend = false (Boost's default):
//    a thread with nothing to run spins trying to steal instead of sleeping. With suspend =
//    true an idle thread sleeps until its own next timer and is not woken when another thread
//    has work for it, so the pool would not spread work.
//  * MN_PROCS = 1: Boost's default scheduler, round_robin, on the main thread alone.
//    work_stealing(1) cannot run: when its own queue is empty its pick_next looks for a victim
//    other than itself among 1 thread and loops forever (Boost 1.74, src/algo/work_stealing.cpp).
//
// Stacks: every spawned fiber gets a 64 KiB boost::fibers::fixedsize_stack (malloc'd), the
// size of mnsched's default G stack (include/mn/options.hpp, kDefaultStackSize), instead of
// Boost's 128 KiB default. Unlike mnsched, Boost allocates a fiber's stack when the fiber is
// created, not when it first runs, and keeps no stack cache of its own: a freed stack goes
// back to malloc, and glibc returns the top of the heap to the kernel once more than
// 128 KiB of it is free (M_TRIM_THRESHOLD), so a workload that frees many stacks and
// spawns again page-faults them in again. That is left as it is (the default setup);
// GLIBC_TUNABLES=glibc.malloc.trim_threshold=<large> in the environment turns it off.
//
// Wake-ups across threads: a fiber woken by a fiber on another thread goes to the remote
// queue of the thread it last ran on, and only that thread's dispatcher moves it to a run
// queue (where it can be stolen); with suspend = false that thread notices it while
// polling, so the latency is that of the thread getting a CPU.
#pragma once

#include <boost/fiber/all.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_flags.hpp"

namespace boost_bench {

inline constexpr int kMaxProcs = 1024;                  // as mnsched (userspace/procs.hpp)
inline constexpr std::size_t kStackSize = 64 * 1024;    // as mnsched's kDefaultStackSize

// MN_PROCS, validated: unset means 1; otherwise a decimal integer 1..kMaxProcs, no sign or
// blanks. A bad value prints "<program>: MN_PROCS="<value>": <why>" and exits 2.
inline int ProcsFromEnv(const char* program) {
  const char* env = std::getenv("MN_PROCS");
  if (env == nullptr) return 1;
  const std::string v = env;
  auto bad = [&](const std::string& why) {
    std::string quoted;  // control characters, quotes and backslashes escaped
    for (unsigned char c : v) {
      if (c == '"' || c == '\\') {
        quoted += '\\';
        quoted += static_cast<char>(c);
      } else if (c < 0x20 || c >= 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        quoted += buf;
      } else {
        quoted += static_cast<char>(c);
      }
    }
    std::fprintf(stderr, "%s: MN_PROCS=\"%s\": %s\n", program, quoted.c_str(), why.c_str());
    std::exit(2);
  };
  if (v.empty()) bad("not a positive integer");
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') bad("not a positive integer");
    if (n <= kMaxProcs) n = n * 10 + (c - '0');  // stops growing once it is too large
  }
  if (n > kMaxProcs) bad("larger than " + std::to_string(kMaxProcs));
  if (n == 0) bad("must be at least 1");
  return static_cast<int>(n);
}

// Go's `go f()`: starts f as a detached fiber with a kStackSize stack. Boost's default launch
// policy (post) queues it and lets the caller run on, as mn::go does.
template <class F>
void Go(F&& f) {
  boost::fibers::fiber(std::allocator_arg, boost::fibers::fixedsize_stack(kStackSize),
                       std::forward<F>(f))
      .detach();
}

// Go's sync.WaitGroup over a fiber mutex and condition variable; works across threads.
// add() and done() change the count and notify under the mutex, so wait() cannot return
// (and the WaitGroup cannot be destroyed) while a done() still uses it.
class WaitGroup {
 public:
  void add(int64_t delta) {
    std::lock_guard<boost::fibers::mutex> lock(mu_);
    n_ += delta;
    if (n_ == 0) cv_.notify_all();
  }
  void done() { add(-1); }
  void wait() {
    std::unique_lock<boost::fibers::mutex> lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  boost::fibers::mutex mu_;
  boost::fibers::condition_variable cv_;
  int64_t n_ = 0;  // guarded by mu_
};

// Runs body() on this thread's main fiber with `procs` threads running fibers (see the top
// of this file) and returns what it returns. Call it once per process.
template <class F>
int Run(int procs, F&& body) {
  if (procs == 1) return body();  // round_robin, Boost's default: nothing to install
  struct Done {
    boost::fibers::mutex mu;
    boost::fibers::condition_variable cv;
    bool done = false;  // guarded by mu
  } done;
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<std::size_t>(procs - 1));
  for (int i = 1; i < procs; i++) {
    helpers.emplace_back([procs, &done] {
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(
          static_cast<std::uint32_t>(procs));
      std::unique_lock<boost::fibers::mutex> lock(done.mu);
      done.cv.wait(lock, [&] { return done.done; });
    });
  }
  // Returns once every helper has installed its scheduler (work_stealing's barrier).
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(
      static_cast<std::uint32_t>(procs));
  int rc = body();
  {
    std::lock_guard<boost::fibers::mutex> lock(done.mu);
    done.done = true;
    done.cv.notify_all();
  }
  for (auto& t : helpers) t.join();
  return rc;
}

}  // namespace boost_bench
