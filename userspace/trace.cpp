// The tracer: see trace.hpp for the invariants of the buffers, trace_json.hpp for the
// file, and docs/tracing.md for the user's view.
#include "trace.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "mn/blocking.hpp"
#include "mn/trace.hpp"
#include "trace_json.hpp"
#include "trace_kernel.hpp"
#include "trace_spool.hpp"

namespace mn::detail {

namespace {

// Buffers an M may hold or have handed over before the flusher reads them: past this the
// recorder drops events (counted) rather than grow without bound.
// Full buffers the flusher holds as they are: compressing them (trace_spool.cpp) costs a
// CPU the Ms could use, so it waits until this many wait, or until the stop. Not more:
// held buffers are memory the Ms cannot reuse, and writing events into fresh memory cost
// a channel ping-pong more than the compressing did (2048 against 64 buffers: 290 against
// 255 ns a round trip). Ring mode holds ring_bytes' worth instead, and recycles the
// oldest beyond.
constexpr std::size_t kHoldBufs = 256;  // 16 MiB, 512k events
// Buffers in the Ms' hands and on their way to the flusher, besides those it holds: past
// this the recorder drops events (counted) rather than grow without bound.
constexpr std::size_t kWorkingBufs = 1024;  // 64 MiB
// Empty buffers the flusher keeps made and touched, so that the Ms do not page-fault in
// new ones.
constexpr std::size_t kSpareBufs = 32;
constexpr auto kFlushPeriod = std::chrono::milliseconds(5);
constexpr std::size_t kMaxRingMib = 65536;

// A park's reason rides in a run end's flags, above RunEndWhy's three bits.
static_assert(static_cast<int>(WaitReason::kIOWrite) < 32);

uint64_t Head(TraceType type, uint8_t flags = 0) {
  return static_cast<uint64_t>(flags) << 8 | static_cast<uint64_t>(type);
}

// The tracer of rt, for a hook that saw `tracing` set. acquire: pairs with Start's
// release store of `tracing`, after which rt->tracer is set for good.
Tracer* TracerOf(Runtime* rt) {
  (void)rt->tracing.load(std::memory_order_acquire);
  return rt->tracer.get();
}

uint64_t CurGId(M* m) { return m != nullptr && m->curg != nullptr ? m->curg->id : 0; }

SpinCounters Minus(const SpinCounters& a, const SpinCounters& b) {
  SpinCounters d;
  d.spawns = a.spawns - b.spawns;
  d.parks = a.parks - b.parks;
  d.readies = a.readies - b.readies;
  return d;
}

}  // namespace

Tracer::Tracer(Runtime* rt) : rt_(rt) {
  // The TSC only where the kernel itself trusts it for CLOCK_MONOTONIC: then it is
  // invariant and synchronised across CPUs.
  char buf[32] = {};
  if (FILE* f = std::fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r")) {
    if (std::fgets(buf, sizeof buf, f) == nullptr) buf[0] = 0;
    std::fclose(f);
  }
  tsc_.store(std::string_view(buf) == "tsc\n", std::memory_order_relaxed);
}

Tracer::~Tracer() {
  if (flusher_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      stop_flusher_ = true;
    }
    wake_cv_.notify_all();
    flusher_.join();
  }
  if (file_ != nullptr) std::fclose(file_);
}

// Emit, EmitRunBegin and TakenMark are only called from the hooks below, each of which
// they are inlined into: a call and the registers it saves cost as much as the stores.
[[gnu::always_inline]] inline int64_t Tracer::Emit(M* m, uint64_t type_flags, uint64_t a,
                                                   uint64_t b, uint64_t c) {
  int64_t raw = TraceRaw(tsc_.load(std::memory_order_relaxed));
  Put(m, raw, type_flags, a, b, c);
  return raw;
}

