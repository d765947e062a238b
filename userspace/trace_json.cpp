// TraceJson: see trace_json.hpp for the invariants and docs/tracing.md for the format.
#include "trace_json.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "labels.hpp"

namespace mn::detail {

namespace {

// Closed slices kept per M for placing kernel slices: the kernel's records arrive within
// a flusher pass or two of the slices they fall in.
constexpr std::size_t kKeepSlices = 1 << 16;

// Microseconds with three decimals: exact for integer nanoseconds, so that a reader that
// multiplies back by 1000 and rounds gets the recorder's numbers and nesting holds exactly.
void AppendUs(std::string* s, int64_t ns) {
  if (ns < 0) ns = 0;
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 4, ns / 1000);
  int frac = static_cast<int>(ns % 1000);
  end[0] = '.';
  end[1] = static_cast<char>('0' + frac / 100);
  end[2] = static_cast<char>('0' + frac / 10 % 10);
  end[3] = static_cast<char>('0' + frac % 10);
  s->append(buf, end + 4);
}

void AppendJsonString(std::string* s, std::string_view v) {
  s->push_back('"');
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      s->push_back('\\');
      s->push_back(ch);
    } else if (c < 0x20) {
      absl::StrAppendFormat(s, "\\u%04x", c);
    } else {
      s->push_back(ch);
    }
  }
  s->push_back('"');
}

const char* RunEndName(uint8_t why) {
  switch (static_cast<RunEndWhy>(why)) {
    case RunEndWhy::kPark: return "park";
    case RunEndWhy::kYield: return "yield";
    case RunEndWhy::kPreempt: return "preempt";
    case RunEndWhy::kExit: return "exit";
    case RunEndWhy::kSyscall: return "syscall";
    case RunEndWhy::kHandoff: return "handoff";
  }
  return "?";
}

const char* HandoffName(uint8_t why) {
  switch (static_cast<HandoffWhy>(why)) {
    case HandoffWhy::kSyscall: return "syscall";
    case HandoffWhy::kHog: return "hog";
    case HandoffWhy::kKernel: return "kernel";
  }
  return "?";
}

constexpr int kPidPs = 1, kPidMs = 2, kPidGs = 3;

}  // namespace

TraceJson::TraceJson(FILE* out, std::size_t ring_bytes)
    : out_(out),
      ring_bytes_(ring_bytes),
      // Ring mode drops whole chunks: small enough that the ring keeps most of its size.
      chunk_bytes_(ring_bytes != 0 ? std::max<std::size_t>(ring_bytes / 16, 4096) : 1 << 20) {
  if (ring_bytes_ == 0) {
    Write(R"({"displayTimeUnit":"ns","traceEvents":[)"
          "\n"
          R"({"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"Ps"}})");
  }
}

TraceJson::Track& TraceJson::TrackOf(int64_t m) {
  auto i = static_cast<std::size_t>(m + 1);
  if (i >= tracks_.size()) tracks_.resize(i + 1);
  return tracks_[i];
}

const std::string& TraceJson::Label(uint64_t word) {
  auto [it, fresh] = labels_.try_emplace(word);
  if (fresh) {
    // Quoted and escaped once: every slice of every G with this label repeats it.
    std::string quoted;
    AppendJsonString(&quoted, LabelText(word));
    it->second = std::move(quoted);
  }
  return it->second;
}

void TraceJson::AppendGName(uint64_t g, uint64_t label) {
  const std::string& l = Label(label);  // "...", quoted
  absl::StrAppend(&cur_, "\"G", g);
  if (l.size() > 2) {
    cur_ += ' ';
    cur_.append(l, 1, std::string::npos);
  } else {
    cur_ += '"';
  }
}

void TraceJson::Begin(const char* ph, const char* cat, int pid, int64_t tid, int64_t ns) {
  absl::StrAppend(&cur_, R"(,)"
                         "\n"
                         R"({"ph":")",
                  ph, R"(","cat":")", cat, R"(","pid":)", pid, R"(,"tid":)", tid, R"(,"ts":)");
  AppendUs(&cur_, ns);
}

void TraceJson::Instant(int64_t m, const char* name, const char* cat, int64_t ns) {
  Begin("i", cat, kPidMs, m + 1, ns);
  absl::StrAppend(&cur_, R"(,"s":"t","name":")", name, R"(","args":{)");
}

