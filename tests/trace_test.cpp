// Execution tracing (docs/tracing.md): the file is the JSON of the format section, and the
// invariants it states hold for a known workload. No timing asserts: order and counts.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sched.hpp"
#include "test_util.hpp"
#include "trace_model.hpp"

namespace {

using mn::testing_util::HangGuard;

using mn_tools::trace::Event;
using mn_tools::trace::Trace;

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/mn_trace_test_" + std::to_string(getpid()) +
         "_" + name + ".json";
}

// The file, loaded by the trace tools' strict reader (tools/trace_model.hpp): it is valid
// JSON in docs/tracing.md's format, or the test fails naming what is wrong.
Trace Load(const std::string& path) {
  absl::StatusOr<Trace> t = mn_tools::trace::LoadTraceFile(path);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : Trace();
}

int64_t Count(const Trace& t, std::string_view name) {
  int64_t n = 0;
  for (const Event& e : t.events) n += e.ph == 'i' && e.name == name;
  return n;
}

// The invariants of docs/tracing.md that hold in any mode: run and syscall slices of one M
// never overlap, nor run slices of one P; kernel slices lie inside one of them or between
// them; spawn, park and ready counts equal otherData.counters.
void CheckInvariants(const Trace& t) {
  struct S {
    int64_t b, e;
  };
  // Ties by end: a slice of no length (the writer clamps a track's times so that they
  // never go back, as when an M's thread moved to a CPU whose TSC reads a little behind)
  // comes before one that begins at its instant.
  auto by_time = [](const S& x, const S& y) { return x.b != y.b ? x.b < y.b : x.e < y.e; };
  std::map<int64_t, std::vector<S>> user, kernel, ps;  // by M track; by P track
  for (const Event& e : t.events) {
    if (e.ph == 'X' && e.pid == 1) ps[e.tid].push_back({e.ts_ns, e.end_ns()});
    if (e.ph != 'X' || e.pid != 2) continue;
    S s{e.ts_ns, e.end_ns()};
    if (e.cat == "run" || e.cat == "syscall") {
      user[e.tid].push_back(s);
    } else if (e.cat == "kernel") {
      kernel[e.tid].push_back(s);
    } else {
      ADD_FAILURE() << "unknown slice category " << e.cat;
    }
  }
  for (auto& [tid, v] : user) {
    std::sort(v.begin(), v.end(), by_time);
    for (std::size_t i = 1; i < v.size(); i++) {
      ASSERT_LE(v[i - 1].e, v[i].b) << "overlapping slices on M track " << tid << " at " << v[i].b;
    }
  }
  for (auto& [tid, v] : ps) {
    std::sort(v.begin(), v.end(), by_time);
    for (std::size_t i = 1; i < v.size(); i++) {
      ASSERT_LE(v[i - 1].e, v[i].b) << "overlapping slices on P track " << tid << " at " << v[i].b;
    }
  }
  for (auto& [tid, v] : kernel) {
    const auto& u = user[tid];
    for (const S& k : v) {
      ASSERT_LT(k.b, k.e);
      // The last user slice starting at or before k.b: k is inside it or after its end,
      // and does not reach into the next.
      auto it = std::upper_bound(u.begin(), u.end(), k.b, [](int64_t x, const S& s) { return x < s.b; });
      if (it != u.begin()) {
        const S& c = *std::prev(it);
        ASSERT_TRUE(k.e <= c.e || k.b >= c.e)
            << "kernel slice " << k.b << "-" << k.e << " straddles the end of " << c.b << "-" << c.e;
      }
      if (it != u.end()) {
        ASSERT_LE(k.e, it->b) << "kernel slice reaches into the next slice";
      }
    }
  }
  // One G's run slices never overlap, and none holds a spawn or ready of its G: a G
  // begins only after it was made runnable (whichever M's clock reading its begin took).
  std::map<int64_t, std::vector<S>> runs;  // by G id
  for (const Event& e : t.events) {
    if (e.ph == 'X' && e.pid == 2 && e.cat == "run") runs[e.IntArg("g").value_or(-1)].push_back({e.ts_ns, e.end_ns()});
  }
  for (auto& [g, v] : runs) {
    std::sort(v.begin(), v.end(), by_time);
    for (std::size_t i = 1; i < v.size(); i++) {
      ASSERT_LE(v[i - 1].e, v[i].b) << "G " << g << " runs twice at once at " << v[i].b;
    }
  }
  for (const Event& e : t.events) {
    if (e.ph != 'i' || (e.name != "ready" && e.name != "spawn")) continue;
    const auto& v = runs[e.IntArg("g").value_or(-1)];
    auto it = std::upper_bound(v.begin(), v.end(), e.ts_ns, [](int64_t x, const S& s) { return x < s.b; });
    if (it != v.begin()) {
      const S& before = *std::prev(it);
      ASSERT_FALSE(before.b < e.ts_ns && e.ts_ns < before.e)
          << e.name << " of G " << e.IntArg("g").value_or(-1) << " at " << e.ts_ns
          << " inside its run " << before.b << "-" << before.e;
    }
  }
  EXPECT_EQ(Count(t, "spawn"), t.other_data.spawns.value_or(-1));
  EXPECT_EQ(Count(t, "park"), t.other_data.parks.value_or(-1));
  EXPECT_EQ(Count(t, "ready"), t.other_data.readies.value_or(-1));
}

