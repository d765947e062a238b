// Timers: the per-P heaps (timers.hpp) and the public Timer, Ticker, after and sleep.
#include <thread>

#include "sched.hpp"
#include "trace.hpp"
#include "timers.hpp"

namespace mn::detail {

Runtime* AcquireRuntime(bool* outside);  // api.cpp
void SpawnOn(Runtime* rt, absl::AnyInvocable<void()> f);  // api.cpp

namespace {

// ---- 4-ary heap ordered by `when` (Go's timer heap shape: shallower than binary, so
// fewer cache lines per sift) ----

void Place(std::vector<TimerCore*>& h, int i, TimerCore* t) {
  h[i] = t;
  t->idx = i;
}

void SiftUp(std::vector<TimerCore*>& h, int i) {
  TimerCore* t = h[i];
  while (i > 0) {
    int parent = (i - 1) / 4;
    if (h[parent]->when <= t->when) break;
    Place(h, i, h[parent]);
    i = parent;
  }
  Place(h, i, t);
}

void SiftDown(std::vector<TimerCore*>& h, int i) {
  int n = static_cast<int>(h.size());
  TimerCore* t = h[i];
  for (;;) {
    int c = 4 * i + 1;
    if (c >= n) break;
    int best = c;
    for (int k = c + 1; k < c + 4 && k < n; k++) {
      if (h[k]->when < h[best]->when) best = k;
    }
    if (h[best]->when >= t->when) break;
    Place(h, i, h[best]);
    i = best;
  }
  Place(h, i, t);
}

void RemoveAt(TimerHeap* heap, int i) {
  auto& h = heap->h;
  TimerCore* last = h.back();
  h.pop_back();
  if (i < static_cast<int>(h.size())) {
    Place(h, i, last);
    SiftDown(h, i);
    SiftUp(h, last->idx);
  }
}

void UpdateWhen0(TimerHeap* heap) {
  // seq_cst: pairs with the idle M's read in EarliestTimer after it gave up its P.
  heap->when0.store(heap->h.empty() ? 0 : heap->h[0]->when, std::memory_order_seq_cst);
}

TimerHeap* HeapFor(Runtime* rt) {
  M* m = GetM();
  if (m != nullptr && m->rt == rt && m->p != nullptr) return &m->p->timers;
  return &rt->allp[0]->timers;
}

// ---- what firing does ----

void FireReady(TimerCore* t, uint64_t, int64_t) { Ready(t->g); }

Clock::time_point ToTimePoint(int64_t ns) {
  // NanoTime and steady_clock are both CLOCK_MONOTONIC on Linux.
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

void FireSend(TimerCore* t, uint64_t seq, int64_t now) {
  std::lock_guard<std::mutex> lock(t->mu);
  if (t->seq.load(std::memory_order_relaxed) != seq || !t->pending) return;  // stopped since
  if (t->period.load(std::memory_order_relaxed) == 0) t->pending = false;
  // A buffer of one, never blocking: a Ticker's slow reader misses ticks (as in Go).
  Clock::time_point tp = ToTimePoint(now);
  (void)t->ch->try_send(tp);
}

void FireFunc(TimerCore* t, uint64_t seq, int64_t) {
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->seq.load(std::memory_order_relaxed) != seq || !t->pending) return;
    t->pending = false;
  }
  // The G holds a reference until f has run, or until the runtime stops first and
  // destroys the G's callable.
  t->Ref();
  std::shared_ptr<TimerCore> hold(t, [](TimerCore* c) { c->Unref(); });
  SpawnOn(GetM()->rt, [hold = std::move(hold)] { hold->func(); });
}

}  // namespace

void AddTimer(Runtime* rt, TimerCore* t, int64_t when) {
  TimerHeap* heap = HeapFor(rt);
  {
    std::lock_guard<std::mutex> lock(heap->mu);
    t->when = when;
    t->Ref();  // the heap's reference
    heap->h.push_back(t);
    t->idx = static_cast<int>(heap->h.size()) - 1;
    SiftUp(heap->h, t->idx);
    t->heap.store(heap, std::memory_order_relaxed);
    UpdateWhen0(heap);
  }
  WakeForTimer(rt, when);
}

