// Summarize: replaying each G's events (trace_summary.hpp says how, and what is not counted).
#include "trace_summary.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace mn_tools::trace {

Latency LatencyOf(std::vector<int64_t> v) {
  Latency l;
  l.count = static_cast<int64_t>(v.size());
  if (v.empty()) return l;
  std::sort(v.begin(), v.end());
  auto rank = [&](int pct) {  // nearest rank: ceil(pct/100 * n), 1-based
    std::size_t r = (v.size() * static_cast<std::size_t>(pct) + 99) / 100;
    return v[std::max<std::size_t>(r, 1) - 1];
  };
  l.p50_ns = rank(50);
  l.p99_ns = rank(99);
  l.max_ns = v.back();
  return l;
}

namespace {

constexpr int64_t kTrackPidMs = 2;  // docs/tracing.md: pid 2 is the Ms

// A G's state changes, in the order they are applied when two share a timestamp: a slice
// ends before anything else happens at that instant; a park is before the ready that ends
// it; a G is made runnable before a run slice starting at the same instant takes it.
enum class Step : uint8_t { kRunEnd, kPark, kSpawn, kReady, kRunStart };

struct Point {
  uint64_t g;
  int64_t ts;
  int64_t dur;            // kRunStart: the slice's
  std::string_view aux;   // kRunEnd: its end; kPark: the reason (interned: they outlive the event)
  uint32_t seq;           // file order, the last tie-break: the sort is then a total order
  Step step;
};

std::string_view FirstWord(std::string_view s) { return s.substr(0, s.find(' ')); }

std::optional<uint64_t> GOf(const Event& e) {
  std::optional<int64_t> g = e.IntArg("g");
  if (!g || *g <= 0) return std::nullopt;
  return static_cast<uint64_t>(*g);
}

// "G12 worker" -> "worker" (the format's G name), else "".
std::string_view LabelFromName(std::string_view name) {
  if (name.size() < 2 || name[0] != 'G') return {};
  std::size_t sp = name.find(' ');
  if (sp == std::string_view::npos || sp < 2) return {};
  for (std::size_t i = 1; i < sp; i++) {
    if (name[i] < '0' || name[i] > '9') return {};
  }
  return name.substr(sp + 1);
}

struct GInfo {
  std::string_view label;
  int label_rank = 0;  // 3: from spawn, 2: from the lifetime, 1: from a run slice's name
  void Offer(std::string_view l, int rank) {
    if (!l.empty() && rank > label_rank) {
      label = l;
      label_rank = rank;
    }
  }
};

struct KindAcc {
  KindSummary s;
  std::vector<int64_t> latencies;
};

}  // namespace

struct Summarizer::State {
  Summary out;
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  std::vector<Point> points;
  absl::flat_hash_map<uint64_t, GInfo> gs;
  std::map<std::string_view, Summary::KernelSlices> kernel;
  absl::flat_hash_map<uint64_t, int64_t> syscall_ns;  // by G
  uint32_t seq = 0;
};

Summarizer::Summarizer() : s_(std::make_unique<State>()) {}
Summarizer::~Summarizer() = default;

void Summarizer::Add(const Event& e) {
  State& st = *s_;
  Summary& out = st.out;
  out.events++;
  st.seq++;
  if (e.ph == 'M') return;
  st.first = std::min(st.first, e.ts_ns);
  st.last = std::max(st.last, e.end_ns());
  std::optional<uint64_t> g = GOf(e);
  auto point = [&](int64_t ts, Step step, int64_t dur, std::string_view aux) {
    st.points.push_back(Point{*g, ts, dur, aux, st.seq, step});
  };
  if (e.ph == 'X' && e.pid == kTrackPidMs && e.cat == "run") {
    out.runs++;
    if (!g) {
      out.unattributed++;
      return;
    }
    st.gs[*g].Offer(LabelFromName(e.name), 1);
    point(e.ts_ns, Step::kRunStart, e.dur_ns, {});
    point(e.end_ns(), Step::kRunEnd, 0, e.StringArg("end").value_or(""));
  } else if (e.ph == 'X' && e.pid == kTrackPidMs && e.cat == "syscall") {
    out.syscalls++;
    if (!g) {
      out.unattributed++;
      return;
    }
    st.gs[*g];
    st.syscall_ns[*g] += e.dur_ns;
  } else if (e.ph == 'X' && e.cat == "kernel") {
    Summary::KernelSlices& k = st.kernel[e.name];
    k.count++;
    k.ns += e.dur_ns;
  } else if ((e.ph == 'b' || e.ph == 'e') && e.cat == "g") {
    if (g) st.gs[*g].Offer(e.StringArg("label").value_or(""), 2);
  } else if (e.ph == 'i' || e.ph == 'I') {
    std::string_view what = FirstWord(e.name);
    if (e.cat == "g" && (what == "spawn" || what == "park" || what == "ready")) {
      (what == "spawn" ? out.spawns : what == "park" ? out.parks : out.readies)++;
      if (!g) {
        out.unattributed++;
        return;
      }
      GInfo& info = st.gs[*g];
      if (what == "spawn") info.Offer(e.StringArg("label").value_or(""), 3);
      if (what == "park") {
        point(e.ts_ns, Step::kPark, 0, e.StringArg("reason").value_or("?"));
      } else {
        point(e.ts_ns, what == "spawn" ? Step::kSpawn : Step::kReady, 0, {});
      }
    } else if (e.cat == "sched" && what == "steal") {
      out.steals++;
    } else if (e.cat == "sched" && what == "handoff") {
      out.handoffs++;
    } else if (e.cat == "timer") {
      out.timers++;
    }
  }
}