// Every G's begin and end, by id.
void Lifetimes(const Trace& t, std::map<uint64_t, int>* begins, std::map<uint64_t, int>* ends) {
  for (const Event& e : t.events) {
    if (e.ph == 'b' && e.id) (*begins)[*e.id]++;
    if (e.ph == 'e' && e.id) (*ends)[*e.id]++;
  }
}

int64_t Steals(mn::detail::Runtime* rt) {
  int64_t n = 0;
  for (const auto& p : rt->allp) n += static_cast<int64_t>(p->steals.load());
  return n;
}

// n Gs spawned from a thread outside the runtime (recorded on the runtime track), each
// calling wg.done(); then waits on wg, so the Gs it counted before finish too.
void SpawnFromOutside(mn::WaitGroup& wg, int n) {
  wg.add(n);
  std::thread outside([&] {
    for (int i = 0; i < n; i++) mn::go([&] { wg.done(); });
  });
  wg.wait();
  outside.join();
}

// Ping-pong over channels, a contended mutex, sleeps, a blocking call, and batches of
// busy Gs until the other P has stolen some.
void Workload(int pairs, int rounds) {
  mn::WaitGroup wg;
  for (int i = 0; i < pairs; i++) {
    mn::Chan<int> ping, pong;
    wg.add(2);
    mn::go([=, &wg] {
      for (int r = 0; r < rounds; r++) {
        ping.send(r);
        pong.recv();
      }
      wg.done();
    });
    mn::go_named("ponger", [=, &wg] {
      for (int r = 0; r < rounds; r++) {
        ping.recv();
        pong.send(r);
      }
      wg.done();
    });
  }
  mn::Mutex mu;
  long shared = 0;
  for (int i = 0; i < 4; i++) {
    wg.add(1);
    mn::go([&] {
      for (int r = 0; r < 200; r++) {
        std::lock_guard<mn::Mutex> lock(mu);
        shared++;
        if (r % 50 == 0) mn::yield();
      }
      wg.done();
    });
  }
  wg.add(1);
  mn::go([&] {
    mn::sleep_for(std::chrono::milliseconds(1));
    mn::blocking([] { usleep(2000); });
    wg.done();
  });
  wg.wait();
  auto* rt = mn::detail::GetM()->rt;
  // Steals need another P looking for work while this one has some queued.
  while (rt->procs > 1 && Steals(rt) == 0) {
    mn::WaitGroup batch;
    for (int i = 0; i < 64; i++) {
      batch.add(1);
      mn::go([&] {
        volatile long x = 0;
        for (int k = 0; k < 20000; k++) x = x + k;
        batch.done();
      });
    }
    batch.wait();
  }
}

