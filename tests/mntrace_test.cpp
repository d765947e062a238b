// tools/mntrace: `mntrace summarize` on hand-made traces in docs/tracing.md's format whose
// summaries are known exactly (a whole-run trace, and a ring-mode one whose events lack
// their starts); --top; the exit codes for bad usage (2) and for a file that is not a
// valid trace (1, naming the file and the fault); and a trace the runtime records of a
// known workload, whose summary must agree with sums taken from the events directly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <mn/mn.hpp>

#include "json.hpp"
#include "test_util.hpp"
#include "trace_model.hpp"

#ifndef MNTRACE_PATH
#error "MNTRACE_PATH (the mntrace binary) must be defined by the build"
#endif

namespace {

using mn::testing_util::CommandResult;
using mn::testing_util::RunCommand;
using mn_tools::json::Array;
using mn_tools::json::Value;

testing::AssertionResult HasSubstr(std::string_view hay, std::string_view needle) {
  if (hay.find(needle) != std::string_view::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "\"" << hay << "\" does not contain \"" << needle << "\"";
}

// A file in the temporary directory, removed with the object.
class TempFile {
 public:
  TempFile(const std::string& name, std::string_view content) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/mntrace_test." + std::to_string(getpid()) + "." + name;
    std::ofstream f(path_, std::ios::binary);
    f << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CommandResult Mntrace(const std::string& args, bool with_stderr = true) {
  return RunCommand(std::string(MNTRACE_PATH) + " " + args + (with_stderr ? " 2>&1" : ""));
}

// Runs `mntrace summarize --json` on `path` and parses what it printed.
Value SummaryJson(const std::string& path, const std::string& more = "") {
  CommandResult r = Mntrace("summarize --json " + more + " " + path, false);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  absl::StatusOr<Value> v = mn_tools::json::Parse(r.out);
  EXPECT_TRUE(v.ok()) << v.status() << "\n" << r.out;
  return v.ok() ? *v : Value();
}

// v's member at a dotted path ("latency.p50_ns"), as a number; NaN-free: a missing or
// non-number member fails the test and reads as -1.
double Num(const Value& v, std::string_view path) {
  const Value* at = &v;
  while (!path.empty()) {
    std::size_t dot = path.find('.');
    at = at->Find(path.substr(0, dot));
    if (at == nullptr) break;
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  EXPECT_TRUE(at != nullptr && at->is_number()) << "no number at " << path;
  return at != nullptr && at->is_number() ? at->as_number() : -1;
}

const Value& Kind(const Value& summary, std::string_view label) {
  static const Value kNone;
  for (const Value& k : summary.Find("kinds")->as_array()) {
    if (k.Find("label")->as_string() == label) return k;
  }
  ADD_FAILURE() << "no kind " << label;
  return kNone;
}

// One P, one M. main (G1) spawns two workers (G2, G3) and yields; G2 runs and parks on a
// channel; G3 runs, makes a blocking call, runs again and exits; main runs, readies G2 and
// parks in select; G2 runs and exits; a timer readies main, which runs and exits. Each run
// slice is also on the P track, and must not count twice. In microseconds:
//   G1 main:   running 10 + 10 + 1.5 = 21.5; runnable [10,20] + [40,41] = 11 (latencies 10
//              and 1); blocked [29.5,40] = 10.5 in select.
//   G2 worker: running 5 + 2 = 7; runnable [2,10] + [22,30] = 16 (8 and 8); blocked
//              [14,22] = 8 in chan receive.
//   G3 worker: running 2 + 1 = 3; runnable [4,15] = 11 (11); syscall 2.
// So latencies {1, 8, 8, 10, 11}: P50 (nearest rank 3) 8, P99 (rank 5) 11.
constexpr std::string_view kWholeTrace = R"({"displayTimeUnit":"ns",
 "otherData":{"producer":"mnsched","format":1,"pid":100,"procs":1,"mode":"whole","ring_bytes":0,
              "dropped_events":0,"kernel":true,"counters":{"spawns":2,"parks":2,"readies":2}},
 "traceEvents":[
{"ph":"M","name":"process_name","pid":1,"args":{"name":"Ps"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"P0"}},
{"ph":"M","name":"process_name","pid":2,"args":{"name":"Ms"}},
{"ph":"M","name":"thread_name","pid":2,"tid":0,"args":{"name":"runtime"}},
{"ph":"M","name":"thread_name","pid":2,"tid":1,"args":{"name":"M0 tid 101"}},
{"ph":"M","name":"process_name","pid":3,"args":{"name":"Gs"}},
{"ph":"X","cat":"run","name":"G1 main","pid":2,"tid":1,"ts":0,"dur":10,"args":{"g":1,"end":"yield"}},
{"ph":"X","cat":"run","name":"G1 main","pid":1,"tid":1,"ts":0,"dur":10,"args":{"g":1,"end":"yield"}},
{"ph":"X","cat":"kernel","name":"preempted","pid":2,"tid":1,"ts":3,"dur":1,"args":{"state":"preempted"}},
{"ph":"i","s":"t","cat":"g","name":"spawn","pid":2,"tid":1,"ts":2,"args":{"g":2,"parent":1,"label":"worker"}},
{"ph":"b","cat":"g","name":"G2 worker","pid":3,"tid":1,"id":2,"ts":2,"args":{"g":2,"label":"worker"}},
{"ph":"i","s":"t","cat":"g","name":"spawn","pid":2,"tid":1,"ts":4,"args":{"g":3,"parent":1,"label":"worker"}},
{"ph":"b","cat":"g","name":"G3 worker","pid":3,"tid":1,"id":3,"ts":4,"args":{"g":3,"label":"worker"}},
{"ph":"X","cat":"run","name":"G2 worker","pid":2,"tid":1,"ts":10,"dur":5,"args":{"g":2,"end":"park"}},
{"ph":"X","cat":"run","name":"G2 worker","pid":1,"tid":1,"ts":10,"dur":5,"args":{"g":2,"end":"park"}},
{"ph":"i","s":"t","cat":"g","name":"park","pid":2,"tid":1,"ts":14,"args":{"g":2,"reason":"chan receive"}},
{"ph":"X","cat":"run","name":"G3 worker","pid":2,"tid":1,"ts":15,"dur":2,"args":{"g":3,"end":"syscall"}},
{"ph":"X","cat":"syscall","name":"syscall","pid":2,"tid":1,"ts":17,"dur":2,"args":{"g":3}},
{"ph":"X","cat":"run","name":"G3 worker","pid":2,"tid":1,"ts":19,"dur":1,"args":{"g":3,"end":"exit"}},
{"ph":"e","cat":"g","name":"G3 worker","pid":3,"tid":1,"id":3,"ts":20,"args":{"g":3}},
{"ph":"i","s":"t","cat":"sched","name":"steal","pid":2,"tid":1,"ts":20,"args":{"p":0,"from":0,"n":1}},
{"ph":"X","cat":"run","name":"G1 main","pid":2,"tid":1,"ts":20,"dur":10,"args":{"g":1,"end":"park"}},
{"ph":"i","s":"t","cat":"g","name":"ready","pid":2,"tid":1,"ts":22,"args":{"g":2,"by":1}},
{"ph":"i","s":"t","cat":"g","name":"park","pid":2,"tid":1,"ts":29.5,"args":{"g":1,"reason":"select"}},
{"ph":"X","cat":"run","name":"G2 worker","pid":2,"tid":1,"ts":30,"dur":2,"args":{"g":2,"end":"exit"}},
{"ph":"e","cat":"g","name":"G2 worker","pid":3,"tid":1,"id":2,"ts":32,"args":{"g":2}},
{"ph":"i","s":"t","cat":"sched","name":"handoff","pid":2,"tid":0,"ts":35,"args":{"p":0,"reason":"hog"}},
{"ph":"i","s":"t","cat":"timer","name":"timer","pid":2,"tid":0,"ts":40,"args":{"g":1}},
{"ph":"i","s":"t","cat":"g","name":"ready","pid":2,"tid":0,"ts":40,"args":{"g":1,"by":0}},
{"ph":"X","cat":"run","name":"G1 main","pid":2,"tid":1,"ts":41,"dur":1.5,"args":{"g":1,"end":"exit"}}
]}
)";

TEST(Mntrace, WholeTraceSummaryIsExact) {
  TempFile f("whole.json", kWholeTrace);
  Value s = SummaryJson(f.path());
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.Find("file")->as_string(), f.path());
  EXPECT_EQ(s.Find("mode")->as_string(), "whole");
  EXPECT_EQ(Num(s, "procs"), 1);
  EXPECT_EQ(Num(s, "events"), 30);
  EXPECT_EQ(Num(s, "gs"), 3);
  EXPECT_EQ(Num(s, "dropped_events"), 0);
  EXPECT_EQ(Num(s, "duration_ns"), 42500);
  EXPECT_EQ(Num(s, "counts.runs"), 7);  // M tracks only
  EXPECT_EQ(Num(s, "counts.syscalls"), 1);
  EXPECT_EQ(Num(s, "counts.spawns"), 2);
  EXPECT_EQ(Num(s, "counts.parks"), 2);
  EXPECT_EQ(Num(s, "counts.readies"), 2);
  EXPECT_EQ(Num(s, "counts.steals"), 1);
  EXPECT_EQ(Num(s, "counts.handoffs"), 1);
  EXPECT_EQ(Num(s, "counts.timers"), 1);
  EXPECT_EQ(Num(s, "counts.unattributed"), 0);
  EXPECT_EQ(Num(s, "running_ns"), 31500);
  EXPECT_EQ(Num(s, "runnable_ns"), 38000);
  EXPECT_EQ(Num(s, "blocked_ns"), 18500);
  EXPECT_EQ(Num(s, "syscall_ns"), 2000);
  EXPECT_EQ(Num(s, "latency.count"), 5);
  EXPECT_EQ(Num(s, "latency.p50_ns"), 8000);
  EXPECT_EQ(Num(s, "latency.p99_ns"), 11000);
  EXPECT_EQ(Num(s, "latency.max_ns"), 11000);

  EXPECT_EQ(Num(s, "kinds_total"), 2);
  ASSERT_EQ(s.Find("kinds")->as_array().size(), 2u);
  EXPECT_EQ(s.Find("kinds")->as_array()[0].Find("label")->as_string(), "main");  // most running first
  const Value& main = Kind(s, "main");
  EXPECT_EQ(Num(main, "gs"), 1);
  EXPECT_EQ(Num(main, "spawns"), 0);
  EXPECT_EQ(Num(main, "exits"), 1);
  EXPECT_EQ(Num(main, "runs"), 3);
  EXPECT_EQ(Num(main, "running_ns"), 21500);
  EXPECT_EQ(Num(main, "runnable_ns"), 11000);
  EXPECT_EQ(Num(main, "blocked_ns"), 10500);
  EXPECT_EQ(Num(main, "syscall_ns"), 0);
  EXPECT_EQ(Num(main, "latency.count"), 2);
  EXPECT_EQ(Num(main, "latency.p50_ns"), 1000);
  EXPECT_EQ(Num(main, "latency.p99_ns"), 10000);
  const Value& worker = Kind(s, "worker");
  EXPECT_EQ(Num(worker, "gs"), 2);
  EXPECT_EQ(Num(worker, "spawns"), 2);
  EXPECT_EQ(Num(worker, "exits"), 2);
  EXPECT_EQ(Num(worker, "runs"), 4);
  EXPECT_EQ(Num(worker, "running_ns"), 10000);
  EXPECT_EQ(Num(worker, "runnable_ns"), 27000);
  EXPECT_EQ(Num(worker, "blocked_ns"), 8000);
  EXPECT_EQ(Num(worker, "syscall_ns"), 2000);
  EXPECT_EQ(Num(worker, "latency.count"), 3);
  EXPECT_EQ(Num(worker, "latency.p50_ns"), 8000);
  EXPECT_EQ(Num(worker, "latency.p99_ns"), 11000);

  const Array& reasons = s.Find("wait_reasons")->as_array();
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0].Find("reason")->as_string(), "select");  // most blocked time first
  EXPECT_EQ(Num(reasons[0], "count"), 1);
  EXPECT_EQ(Num(reasons[0], "blocked_ns"), 10500);
  EXPECT_EQ(reasons[1].Find("reason")->as_string(), "chan receive");
  EXPECT_EQ(Num(reasons[1], "blocked_ns"), 8000);

  const Array& kernel = s.Find("kernel_slices")->as_array();
  ASSERT_EQ(kernel.size(), 1u);
  EXPECT_EQ(kernel[0].Find("name")->as_string(), "preempted");
  EXPECT_EQ(Num(kernel[0], "ns"), 1000);
}

