// tools/trace_model.hpp: a trace in docs/tracing.md's format loads into typed events (times
// in integer ns, args by kind, track names from the metadata, otherData typed); what is not
// a trace is refused with a message naming the event and field, or the file, line and
// column; a large trace file loads whole.
#include "trace_model.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using mn_tools::trace::Arg;
using mn_tools::trace::Event;
using mn_tools::trace::LoadTraceFile;
using mn_tools::trace::ParseTrace;
using mn_tools::trace::Trace;

constexpr std::string_view kSmall = R"({"displayTimeUnit":"ns",
 "otherData":{"producer":"mnsched","format":1,"pid":4242,"procs":2,"mode":"ring","ring_bytes":65536,
              "dropped_events":7,"kernel":true,"counters":{"spawns":1,"parks":1,"readies":1}},
 "traceEvents":[
  {"ph":"M","name":"process_name","pid":1,"args":{"name":"Ps"}},
  {"ph":"M","name":"thread_name","pid":2,"tid":1,"args":{"name":"M0 tid 4243"}},
  {"ph":"X","cat":"run","name":"G1 main","pid":2,"tid":1,"ts":1.5,"dur":2.001,"args":{"g":1,"end":"park"}},
  {"ph":"i","s":"t","cat":"g","name":"spawn","pid":2,"tid":1,"ts":1.75,"args":{"g":2,"parent":1,"label":"worker"}},
  {"ph":"b","cat":"g","name":"G2 worker","pid":3,"tid":1,"id":2,"ts":1.75,"args":{"g":2,"label":"worker"}},
  {"ph":"e","cat":"g","name":"G2 worker","pid":3,"tid":1,"id":"0x2","ts":9,"args":{"g":2,"alive":true,"x":null,"o":{"n":1}}}
 ]})";

TEST(TraceModel, LoadsTheFormat) {
  absl::StatusOr<Trace> t = ParseTrace(kSmall);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->display_time_unit, "ns");
  const auto& od = t->other_data;
  EXPECT_TRUE(od.present);
  EXPECT_EQ(od.producer, "mnsched");
  EXPECT_EQ(od.format, 1);
  EXPECT_EQ(od.pid, 4242);
  EXPECT_EQ(od.procs, 2);
  EXPECT_EQ(od.mode, "ring");
  EXPECT_EQ(od.ring_bytes, 65536);
  EXPECT_EQ(od.dropped_events, 7);
  EXPECT_TRUE(od.kernel);
  EXPECT_EQ(od.spawns, 1);
  EXPECT_EQ(od.parks, 1);
  EXPECT_EQ(od.readies, 1);
  ASSERT_TRUE(t->other_data_json.is_object());

  ASSERT_EQ(t->events.size(), 6u);
  EXPECT_EQ(t->process_names.at(1), "Ps");
  EXPECT_EQ(t->thread_names.at({2, 1}), "M0 tid 4243");

  const Event& run = t->events[2];
  EXPECT_EQ(run.ph, 'X');
  EXPECT_EQ(run.cat, "run");
  EXPECT_EQ(run.name, "G1 main");
  EXPECT_EQ(run.pid, 2);
  EXPECT_EQ(run.tid, 1);
  EXPECT_EQ(run.ts_ns, 1500);
  EXPECT_EQ(run.dur_ns, 2001);
  EXPECT_EQ(run.end_ns(), 3501);
  EXPECT_FALSE(run.id.has_value());
  EXPECT_EQ(run.IntArg("g"), 1);
  EXPECT_EQ(run.StringArg("end"), "park");
  EXPECT_EQ(run.IntArg("end"), std::nullopt);
  EXPECT_EQ(run.StringArg("g"), std::nullopt);
  EXPECT_EQ(run.FindArg("nope"), nullptr);
  EXPECT_EQ(run.line, 7);

  const Event& spawn = t->events[3];
  EXPECT_EQ(spawn.ph, 'i');
  EXPECT_EQ(spawn.dur_ns, -1);
  EXPECT_EQ(spawn.IntArg("parent"), 1);
  EXPECT_EQ(spawn.StringArg("label"), "worker");

  EXPECT_EQ(t->events[4].id, 2u);
  const Event& end = t->events[5];
  EXPECT_EQ(end.id, 2u);  // "0x2"
  EXPECT_EQ(end.ts_ns, 9000);
  EXPECT_EQ(end.BoolArg("alive"), true);
  EXPECT_EQ(end.FindArg("x")->kind, Arg::Kind::kNull);
  EXPECT_EQ(end.FindArg("o")->kind, Arg::Kind::kOther);
  EXPECT_EQ(t->events[0].ts_ns, 0);  // metadata needs no ts

  // Equal strings share one interned copy.
  EXPECT_EQ(spawn.StringArg("label")->data(), t->events[4].StringArg("label")->data());
  EXPECT_EQ(t->events[4].name.data(), end.name.data());
}

