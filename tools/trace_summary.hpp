// trace_summary: what `mntrace summarize` reports, computed from a loaded trace
// (docs/tracing.md, "What mntrace summarize computes").
//
// Each G's life is replayed from its own events in time order: spawn and ready make it
// runnable, so do the ends of run slices ended by yield, preempt or handoff (the runtime
// requeues it without a ready); a run slice's start ends the runnable interval (one
// scheduling-latency sample); park makes it blocked, with the park's reason, until the
// next ready. Run slices are taken from the M tracks only (pid 2: the P tracks repeat
// them), syscall slices likewise.
//
// Invariants, so that ring-mode traces (which lose their oldest events) cannot produce
// nonsense: every interval is measured between two events of the same G in time order,
// so none is negative; an interval whose start was lost is not counted (a run slice with
// no spawn or ready before it gives no latency sample; a ready with no park before it
// closes no blocked interval); one whose end is missing (a G still runnable or blocked
// when the trace ends) counts up to the trace's end in the times but gives no latency
// sample. Events that name no G (no integer `g` arg, or g 0) are counted but not
// attributed. Work is O(n log n) in the events (one sort); memory is one small record per
// state change (about 48 bytes), not the events.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trace_model.hpp"

namespace mn_tools::trace {

// Nearest-rank percentiles of a set of durations: pXX is the smallest sample with at
// least XX% of the samples at or below it. Zero count: the rest are 0 and meaningless.
struct Latency {
  int64_t count = 0;
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
  int64_t max_ns = 0;
};
Latency LatencyOf(std::vector<int64_t> samples_ns);

struct KindSummary {
  std::string label;
  int64_t gs = 0;      // distinct Gs of this kind
  int64_t spawns = 0;  // spawn events of this kind
  int64_t exits = 0;   // run slices ended by exit
  int64_t runs = 0;    // run slices
  int64_t running_ns = 0;
  int64_t runnable_ns = 0;
  int64_t blocked_ns = 0;
  int64_t syscall_ns = 0;
  Latency latency;
};

struct WaitReasonSummary {
  std::string reason;
  int64_t count = 0;  // park events with this reason
  int64_t blocked_ns = 0;
};

struct Summary {
  // From otherData (empty / 0 when the trace lacks it).
  std::string producer;
  int64_t format = 0;
  std::string mode;
  int64_t procs = 0;
  bool kernel = false;
  int64_t dropped_events = 0;

  int64_t events = 0;       // every event in the file, metadata included
  int64_t gs = 0;           // distinct Gs named by any event
  int64_t duration_ns = 0;  // from the first event's start to the last one's end
  // Event counts.
  int64_t runs = 0, syscalls = 0, spawns = 0, parks = 0, readies = 0, steals = 0, handoffs = 0, timers = 0;
  int64_t unattributed = 0;  // run, syscall, spawn, park and ready events naming no G
  // Over every G.
  int64_t running_ns = 0, runnable_ns = 0, blocked_ns = 0, syscall_ns = 0;
  Latency latency;
  // Kernel slices (cat kernel) by name: time and count, in order of time.
  struct KernelSlices {
    std::string name;
    int64_t count = 0;
    int64_t ns = 0;
  };
  std::vector<KernelSlices> kernel_slices;

  std::vector<KindSummary> kinds;                // most running time first
  std::vector<WaitReasonSummary> wait_reasons;  // most blocked time first
};

// Summarizes a trace event by event, so that a trace need not be held whole (with
// StreamTraceFile): what it keeps is a few words per state change of a G.
class Summarizer {
 public:
  Summarizer();
  ~Summarizer();
  Summarizer(const Summarizer&) = delete;
  Summarizer& operator=(const Summarizer&) = delete;

  // One event, in file order. Its string_views must outlive the Summarizer (a Trace's do).
  void Add(const Event& e);
  // The summary, with the trace's otherData (which comes after the events in the file).
  Summary Finish(const OtherData& other_data);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// A loaded trace's summary.
Summary Summarize(const Trace& trace);

}  // namespace mn_tools::trace