TEST(Mntrace, TextShowsTheSameFigures) {
  TempFile f("text.json", kWholeTrace);
  CommandResult r = Mntrace("summarize " + f.path());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "42.5us long, 30 events, 3 Gs, 0 events dropped"));
  EXPECT_TRUE(HasSubstr(r.out, "all Gs: running 31.5us, runnable 38.0us, blocked 18.5us, in syscalls 2.0us"));
  EXPECT_TRUE(HasSubstr(r.out, "scheduling latency: 5 samples, p50 8.0us, p99 11.0us, max 11.0us"));
  EXPECT_TRUE(HasSubstr(r.out, "  main         1     21.5us     11.0us     10.5us        0ns        3     1.0us    10.0us\n"));
  EXPECT_TRUE(HasSubstr(r.out, "  worker       2     10.0us     27.0us      8.0us      2.0us        4     8.0us    11.0us\n"));
  EXPECT_TRUE(HasSubstr(r.out, "  select               1     10.5us\n"));
  EXPECT_TRUE(HasSubstr(r.out, "  chan receive         1      8.0us\n"));
}

TEST(Mntrace, TopLimitsTheLists) {
  TempFile f("top.json", kWholeTrace);
  Value s = SummaryJson(f.path(), "--top=1");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(Num(s, "kinds_total"), 2);
  ASSERT_EQ(s.Find("kinds")->as_array().size(), 1u);
  EXPECT_EQ(s.Find("kinds")->as_array()[0].Find("label")->as_string(), "main");
  EXPECT_EQ(Num(s, "wait_reasons_total"), 2);
  EXPECT_EQ(s.Find("wait_reasons")->as_array().size(), 1u);
  CommandResult all = Mntrace("summarize --top=0 " + f.path());
  EXPECT_TRUE(HasSubstr(all.out, "G kinds by running time (2 of 2)"));
}