bool DelTimer(TimerCore* t) {
  TimerHeap* heap = t->heap.load(std::memory_order_relaxed);
  if (heap == nullptr) return false;
  {
    std::lock_guard<std::mutex> lock(heap->mu);
    if (t->heap.load(std::memory_order_relaxed) != heap) return false;  // popped meanwhile
    RemoveAt(heap, t->idx);
    t->heap.store(nullptr, std::memory_order_relaxed);
    t->idx = -1;
    UpdateWhen0(heap);
  }
  t->Unref();  // the heap's reference
  return true;
}

int RunTimers(TimerHeap* heap, int64_t now) {
  int fired = 0;
  for (;;) {
    TimerCore* t;
    uint64_t seq;
    {
      std::lock_guard<std::mutex> lock(heap->mu);
      if (heap->h.empty() || heap->h[0]->when > now) break;
      t = heap->h[0];
      seq = t->seq.load(std::memory_order_relaxed);
      if (int64_t period = t->period.load(std::memory_order_relaxed); period > 0) {
        // Re-arm in place: next tick after now, skipping missed ones (Go's rule).
        t->when += period * (1 + (now - t->when) / period);
        SiftDown(heap->h, 0);
        t->Ref();  // ours for the firing; the heap keeps its own
      } else {
        RemoveAt(heap, 0);
        t->heap.store(nullptr, std::memory_order_relaxed);
        t->idx = -1;
      }
      UpdateWhen0(heap);
    }
    // The readied G (a sleep's) before the firing, after which its timer may be gone.
    TraceTimer(heap->rt, t->fire == &FireReady ? t->g : nullptr);
    if (t->owned) {
      t->fire(t, seq, now);
      t->Unref();
    } else {
      // A sleep's timer lives on the sleeping G's stack: readying the G is the last touch,
      // since the G may run (and return from its sleep) on another M at once.
      t->fire(t, seq, now);
    }
    fired++;
  }
  return fired;
}

int64_t EarliestTimer(Runtime* rt) {
  int64_t min = 0;
  for (const auto& pp : rt->allp) {
    int64_t w = pp->timers.when0.load(std::memory_order_seq_cst);
    if (w != 0 && (min == 0 || w < min)) min = w;
  }
  return min;
}

void ClearTimers(TimerHeap* heap) {
  std::vector<TimerCore*> h;
  {
    std::lock_guard<std::mutex> lock(heap->mu);
    h.swap(heap->h);
    heap->when0.store(0, std::memory_order_relaxed);
  }
  for (TimerCore* t : h) {
    t->heap.store(nullptr, std::memory_order_relaxed);
    t->Unref();
  }
}

void SleepNs(int64_t ns) {
  CheckPState();
  if (ns <= 0) return;
  M* m = GetM();
  if (m == nullptr || m->curg == nullptr) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
    return;
  }
  TimerCore t(false);
  t.g = m->curg;
  t.fire = &FireReady;
  t.when = NanoTime() + ns;
  struct Arm {
    Runtime* rt;
    TimerCore* t;
  } arm{m->rt, &t};
  // The timer is added on g0, after this G is parked, so its firing cannot race the park.
  Park(
      [](G*, void* a) {
        auto* arm = static_cast<Arm*>(a);
        AddTimer(arm->rt, arm->t, arm->t->when);
        return true;
      },
      &arm, WaitReason::kSleep);
}