[[gnu::always_inline]] inline void Tracer::EmitRunBegin(M* m, G* g, uint64_t c) {
  // m is this runtime's M, running this hook itself: its trace_* fields are its own.
  int64_t raw = m->trace_raw;
  if (!m->trace_warm || raw < raw0_.load(std::memory_order_relaxed) || raw < g->trace_raw) {
    raw = TraceRaw(tsc_.load(std::memory_order_relaxed));
  }
  Put(m, raw, Head(TraceType::kRunBegin), g->id, g->label, c);
}

uint64_t Tracer::Mark(int64_t raw) const {
  int64_t raw0 = raw0_.load(std::memory_order_relaxed);
  // 0: a handoff before this trace (or untraced): the slice began after it anyway.
  return raw == 0 || raw < raw0 ? 0 : static_cast<uint64_t>(raw - raw0) + 1;
}

[[gnu::always_inline]] inline uint64_t Tracer::TakenMark(M* m) const {
  if (m->p == nullptr) return 0;
  // acquire: pairs with TakeP's release store of kPStateTaken, after its write of
  // trace_taken_raw. A take after this load ends the P's part after the event anyway.
  if ((m->pstate.load(std::memory_order_acquire) & kPStateTaken) == 0) return 0;
  return Mark(m->trace_taken_raw);
}

// The common case inline, without a call: a hook's whole cost is then the clock read
// and some ten instructions (the slow cases are out of line so as not to burden it).
// The event's words are stored straight into the buffer: built on the stack and copied,
// they were read back 16 bytes at a time from two 8-byte stores, which store forwarding
// cannot serve, and that stall was a third of a traced yield's cost.
inline void Tracer::Put(M* m, int64_t raw, uint64_t type_flags, uint64_t a, uint64_t b,
                        uint64_t c) {
  int64_t rel = raw - raw0_.load(std::memory_order_relaxed);
  uint64_t head = static_cast<uint64_t>(rel < 0 ? 0 : rel) << 16 | type_flags;
  if (m == nullptr || m->rt != rt_) [[unlikely]] {
    PutShared(head, a, b, c);
    return;
  }
  m->trace_raw = raw;
  m->trace_warm = true;
  TraceBuf* buf = m->tbuf.load(std::memory_order_relaxed);  // the M's own
  uint32_t n = 0;
  if (buf == nullptr || buf->gen != gen_.load(std::memory_order_relaxed) ||
      (n = buf->count.load(std::memory_order_relaxed)) == TraceBuf::kEvents) [[unlikely]] {
    PutRefill(m, buf, head, a, b, c);
    return;
  }
  TraceEvent& e = buf->ev[n];
  e.head = head;
  e.a = a;
  e.b = b;
  e.c = c;
  // release: pairs with the flusher's acquire load of count (Pass).
  buf->count.store(n + 1, std::memory_order_release);
}

void Tracer::PutShared(uint64_t head, uint64_t a, uint64_t b, uint64_t c) {
  std::lock_guard<std::mutex> lock(shared_mu_);
  // Under the lock: Stop clears `tracing` before it takes the last of shared_, so a
  // late event is either in that or dropped here, never left for the next trace.
  if (rt_->tracing.load(std::memory_order_relaxed)) shared_.push_back(TraceEvent{head, a, b, c});
}

void Tracer::PutRefill(M* m, TraceBuf* old, uint64_t head, uint64_t a, uint64_t b, uint64_t c) {
  TraceBuf* buf = Refill(m, old);
  if (buf == nullptr) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  buf->ev[0] = TraceEvent{head, a, b, c};
  // release: pairs with the flusher's acquire load of count (Pass).
  buf->count.store(1, std::memory_order_release);
}

