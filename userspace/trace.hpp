// The execution tracer's recording half: hooks in the scheduler write fixed-size binary
// events into per-M buffers; a flusher thread moves full ones to the spool
// (trace_spool.cpp), with the kernel's records (trace_kernel.cpp); at the end the events
// become the JSON of docs/tracing.md (trace_json.cpp).
//
// Invariants:
//  - Off, a hook costs one relaxed load of Runtime::tracing and a branch not taken. The
//    event's arguments are computed only behind it, in the out-of-line Trace* functions.
//  - An M writes only into its own buffer (M::tbuf) and never takes a lock to do so: it
//    stores the event, then publishes it with a release store of the buffer's count,
//    which the flusher reads with acquire. Only a full buffer (once per kEvents events)
//    or the first event of a trace takes the tracer's lock, to hand the buffer over and
//    take an empty one. Threads that are not Ms (sysmon, the feedback thread, outside
//    spawners) write into one shared buffer under a lock: their events are rare.
//  - A buffer belongs to its M from Refill until the M hands it over (full, or stale
//    after a trace ended); the flusher reads a buffer once handed over, and the current
//    ones' published prefixes when the trace stops; only the flusher recycles buffers.
//    So no event is read half-written and no buffer is reused under its writer.
//  - The flusher holds full buffers as they are while it can (ring mode: the ring is
//    these buffers, the oldest recycled beyond ring_bytes), and compresses them into the
//    spool only past kHoldBufs and at the stop: during the run the Ms' CPUs are theirs.
//  - Each trace is a generation (gen_). A buffer stamped with an older generation is
//    stale: its writer was a hook that saw `tracing` just before the trace stopped, and
//    its late events are dropped (the flusher never reads it again). So a stop never
//    waits for the Ms, and a trace never sees the events of the one before.
//  - One M's events reach the flusher in the order it wrote them: each buffer carries a
//    sequence number within its generation, and the flusher reads an M's current buffer
//    only when every earlier one has been read (trace_json.cpp pairs its begin and end
//    events, and needs them in order).
//  - The Tracer lives as long as the Runtime (made at the first trace), so a hook that
//    read `tracing` true may always dereference it.
//  - A run begin costs no clock read when its M went straight from its previous event
//    (the previous G's run end, a ready, a steal) to it without waiting: it takes that
//    event's reading (M::trace_raw), a scheduler pass of some tens of nanoseconds earlier.
//    Reading the TSC is most of an event's cost (9.5 ns here, of a 26 ns yield), and a
//    switch is a run end and a run begin. Every way an M waits (StopM, StopLockedM, the
//    blocking poll, spinning) first clears M::trace_warm (TraceMWaits), so a begin after
//    a wait reads the clock; a reading from before the trace started is never reused;
//    nor one older than the G's own latest event (G::trace_raw: a ready, spawn or run
//    end on another thread, say a G put on the global queue since), so a G never begins
//    before it was readied or before its previous slice ended. The M's stamps stay in
//    order: each event's is its M's latest reading.
//  - Timestamps are the TSC (rdtsc, 9.5 ns against clock_gettime's 23 here) when the kernel
//    keeps CLOCK_MONOTONIC on it, else CLOCK_MONOTONIC itself. The flusher pairs a TSC
//    read with a clock read at every pass, and Stop maps each event's TSC to nanoseconds
//    by the two pairs around it: the kernel's records, in CLOCK_MONOTONIC, and the
//    events agree to well under a microsecond.
#pragma once

#include <x86intrin.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sched.hpp"