TEST(TraceModel, ViewsSurviveMovingTheTrace) {
  absl::StatusOr<Trace> t = ParseTrace(kSmall);
  ASSERT_TRUE(t.ok()) << t.status();
  Trace moved = std::move(*t);
  Trace again;
  again = std::move(moved);
  EXPECT_EQ(again.events[2].name, "G1 main");
  EXPECT_EQ(again.events[2].StringArg("end"), "park");
  EXPECT_EQ(again.Intern("G1 main").data(), again.events[2].name.data());
}

TEST(TraceModel, MicrosecondsRoundToWholeNanoseconds) {
  absl::StatusOr<Trace> t = ParseTrace(
      R"({"traceEvents":[{"ph":"X","pid":2,"tid":1,"ts":3600000000.123,"dur":0.001},
                         {"ph":"X","pid":2,"tid":1,"ts":0.1,"dur":0.7},{"ph":"i","pid":2,"ts":1e3}]})");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->events[0].ts_ns, 3600000000123);
  EXPECT_EQ(t->events[0].dur_ns, 1);
  EXPECT_EQ(t->events[1].ts_ns, 100);
  EXPECT_EQ(t->events[1].dur_ns, 700);
  EXPECT_EQ(t->events[2].ts_ns, 1000000);
  EXPECT_EQ(t->events[2].tid, 0);
  EXPECT_EQ(t->events[2].cat, "");
  EXPECT_FALSE(t->other_data.present);
}

testing::AssertionResult Refuses(std::string_view text, std::string_view message) {
  absl::StatusOr<Trace> t = ParseTrace(text);
  if (t.ok()) return testing::AssertionFailure() << "accepted " << text;
  if (std::string(t.status().message()) != message) {
    return testing::AssertionFailure() << "message \"" << std::string(t.status().message()) << "\", expected \"" << message << "\"";
  }
  return testing::AssertionSuccess();
}

TEST(TraceModel, RefusesWhatIsNotATrace) {
  EXPECT_TRUE(Refuses("[]", "line 1, column 1: expected an object ('{'), found '[' (a trace is a JSON object with \"traceEvents\")"));
  EXPECT_TRUE(Refuses("{}", "the trace has no \"traceEvents\" array"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":{}})", "line 1, column 16: expected an array ('['), found '{'"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[],"traceEvents":[]})", "line 1, column 19: duplicate key \"traceEvents\""));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[]} x)", "line 1, column 20: unexpected 'x' after the end of the JSON value"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[1]})", "traceEvents[0] (line 1) is an integer, expected an object"));
  EXPECT_TRUE(Refuses("{\"traceEvents\":[{\"ph\":\"i\",\"pid\":1,\"ts\":0},\n{\"pid\":1,\"ts\":0}]}",
                      "traceEvents[1] (line 2) has no \"ph\""));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"XX","pid":1,"ts":0}]})",
                      "traceEvents[0] (line 1) \"ph\" is \"XX\", expected a one-character string"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","ts":0}]})", "traceEvents[0] (line 1) has no \"pid\""));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1.5,"ts":0}]})",
                      "traceEvents[0] (line 1) \"pid\" is a number, expected an integer"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1,"tid":"3","ts":0}]})",
                      "traceEvents[0] (line 1) \"tid\" is a string, expected an integer"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1}]})", "traceEvents[0] (line 1) has no \"ts\""));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1,"ts":"0"}]})",
                      "traceEvents[0] (line 1) \"ts\" is a string, expected a number"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"X","pid":1,"ts":0}]})",
                      "traceEvents[0] (line 1) is a complete event (ph X) without \"dur\""));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"X","pid":1,"ts":0,"dur":-1}]})",
                      "traceEvents[0] (line 1) \"dur\" is -1, expected a number >= 0"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1,"ts":0,"name":7}]})",
                      "traceEvents[0] (line 1) \"name\" is an integer, expected a string"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"b","pid":1,"ts":0,"id":"0xZZ"}]})",
                      "traceEvents[0] (line 1) \"id\" is a string that is not an id (a whole number >= 0, or a string of one)"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"b","pid":1,"ts":0,"id":-3}]})",
                      "traceEvents[0] (line 1) \"id\" is an integer that is not an id (a whole number >= 0, or a string of one)"));
  EXPECT_TRUE(Refuses(R"({"traceEvents":[{"ph":"i","pid":1,"ts":0,"args":[]}]})",
                      "traceEvents[0] (line 1) \"args\" is an array, expected an object"));
  EXPECT_TRUE(Refuses(R"({"otherData":{"dropped_events":"7"},"traceEvents":[]})",
                      "otherData.dropped_events is a string, expected an integer"));
  EXPECT_TRUE(Refuses(R"({"otherData":{"counters":{"parks":1.5}},"traceEvents":[]})",
                      "otherData.counters.parks is a number, expected an integer"));
  EXPECT_TRUE(Refuses(R"({"otherData":{"kernel":1},"traceEvents":[]})",
                      "otherData.kernel is an integer, expected true or false"));
  EXPECT_TRUE(Refuses(R"({"otherData":[],"traceEvents":[]})", "otherData is an array, expected an object"));
  EXPECT_TRUE(Refuses(R"({"displayTimeUnit":1,"traceEvents":[]})", "displayTimeUnit is an integer, expected a string"));
}

