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

#include <linux/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "kfeedback.hpp"  // mn_trace_record

namespace mn::detail {

struct Runtime;

class TraceKernel {
 public:
  // Null when the runtime has no kernel telemetry.
  static std::unique_ptr<TraceKernel> Open(Runtime* rt);
  ~TraceKernel();
  TraceKernel(const TraceKernel&) = delete;
  TraceKernel& operator=(const TraceKernel&) = delete;

  // Appends every record waiting in the ring to *out.
  void Poll(std::vector<mn_trace_record>* out);
  // Records the programs could not send since Open.
  int64_t lost() const;
  // One record, from the ring buffer's callback.
  void Deliver(const mn_trace_record& r);

 private:
  TraceKernel() = default;
  Runtime* rt_ = nullptr;
  uint64_t lost0_ = 0;
  void* rb_ = nullptr;  // libbpf's ring_buffer
  std::vector<mn_trace_record>* out_ = nullptr;  // during Poll
};

}  // namespace mn::detail