namespace mn::detail {

// What an event is (TraceEvent::head's low byte).
enum class TraceType : uint8_t {
  kRunBegin = 1,  // a: G id, b: label, c: P id (or -1)
  kRunEnd,        // a: G id; flags: RunEndWhy | WaitReason << 3 (a park: one event, two facts)
  kSyscallBegin,  // a: G id
  kSyscallEnd,    // a: G id
  kSpawn,         // a: new G id, b: label, c: parent G id (0: none)
  kReady,         // a: G id, c: the readying G's id (0: none)
  kSteal,         // a: thief P, b: victim P, c: Gs taken
  kHandoff,       // a: P id; flags: HandoffWhy
  kTimer,         // a: the G readied (0: none)
  kPMoved,        // a: G id, b: taken mark, c: the P it runs on now (or -1): see below
};
// A run slice lies on its M's track and on its P's. A hog's P can be taken while its G
// runs on (proc.cpp, "Taking a P away"), and the M learns of it only at its next safe
// point or switch. So the events that can end or move a slice carry a taken mark: 0, or 1
// + the time the P was taken (the handoff's reading, relative as head's), where the P's
// part of the slice ends, while the M's runs on to the event: a run end and a syscall
// begin (in b), and kPMoved, which the M records where it acts on the loss (ReacquireP):
// from then on the slice lies on the P it took (c), if any.

// Why a run slice ended (its `end` argument).
enum class RunEndWhy : uint8_t { kPark, kYield, kPreempt, kExit, kSyscall, kHandoff };
enum class HandoffWhy : uint8_t { kSyscall, kHog, kKernel };

// One event: 32 bytes, so that two fit a cache line and a hook writes four words.
// head: nanoseconds since the trace started << 16 | flags << 8 | type.
struct TraceEvent {
  uint64_t head;
  uint64_t a, b, c;
  TraceType type() const { return static_cast<TraceType>(head & 0xff); }
  uint8_t flags() const { return static_cast<uint8_t>(head >> 8); }
  int64_t ns() const { return static_cast<int64_t>(head >> 16); }
};

struct TraceBuf {
  static constexpr uint32_t kEvents = 2048;  // 64 KiB of events
  uint64_t gen = 0;      // the trace it was handed out for
  int64_t m = -1;        // its M's id
  uint64_t seq = 0;      // its place among its M's buffers in that trace
  // Events published; the writer's release store pairs with the flusher's acquire load.
  std::atomic<uint32_t> count{0};
  TraceEvent ev[kEvents];
};

class TraceJson;
class TraceKernel;
class TraceSpool;

// The clock of events: the TSC, or CLOCK_MONOTONIC (Tracer's invariants).
inline int64_t TraceRaw(bool tsc) { return tsc ? static_cast<int64_t>(__rdtsc()) : NanoTime(); }

class Tracer {
 public:
  explicit Tracer(Runtime* rt);
  ~Tracer();
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Opens `path` and starts recording (the caller holds rt->tracer_mu).
  absl::Status Start(const std::string& path, std::size_t ring_bytes);
  // Stops and completes the file; the caller holds rt->tracer_mu.
  absl::Status Stop();
  bool on() const { return on_; }  // under rt->tracer_mu

  // Records e (its head holding flags and type) for m, or for the runtime track when m
  // is null or not this runtime's.
  // Returns the clock reading it stamped the event with.
  int64_t Emit(M* m, uint64_t type_flags, uint64_t a, uint64_t b, uint64_t c);
  // Emit for g's run begin on m, which may reuse m's latest reading (invariants above).
  void EmitRunBegin(M* m, G* g, uint64_t c);
  // The taken mark (kPMoved's comment) of a handoff at clock reading raw.
  uint64_t Mark(int64_t raw) const;
  // The taken mark for an event m is about to record: its P's handoff, if it was taken.
  uint64_t TakenMark(M* m) const;

 private:
  // Emit at clock reading raw.
  void Put(M* m, int64_t raw, uint64_t type_flags, uint64_t a, uint64_t b, uint64_t c);
  // Put's slow cases: m is null or not this runtime's; m's buffer is full or stale.
  [[gnu::noinline]] void PutShared(uint64_t head, uint64_t a, uint64_t b, uint64_t c);
  [[gnu::noinline]] void PutRefill(M* m, TraceBuf* old, uint64_t head, uint64_t a, uint64_t b,
                                   uint64_t c);
  // m's current buffer is full or stale (or m has none): hand it over, take a fresh one.
  // Null when none can be had (the events are dropped and counted).
  TraceBuf* Refill(M* m, TraceBuf* old);
  void FlusherMain();
  // Moves the full buffers (final: every buffer), the runtime track's events and the
  // kernel's records to the spool, and pairs the clocks.
  void Pass(bool final);
  // The nanoseconds since the start of the trace of an event's clock reading.
  int64_t ToNs(int64_t raw) const;
  // What one TraceRaw costs on this machine (measured once, at the first stop).
  double ClockReadNs();
  // The JSON, from the spool, into file_.
  absl::Status Write(const SpinCounters& counters);

  Runtime* const rt_;
  // Read by every Emit, written by Start before `tracing` is set: a line of their own.
  alignas(64) std::atomic<uint64_t> gen_{0};
  std::atomic<int64_t> raw0_{0};  // TraceRaw at the start of the trace
  std::atomic<bool> tsc_{false};  // TraceRaw's argument
  int64_t t0_ = 0;                // CLOCK_MONOTONIC at the start (the flusher's and Stop's)

  alignas(64) std::mutex mu_;       // the buffer pools
  std::vector<TraceBuf*> full_;     // guarded by mu_: handed over, in the order handed
  std::vector<TraceBuf*> free_;     // guarded by mu_
  std::vector<std::unique_ptr<TraceBuf>> all_;  // guarded by mu_: every buffer made
  std::size_t max_bufs_ = 0;        // guarded by mu_
  std::size_t hold_max_ = 0;        // set by Start, read by the flusher

  std::mutex shared_mu_;
  std::vector<TraceEvent> shared_;  // guarded by shared_mu_: the runtime track's events
  std::atomic<int64_t> dropped_{0};  // events no buffer could take