// A ring-mode trace: its oldest events are gone. G7 runs with no spawn before it (no
// latency sample), parks, is readied (blocked [104,110] = 6), runs after 2 (one sample)
// and yields at 113, still runnable when the trace ends at 120 (7 more, no sample). G8's
// park was lost: its ready at 101 makes it runnable (sample 4, at its run at 105); it
// parks at 108 and is still blocked at the end (12). G9 is known only by its end.
constexpr std::string_view kRingTrace = R"({"displayTimeUnit":"ns",
 "otherData":{"producer":"mnsched","format":1,"pid":100,"procs":2,"mode":"ring","ring_bytes":1048576,
              "dropped_events":1234,"kernel":false,"counters":{"spawns":50,"parks":60,"readies":70}},
 "traceEvents":[
{"ph":"e","cat":"g","name":"G9 idle","pid":3,"tid":1,"id":9,"ts":100,"args":{"g":9,"label":"idle"}},
{"ph":"X","cat":"run","name":"G7 worker","pid":2,"tid":1,"ts":100,"dur":5,"args":{"g":7,"end":"park"}},
{"ph":"i","s":"t","cat":"g","name":"ready","pid":2,"tid":2,"ts":101,"args":{"g":8,"by":0}},
{"ph":"i","s":"t","cat":"g","name":"park","pid":2,"tid":1,"ts":104,"args":{"g":7,"reason":"chan send"}},
{"ph":"X","cat":"run","name":"G8 conn","pid":2,"tid":2,"ts":105,"dur":3,"args":{"g":8,"end":"park"}},
{"ph":"i","s":"t","cat":"g","name":"park","pid":2,"tid":2,"ts":108,"args":{"g":8,"reason":"mutex"}},
{"ph":"i","s":"t","cat":"g","name":"ready","pid":2,"tid":2,"ts":110,"args":{"g":7,"by":8}},
{"ph":"X","cat":"run","name":"G7 worker","pid":2,"tid":1,"ts":112,"dur":1,"args":{"g":7,"end":"yield"}},
{"ph":"i","s":"t","cat":"sched","name":"steal","pid":2,"tid":2,"ts":120,"args":{"p":1,"from":0,"n":1}}
]}
)";

