// Execution tracing (docs/tracing.md): the file is the JSON of the format section, and the
// invariants it states hold for a known workload. No timing asserts: order and counts.
#include <gtest/gtest.h>
#include <mn/mn.hpp>

#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "sched.hpp"
#include "test_util.hpp"

namespace {

using mn::testing_util::HangGuard;

// ---- A small JSON reader: enough to check the file (numbers, strings, arrays, objects).

struct Json;
using JsonObject = std::map<std::string, Json>;
using JsonArray = std::vector<Json>;
struct Json {
  std::variant<std::nullptr_t, bool, double, std::string, JsonArray, JsonObject> v;
  const Json& operator[](const std::string& k) const {
    static const Json none{nullptr};
    const auto* o = std::get_if<JsonObject>(&v);
    if (o == nullptr) return none;
    auto it = o->find(k);
    return it == o->end() ? none : it->second;
  }
  bool has(const std::string& k) const {
    const auto* o = std::get_if<JsonObject>(&v);
    return o != nullptr && o->count(k) != 0;
  }
  double num() const { return std::holds_alternative<double>(v) ? std::get<double>(v) : -1; }
  // Microseconds with three decimals back to the recorder's nanoseconds.
  int64_t ns() const { return std::llround(num() * 1000); }
  std::string str() const { return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : ""; }
  const JsonArray& arr() const {
    static const JsonArray none;
    const auto* a = std::get_if<JsonArray>(&v);
    return a != nullptr ? *a : none;
  }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  bool Parse(Json* out) {
    if (!Value(out)) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  void Ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) i_++;
  }
  bool Lit(const char* w) {
    std::size_t n = std::strlen(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool Str(std::string* out) {
    if (s_[i_] != '"') return false;
    for (i_++; i_ < s_.size(); i_++) {
      char c = s_[i_];
      if (c == '"') {
        i_++;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_];
        if (e == 'u') {
          if (i_ + 4 >= s_.size()) return false;
          out->push_back(static_cast<char>(std::stoi(s_.substr(i_ + 1, 4), nullptr, 16)));
          i_ += 4;
        } else if (e == 'n') {
          out->push_back('\n');
        } else if (e == '"' || e == '\\' || e == '/') {
          out->push_back(e);
        } else {
          out->push_back(e);
        }
      } else {
        out->push_back(c);
      }
    }
    return false;
  }
  bool Value(Json* out) {
    Ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      JsonObject o;
      i_++;
      Ws();
      if (s_[i_] == '}') {
        i_++;
        out->v = std::move(o);
        return true;
      }
      for (;;) {
        Ws();
        std::string k;
        if (!Str(&k)) return false;
        Ws();
        if (s_[i_++] != ':') return false;
        Json v;
        if (!Value(&v)) return false;
        if (o.count(k) != 0) return false;  // duplicate key
        o.emplace(std::move(k), std::move(v));
        Ws();
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        if (s_[i_++] != '}') return false;
        out->v = std::move(o);
        return true;
      }
    }
    if (c == '[') {
      JsonArray a;
      i_++;
      Ws();
      if (s_[i_] == ']') {
        i_++;
        out->v = std::move(a);
        return true;
      }
      for (;;) {
        Json v;
        if (!Value(&v)) return false;
        a.push_back(std::move(v));
        Ws();
        if (s_[i_] == ',') {
          i_++;
          continue;
        }
        if (s_[i_++] != ']') return false;
        out->v = std::move(a);
        return true;
      }
    }
    if (c == '"') {
      std::string str;
      if (!Str(&str)) return false;
      out->v = std::move(str);
      return true;
    }
    if (Lit("true")) {
      out->v = true;
      return true;
    }
    if (Lit("false")) {
      out->v = false;
      return true;
    }
    if (Lit("null")) {
      out->v = nullptr;
      return true;
    }
    std::size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) ||
                              std::strchr("+-.eE", s_[i_]) != nullptr)) {
      i_++;
    }
    if (start == i_) return false;
    out->v = std::stod(s_.substr(start, i_ - start));
    return true;
  }

  const std::string& s_;
  std::size_t i_ = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/mn_trace_test_" + std::to_string(getpid()) +
         "_" + name + ".json";
}