TraceBuf* Tracer::Refill(M* m, TraceBuf* old) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t gen = gen_.load(std::memory_order_relaxed);
  if (old != nullptr) {
    // A stale buffer is nobody's any more: its trace has ended and been read.
    (old->gen == gen ? full_ : free_).push_back(old);
  }
  TraceBuf* b = nullptr;
  if (rt_->tracing.load(std::memory_order_relaxed)) {
    if (!free_.empty()) {
      b = free_.back();
      free_.pop_back();
    } else if (all_.size() < max_bufs_) {
      all_.push_back(std::make_unique<TraceBuf>());
      b = all_.back().get();
    }
  }
  if (b != nullptr) {
    if (m->tseq_gen != gen) {
      m->tseq_gen = gen;
      m->tseq = 0;
    }
    b->gen = gen;
    b->m = m->id;
    b->seq = m->tseq++;
    b->count.store(0, std::memory_order_relaxed);
  }
  // release: pairs with the flusher's acquire load of tbuf; the fields above come first.
  m->tbuf.store(b, std::memory_order_release);
  return b;
}

void Tracer::Pass(bool final) {
  const uint64_t gen = gen_.load(std::memory_order_relaxed);
  auto next_seq = [&](int64_t m) -> uint64_t& {
    auto i = static_cast<std::size_t>(m);
    if (i >= next_seq_.size()) next_seq_.resize(i + 1, 0);
    return next_seq_[i];
  };
  std::vector<TraceBuf*> full;
  {
    std::lock_guard<std::mutex> lock(mu_);
    full.swap(full_);
  }
  // The runtime track's events go to the spool before any M's taken here or later: a G
  // spawned or readied from outside the runtime is recorded before it is queued, so its
  // spawn is in this take (or an earlier one) when its run and exit are in an M buffer
  // taken above, and the file's writer sees the spawn first, as it needs to pair them.
  std::vector<TraceEvent> shared;
  {
    std::lock_guard<std::mutex> lock(shared_mu_);
    shared.swap(shared_);
  }
  spool_->AddEvents(-1, shared.data(), static_cast<uint32_t>(shared.size()));
  // Handed over in order, so each M's come in its sequence.
  std::vector<TraceBuf*> done;  // to recycle
  for (TraceBuf* b : full) {
    if (b->gen != gen) {
      done.push_back(b);
      continue;
    }
    held_.push_back(b);
    next_seq(b->m) = b->seq + 1;
  }
  while (held_.size() > hold_max_ || (final && !held_.empty())) {
    TraceBuf* b = held_.front();
    held_.pop_front();
    // acquire: pairs with the writer's last release store of count.
    uint32_t n = b->count.load(std::memory_order_acquire);
    if (ring_bytes_ == 0 || final) {
      spool_->AddEvents(b->m, b->ev, n);
    } else {
      ring_dropped_ += n;  // the ring's oldest
    }
    done.push_back(b);
  }
  // Spares made here, off the Ms' paths: new memory faults in page by page.
  std::vector<std::unique_ptr<TraceBuf>> spares;
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.insert(free_.end(), done.begin(), done.end());
    if (!final && free_.size() < kSpareBufs / 2 && all_.size() + kSpareBufs <= max_bufs_) {
      spares.resize(kSpareBufs);
    }
  }
  if (!spares.empty()) {
    for (auto& b : spares) {
      b = std::make_unique<TraceBuf>();
      std::memset(static_cast<void*>(b->ev), 0, sizeof b->ev);
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& b : spares) {
      free_.push_back(b.get());
      all_.push_back(std::move(b));
    }
  }
  if (final) {
    {
      std::lock_guard<SchedLock> lock(rt_->lock);  // allm grows under it
      ms_.clear();
      for (const auto& m : rt_->allm) ms_.push_back(m.get());
    }
    // The Ms' current buffers, partly filled: every one handed over before has been read.
    for (M* m : ms_) {
      // acquire: pairs with Refill's release store; b's fields are the M's latest.
      TraceBuf* b = m->tbuf.load(std::memory_order_acquire);
      // A later buffer than expected: the one before was handed over after `full` was
      // taken, by a hook that saw `tracing` just before it turned off. Both are dropped.
      if (b == nullptr || b->gen != gen || b->seq != next_seq(m->id)) continue;
      // acquire: pairs with Emit's release store of count; the events before it are whole.
      spool_->AddEvents(m->id, b->ev, b->count.load(std::memory_order_acquire));
    }
  }
  if (kernel_ != nullptr) {
    std::vector<mn_trace_record> recs;
    kernel_->Poll(&recs);
    spool_->AddKernel(recs);
  }
  // A pair of clock reads, after every event taken above was written.
  int64_t raw = TraceRaw(tsc_.load(std::memory_order_relaxed)) - raw0_.load(std::memory_order_relaxed);
  int64_t ns = NanoTime() - t0_;
  if (raw > cal_.back().first && ns > cal_.back().second) cal_.emplace_back(raw, ns);
}

