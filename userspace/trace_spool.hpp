// TraceSpool: where a trace's binary events wait, from the flusher's pass that takes them
// from the Ms until Stop writes the JSON (trace.cpp). JSON costs some hundred bytes and
// a microsecond of formatting per event, far more than recording it; done while the
// program runs, it took a CPU from the Ms and could not keep up with a channel
// ping-pong. So the run only moves 32-byte events, and the formatting waits for the end.
//
// Invariants:
//  - Blocks come back (Replay) in the order they were added, each whole. A block is one
//    M's events in the order the M wrote them, or the runtime track's, or a batch of the
//    kernel's records.
//  - Events are kept encoded (trace_spool.cpp, kHasFlags): the fields that differ from
//    the block's previous event of the same type, each as the varint of its zigzagged
//    difference, 4 to 5 bytes instead of 32. The decoder starts each block from zeros as
//    the encoder did, so blocks stand alone and the ring may drop any.
//  - Whole mode (ring_bytes 0) keeps every block: in memory up to kMemBytes, the oldest
//    beyond that in an unlinked temporary file, so memory stays bounded however long
//    the run. Ring mode keeps blocks in memory and, past ring_bytes, drops the oldest
//    whole, counting their events.
//  - Only the tracer's flusher adds (then Stop, once it has ended), so there is no lock.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kfeedback.hpp"  // mn_trace_record
#include "trace.hpp"

namespace mn::detail {

class TraceSpool {
 public:
  // Whole mode keeps this much in memory before it writes to the temporary file.
  static constexpr std::size_t kMemBytes = 64 << 20;

  static absl::StatusOr<std::unique_ptr<TraceSpool>> Open(std::size_t ring_bytes);
  ~TraceSpool();
  TraceSpool(const TraceSpool&) = delete;
  TraceSpool& operator=(const TraceSpool&) = delete;

  // m: the M's id, or -1 for the runtime track.
  void AddEvents(int64_t m, const TraceEvent* ev, uint32_t n);
  void AddKernel(const std::vector<mn_trace_record>& recs);

  struct Visitor {
    std::function<void(int64_t m, const TraceEvent&)> event;
    std::function<void(const mn_trace_record&)> kernel;
  };
  // Every block kept, in order; then the spool is empty. The first error writing or
  // reading the temporary file, if any.
  absl::Status Replay(const Visitor& v);
  // Events (and records) the ring dropped.
  int64_t dropped() const { return dropped_; }

 private:
  struct Block {
    int64_t m;        // kKernelBlock for the kernel's records
    uint64_t n;       // events or records
    std::string data; // encoded events, or the records as they are
  };
  static constexpr int64_t kKernelBlock = INT64_MIN;
  explicit TraceSpool(std::size_t ring_bytes) : ring_bytes_(ring_bytes) {}
  void Keep(Block b);
  // Whole mode: moves the oldest blocks kept in memory to the temporary file.
  void Spill();
  absl::Status Visit(const Block& b, const Visitor& v);

  const std::size_t ring_bytes_;
  FILE* file_ = nullptr;  // whole mode, once it has spilled
  absl::Status status_;
  std::deque<Block> mem_;  // the newest blocks
  std::size_t mem_total_ = 0;
  int64_t dropped_ = 0;
  std::vector<char> scratch_;  // AddEvents' encoding, before it is copied to its size
};

}  // namespace mn::detail