TEST(Trace, WholeRunIsValidAndComplete) {
  HangGuard guard;
  std::string path = TempPath("whole");
  mn::Stats end{};
  int64_t steals = 0;
  mn::run(
      [&] {
        Workload(4, 200);
        steals = Steals(mn::detail::GetM()->rt);
        end = mn::stats();
      },
      mn::Options{.procs = 2, .trace_path = path.c_str()});
  Trace t = Load(path);
  const auto& od = t.other_data;
  EXPECT_EQ(od.producer, "mnsched");
  EXPECT_EQ(od.format, 1);
  EXPECT_EQ(od.mode, "whole");
  EXPECT_EQ(od.procs, 2);
  EXPECT_EQ(od.pid, getpid());
  EXPECT_EQ(od.dropped_events, 0);
  CheckInvariants(t);
  // The run's counters are the trace's: it began before main and ended after it.
  EXPECT_EQ(od.spawns, end.spawns);
  EXPECT_EQ(od.parks, end.parks);
  EXPECT_EQ(od.readies, end.readies);
  EXPECT_EQ(Count(t, "steal"), steals);
  EXPECT_GT(steals, 0);
  // Each spawn and ready took a clock reading of its own; no event took two, and a run
  // slice is two events (a begin, which may borrow its M's reading, and an end).
  int64_t instants = 0, m_slices = 0;
  for (const Event& e : t.events) {
    instants += e.ph == 'i';
    m_slices += e.ph == 'X' && e.pid == 2 && e.cat != "kernel";
  }
  ASSERT_TRUE(od.clock_reads.has_value());
  EXPECT_GE(*od.clock_reads, *od.spawns + *od.readies);
  EXPECT_LE(*od.clock_reads, instants + 2 * m_slices);
  ASSERT_TRUE(od.clock_read_ns.has_value());
  EXPECT_GT(*od.clock_read_ns, 0);

  // Every G spawned has one begin and one end (at the trace's stop, with alive: true, for
  // one still finishing after its wg.done()); the names carry the label.
  std::map<uint64_t, int> begins, ends;
  Lifetimes(t, &begins, &ends);
  EXPECT_EQ(static_cast<int64_t>(begins.size()), end.spawns);
  EXPECT_EQ(begins, ends);
  for (const auto& [id, n] : begins) EXPECT_EQ(n, 1) << "G " << id;
  std::set<std::string, std::less<>> reasons, labels, ends_seen;
  int syscalls = 0, timers = 0, main_runs = 0;
  for (const Event& e : t.events) {
    if (e.name == "park") reasons.emplace(e.StringArg("reason").value_or(""));
    if (e.name == "spawn") labels.emplace(e.StringArg("label").value_or(""));
    if (e.name == "timer fired") timers++;
    if (e.cat == "syscall") syscalls++;
    if (e.cat == "run") ends_seen.emplace(e.StringArg("end").value_or(""));
    if (e.cat == "run" && e.name.ends_with(" main")) main_runs++;
  }
  // An unbuffered exchange parks one side or the other.
  EXPECT_TRUE(reasons.count("chan receive") + reasons.count("chan send")) << "park reasons";
  EXPECT_TRUE(reasons.count("sleep"));
  EXPECT_TRUE(labels.count("ponger"));
  EXPECT_TRUE(labels.count("main"));
  bool site = false;
  for (const std::string& l : labels) site |= l.starts_with("trace_test.cpp:");
  EXPECT_TRUE(site) << "spawn sites are file:line";
  EXPECT_TRUE(ends_seen.count("park"));
  EXPECT_TRUE(ends_seen.count("exit"));
  EXPECT_TRUE(ends_seen.count("syscall"));
  EXPECT_GE(syscalls, 1);
  EXPECT_GE(timers, 1);
  EXPECT_GE(main_runs, 1);
  // The tracks are named.
  EXPECT_EQ(t.process_names[1], "Ps");
  EXPECT_EQ(t.process_names[2], "Ms");
  EXPECT_EQ(t.process_names[3], "Gs");
  using Track = std::pair<int64_t, int64_t>;
  EXPECT_EQ(t.thread_names[Track(2, 0)], "runtime");
  EXPECT_EQ(t.thread_names[Track(1, 1)], "P0");
  EXPECT_TRUE(t.thread_names[Track(2, 1)].starts_with("M0 tid ")) << t.thread_names[Track(2, 1)];
  unlink(path.c_str());
}