Summary Summarizer::Finish(const OtherData& od) {
  State& st = *s_;
  Summary out = std::move(st.out);
  out.producer = od.producer;
  out.format = od.format;
  out.mode = od.mode;
  out.procs = od.procs;
  out.kernel = od.kernel;
  out.dropped_events = od.dropped_events;
  if (st.first <= st.last) out.duration_ns = st.last - st.first;
  const int64_t trace_end = st.last;
  std::vector<Point>& points = st.points;

  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return std::tie(a.g, a.ts, a.step, a.seq) < std::tie(b.g, b.ts, b.step, b.seq);
  });

  std::map<std::string_view, KindAcc> kinds;
  std::map<std::string_view, WaitReasonSummary> reasons;
  std::vector<int64_t> all_latencies;
  auto kind_of = [](const GInfo& info) { return info.label.empty() ? std::string_view("?") : info.label; };
  for (const auto& [g, info] : st.gs) {
    KindAcc& k = kinds[kind_of(info)];
    k.s.gs++;
    auto sc = st.syscall_ns.find(g);
    if (sc != st.syscall_ns.end()) k.s.syscall_ns += sc->second;
  }

  // The replay, one G at a time (its points are contiguous after the sort).
  for (std::size_t i = 0; i < points.size();) {
    const uint64_t g = points[i].g;
    KindAcc& k = kinds[kind_of(st.gs[g])];
    int64_t runnable_since = -1, blocked_since = -1;
    bool running = false;
    WaitReasonSummary* reason = nullptr;
    for (; i < points.size() && points[i].g == g; i++) {
      const Point& p = points[i];
      switch (p.step) {
        case Step::kSpawn:
          k.s.spawns++;
          if (runnable_since < 0) runnable_since = p.ts;
          break;
        case Step::kReady:
          if (blocked_since >= 0) {
            k.s.blocked_ns += p.ts - blocked_since;
            if (reason != nullptr) reason->blocked_ns += p.ts - blocked_since;
            blocked_since = -1;
          }
          if (runnable_since < 0) runnable_since = p.ts;
          break;
        case Step::kPark:
          reason = &reasons[p.aux];
          reason->count++;
          // A ready stamped before its park (the two raced on different Ms) has already
          // made the G runnable: the park then blocks it for no time.
          if (running || runnable_since < 0) blocked_since = p.ts;
          break;
        case Step::kRunStart:
          if (runnable_since >= 0) {
            int64_t wait = p.ts - runnable_since;
            k.s.runnable_ns += wait;
            k.latencies.push_back(wait);
            all_latencies.push_back(wait);
            runnable_since = -1;
          }
          blocked_since = -1;  // its ready was lost: the interval is not counted
          running = true;
          k.s.runs++;
          k.s.running_ns += p.dur;
          break;
        case Step::kRunEnd:
          running = false;
          if (p.aux == "yield" || p.aux == "preempt" || p.aux == "handoff") runnable_since = p.ts;
          if (p.aux == "exit") k.s.exits++;
          break;
      }
    }
    // Still waiting when the trace ended: the time counts, there is no latency sample.
    if (runnable_since >= 0) k.s.runnable_ns += trace_end - runnable_since;
    if (blocked_since >= 0) {
      k.s.blocked_ns += trace_end - blocked_since;
      if (reason != nullptr) reason->blocked_ns += trace_end - blocked_since;
    }
  }
  points = {};  // the bulk of the memory, no longer needed

  out.gs = static_cast<int64_t>(st.gs.size());
  for (auto& [label, k] : kinds) {
    k.s.label = std::string(label);
    k.s.latency = LatencyOf(std::move(k.latencies));
    out.running_ns += k.s.running_ns;
    out.runnable_ns += k.s.runnable_ns;
    out.blocked_ns += k.s.blocked_ns;
    out.syscall_ns += k.s.syscall_ns;
    out.kinds.push_back(std::move(k.s));
  }
  out.latency = LatencyOf(std::move(all_latencies));
  std::stable_sort(out.kinds.begin(), out.kinds.end(),
                   [](const KindSummary& a, const KindSummary& b) { return a.running_ns > b.running_ns; });
  for (auto& [r, w] : reasons) {
    w.reason = std::string(r);
    out.wait_reasons.push_back(std::move(w));
  }
  std::stable_sort(out.wait_reasons.begin(), out.wait_reasons.end(),
                   [](const WaitReasonSummary& a, const WaitReasonSummary& b) {
                     return a.blocked_ns != b.blocked_ns ? a.blocked_ns > b.blocked_ns : a.count > b.count;
                   });
  for (auto& [name, k] : st.kernel) {
    k.name = std::string(name);
    out.kernel_slices.push_back(std::move(k));
  }
  std::stable_sort(out.kernel_slices.begin(), out.kernel_slices.end(),
                   [](const Summary::KernelSlices& a, const Summary::KernelSlices& b) { return a.ns > b.ns; });
  return out;
}

Summary Summarize(const Trace& trace) {
  Summarizer s;
  for (const Event& e : trace.events) s.Add(e);
  return s.Finish(trace.other_data);
}

}  // namespace mn_tools::trace