double Tracer::ClockReadNs() {
  if (clock_read_ns_ == 0) {
    // The fastest of a few batches: a batch the kernel interrupted says nothing.
    const bool tsc = tsc_.load(std::memory_order_relaxed);
    constexpr int kBatch = 1024;
    double best = 0;
    for (int round = 0; round < 5; round++) {
      int64_t sink = 0;
      int64_t t0 = NanoTime();
      for (int i = 0; i < kBatch; i++) sink += TraceRaw(tsc);
      int64_t t1 = NanoTime();
      // The reads feed a value the compiler must keep.
      asm volatile("" : : "r"(sink));
      double ns = static_cast<double>(t1 - t0) / kBatch;
      if (round == 0 || ns < best) best = ns;
    }
    clock_read_ns_ = best;
  }
  return clock_read_ns_;
}

int64_t Tracer::ToNs(int64_t raw) const {
  if (!tsc_.load(std::memory_order_relaxed)) return raw;
  if (cal_.size() < 2) return 0;
  // The segment between the pairs around raw (the first or last one beyond them).
  auto it = std::upper_bound(cal_.begin(), cal_.end(), raw,
                             [](int64_t r, const std::pair<int64_t, int64_t>& p) { return r < p.first; });
  std::size_t i = std::clamp<std::size_t>(static_cast<std::size_t>(it - cal_.begin()), 1, cal_.size() - 1);
  const auto& [ra, na] = cal_[i - 1];
  const auto& [rb, nb] = cal_[i];
  double per_tick = static_cast<double>(nb - na) / static_cast<double>(rb - ra);
  return na + static_cast<int64_t>(std::llround(static_cast<double>(raw - ra) * per_tick));
}

void Tracer::FlusherMain() {
  pthread_setname_np(pthread_self(), "mn-trace");
  // release: pairs with Start's acquire load, which waits for it.
  rt_->tracer_tid.store(static_cast<uint32_t>(gettid()), std::memory_order_release);
  FutexWake(&rt_->tracer_tid, 1);
  std::unique_lock<std::mutex> lock(wake_mu_);
  while (!stop_flusher_) {
    wake_cv_.wait_for(lock, kFlushPeriod, [this] { return stop_flusher_; });
    if (stop_flusher_) break;
    lock.unlock();
    Pass(false);
    lock.lock();
  }
}