// Gs made runnable elsewhere while an M is between two of its own: yielders (each
// yield goes through the global queue) and Gs spawned from a thread outside the runtime.
// A run begin that took its M's reading from before the G's spawn, ready or previous run
// end would put that event inside the G's run (CheckInvariants).
TEST(Trace, AGBeginsOnlyAfterItIsMadeRunnable) {
  HangGuard guard;
  std::string path = TempPath("order");
  const int yields = mn::testing_util::kUnderTsan ? 2000 : 20000;
  const int spawns = mn::testing_util::kUnderTsan ? 2000 : 20000;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        for (int i = 0; i < 8; i++) {
          wg.add(1);
          mn::go([&] {
            for (int r = 0; r < yields; r++) mn::yield();
            wg.done();
          });
        }
        SpawnFromOutside(wg, spawns);
      },
      mn::Options{.procs = 2, .trace_path = path.c_str()});
  Trace t = Load(path);
  EXPECT_EQ(t.other_data.dropped_events, 0);
  CheckInvariants(t);
  // Each outside spawn reaches the file before its G's exit, which ends its lifetime
  // there: only the few Gs still running when main returned end alive, at the stop.
  int64_t alive = 0;
  for (const Event& e : t.events) alive += e.ph == 'e' && e.BoolArg("alive").value_or(false);
  EXPECT_LE(alive, 8);
  unlink(path.c_str());
}

// sysmon takes the only P from a G that never reaches a safe point, and other Gs run on it
// while the hog runs on without it: the hog's slice stays whole on its M's track, but on
// the P's track it ends at the handoff, so the P's slices do not overlap (CheckInvariants).
TEST(Trace, AHogsSliceLeavesItsPWhereThePWasTaken) {
  HangGuard guard;
  std::string path = TempPath("hog");
  std::atomic<bool> flag{false};
  std::atomic<uint64_t> hog_id{0};
  mn::Stats st{};
  mn::run(
      [&] {
        mn::Chan<int> started;
        mn::WaitGroup wg;
        wg.add(2);
        mn::go([&] {
          hog_id.store(mn::detail::GetM()->curg->id);
          started.send(1);  // readies main, which must wait for this P
          while (!flag.load(std::memory_order_relaxed)) {
          }
          wg.done();  // a safe point: the hog takes a P again
        });
        started.recv();
        mn::go([&] {
          for (int i = 0; i < 10; i++) mn::yield();  // slices on the taken P
          flag.store(true, std::memory_order_relaxed);
          wg.done();
        });
        wg.wait();
        st = mn::stats();
      },
      // sysmon's taking is under test, not kernel feedback's.
      mn::Options{.procs = 1, .kernel_feedback = mn::KernelFeedback::kOff,
                  .trace_path = path.c_str()});
  ASSERT_GE(st.hogs, 1);
  Trace t = Load(path);
  CheckInvariants(t);
  const auto hog = static_cast<int64_t>(hog_id.load());
  std::vector<int64_t> takes;
  for (const Event& e : t.events) {
    if (e.name == "handoff" && e.StringArg("reason") == "hog") takes.push_back(e.ts_ns);
  }
  ASSERT_FALSE(takes.empty());
  // The hog's M slice holds the first take; one of its P slices ends there.
  bool m_holds = false, p_ends = false;
  for (const Event& e : t.events) {
    if (e.ph != 'X' || e.cat != "run" || e.IntArg("g") != hog) continue;
    if (e.pid == 2) m_holds |= e.ts_ns < takes[0] && takes[0] < e.end_ns();
    if (e.pid == 1) p_ends |= e.StringArg("end") == "handoff" && e.end_ns() == takes[0];
  }
  EXPECT_TRUE(m_holds) << "the hog's run on its M is cut at the take";
  EXPECT_TRUE(p_ends) << "no P slice of the hog ends at the take";
  unlink(path.c_str());
}