TEST(Mntrace, RingTraceCountsOnlyWhatItSaw) {
  TempFile f("ring.json", kRingTrace);
  Value s = SummaryJson(f.path());
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.Find("mode")->as_string(), "ring");
  EXPECT_EQ(Num(s, "dropped_events"), 1234);
  EXPECT_EQ(Num(s, "events"), 9);
  EXPECT_EQ(Num(s, "gs"), 3);
  EXPECT_EQ(Num(s, "duration_ns"), 20000);
  EXPECT_EQ(Num(s, "running_ns"), 9000);
  EXPECT_EQ(Num(s, "runnable_ns"), 13000);
  EXPECT_EQ(Num(s, "blocked_ns"), 18000);
  EXPECT_EQ(Num(s, "latency.count"), 2);
  EXPECT_EQ(Num(s, "latency.p50_ns"), 2000);
  EXPECT_EQ(Num(s, "latency.p99_ns"), 4000);
  const Value& worker = Kind(s, "worker");
  EXPECT_EQ(Num(worker, "running_ns"), 6000);
  EXPECT_EQ(Num(worker, "runnable_ns"), 9000);
  EXPECT_EQ(Num(worker, "blocked_ns"), 6000);
  const Value& conn = Kind(s, "conn");
  EXPECT_EQ(Num(conn, "runnable_ns"), 4000);
  EXPECT_EQ(Num(conn, "blocked_ns"), 12000);
  const Value& idle = Kind(s, "idle");
  EXPECT_EQ(Num(idle, "gs"), 1);
  EXPECT_EQ(Num(idle, "running_ns"), 0);
  EXPECT_TRUE(idle.Find("latency")->Find("p50_ns")->is_null());
  const Array& reasons = s.Find("wait_reasons")->as_array();
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0].Find("reason")->as_string(), "mutex");
  EXPECT_EQ(Num(reasons[0], "blocked_ns"), 12000);
  EXPECT_EQ(reasons[1].Find("reason")->as_string(), "chan send");
  EXPECT_EQ(Num(reasons[1], "blocked_ns"), 6000);
}

