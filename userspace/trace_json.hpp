// TraceJson: the writer of the trace file, the JSON of docs/tracing.md ("The format"),
// from the recorder's binary events (trace.hpp) and the kernel's records (trace_kernel.cpp).
//
// Invariants:
//  - Only Stop calls it, once the flusher has ended, replaying the spool: no lock.
//  - Each M's events arrive in the order the M wrote them. On one M's track at most one
//    slice (run or syscall) is open, and a begin closes the one open, so run and syscall
//    slices never overlap however events were lost; timestamps are clamped to never go
//    back on a track.
//  - A run slice's part on its P's track ends where the P was taken (the taken mark of
//    the event that ends or moves it, trace.hpp), and goes on from kPMoved on the P the
//    M took: a P's track shows only the time the G held it.
//  - A kernel slice is placed only once the M's own events have passed its end (or at
//    Finish). An M takes no timestamp while off its CPU, so every off-CPU interval falls
//    inside one of its slices or one of its gaps; it is clipped to that container, which
//    absorbs any disagreement between the two clocks' reads.
//  - The ring bounds the file: at the stop, a G still alive gets its e (alive: true) only if
//    its b is in a chunk still kept. The runtime track (spawns from outside threads) is
//    spooled as it comes while the Ms' events wait raw in the ring, so the spool holds
//    far older spawns than M events; their e's would have outgrown the ring tenfold.
//  - The file is one JSON object whichever way it ends: every event after the first is
//    written with its leading comma, so dropping whole chunks (ring mode) keeps it valid,
//    and otherData (which holds the totals) is written last.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "sched.hpp"
#include "trace.hpp"

namespace mn::detail {

// One off-CPU period of an M, as the kernel saw it (mn_trace_record), in ns since the
// trace started: preempted (woken == off) or blocked until woken, then waiting for a
// CPU until on.
struct KernelSlice {
  int64_t m = -1;
  bool blocked = false;
  int64_t off = 0, woken = 0, on = 0;
};

struct TraceSummary {
  int64_t stop_ns = 0;
  int pid = 0;
  int procs = 0;
  bool kernel = false;
  int64_t dropped = 0;  // events lost before the writer (no buffer, kernel ring full)
  SpinCounters counters;  // over the traced interval
  // The clock reads the recorder took for the events written (a run begin that took its
  // M's previous reading took none), and what one costs (Tracer::ClockReadNs): their
  // product is the least the trace could have cost the run, what bench/ calls the floor.
  int64_t clock_reads = 0;
  double clock_read_ns = 0;
  std::vector<std::pair<int64_t, int32_t>> ms;  // every M: id, thread id
};

class TraceJson {
 public:
  // Whole mode (ring_bytes 0) writes to `out` as it goes; ring mode keeps about the last
  // ring_bytes of events in memory and writes them at Finish.
  TraceJson(FILE* out, std::size_t ring_bytes);

  // Kernel slices will come (AddKernel): keep the slices they are placed in.
  void ExpectKernel() { kernel_ = true; }
  // m: the M's id, or -1 for the runtime track.
  void Add(int64_t m, const TraceEvent& e);
  void AddKernel(const KernelSlice& k);
  // Closes what is open at s.stop_ns and completes the file.
  absl::Status Finish(const TraceSummary& s);

 private:
  enum class Open : uint8_t { kNone, kRun, kSyscall };
  struct Slice {
    int64_t begin, end;
  };
  struct Track {
    Open open = Open::kNone;
    int64_t begin = 0;
    uint64_t g = 0, label = 0;
    int32_t p = -1;
    int64_t p_begin = 0;       // where the slice's part on P p began
    int64_t last = 0;          // the latest timestamp on the track
    std::deque<Slice> closed;  // recent closed slices, for placing kernel slices
    std::deque<KernelSlice> pending;  // kernel slices the track has not passed yet
  };

  Track& TrackOf(int64_t m);
  // taken: the event's taken mark, as converted to ns + 1 (0: none).
  void Close(int64_t m, Track& t, int64_t ts, const char* end, uint64_t taken = 0);
  // The P's part of t's open run slice, up to ts or where the P was taken.
  void CloseP(Track& t, int64_t ts, const char* end, uint64_t taken);
  void Place(int64_t m, Track& t, bool final);
  void PlaceOne(int64_t m, Track& t, const KernelSlice& k);
  // One event object, with its leading comma, into the current chunk.
  void Begin(const char* ph, const char* cat, int pid, int64_t tid, int64_t ns);
  void Instant(int64_t m, const char* name, const char* cat, int64_t ns);
  // An X event up to its name's value, which the caller appends.
  void Slice(int pid, int64_t tid, const char* cat, int64_t ns, int64_t dur);
  void GEnd(uint64_t g, uint64_t label, int64_t ns, bool alive);
  // The label's text, quoted for JSON.
  const std::string& Label(uint64_t word);
  // "G<id> <label>", quoted.
  void AppendGName(uint64_t g, uint64_t label);
  void Cut();
  void Write(const std::string& s);

  FILE* out_;
  const std::size_t ring_bytes_;
  const std::size_t chunk_bytes_;
  std::string cur_;            // the chunk being written
  int64_t cur_events_ = 0;     // recorded events in it
  std::deque<std::pair<std::string, int64_t>> chunks_;  // ring mode: text, events
  std::size_t ring_total_ = 0;
  int64_t dropped_ = 0;        // events in chunks the ring dropped
  absl::Status status_;        // the first write error
  std::vector<Track> tracks_;  // by M id + 1 (0: the runtime track)
  struct Live {
    uint64_t label;
    int64_t chunk;  // the chunk its b went into (cuts_ then)
  };
  absl::flat_hash_map<uint64_t, Live> live_;  // G id -> its b, until its e
  int64_t cuts_ = 0;           // ring mode: chunks cut so far (cur_ is chunk cuts_)
  absl::flat_hash_map<uint64_t, std::string> labels_;  // quoted
  bool kernel_ = false;
};

}  // namespace mn::detail