absl::Status Tracer::Start(const std::string& path, std::size_t ring_bytes) {
  if (on_) return absl::FailedPreconditionError("a trace is already being recorded");
  absl::StatusOr<std::unique_ptr<TraceSpool>> spool = TraceSpool::Open(ring_bytes);
  if (!spool.ok()) return spool.status();
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrFormat("cannot open \"%s\" for writing", path));
  }
  file_ = f;
  spool_ = std::move(*spool);
  ring_bytes_ = ring_bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hold_max_ = ring_bytes != 0 ? std::max<std::size_t>(ring_bytes / sizeof(TraceBuf::ev), 1) : kHoldBufs;
    max_bufs_ = hold_max_ + kWorkingBufs;
    free_.insert(free_.end(), full_.begin(), full_.end());
    full_.clear();
    // The buffers the Ms will fill before the flusher recycles any, made and touched now:
    // else each M page-faults in its first ones (16 faults a buffer, some 50 us here),
    // hundreds of them in the first milliseconds of a busy trace. Up to kHoldBufs (a
    // larger ring faults its oldest part in as it first fills).
    const std::size_t ready = std::min(hold_max_, kHoldBufs) + kSpareBufs;
    while (all_.size() < ready) {
      all_.push_back(std::make_unique<TraceBuf>());
      std::memset(static_cast<void*>(all_.back()->ev), 0, sizeof all_.back()->ev);
      free_.push_back(all_.back().get());
    }
  }
  gen_.fetch_add(1, std::memory_order_relaxed);
  t0_ = NanoTime();
  raw0_.store(TraceRaw(tsc_.load(std::memory_order_relaxed)), std::memory_order_relaxed);
  cal_.assign(1, {0, 0});
  kernel_ = TraceKernel::Open(rt_);
  next_seq_.clear();
  ms_.clear();
  held_.clear();
  ring_dropped_ = 0;
  dropped_.store(0, std::memory_order_relaxed);
  counters0_ = SumSpins(rt_);
  rt_->tracer_tid.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_flusher_ = false;
  }
  // release: pairs with TracerOf's acquire; everything above is set for the hooks.
  rt_->tracing.store(true, std::memory_order_release);
  flusher_ = std::thread([this] { FlusherMain(); });
  // Deadlock detection counts threads that are not the runtime's: this one must be known
  // before it could be seen. acquire pairs with FlusherMain's release store.
  while (rt_->tracer_tid.load(std::memory_order_acquire) == 0) FutexWait(&rt_->tracer_tid, 0);
  on_ = true;
  return absl::OkStatus();
}

absl::Status Tracer::Stop() {
  if (!on_) return absl::FailedPreconditionError("no trace is being recorded");
  on_ = false;
  rt_->tracing.store(false, std::memory_order_relaxed);
  SpinCounters counters = Minus(SumSpins(rt_), counters0_);
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_flusher_ = true;
  }
  wake_cv_.notify_all();
  flusher_.join();
  Pass(true);
  absl::Status st = Write(counters);
  kernel_.reset();
  spool_.reset();
  if (std::fclose(file_) != 0 && st.ok()) st = absl::ErrnoToStatus(errno, "closing the trace");
  file_ = nullptr;
  return st;
}

absl::Status Tracer::Write(const SpinCounters& counters) {
  TraceJson json(file_, ring_bytes_);
  if (kernel_ != nullptr) json.ExpectKernel();
  TraceSpool::Visitor v;
  int64_t reads = 0;
  std::vector<int64_t> last;  // by M id: the reading of its previous event
  v.event = [&](int64_t m, const TraceEvent& e) {
    // Put stamps an M's every event with the reading it took, and EmitRunBegin reuses
    // the M's latest: a begin stamped as the event before it on its M took no reading.
    // (Two reads on one M are ten-odd nanoseconds apart: never equal.)
    if (m < 0) {
      reads++;
    } else {
      auto i = static_cast<std::size_t>(m);
      if (i >= last.size()) last.resize(i + 1, -1);
      reads += e.type() != TraceType::kRunBegin || e.ns() != last[i];
      last[i] = e.ns();
    }
    TraceEvent x = e;
    int64_t ns = std::max<int64_t>(ToNs(e.ns()), 0);
    x.head = static_cast<uint64_t>(ns) << 16 | (e.head & 0xffff);
    TraceType type = e.type();
    if ((type == TraceType::kRunEnd || type == TraceType::kSyscallBegin ||
         type == TraceType::kPMoved) && e.b != 0) {
      x.b = static_cast<uint64_t>(std::max<int64_t>(ToNs(static_cast<int64_t>(e.b - 1)), 0)) + 1;
    }
    json.Add(m, x);
  };
  v.kernel = [&](const mn_trace_record& r) {
    KernelSlice k;
    k.m = r.m;
    k.blocked = r.state == mn_blocked;
    k.off = static_cast<int64_t>(r.off_ns) - t0_;
    k.woken = static_cast<int64_t>(r.woken_ns) - t0_;
    k.on = static_cast<int64_t>(r.on_ns) - t0_;
    // A record torn by a writer that gave up its lock (mn_record.bpf.h) is no slice.
    if (k.off <= k.woken && k.woken <= k.on) json.AddKernel(k);
  };
  absl::Status replayed = spool_->Replay(v);
  TraceSummary s;
  s.stop_ns = cal_.back().second;
  s.pid = getpid();
  s.procs = rt_->procs;
  s.kernel = kernel_ != nullptr;
  s.dropped = dropped_.load(std::memory_order_relaxed) + ring_dropped_ + spool_->dropped() +
              (kernel_ != nullptr ? kernel_->lost() : 0);
  s.counters = counters;
  s.clock_reads = reads;
  s.clock_read_ns = ClockReadNs();
  for (M* m : ms_) s.ms.emplace_back(m->id, m->tid.load(std::memory_order_relaxed));
  absl::Status st = json.Finish(s);
  return replayed.ok() ? st : replayed;
}