void TraceJson::Slice(int pid, int64_t tid, const char* cat, int64_t ns, int64_t dur) {
  Begin("X", cat, pid, tid, ns);
  cur_ += R"(,"dur":)";
  AppendUs(&cur_, std::max<int64_t>(dur, 0));
  cur_ += R"(,"name":)";
}

void TraceJson::CloseP(Track& t, int64_t ts, const char* end, uint64_t taken) {
  if (t.p < 0) return;
  int64_t p_end = ts;
  if (taken != 0 && static_cast<int64_t>(taken - 1) < ts) {
    p_end = std::max(static_cast<int64_t>(taken - 1), t.p_begin);
    end = "handoff";
  }
  // Taken before it began here (the M's reading of its new P came first): nothing held.
  if (taken == 0 || p_end > t.p_begin) {
    Slice(kPidPs, t.p + 1, "run", t.p_begin, p_end - t.p_begin);
    AppendGName(t.g, t.label);
    absl::StrAppend(&cur_, R"(,"args":{"g":)", t.g, R"(,"end":")", end, R"("}})");
  }
  t.p = -1;
}

void TraceJson::Close(int64_t m, Track& t, int64_t ts, const char* end, uint64_t taken) {
  if (t.open == Open::kNone) return;
  if (t.open == Open::kRun) {
    Slice(kPidMs, m + 1, "run", t.begin, ts - t.begin);
    AppendGName(t.g, t.label);
    absl::StrAppend(&cur_, R"(,"args":{"g":)", t.g, R"(,"end":")", end, R"("}})");
    CloseP(t, ts, end, taken);
  } else {
    Slice(kPidMs, m + 1, "syscall", t.begin, ts - t.begin);
    absl::StrAppend(&cur_, R"("syscall","args":{"g":)", t.g, "}}");
  }
  t.open = Open::kNone;
  if (kernel_) {
    t.closed.push_back({t.begin, ts});
    if (t.closed.size() > kKeepSlices) t.closed.pop_front();
  }
}

void TraceJson::GEnd(uint64_t g, uint64_t label, int64_t ns, bool alive) {
  Begin("e", "g", kPidGs, 1, ns);
  absl::StrAppend(&cur_, R"(,"id":)", g, R"(,"name":)");
  AppendGName(g, label);
  absl::StrAppend(&cur_, R"(,"args":{"g":)", g, alive ? R"(,"alive":true}})" : "}}");
}

void TraceJson::Add(int64_t m, const TraceEvent& e) {
  Track& t = TrackOf(m);
  int64_t ns = std::max(e.ns(), t.last);
  t.last = ns;
  cur_events_++;
  switch (e.type()) {
    case TraceType::kRunBegin:
      Close(m, t, ns, "handoff");  // its end was lost
      t.open = Open::kRun;
      t.begin = ns;
      t.g = e.a;
      t.label = e.b;
      t.p = static_cast<int32_t>(e.c);
      t.p_begin = ns;
      break;
    case TraceType::kRunEnd: {
      auto why = static_cast<RunEndWhy>(e.flags() & 7);
      if (why == RunEndWhy::kPark) {
        Instant(m, "park", "g", ns);
        absl::StrAppend(&cur_, R"("g":)", e.a, R"(,"reason":)");
        AppendJsonString(&cur_, WaitReasonString(static_cast<WaitReason>(e.flags() >> 3)));
        cur_ += "}}";
      }
      if (t.g == e.a) Close(m, t, ns, RunEndName(e.flags() & 7), e.b);
      if (why == RunEndWhy::kExit) {
        if (auto it = live_.find(e.a); it != live_.end()) {
          GEnd(e.a, it->second.label, ns, false);
          live_.erase(it);
        }
      }
      break;
    }
    case TraceType::kSyscallBegin: {
      uint64_t g = t.open == Open::kRun ? t.g : e.a;
      uint64_t label = t.open == Open::kRun ? t.label : 0;
      Close(m, t, ns, "syscall", e.b);
      t.open = Open::kSyscall;
      t.begin = ns;
      t.g = g;
      t.label = label;
      break;
    }
    case TraceType::kSyscallEnd: {
      // The G runs on: a new run slice, named as the one the call ended.
      uint64_t label = t.open == Open::kSyscall && t.g == e.a ? t.label : 0;
      Close(m, t, ns, "");
      t.open = Open::kRun;
      t.begin = ns;
      t.g = e.a;
      t.label = label;
      t.p = static_cast<int32_t>(e.c);
      t.p_begin = ns;
      break;
    }
    case TraceType::kSpawn: {
      const std::string& label = Label(e.b);  // quoted
      Instant(m, "spawn", "g", ns);
      absl::StrAppend(&cur_, R"("g":)", e.a, R"(,"parent":)", e.c, R"(,"label":)", label, "}}");
      Begin("b", "g", kPidGs, 1, ns);
      absl::StrAppend(&cur_, R"(,"id":)", e.a, R"(,"name":)");
      AppendGName(e.a, e.b);
      absl::StrAppend(&cur_, R"(,"args":{"g":)", e.a, R"(,"label":)", label, "}}");
      live_[e.a] = Live{e.b, cuts_};
      break;
    }
    case TraceType::kReady:
      Instant(m, "ready", "g", ns);
      absl::StrAppend(&cur_, R"("g":)", e.a, R"(,"by":)", e.c, "}}");
      break;
    case TraceType::kSteal:
      Instant(m, "steal", "sched", ns);
      absl::StrAppend(&cur_, R"("p":)", e.a, R"(,"from":)", e.b, R"(,"n":)", e.c, "}}");
      break;
    case TraceType::kHandoff:
      Instant(m, "handoff", "sched", ns);
      absl::StrAppend(&cur_, R"("p":)", e.a, R"(,"reason":")", HandoffName(e.flags()), R"("}})");
      break;
    case TraceType::kTimer:
      Instant(m, "timer fired", "timer", ns);
      absl::StrAppend(&cur_, R"("g":)", e.a, "}}");
      break;
    case TraceType::kPMoved:
      if (t.open == Open::kRun && t.g == e.a) {
        CloseP(t, ns, "handoff", e.b);
        t.p = static_cast<int32_t>(e.c);
        t.p_begin = ns;
      }
      break;
  }
  if (!t.pending.empty()) Place(m, t, false);
  if (cur_.size() >= chunk_bytes_) Cut();
}