TEST(TraceModel, StreamingHandsOverEachEventAndKeepsNone) {
  mn_tools::json::Reader r(kSmall);
  Trace t;
  std::vector<std::string> seen;
  absl::Status s = mn_tools::trace::StreamTrace(r, &t, [&](const Event& e) {
    seen.push_back(std::string(1, e.ph) + " " + std::string(e.name));
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, (std::vector<std::string>{"M process_name", "M thread_name", "X G1 main", "i spawn",
                                            "b G2 worker", "e G2 worker"}));
  EXPECT_TRUE(t.events.empty());
  EXPECT_EQ(t.other_data.dropped_events, 7);  // the rest of the trace is filled in
  EXPECT_EQ(t.thread_names.at({2, 1}), "M0 tid 4243");

  // A sink's error stops the reading and comes back as it was.
  mn_tools::json::Reader again(kSmall);
  Trace t2;
  int calls = 0;
  s = mn_tools::trace::StreamTrace(again, &t2, [&](const Event&) {
    return ++calls == 3 ? absl::CancelledError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(s, absl::CancelledError("enough"));
  EXPECT_EQ(calls, 3);

  absl::Status missing = mn_tools::trace::StreamTraceFile("/nonexistent/t.json", &t2, [](const Event&) {
    return absl::OkStatus();
  });
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
}

TEST(TraceModel, UnknownTopLevelKeysAreSkipped) {
  absl::StatusOr<Trace> t = ParseTrace(R"({"stackFrames":{"1":{"name":"f"}},"traceEvents":[],"extra":[1,2]})");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->events.empty());
}

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/trace_model_test." + std::to_string(getpid()) + "." + name;
}

TEST(TraceModel, LoadTraceFileNamesTheFile) {
  absl::StatusOr<Trace> missing = LoadTraceFile("/nonexistent/trace.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("/nonexistent/trace.json"), std::string_view::npos);

  std::string path = TempPath("bad.json");
  {
    std::ofstream f(path);
    f << "{\"traceEvents\":[\n  {\"ph\":\"i\",\"pid\":1,\"ts\":0},\n  {\"ph\":\"i\" \"pid\":1}\n]}\n";
  }
  absl::StatusOr<Trace> bad = LoadTraceFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()), path + ": line 3, column 13: expected ',' or '}' after an object member, found '\"'");

  absl::StatusOr<Trace> dir = LoadTraceFile("/");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(std::string(dir.status().message()).find("/"), std::string_view::npos) << dir.status();
}

// A quarter of a million events (about 30 MB) written as the recorder would, one a line, then
// loaded through the file reader: every event arrives, with its values.
TEST(TraceModel, LargeFile) {
  std::string path = TempPath("large.json");
  constexpr int kEvents = 250000;
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"producer\":\"mnsched\",\"format\":1},\n\"traceEvents\":[\n", f);
    for (int i = 0; i < kEvents; i++) {
      std::fprintf(f, "%s{\"ph\":\"X\",\"cat\":\"run\",\"name\":\"G%d worker\",\"pid\":2,\"tid\":%d,\"ts\":%d.%03d,"
                      "\"dur\":1.250,\"args\":{\"g\":%d,\"end\":\"yield\"}}\n",
                   i ? "," : "", i % 100, i % 4 + 1, i, i % 1000, i % 100);
    }
    std::fputs("]}\n", f);
    std::fclose(f);
  }
  absl::StatusOr<Trace> t = LoadTraceFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->events.size(), static_cast<std::size_t>(kEvents));
  int64_t total = 0;
  for (const Event& e : t->events) total += e.dur_ns;
  EXPECT_EQ(total, int64_t{1250} * kEvents);
  const Event& last = t->events.back();
  EXPECT_EQ(last.ts_ns, int64_t{kEvents - 1} * 1000 + (kEvents - 1) % 1000);
  EXPECT_EQ(last.tid, (kEvents - 1) % 4 + 1);
  EXPECT_EQ(last.line, kEvents + 2);
  EXPECT_EQ(last.StringArg("end"), "yield");
}

}  // namespace