TEST(Mntrace, EmptyTrace) {
  TempFile f("empty.json", R"({"traceEvents":[]})");
  Value s = SummaryJson(f.path());
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(Num(s, "events"), 0);
  EXPECT_EQ(Num(s, "gs"), 0);
  EXPECT_EQ(Num(s, "duration_ns"), 0);
  EXPECT_TRUE(s.Find("latency")->Find("p99_ns")->is_null());
  CommandResult text = Mntrace("summarize " + f.path());
  EXPECT_EQ(text.exit_code, 0) << text.out;
  EXPECT_TRUE(HasSubstr(text.out, "scheduling latency: no samples"));
}

TEST(Mntrace, BadUsageExits2) {
  TempFile f("usage.json", kWholeTrace);
  struct Case {
    std::string args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"", "no subcommand given"},
           {"frobnicate " + f.path(), "unknown subcommand \"frobnicate\""},
           {"summarize", "summarize: no trace file given"},
           {"summarize " + f.path() + " " + f.path(), "summarize: one trace file, not 2"},
           {"summarize --top=-1 " + f.path(), "--top=-1: must be 0 (all) or more"},
           {"summarize --top=many " + f.path(), "top"},
           {"summarize --bogus " + f.path(), "bogus"},
       }) {
    CommandResult r = Mntrace(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.out;
    EXPECT_TRUE(HasSubstr(r.out, c.says)) << c.args;
    EXPECT_TRUE(HasSubstr(r.out, "usage: mntrace summarize")) << c.args;
  }
  CommandResult help = Mntrace("--help");
  EXPECT_EQ(help.exit_code, 0) << help.out;
}

