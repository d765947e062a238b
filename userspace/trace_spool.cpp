// TraceSpool: see trace_spool.hpp.
#include "trace_spool.hpp"

#include <cerrno>

#include "absl/strings/str_format.h"

namespace mn::detail {

namespace {
// A block in the temporary file: this header, then n events or n kernel records.
struct BlockHeader {
  int64_t m;
  uint64_t n;
};
}  // namespace

absl::StatusOr<std::unique_ptr<TraceSpool>> TraceSpool::Open(std::size_t ring_bytes) {
  std::unique_ptr<TraceSpool> s(new TraceSpool(ring_bytes));
  if (ring_bytes == 0) {
    s->file_ = std::tmpfile();
    if (s->file_ == nullptr) {
      return absl::ErrnoToStatus(errno, "cannot make a temporary file for the trace's events");
    }
  }
  return s;
}

TraceSpool::~TraceSpool() {
  if (file_ != nullptr) std::fclose(file_);
}

void TraceSpool::Write(const void* p, std::size_t n) {
  if (status_.ok() && n != 0 && std::fwrite(p, 1, n, file_) != n) {
    status_ = absl::ErrnoToStatus(errno, "writing the trace's temporary file");
  }
}

void TraceSpool::Keep(Block b, std::size_t bytes) {
  ring_total_ += bytes;
  ring_.emplace_back(std::move(b), bytes);
  while (ring_total_ > ring_bytes_ && ring_.size() > 1) {
    const Block& old = ring_.front().first;
    dropped_ += static_cast<int64_t>(old.ev.size() + old.k.size());
    ring_total_ -= ring_.front().second;
    ring_.pop_front();
  }
}

void TraceSpool::AddEvents(int64_t m, const TraceEvent* ev, uint32_t n) {
  if (n == 0) return;
  if (file_ != nullptr) {
    BlockHeader h{m, n};
    Write(&h, sizeof h);
    Write(ev, sizeof(TraceEvent) * n);
    return;
  }
  Keep(Block{m, std::vector<TraceEvent>(ev, ev + n), {}}, sizeof(TraceEvent) * n);
}

void TraceSpool::AddKernel(const std::vector<mn_trace_record>& recs) {
  if (recs.empty()) return;
  if (file_ != nullptr) {
    BlockHeader h{kKernelBlock, recs.size()};
    Write(&h, sizeof h);
    Write(recs.data(), sizeof(mn_trace_record) * recs.size());
    return;
  }
  Keep(Block{kKernelBlock, {}, recs}, sizeof(mn_trace_record) * recs.size());
}

absl::Status TraceSpool::Replay(const Visitor& v) {
  if (file_ == nullptr) {
    for (const auto& [b, bytes] : ring_) {
      if (b.m == kKernelBlock) {
        for (const auto& r : b.k) v.kernel(r);
      } else {
        for (const auto& e : b.ev) v.event(b.m, e);
      }
    }
    ring_.clear();
    ring_total_ = 0;
    return absl::OkStatus();
  }
  if (!status_.ok()) return status_;
  if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) {
    return absl::ErrnoToStatus(errno, "rewinding the trace's temporary file");
  }
  std::vector<TraceEvent> ev;
  std::vector<mn_trace_record> k;
  BlockHeader h;
  while (std::fread(&h, sizeof h, 1, file_) == 1) {
    bool kernel = h.m == kKernelBlock;
    std::size_t size = kernel ? sizeof(mn_trace_record) : sizeof(TraceEvent);
    if (h.n > (64u << 20) / size) return absl::DataLossError("the trace's temporary file is corrupt");
    void* dst = kernel ? static_cast<void*>((k.resize(h.n), k.data()))
                       : static_cast<void*>((ev.resize(h.n), ev.data()));
    if (std::fread(dst, size, h.n, file_) != h.n) {
      return absl::DataLossError("the trace's temporary file ends inside a block");
    }
    if (kernel) {
      for (const auto& r : k) v.kernel(r);
    } else {
      for (const auto& e : ev) v.event(h.m, e);
    }
  }
  if (std::ferror(file_)) return absl::ErrnoToStatus(errno, "reading the trace's temporary file");
  return absl::OkStatus();
}

}  // namespace mn::detail