void TraceJson::AddKernel(const KernelSlice& k) {
  kernel_ = true;
  Track& t = TrackOf(k.m);
  t.pending.push_back(k);
  Place(k.m, t, false);
}

void TraceJson::Place(int64_t m, Track& t, bool final) {
  // The track has passed a slice's end once a later event came: nothing of this M can
  // begin or end inside it any more.
  // One M's records come in the order of its switch-ins: the first not ready ends the run.
  while (!t.pending.empty() && (final || t.pending.front().on <= t.last)) {
    PlaceOne(m, t, t.pending.front());
    t.pending.pop_front();
  }
}

void TraceJson::PlaceOne(int64_t m, Track& t, const KernelSlice& k) {
  // The container: the slice holding the middle of the off-CPU interval, else the gap.
  int64_t mid = k.off + (k.on - k.off) / 2;
  int64_t lo = 0, hi = INT64_MAX;
  auto after = std::upper_bound(t.closed.begin(), t.closed.end(), mid,
                                [](int64_t v, const struct Slice& s) { return v < s.begin; });
  if (after != t.closed.begin() && std::prev(after)->end > mid) {
    lo = std::prev(after)->begin;
    hi = std::prev(after)->end;
  } else if (t.open != Open::kNone && mid >= t.begin) {
    lo = t.begin;  // the open slice ends after t.last >= k.on
  } else {
    if (after != t.closed.begin()) lo = std::prev(after)->end;
    if (after != t.closed.end()) {
      hi = after->begin;
    } else if (t.open != Open::kNone) {
      hi = t.begin;
    }
  }
  auto emit = [&](const char* name, int64_t a, int64_t b) {
    a = std::clamp(a, lo, hi);
    b = std::clamp(b, lo, hi);
    if (b <= a) return;
    Slice(kPidMs, m + 1, "kernel", a, b - a);
    absl::StrAppend(&cur_, "\"", name, R"(","args":{"state":")", k.blocked ? "blocked" : "preempted",
                    R"("}})");
  };
  if (k.blocked) {
    emit("blocked", k.off, k.woken);
    emit("runq wait", k.woken, k.on);
  } else {
    emit("preempted", k.off, k.on);
  }
}

void TraceJson::Cut() {
  if (ring_bytes_ == 0) {
    Write(cur_);
    cur_.clear();
    cur_events_ = 0;
    return;
  }
  ring_total_ += cur_.size();
  cuts_++;
  chunks_.emplace_back(std::move(cur_), cur_events_);
  cur_.clear();
  cur_events_ = 0;
  while (ring_total_ > ring_bytes_ && chunks_.size() > 1) {
    ring_total_ -= chunks_.front().first.size();
    dropped_ += chunks_.front().second;
    chunks_.pop_front();
  }
}