// The parsed file, or a failed assertion.
Json Load(const std::string& path) {
  std::string text = ReadFile(path);
  Json j;
  EXPECT_FALSE(text.empty()) << path;
  EXPECT_TRUE(JsonParser(text).Parse(&j)) << "not valid JSON: " << path;
  return j;
}

int64_t Count(const Json& j, const std::string& name) {
  int64_t n = 0;
  for (const Json& e : j["traceEvents"].arr()) n += e["name"].str() == name && e["ph"].str() == "i";
  return n;
}

// The invariants of docs/tracing.md that hold in any mode: run and syscall slices of one M
// never overlap; kernel slices lie inside one of them or between them; spawn, park and
// ready counts equal otherData.counters.
void CheckInvariants(const Json& j) {
  struct S {
    int64_t b, e;
  };
  std::map<int64_t, std::vector<S>> user, kernel;  // by M track
  for (const Json& e : j["traceEvents"].arr()) {
    if (e["ph"].str() != "X" || e["pid"].num() != 2) continue;
    auto tid = static_cast<int64_t>(e["tid"].num());
    S s{e["ts"].ns(), e["ts"].ns() + e["dur"].ns()};
    std::string cat = e["cat"].str();
    if (cat == "run" || cat == "syscall") {
      user[tid].push_back(s);
    } else if (cat == "kernel") {
      kernel[tid].push_back(s);
    } else {
      ADD_FAILURE() << "unknown slice category " << cat;
    }
  }
  for (auto& [tid, v] : user) {
    std::sort(v.begin(), v.end(), [](const S& a, const S& b) { return a.b < b.b; });
    for (std::size_t i = 1; i < v.size(); i++) {
      ASSERT_LE(v[i - 1].e, v[i].b) << "overlapping slices on M track " << tid << " at " << v[i].b;
    }
  }
  for (auto& [tid, v] : kernel) {
    const auto& u = user[tid];
    for (const S& k : v) {
      ASSERT_LT(k.b, k.e);
      // The last user slice starting at or before k.b: k is inside it or after its end,
      // and does not reach into the next.
      auto it = std::upper_bound(u.begin(), u.end(), k.b, [](int64_t t, const S& s) { return t < s.b; });
      if (it != u.begin()) {
        const S& c = *std::prev(it);
        bool inside = k.e <= c.e;
        bool after = k.b >= c.e;
        ASSERT_TRUE(inside || after) << "kernel slice " << k.b << "-" << k.e
                                     << " straddles the end of " << c.b << "-" << c.e;
      }
      if (it != u.end()) {
        ASSERT_LE(k.e, it->b) << "kernel slice reaches into the next slice";
      }
    }
  }
  const Json& c = j["otherData"]["counters"];
  EXPECT_EQ(Count(j, "spawn"), static_cast<int64_t>(c["spawns"].num()));
  EXPECT_EQ(Count(j, "park"), static_cast<int64_t>(c["parks"].num()));
  EXPECT_EQ(Count(j, "ready"), static_cast<int64_t>(c["readies"].num()));
}