namespace {

std::shared_ptr<TimerCore> NewCore(void (*fire)(TimerCore*, uint64_t, int64_t),
                                   const Chan<Clock::time_point>* ch) {
  auto* t = new TimerCore(true);
  t->fire = fire;
  if (ch != nullptr) t->ch = *ch;
  return std::shared_ptr<TimerCore>(t, [](TimerCore* c) { c->Unref(); });
}

int64_t ToNs(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Arms t to fire after d from now. With t->mu held.
void Arm(TimerCore* t, Clock::duration d, int64_t period) {
  bool outside = false;
  Runtime* rt = AcquireRuntime(&outside);
  t->pending = true;
  t->period.store(period, std::memory_order_relaxed);
  AddTimer(rt, t, NanoTime() + std::max<int64_t>(0, ToNs(d)));
  if (outside) Unref(rt);
}

// Disarms t and drains its channel. With t->mu held. Returns whether it was pending.
bool Disarm(TimerCore* t) {
  DelTimer(t);
  // After taking it out of the heap: a firing already popped sees the new seq and drops.
  t->seq.fetch_add(1, std::memory_order_relaxed);
  bool was = t->pending;
  t->pending = false;
  if (t->ch) (void)t->ch->try_recv();
  return was;
}

}  // namespace

}  // namespace mn::detail

namespace mn {

using detail::TimerCore;

Timer::Timer(Clock::duration d) : t_(detail::NewCore(&detail::FireSend, nullptr)) {
  t_->ch = c_;  // c_ is constructed after t_
  std::lock_guard<std::mutex> lock(t_->mu);
  detail::Arm(t_.get(), d, 0);
}

Timer::Timer(Clock::duration d, absl::AnyInvocable<void()> f)
    : t_(detail::NewCore(&detail::FireFunc, nullptr)) {
  t_->func = std::move(f);
  std::lock_guard<std::mutex> lock(t_->mu);
  detail::Arm(t_.get(), d, 0);
}

Timer::~Timer() {
  if (t_) stop();
}
Timer::Timer(Timer&&) noexcept = default;
Timer& Timer::operator=(Timer&& o) noexcept {
  if (this != &o) {
    if (t_) stop();
    t_ = std::move(o.t_);
    c_ = std::move(o.c_);
  }
  return *this;
}

bool Timer::stop() {
  std::lock_guard<std::mutex> lock(t_->mu);
  return detail::Disarm(t_.get());
}

bool Timer::reset(Clock::duration d) {
  std::lock_guard<std::mutex> lock(t_->mu);
  bool was = detail::Disarm(t_.get());
  detail::Arm(t_.get(), d, 0);
  return was;
}

Ticker::Ticker(Clock::duration period) : t_(detail::NewCore(&detail::FireSend, nullptr)) {
  t_->ch = c_;  // c_ is constructed after t_
  if (period <= Clock::duration::zero()) {
    throw std::logic_error("mn::Ticker: non-positive period");
  }
  std::lock_guard<std::mutex> lock(t_->mu);
  detail::Arm(t_.get(), period, detail::ToNs(period));
}

Ticker::~Ticker() {
  if (t_) stop();
}
Ticker::Ticker(Ticker&&) noexcept = default;
Ticker& Ticker::operator=(Ticker&& o) noexcept {
  if (this != &o) {
    if (t_) stop();
    t_ = std::move(o.t_);
    c_ = std::move(o.c_);
  }
  return *this;
}

void Ticker::stop() {
  std::lock_guard<std::mutex> lock(t_->mu);
  detail::Disarm(t_.get());
}

void Ticker::reset(Clock::duration period) {
  if (period <= Clock::duration::zero()) {
    throw std::logic_error("mn::Ticker::reset: non-positive period");
  }
  std::lock_guard<std::mutex> lock(t_->mu);
  detail::Disarm(t_.get());
  detail::Arm(t_.get(), period, detail::ToNs(period));
}

Chan<Clock::time_point> after(Clock::duration d) {
  Chan<Clock::time_point> ch(1);
  std::shared_ptr<TimerCore> t = detail::NewCore(&detail::FireSend, &ch);
  std::lock_guard<std::mutex> lock(t->mu);
  detail::Arm(t.get(), d, 0);
  return ch;  // the heap's reference keeps the timer alive until it fires
}

}  // namespace mn