void TraceJson::Write(const std::string& s) {
  if (!status_.ok() || s.empty()) return;
  if (std::fwrite(s.data(), 1, s.size(), out_) != s.size()) {
    status_ = absl::ErrnoToStatus(errno, "writing the trace");
  }
}

absl::Status TraceJson::Finish(const TraceSummary& s) {
  for (std::size_t i = 0; i < tracks_.size(); i++) {
    Track& t = tracks_[i];
    auto m = static_cast<int64_t>(i) - 1;
    t.last = std::max(t.last, s.stop_ns);
    Place(m, t, true);
    Close(m, t, std::max(t.last, s.stop_ns), "stop");
    if (cur_.size() >= chunk_bytes_) Cut();
  }
  const int64_t first_kept = cuts_ - static_cast<int64_t>(chunks_.size());
  for (const auto& [g, l] : live_) {
    if (ring_bytes_ != 0 && l.chunk < first_kept) continue;  // its b was dropped
    GEnd(g, l.label, s.stop_ns, true);
    if (cur_.size() >= chunk_bytes_) Cut();
  }
  live_.clear();
  // Ring mode: the last events through the ring too, so that what follows (the tracks'
  // names, otherData) is all the file holds beyond ring_bytes.
  if (ring_bytes_ != 0 && !cur_.empty()) Cut();
  // Names and order of the tracks.
  auto meta = [&](const char* what, int pid, int64_t tid, const std::string& arg) {
    absl::StrAppend(&cur_, ",\n", R"({"ph":"M","name":")", what, R"(","pid":)", pid,
                    R"(,"tid":)", tid, R"(,"args":{)");
    if (std::string_view(what).ends_with("sort_index")) {
      absl::StrAppend(&cur_, R"("sort_index":)", arg, "}}");
    } else {
      cur_ += R"("name":)";
      AppendJsonString(&cur_, arg);
      cur_ += "}}";
    }
  };
  meta("process_name", kPidMs, 0, "Ms");
  meta("process_name", kPidGs, 0, "Gs");
  for (int pid : {kPidPs, kPidMs, kPidGs}) meta("process_sort_index", pid, 0, absl::StrCat(pid));
  for (int p = 0; p < s.procs; p++) {
    meta("thread_name", kPidPs, p + 1, absl::StrCat("P", p));
    meta("thread_sort_index", kPidPs, p + 1, absl::StrCat(p + 1));
  }
  meta("thread_name", kPidMs, 0, "runtime");
  meta("thread_sort_index", kPidMs, 0, "0");
  for (const auto& [id, tid] : s.ms) {
    meta("thread_name", kPidMs, id + 1, absl::StrCat("M", id, " tid ", tid));
    meta("thread_sort_index", kPidMs, id + 1, absl::StrCat(id + 1));
  }
  meta("thread_name", kPidGs, 1, "lifetimes");
  std::string tail = absl::StrFormat(
      "\n],\n"
      R"("otherData":{"producer":"mnsched","format":1,"pid":%d,"procs":%d,"mode":"%s",)"
      R"("ring_bytes":%d,"dropped_events":%d,"kernel":%s,)"
      R"("counters":{"spawns":%d,"parks":%d,"readies":%d},)"
      R"("clock":{"reads":%d,"read_ns":%.2f}}})"
      "\n",
      s.pid, s.procs, ring_bytes_ != 0 ? "ring" : "whole", ring_bytes_, s.dropped + dropped_,
      s.kernel || kernel_ ? "true" : "false", s.counters.spawns, s.counters.parks,
      s.counters.readies, s.clock_reads, s.clock_read_ns);
  if (ring_bytes_ == 0) {
    Write(cur_);
  } else {
    Write(R"({"displayTimeUnit":"ns","traceEvents":[)"
          "\n"
          R"({"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"Ps"}})");
    for (const auto& c : chunks_) Write(c.first);
    Write(cur_);
  }
  cur_.clear();
  chunks_.clear();
  Write(tail);
  if (std::fflush(out_) != 0 && status_.ok()) status_ = absl::ErrnoToStatus(errno, "writing the trace");
  return status_;
}

}  // namespace mn::detail
