// TraceSpool: see trace_spool.hpp.
#include "trace_spool.hpp"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace mn::detail {

namespace {

// A block in the temporary file: this header, then `bytes` of data.
struct BlockHeader {
  int64_t m;
  uint64_t n;
  uint64_t bytes;
};

// At most 10 bytes at p; returns the end.
char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

bool GetVarint(const char*& p, const char* end, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    auto byte = static_cast<uint8_t>(*p++);
    r |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = r;
      return true;
    }
  }
  return false;
}

// The difference from the previous value, small in either direction.
char* PutDelta(char* p, uint64_t v, uint64_t* prev) {
  auto d = static_cast<int64_t>(v - *prev);
  *prev = v;
  return PutVarint(p, (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63));
}

constexpr std::size_t kMaxEncoded = 5 * 10;  // five varints of at most 10 bytes

bool GetDelta(const char*& p, const char* end, uint64_t* prev) {
  uint64_t z;
  if (!GetVarint(p, end, &z)) return false;
  *prev += (z >> 1) ^ (~(z & 1) + 1);
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TraceSpool>> TraceSpool::Open(std::size_t ring_bytes) {
  return std::unique_ptr<TraceSpool>(new TraceSpool(ring_bytes));
}

TraceSpool::~TraceSpool() {
  if (file_ != nullptr) std::fclose(file_);
}

void TraceSpool::Keep(Block b) {
  mem_total_ += b.data.size();
  mem_.push_back(std::move(b));
  if (ring_bytes_ == 0) {
    if (mem_total_ > kMemBytes) Spill();
    return;
  }
  while (mem_total_ > ring_bytes_ && mem_.size() > 1) {
    dropped_ += static_cast<int64_t>(mem_.front().n);
    mem_total_ -= mem_.front().data.size();
    mem_.pop_front();
  }
}

void TraceSpool::Spill() {
  if (file_ == nullptr && status_.ok()) {
    file_ = std::tmpfile();
    if (file_ == nullptr) status_ = absl::ErrnoToStatus(errno, "making the trace's temporary file");
  }
  // Down to half, so that the next spill is a good while off.
  while (mem_total_ > kMemBytes / 2) {
    const Block& b = mem_.front();
    BlockHeader h{b.m, b.n, b.data.size()};
    if (status_.ok() && (std::fwrite(&h, sizeof h, 1, file_) != 1 ||
                         std::fwrite(b.data.data(), 1, b.data.size(), file_) != b.data.size())) {
      status_ = absl::ErrnoToStatus(errno, "writing the trace's temporary file");
    }
    mem_total_ -= b.data.size();
    mem_.pop_front();
  }
}

void TraceSpool::AddEvents(int64_t m, const TraceEvent* ev, uint32_t n) {
  if (n == 0) return;
  if (scratch_.size() < n * kMaxEncoded) scratch_.resize(n * kMaxEncoded);
  char* p = scratch_.data();
  uint64_t ts = 0, low = 0, a = 0, bb = 0, c = 0;
  for (uint32_t i = 0; i < n; i++) {
    p = PutDelta(p, ev[i].head >> 16, &ts);
    p = PutDelta(p, ev[i].head & 0xffff, &low);
    p = PutDelta(p, ev[i].a, &a);
    p = PutDelta(p, ev[i].b, &bb);
    p = PutDelta(p, ev[i].c, &c);
  }
  Keep(Block{m, n, std::string(scratch_.data(), p)});
}

void TraceSpool::AddKernel(const std::vector<mn_trace_record>& recs) {
  if (recs.empty()) return;
  Block b{kKernelBlock, recs.size(), {}};
  b.data.assign(reinterpret_cast<const char*>(recs.data()), recs.size() * sizeof(mn_trace_record));
  Keep(std::move(b));
}

absl::Status TraceSpool::Visit(const Block& b, const Visitor& v) {
  const char* p = b.data.data();
  const char* end = p + b.data.size();
  if (b.m == kKernelBlock) {
    if (b.data.size() != b.n * sizeof(mn_trace_record)) return absl::DataLossError("a torn kernel block");
    for (uint64_t i = 0; i < b.n; i++) {
      mn_trace_record r;
      std::memcpy(&r, p + i * sizeof r, sizeof r);
      v.kernel(r);
    }
    return absl::OkStatus();
  }
  uint64_t ts = 0, low = 0, a = 0, bb = 0, c = 0;
  for (uint64_t i = 0; i < b.n; i++) {
    if (!GetDelta(p, end, &ts) || !GetDelta(p, end, &low) || !GetDelta(p, end, &a) ||
        !GetDelta(p, end, &bb) || !GetDelta(p, end, &c)) {
      return absl::DataLossError("a torn event block");
    }
    v.event(b.m, TraceEvent{ts << 16 | (low & 0xffff), a, bb, c});
  }
  return absl::OkStatus();
}

absl::Status TraceSpool::Replay(const Visitor& v) {
  if (!status_.ok()) return status_;
  if (file_ != nullptr) {
    if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) {
      return absl::ErrnoToStatus(errno, "rewinding the trace's temporary file");
    }
    BlockHeader h;
    Block b;
    while (std::fread(&h, sizeof h, 1, file_) == 1) {
      if (h.bytes > (256u << 20)) return absl::DataLossError("the trace's temporary file is corrupt");
      b.m = h.m;
      b.n = h.n;
      b.data.resize(h.bytes);
      if (std::fread(b.data.data(), 1, h.bytes, file_) != h.bytes) {
        return absl::DataLossError("the trace's temporary file ends inside a block");
      }
      if (absl::Status s = Visit(b, v); !s.ok()) return s;
    }
    if (std::ferror(file_)) return absl::ErrnoToStatus(errno, "reading the trace's temporary file");
  }
  for (const Block& b : mem_) {
    if (absl::Status s = Visit(b, v); !s.ok()) return s;
  }
  mem_.clear();
  mem_total_ = 0;
  return absl::OkStatus();
}

}  // namespace mn::detail