TEST(Mntrace, InvalidTraceExits1) {
  TempFile bad_json("bad.json", "{\"traceEvents\":[\n{\"ph\":\"i\",\"pid\":1,\"ts\":0},\n{\"ph\":\"i\",,}\n]}\n");
  CommandResult r = Mntrace("summarize " + bad_json.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "mntrace: " + bad_json.path() + ": line 3, column 11: expected a string key, found ','"));

  TempFile not_trace("array.json", "[]");
  r = Mntrace("summarize " + not_trace.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, not_trace.path() + ": line 1, column 1: expected an object"));

  TempFile no_ph("noph.json", R"({"traceEvents":[{"pid":1,"ts":0}]})");
  r = Mntrace("summarize --json " + no_ph.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, no_ph.path() + ": traceEvents[0] (line 1) has no \"ph\""));

  TempFile empty("zero.json", "");
  r = Mntrace("summarize " + empty.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, empty.path() + ": line 1, column 1: expected an object ('{'), found the end of the input"));

  TempFile cut("cut.json", std::string(kWholeTrace.substr(0, kWholeTrace.size() / 2)));
  r = Mntrace("summarize " + cut.path());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, cut.path() + ": line "));

  r = Mntrace("summarize /nonexistent/trace.json");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "mntrace: cannot open /nonexistent/trace.json: No such file or directory"));

  r = Mntrace("summarize /");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(HasSubstr(r.out, "/"));
}

