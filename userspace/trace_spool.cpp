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

// An event's encoding: a lead byte, the type in its low four bits, then a bit for each of
// flags, a, b and c that follows: flags as a byte, then the time, a, b and c each as the
// varint of its zigzagged difference from the same field of the block's previous event of
// the same type (a field equal to it is left out). Events of one type repeat their fields
// (the same label and P at each run begin of a G, the next G's id one above), so an
// event takes 4 to 5 bytes on the benchmark suite's workloads, where five deltas from the
// previous event whatever its type took 11 to 13: the flusher spends about half the time
// per event, and the spool grows (and spills to its file) at a third of the rate.
constexpr uint8_t kHasFlags = 0x10, kHasA = 0x20, kHasB = 0x40, kHasC = 0x80;
constexpr int kTypes = 16;
static_assert(static_cast<int>(TraceType::kPMoved) < kTypes);
constexpr std::size_t kMaxEncoded = 2 + 4 * 10;  // lead, flags, four varints

// The previous values, per type, that an event's fields are encoded against.
struct Prev {
  uint64_t ts = 0;
  uint64_t f[kTypes][3] = {};
};

char* PutZigzag(char* p, int64_t d) {
  return PutVarint(p, (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63));
}

bool GetZigzag(const char*& p, const char* end, uint64_t* d) {
  uint64_t z;
  if (!GetVarint(p, end, &z)) return false;
  *d = (z >> 1) ^ (~(z & 1) + 1);
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
  Prev prev;
  for (uint32_t i = 0; i < n; i++) {
    const TraceEvent& e = ev[i];
    const unsigned type = e.head & 0xff;  // < kTypes: TraceType
    const uint8_t flags = e.flags();
    uint64_t* f = prev.f[type & (kTypes - 1)];
    char* lead = p++;
    uint8_t bits = static_cast<uint8_t>(type) | (flags != 0 ? kHasFlags : 0);
    if (flags != 0) *p++ = static_cast<char>(flags);
    uint64_t ts = e.head >> 16;
    p = PutZigzag(p, static_cast<int64_t>(ts - prev.ts));
    prev.ts = ts;
    const uint64_t v[3] = {e.a, e.b, e.c};
    for (int k = 0; k < 3; k++) {
      if (v[k] == f[k]) continue;
      bits |= static_cast<uint8_t>(kHasA << k);
      p = PutZigzag(p, static_cast<int64_t>(v[k] - f[k]));
      f[k] = v[k];
    }
    *lead = static_cast<char>(bits);
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
  Prev prev;
  for (uint64_t i = 0; i < b.n; i++) {
    if (p >= end) return absl::DataLossError("a torn event block");
    auto bits = static_cast<uint8_t>(*p++);
    const unsigned type = bits & (kTypes - 1);
    uint64_t flags = 0, d = 0;
    if (bits & kHasFlags) {
      if (p >= end) return absl::DataLossError("a torn event block");
      flags = static_cast<uint8_t>(*p++);
    }
    if (!GetZigzag(p, end, &d)) return absl::DataLossError("a torn event block");
    prev.ts += d;
    uint64_t* f = prev.f[type];
    for (int k = 0; k < 3; k++) {
      if ((bits & (kHasA << k)) == 0) continue;
      if (!GetZigzag(p, end, &d)) return absl::DataLossError("a torn event block");
      f[k] += d;
    }
    v.event(b.m, TraceEvent{prev.ts << 16 | flags << 8 | type, f[0], f[1], f[2]});
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