// ---- Hooks ----------------------------------------------------------------------------------

void TraceRunBeginSlow(M* m, G* g) {
  TracerOf(m->rt)->EmitRunBegin(m, g, m->p != nullptr ? static_cast<uint64_t>(m->p->id) : ~uint64_t{0});
}

void TraceRunEndSlow(M* m, G* g, SwitchReason why) {
  RunEndWhy end = RunEndWhy::kYield;
  switch (why) {
    case SwitchReason::kPark: end = RunEndWhy::kPark; break;
    case SwitchReason::kGosched: end = m->preempt_switch ? RunEndWhy::kPreempt : RunEndWhy::kYield; break;
    case SwitchReason::kGoyield: end = RunEndWhy::kYield; break;
    case SwitchReason::kExit: end = RunEndWhy::kExit; break;
    case SwitchReason::kReacquire: end = RunEndWhy::kHandoff; break;
    case SwitchReason::kNone: break;
  }
  m->preempt_switch = false;
  uint8_t flags = static_cast<uint8_t>(end);
  if (end == RunEndWhy::kPark) {
    flags |= static_cast<uint8_t>(g->wait_reason.load(std::memory_order_relaxed)) << 3;
  }
  Tracer* tr = TracerOf(m->rt);
  g->trace_raw = tr->Emit(m, Head(TraceType::kRunEnd, flags), g->id, tr->TakenMark(m), 0);
}

void TraceSyscallSlow(M* m, G* g, bool enter) {
  if (enter) {
    Tracer* tr = TracerOf(m->rt);
    tr->Emit(m, Head(TraceType::kSyscallBegin), g->id, tr->TakenMark(m), 0);
    return;
  }
  bool has_p = m->p != nullptr && (m->pstate.load(std::memory_order_relaxed) & kPStateTaken) == 0;
  TracerOf(m->rt)->Emit(m, Head(TraceType::kSyscallEnd), g->id, 0,
                        has_p ? static_cast<uint64_t>(m->p->id) : ~uint64_t{0});
}

void TraceSpawnSlow(Runtime* rt, G* g, uint64_t label) {
  M* m = GetM();
  g->trace_raw = TracerOf(rt)->Emit(m, Head(TraceType::kSpawn), g->id, label, CurGId(m));
}

void TraceReadySlow(Runtime* rt, G* g) {
  M* m = GetM();
  g->trace_raw = TracerOf(rt)->Emit(m, Head(TraceType::kReady), g->id, 0, CurGId(m));
}

void TraceStealSlow(M* m, P* victim) {
  P* pp = m->p;
  TracerOf(m->rt)->Emit(m, Head(TraceType::kSteal), static_cast<uint64_t>(pp->id),
                        static_cast<uint64_t>(victim->id), pp->runq.Size() + 1);
}