// A real run: main starts a collector and kWorkers workers (named with go_named); each
// worker sends kRounds values to the collector over an unbuffered channel, yielding
// between sends. The summary must agree with what the events say when counted here.
TEST(Mntrace, SummaryOfARecordedRunAgreesWithItsEvents) {
  mn::testing_util::HangGuard guard;
  constexpr int kWorkers = 20, kRounds = 10;
  TempFile f("real.json", "");
  long total = 0;
  mn::run(
      [&] {
        mn::Chan<int> ch;
        mn::WaitGroup wg;
        wg.add(1);
        mn::go_named("collector", [&] {
          for (int i = 0; i < kWorkers * kRounds; i++) total += *ch.recv();
          wg.done();
        });
        for (int w = 0; w < kWorkers; w++) {
          wg.add(1);
          mn::go_named("worker", [&, w] {
            for (int r = 0; r < kRounds; r++) {
              ch.send(w * kRounds + r);
              mn::yield();
            }
            wg.done();
          });
        }
        wg.wait();
      },
      mn::Options{.procs = 2, .trace_path = f.path().c_str()});
  ASSERT_EQ(total, long{kWorkers * kRounds} * (kWorkers * kRounds - 1) / 2);

  absl::StatusOr<mn_tools::trace::Trace> t = mn_tools::trace::LoadTraceFile(f.path());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->other_data.mode, "whole");

  // Counted from the events: run slices on the M tracks (pid 2) by G and by kind (the
  // label in the slice's name "G<id> <label>"), the Gs any of them or a spawn names, and
  // the instants.
  int64_t running = 0, spawns = 0, parks = 0, readies = 0;
  std::map<std::string, int64_t> running_by_kind;
  std::map<std::string, std::set<int64_t>> gs_by_kind;
  std::set<int64_t> gs;
  for (const mn_tools::trace::Event& e : t->events) {
    if (e.ph == 'X' && e.cat == "run" && e.pid == 2) {
      running += e.dur_ns;
      std::string name(e.name);
      std::string kind = name.substr(name.find(' ') + 1);
      running_by_kind[kind] += e.dur_ns;
      gs_by_kind[kind].insert(e.IntArg("g").value_or(-1));
      gs.insert(e.IntArg("g").value_or(-1));
    } else if (e.ph == 'i' && e.cat == "g") {
      if (e.name == "spawn") {
        spawns++;
        gs.insert(e.IntArg("g").value_or(-1));
      }
      if (e.name == "park") parks++;
      if (e.name == "ready") readies++;
    }
  }
  // Every G is spawned once (main by run() itself, or not at all: then it is the one more).
  bool main_spawned = false;
  for (const mn_tools::trace::Event& e : t->events) {
    if (e.ph == 'i' && e.name == "spawn" && e.StringArg("label") == "main") main_spawned = true;
  }
  EXPECT_EQ(static_cast<int64_t>(gs.size()), spawns + (main_spawned ? 0 : 1));
  EXPECT_EQ(static_cast<int64_t>(gs.size()), kWorkers + 2);

  Value s = SummaryJson(f.path());
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(Num(s, "events"), static_cast<double>(t->events.size()));
  EXPECT_EQ(Num(s, "gs"), static_cast<double>(gs.size()));
  EXPECT_EQ(Num(s, "running_ns"), static_cast<double>(running));
  EXPECT_EQ(Num(s, "counts.spawns"), spawns);
  EXPECT_EQ(Num(s, "counts.parks"), parks);
  EXPECT_EQ(Num(s, "counts.readies"), readies);
  EXPECT_EQ(Num(s, "dropped_events"), t->other_data.dropped_events);
  if (t->other_data.dropped_events == 0) {  // whole mode, nothing lost: the runtime's counters
    EXPECT_EQ(t->other_data.spawns, spawns);
    EXPECT_EQ(t->other_data.parks, parks);
    EXPECT_EQ(t->other_data.readies, readies);
  }
  EXPECT_EQ(Num(s, "counts.unattributed"), 0);
  EXPECT_GE(Num(s, "runnable_ns"), 0);
  EXPECT_GE(Num(s, "blocked_ns"), 0);

  // Per kind: the same sums, and the Gs.
  ASSERT_EQ(Num(s, "kinds_total"), 3);  // main, collector, worker
  int64_t kind_running = 0;
  for (const char* kind : {"main", "collector", "worker"}) {
    const Value& k = Kind(s, kind);
    EXPECT_EQ(Num(k, "running_ns"), static_cast<double>(running_by_kind[kind])) << kind;
    EXPECT_EQ(Num(k, "gs"), static_cast<double>(gs_by_kind[kind].size())) << kind;
    EXPECT_GE(Num(k, "runnable_ns"), 0) << kind;
    EXPECT_GE(Num(k, "blocked_ns"), 0) << kind;
    kind_running += running_by_kind[kind];
  }
  EXPECT_EQ(kind_running, running);
  EXPECT_EQ(Num(Kind(s, "worker"), "gs"), kWorkers);
  // Every worker ran at least once per round (each yields after each send).
  EXPECT_GE(Num(Kind(s, "worker"), "runs"), kWorkers * kRounds);

  // Each park is counted under its reason.
  double reason_counts = 0;
  for (const Value& r : s.Find("wait_reasons")->as_array()) {
    reason_counts += Num(r, "count");
    EXPECT_GE(Num(r, "blocked_ns"), 0);
  }
  EXPECT_EQ(reason_counts, parks);
}

}  // namespace