int64_t Steals(mn::detail::Runtime* rt) {
  int64_t n = 0;
  for (const auto& p : rt->allp) n += static_cast<int64_t>(p->steals.load());
  return n;
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
  Json j = Load(path);
  const Json& od = j["otherData"];
  EXPECT_EQ(od["producer"].str(), "mnsched");
  EXPECT_EQ(od["format"].num(), 1);
  EXPECT_EQ(od["mode"].str(), "whole");
  EXPECT_EQ(od["procs"].num(), 2);
  EXPECT_EQ(od["pid"].num(), getpid());
  EXPECT_EQ(od["dropped_events"].num(), 0);
  CheckInvariants(j);
  // The run's counters are the trace's: it began before main and ended after it.
  EXPECT_EQ(od["counters"]["spawns"].num(), end.spawns);
  EXPECT_EQ(od["counters"]["parks"].num(), end.parks);
  EXPECT_EQ(od["counters"]["readies"].num(), end.readies);
  EXPECT_EQ(Count(j, "steal"), steals);
  EXPECT_GT(steals, 0);

  // Every G spawned has one begin and one end (at the trace's stop, with alive: true, for
  // one still finishing after its wg.done()); the names carry the label.
  std::map<int64_t, int> begins, ends;
  std::set<std::string> reasons, labels, ends_seen;
  int syscalls = 0, timers = 0, main_runs = 0;
  for (const Json& e : j["traceEvents"].arr()) {
    std::string ph = e["ph"].str();
    if (ph == "b") begins[static_cast<int64_t>(e["id"].num())]++;
    if (ph == "e") ends[static_cast<int64_t>(e["id"].num())]++;
    if (e["name"].str() == "park") reasons.insert(e["args"]["reason"].str());
    if (e["name"].str() == "spawn") labels.insert(e["args"]["label"].str());
    if (e["name"].str() == "timer fired") timers++;
    if (e["cat"].str() == "syscall") syscalls++;
    if (e["cat"].str() == "run") ends_seen.insert(e["args"]["end"].str());
    if (e["cat"].str() == "run" && e["name"].str().ends_with(" main")) main_runs++;
  }
  EXPECT_EQ(static_cast<int64_t>(begins.size()), end.spawns);
  EXPECT_EQ(begins, ends);
  for (const auto& [id, n] : begins) EXPECT_EQ(n, 1) << "G " << id;
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
  Json j = Load(path);
  const Json& od = j["otherData"];
  EXPECT_EQ(od["mode"].str(), "ring");
  EXPECT_EQ(od["ring_bytes"].num(), 1 << 20);
  EXPECT_GT(od["dropped_events"].num(), 0);
  // Chunks are dropped whole, so slices still never overlap; counts no longer add up.
  int64_t runs = 0;
  for (const Json& e : j["traceEvents"].arr()) runs += e["cat"].str() == "run";
  EXPECT_GT(runs, 0);
  unlink(path.c_str());
}

TEST(Trace, StartAndStopFromCode) {
  HangGuard guard;
  std::string path = TempPath("startstop");
  EXPECT_TRUE(absl::IsFailedPrecondition(mn::trace_start(path)));  // no runtime
  mn::Stats before{}, after{};
  mn::run(
      [&] {
        EXPECT_TRUE(absl::IsFailedPrecondition(mn::trace_stop()));
        absl::Status bad = mn::trace_start("/nonexistent-dir/x.json");
        EXPECT_FALSE(bad.ok());
        EXPECT_NE(bad.message().find("/nonexistent-dir/x.json"), std::string::npos) << bad;
        before = mn::stats();
        ASSERT_TRUE(mn::trace_start(path).ok());
        absl::Status again = mn::trace_start(path);
        EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;
        Workload(2, 100);
        after = mn::stats();
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
  Json j = Load(path);
  CheckInvariants(j);
  EXPECT_EQ(j["otherData"]["counters"]["spawns"].num(), 1);
  (void)before;
  (void)after;
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
  Json j = Load(path);
  CheckInvariants(j);
  const Json& c = j["otherData"]["counters"];
  EXPECT_EQ(c["spawns"].num(), after.spawns - before.spawns);
  EXPECT_EQ(c["parks"].num(), after.parks - before.parks);
  EXPECT_EQ(c["readies"].num(), after.readies - before.readies);
  // Gs alive when the trace stopped end with alive: true, so every b has its e.
  std::map<int64_t, int> begins, ends;
  for (const Json& e : j["traceEvents"].arr()) {
    if (e["ph"].str() == "b") begins[static_cast<int64_t>(e["id"].num())]++;
    if (e["ph"].str() == "e") ends[static_cast<int64_t>(e["id"].num())]++;
  }
  EXPECT_EQ(begins, ends);
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
  Json j = Load(path);
  CheckInvariants(j);
  EXPECT_EQ(j["otherData"]["counters"]["spawns"].num(), 2);
  unlink(path.c_str());
}

}  // namespace