  // The flusher's (and, once it has stopped, Stop's).
  std::unique_ptr<TraceSpool> spool_;
  std::unique_ptr<TraceKernel> kernel_;
  std::vector<M*> ms_;              // allm as last copied
  std::vector<uint64_t> next_seq_;  // by M id: the next buffer to read
  std::vector<std::pair<int64_t, int64_t>> cal_;  // (TraceRaw - raw0_, ns since t0_)
  std::deque<TraceBuf*> held_;      // full buffers not yet spooled, oldest first
  int64_t ring_dropped_ = 0;        // events in held buffers the ring recycled
  std::size_t ring_bytes_ = 0;
  FILE* file_ = nullptr;
  SpinCounters counters0_;
  double clock_read_ns_ = 0;

  std::thread flusher_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool stop_flusher_ = false;  // guarded by wake_mu_
  bool on_ = false;            // guarded by rt->tracer_mu
};

// ---- Hooks. Each is the one branch when tracing is off; the rest is in trace.cpp.

inline bool Tracing(Runtime* rt) { return rt->tracing.load(std::memory_order_relaxed); }

void TraceRunBeginSlow(M* m, G* g);
void TraceRunEndSlow(M* m, G* g, SwitchReason why);
void TraceSyscallSlow(M* m, G* g, bool enter);
void TraceSpawnSlow(Runtime* rt, G* g, uint64_t label);
void TraceReadySlow(Runtime* rt, G* g);
void TraceStealSlow(M* m, P* victim);
int64_t TraceHandoffSlow(Runtime* rt, P* pp, HandoffWhy why);
void TracePMovedSlow(M* m, G* g);
void TraceTimerSlow(Runtime* rt, G* readied);

// A G starts or resumes running on m (Execute), or stops (back on g0, m->reason set).
inline void TraceRunBegin(M* m, G* g) {
  if (Tracing(m->rt)) [[unlikely]] TraceRunBeginSlow(m, g);
}
inline void TraceRunEnd(M* m, G* g) {
  if (Tracing(m->rt)) [[unlikely]] TraceRunEndSlow(m, g, m->reason);
}
// A blocking call begins (the run slice ends) or ends (a run slice begins).
inline void TraceSyscall(M* m, G* g, bool enter) {
  if (Tracing(m->rt)) [[unlikely]] TraceSyscallSlow(m, g, enter);
}
// g, just made, is about to be queued; the caller is the spawning thread.
inline void TraceSpawn(Runtime* rt, G* g, uint64_t label) {
  if (Tracing(rt)) [[unlikely]] TraceSpawnSlow(rt, g, label);
}
inline void TraceReady(Runtime* rt, G* g) {
  if (Tracing(rt)) [[unlikely]] TraceReadySlow(rt, g);
}
// m's P just stole from victim's (the Gs are in m's P's queue, one about to run).
inline void TraceSteal(M* m, P* victim) {
  if (Tracing(m->rt)) [[unlikely]] TraceStealSlow(m, victim);
}
// pp is taken from m and handed off. Called before the release store of kPStateTaken
// that m acts on: m->trace_taken_raw is the handoff's reading (0 untraced) by then.
inline void TraceHandoff(Runtime* rt, P* pp, M* m, HandoffWhy why) {
  int64_t raw = 0;
  if (Tracing(rt)) [[unlikely]] raw = TraceHandoffSlow(rt, pp, why);
  m->trace_taken_raw = raw;
}
// m's G, whose P was taken, runs on: on m->p now (null: none yet).
inline void TracePMoved(M* m, G* g) {
  if (Tracing(m->rt)) [[unlikely]] TracePMovedSlow(m, g);
}
inline void TraceTimer(Runtime* rt, G* readied) {
  if (Tracing(rt)) [[unlikely]] TraceTimerSlow(rt, readied);
}
// m is about to wait (sleep, block polling, spin): its next run begin reads the clock.
inline void TraceMWaits(M* m) {
  if (Tracing(m->rt)) [[unlikely]] m->trace_warm = false;
}

// The environment's trace settings for RunMain: MN_TRACE (else opts_path) and
// MN_TRACE_RING (else opts_ring_mib); errors name the variable and its value.
struct TraceConfig {
  std::string path;       // empty: no trace
  std::size_t ring_bytes = 0;
  std::string setting;    // "MN_TRACE" or "Options.trace_path"
};
absl::StatusOr<TraceConfig> TraceConfigFromEnv(const std::string& opts_path,
                                               std::size_t opts_ring_mib);
// Starts the trace RunMain was asked for (before the first M), or stops the one still
// running at the end of run(); errors go to stderr at the end, to exit 2 at the start.
absl::Status StartTrace(Runtime* rt, const std::string& path, std::size_t ring_bytes);
absl::Status StopTrace(Runtime* rt);

}  // namespace mn::detail