TEST(Trace, RingKeepsTheLastMiB) {
  HangGuard guard;
  std::string path = TempPath("ring");
  mn::run([] { Workload(4, mn::testing_util::kUnderTsan ? 5000 : 20000); },
          mn::Options{.procs = 2, .trace_path = path.c_str(), .trace_ring_mib = 1});
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  // The ring, plus the track names and the totals.
  EXPECT_LT(st.st_size, (1 << 20) + (64 << 10));
  Trace t = Load(path);
  EXPECT_EQ(t.other_data.mode, "ring");
  EXPECT_EQ(t.other_data.ring_bytes, 1 << 20);
  EXPECT_GT(t.other_data.dropped_events, 0);
  // Chunks are dropped whole: counts no longer add up, but there are slices.
  int64_t runs = 0;
  for (const Event& e : t.events) runs += e.cat == "run";
  EXPECT_GT(runs, 0);
  unlink(path.c_str());
}

// Gs spawned from a thread outside the runtime are recorded on the runtime track, which
// reaches the spool as it comes while the Ms' events wait in the ring: the file must stay
// within the ring all the same, and every G ended alive must have begun in it.
TEST(Trace, RingBoundsOutsideSpawns) {
  HangGuard guard;
  std::string path = TempPath("ring_outside");
  const int spawns = mn::testing_util::kUnderTsan ? 20000 : 200000;
  mn::run(
      [&] {
        mn::WaitGroup wg;
        SpawnFromOutside(wg, spawns);
      },
      mn::Options{.procs = 2, .trace_path = path.c_str(), .trace_ring_mib = 1});
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_LT(st.st_size, (1 << 20) + (64 << 10));
  Trace t = Load(path);
  EXPECT_GT(t.other_data.dropped_events, 0);
  std::set<uint64_t> begun;
  for (const Event& e : t.events) {
    if (e.ph == 'b' && e.id) begun.insert(*e.id);
  }
  int64_t alive = 0;
  for (const Event& e : t.events) {
    if (e.ph != 'e' || !e.id || !e.BoolArg("alive").value_or(false)) continue;
    alive++;
    EXPECT_TRUE(begun.count(*e.id)) << "G " << *e.id << " ends alive without its begin";
  }
  EXPECT_LT(alive, spawns / 10);
  unlink(path.c_str());
}

TEST(Trace, StartAndStopFromCode) {
  HangGuard guard;
  std::string path = TempPath("startstop");
  EXPECT_TRUE(absl::IsFailedPrecondition(mn::trace_start(path)));  // no runtime
  mn::run(
      [&] {
        EXPECT_TRUE(absl::IsFailedPrecondition(mn::trace_stop()));
        absl::Status bad = mn::trace_start("/nonexistent-dir/x.json");
        EXPECT_FALSE(bad.ok());
        EXPECT_NE(bad.message().find("/nonexistent-dir/x.json"), std::string::npos) << bad;
        ASSERT_TRUE(mn::trace_start(path).ok());
        absl::Status again = mn::trace_start(path);
        EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;
        Workload(2, 100);
        ASSERT_TRUE(mn::trace_stop().ok());
        EXPECT_TRUE(absl::IsFailedPrecondition(mn::trace_stop()));
        // Once more, into the same file: a second trace in one run starts afresh.
        ASSERT_TRUE(mn::trace_start(path).ok());
        mn::Chan<int> c(1);
        mn::go([=] { c.send(1); });
        c.recv();
        ASSERT_TRUE(mn::trace_stop().ok());
      },
      mn::Options{.procs = 2});
  Trace t = Load(path);
  CheckInvariants(t);
  EXPECT_EQ(t.other_data.spawns, 1);
  unlink(path.c_str());
}

TEST(Trace, CountersAreTheStatsDeltas) {
  HangGuard guard;
  std::string path = TempPath("deltas");
  mn::Stats before{}, after{};
  mn::run(
      [&] {
        before = mn::stats();
        ASSERT_TRUE(mn::trace_start(path).ok());
        Workload(2, 100);
        after = mn::stats();
        ASSERT_TRUE(mn::trace_stop().ok());
      },
      mn::Options{.procs = 2});
  Trace t = Load(path);
  CheckInvariants(t);
  EXPECT_EQ(t.other_data.spawns, after.spawns - before.spawns);
  EXPECT_EQ(t.other_data.parks, after.parks - before.parks);
  EXPECT_EQ(t.other_data.readies, after.readies - before.readies);
  // Gs alive when the trace stopped end with alive: true, so every b has its e.
  std::map<uint64_t, int> begins, ends;
  Lifetimes(t, &begins, &ends);
  EXPECT_EQ(begins, ends);
  unlink(path.c_str());
}