int64_t TraceHandoffSlow(Runtime* rt, P* pp, HandoffWhy why) {
  return TracerOf(rt)->Emit(GetM(), Head(TraceType::kHandoff, static_cast<uint8_t>(why)),
                            static_cast<uint64_t>(pp->id), 0, 0);
}

void TracePMovedSlow(M* m, G* g) {
  // ReacquireP reset pstate after it saw kTaken (acquire), so trace_taken_raw is the
  // taker's; m->p is the P it took, if any.
  Tracer* tr = TracerOf(m->rt);
  tr->Emit(m, Head(TraceType::kPMoved), g->id, tr->Mark(m->trace_taken_raw),
           m->p != nullptr ? static_cast<uint64_t>(m->p->id) : ~uint64_t{0});
}

void TraceTimerSlow(Runtime* rt, G* readied) {
  TracerOf(rt)->Emit(GetM(), Head(TraceType::kTimer), readied != nullptr ? readied->id : 0, 0, 0);
}

// ---- Starting and stopping -----------------------------------------------------------------

absl::StatusOr<TraceConfig> TraceConfigFromEnv(const std::string& opts_path,
                                               std::size_t opts_ring_mib) {
  TraceConfig c;
  c.path = opts_path;
  c.setting = "Options.trace_path";
  std::size_t mib = opts_ring_mib;
  if (const char* v = std::getenv("MN_TRACE"); v != nullptr && *v != 0) {
    c.path = v;
    c.setting = "MN_TRACE";
  }
  if (const char* v = std::getenv("MN_TRACE_RING"); v != nullptr) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(v, &n) || n > kMaxRingMib || std::strpbrk(v, " +\t") != nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "MN_TRACE_RING=\"%s\": must be MiB, 0 to %d (0 = the whole run)", v, kMaxRingMib));
    }
    mib = n;
  } else if (mib > kMaxRingMib) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Options.trace_ring_mib=%d: must be MiB, 0 to %d (0 = the whole run)", mib, kMaxRingMib));
  }
  c.ring_bytes = mib << 20;
  return c;
}

absl::Status StartTrace(Runtime* rt, const std::string& path, std::size_t ring_bytes) {
  std::lock_guard<std::mutex> lock(rt->tracer_mu);
  if (rt->tracer == nullptr) rt->tracer = std::make_unique<Tracer>(rt);
  return rt->tracer->Start(path, ring_bytes);
}

absl::Status StopTrace(Runtime* rt) {
  std::lock_guard<std::mutex> lock(rt->tracer_mu);
  if (rt->tracer == nullptr) return absl::FailedPreconditionError("no trace is being recorded");
  return rt->tracer->Stop();
}

Runtime* AcquireRuntime(bool* outside);  // api.cpp

namespace {

// Runs f(rt) on the active runtime, as a blocking call from a G (it writes the file).
template <typename F>
absl::Status OnRuntime(const char* what, F f) {
  bool outside = false;
  Runtime* rt;
  try {
    rt = AcquireRuntime(&outside);
  } catch (const std::logic_error&) {
    return absl::FailedPreconditionError(absl::StrFormat("%s: no runtime is active", what));
  }
  absl::Status s = mn::blocking([&] { return f(rt); });
  if (outside) Unref(rt);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrFormat("%s: %s", what, s.message()));
  }
  return s;
}

}  // namespace

}  // namespace mn::detail

namespace mn {

absl::Status trace_start(std::string_view path, std::size_t ring_mib) {
  if (ring_mib > detail::kMaxRingMib) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "trace_start: ring_mib=%d: must be 0 to %d", ring_mib, detail::kMaxRingMib));
  }
  std::string p(path);
  return detail::OnRuntime("trace_start", [&](detail::Runtime* rt) {
    return detail::StartTrace(rt, p, ring_mib << 20);
  });
}

absl::Status trace_stop() {
  return detail::OnRuntime("trace_stop", [](detail::Runtime* rt) { return detail::StopTrace(rt); });
}

}  // namespace mn
