// TraceKernel: the kernel's side of a trace. While a trace runs with kernel telemetry on,
// the telemetry programs (bpf/telemetry.bpf.c, and bpf/scx.bpf.c while the sched_ext
// scheduler runs the Ms) send one record per switch-in of an M that was off its CPU
// (mn_trace_record, bpf/mn_telemetry.h); this reads them and hands them to the writer as
// slices on the M's track.
//
// Invariants:
//  - rt_state.trace_on is 1 exactly while a TraceKernel exists: set when it opens, cleared
//    when it is destroyed, so the programs pay for records only during a trace.
//  - Only the tracer's flusher (then Stop) calls Poll: libbpf's ring buffer has one
//    consumer. Records lost to a full ring are counted by the programs (trace_lost) and
//    reported as dropped events.
#pragma once

#include <cstdint>
#include <memory>

namespace mn::detail {

struct Runtime;
class TraceJson;

class TraceKernel {
 public:
  // Null when the runtime has no kernel telemetry. t0: the trace's start (CLOCK_MONOTONIC).
  static std::unique_ptr<TraceKernel> Open(Runtime* rt, int64_t t0);
  ~TraceKernel();
  TraceKernel(const TraceKernel&) = delete;
  TraceKernel& operator=(const TraceKernel&) = delete;

  // Hands every record waiting in the ring to json.
  void Poll(TraceJson* json);
  // Records the programs could not send since Open.
  int64_t lost() const;

 private:
  TraceKernel() = default;
  Runtime* rt_ = nullptr;
  int64_t t0_ = 0;
  uint64_t lost0_ = 0;
  void* rb_ = nullptr;  // libbpf's ring_buffer
  TraceJson* json_ = nullptr;  // during Poll
};

}  // namespace mn::detail