// With kernel telemetry, a CPU hog on the only CPU the runtime may use preempts its M:
// the trace shows the kernel's slices on the M's track, nested in its run slices.
TEST(Trace, KernelSlicesNest) {
  HangGuard guard;
  if (geteuid() != 0) GTEST_SKIP() << "kernel telemetry needs root (or CAP_BPF and CAP_PERFMON)";
  std::string path = TempPath("kernel");
  // Pin this thread to one CPU before run(): every thread the runtime makes inherits it.
  cpu_set_t old, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  int cpu = -1;
  for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++) {
    if (CPU_ISSET(c, &old)) cpu = c;
  }
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  std::atomic<bool> stop{false};
  std::thread hog([&] {
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  std::string why;
  mn::run(
      [&] {
        mn::KernelFeedbackStatus st = mn::kernel_feedback_status();
        if (!st.active) {
          why = st.reason;
          return;
        }
        auto* rt = mn::detail::GetM()->rt;
        auto preempted = [&] {
          uint64_t n = 0;
          mn::detail::mn_m_telemetry r{};
          std::lock_guard<mn::detail::SchedLock> lock(rt->lock);
          for (const auto& m : rt->allm) {
            if (rt->ktel->ReadM(static_cast<int>(m->id), &r)) n += r.nr_preempted;
          }
          return n;
        };
        ASSERT_TRUE(mn::trace_start(path).ok());
        uint64_t p0 = preempted();
        // Gs that run, park and sleep while the hog takes the CPU from their M.
        while (preempted() < p0 + 3) {
          mn::Chan<int> c;
          mn::go([=] {
            volatile long x = 0;
            for (int k = 0; k < 200000; k++) x = x + k;
            c.send(1);
          });
          c.recv();
          mn::sleep_for(std::chrono::microseconds(200));
        }
        ASSERT_TRUE(mn::trace_stop().ok());
      },
      mn::Options{.procs = 1});
  stop = true;
  hog.join();
  sched_setaffinity(0, sizeof old, &old);
  if (!why.empty()) GTEST_SKIP() << "kernel telemetry unavailable: " << why;
  Trace t = Load(path);
  EXPECT_TRUE(t.other_data.kernel);
  CheckInvariants(t);
  int64_t kernel = 0, preempted = 0;
  for (const Event& e : t.events) {
    kernel += e.cat == "kernel";
    preempted += e.name == "preempted";
  }
  EXPECT_GE(kernel, 1);
  EXPECT_GE(preempted, 1);
  unlink(path.c_str());
}

class TraceDeath : public testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(TraceDeath, BadMnTraceExits2) {
  EXPECT_EXIT(
      {
        setenv("MN_TRACE", "/nonexistent-dir/trace.json", 1);
        mn::run([] {});
      },
      testing::ExitedWithCode(2), "MN_TRACE=\"/nonexistent-dir/trace.json\"");
  EXPECT_EXIT(
      {
        setenv("MN_TRACE", "/tmp/x.json", 1);
        setenv("MN_TRACE_RING", "lots", 1);
        mn::run([] {});
      },
      testing::ExitedWithCode(2), "MN_TRACE_RING=\"lots\"");
}

TEST(Trace, MnTraceRecordsTheRun) {
  std::string path = TempPath("env");
  setenv("MN_TRACE", path.c_str(), 1);
  mn::run([] {
    mn::Chan<int> c;
    mn::go([=] { c.send(1); });
    c.recv();
  });
  unsetenv("MN_TRACE");
  Trace t = Load(path);
  CheckInvariants(t);
  EXPECT_EQ(t.other_data.spawns, 2);
  unlink(path.c_str());
}

}  // namespace
