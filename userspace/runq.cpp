#include "runq.hpp"

#include <time.h>

#include <cstdio>
#include <cstdlib>

namespace mn::detail {

namespace {
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "mn: fatal: %s\n", what);
  std::abort();
}
void Usleep3() {
  timespec ts{0, 3000};
  nanosleep(&ts, nullptr);
}
}  // namespace

bool RunQueue::Put(G* g, GQueue* spill) {
  for (;;) {
    // acquire pairs with the release CAS of consumers: the slots they vacated are free.
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);  // only we write it
    if (t - h < kSize) {
      ring_[t % kSize].store(g, std::memory_order_relaxed);
      // seq_cst, not just release: the caller reads nmspinning next (wakep), and a
      // spinner that stops spinning re-reads tail_ after its own seq_cst decrement; one of
      // the two must see the other (proc.cpp, "Spinning").
      tail_.store(t + 1, std::memory_order_seq_cst);
      return true;
    }
    // Full: move half of it plus g to the caller's spill batch, as Go's runqputslow.
    uint32_t n = (t - h) / 2;
    if (n != kSize / 2) Fatal("runqput: queue is not full");
    G* batch[kSize / 2 + 1];
    for (uint32_t i = 0; i < n; i++) batch[i] = ring_[(h + i) % kSize].load(std::memory_order_relaxed);
    // release: our reads of the slots happen before the owner may refill them.
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      continue;  // a thief took some: the ring has room now
    }
    batch[n] = g;
    for (uint32_t i = 0; i <= n; i++) spill->PushBack(batch[i]);
    return false;
  }
}

G* RunQueue::Get(bool* inherit) {
  G* next = runnext_.load(std::memory_order_relaxed);
  // A thief only ever CASes runnext to nullptr, so if it is non-null it is ours to take
  // unless a thief wins this CAS.
  if (next != nullptr &&
      runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acquire)) {
    *inherit = true;
    return next;
  }
  *inherit = false;
  for (;;) {
    // acquire pairs with other consumers' release CAS.
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    G* g = ring_[h % kSize].load(std::memory_order_relaxed);
    // release: commits the consume (our read of the slot happens before reuse).
    if (head_.compare_exchange_strong(h, h + 1, std::memory_order_release,
                                      std::memory_order_relaxed)) {
      return g;
    }
  }
}

uint32_t RunQueue::Grab(std::atomic<G*>* batch, uint32_t batch_head, bool steal_next,
                        bool victim_running) {
  for (;;) {
    // acquire on both: synchronize with other consumers (head) and the producer (tail),
    // so the slots between them are initialized.
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_next) {
        G* next = runnext_.load(std::memory_order_acquire);
        if (next != nullptr) {
          if (victim_running) {
            // The owner is running and most likely about to run its runnext G (it was
            // just readied). Taking it now would bounce it between CPUs for nothing.
            Usleep3();
          }
          if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
            continue;
          }
          batch[batch_head % kSize].store(next, std::memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > kSize / 2) continue;  // read an inconsistent head/tail pair
    for (uint32_t i = 0; i < n; i++) {
      G* g = ring_[(h + i) % kSize].load(std::memory_order_relaxed);
      batch[(batch_head + i) % kSize].store(g, std::memory_order_relaxed);
    }
    // release: commits the consume.
    if (head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                      std::memory_order_relaxed)) {
      return n;
    }
  }
}

G* RunQueue::StealFrom(RunQueue& victim, bool steal_next, bool victim_running) {
  uint32_t t = tail_.load(std::memory_order_relaxed);
  uint32_t n = victim.Grab(ring_, t, steal_next, victim_running);
  if (n == 0) return nullptr;
  n--;
  G* g = ring_[(t + n) % kSize].load(std::memory_order_relaxed);
  if (n == 0) return g;
  uint32_t h = head_.load(std::memory_order_acquire);
  if (t - h + n >= kSize) Fatal("runqsteal: runq overflow");
  // seq_cst for the same reason as in Put: this publishes work before a wakep().
  tail_.store(t + n, std::memory_order_seq_cst);
  return g;
}

bool RunQueue::Empty() const {
  // Defend against a race where runnext is kicked to the tail between our reads: if tail
  // is unchanged across the runnext read, the three values were consistent (Go's
  // runqempty).
  for (;;) {
    uint32_t h = head_.load(std::memory_order_seq_cst);
    uint32_t t = tail_.load(std::memory_order_seq_cst);
    G* next = runnext_.load(std::memory_order_seq_cst);
    if (tail_.load(std::memory_order_seq_cst) == t) return h == t && next == nullptr;
  }
}

uint32_t RunQueue::Size() const {
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    if (head_.load(std::memory_order_acquire) == h) {
      uint32_t n = t - h;
      if (runnext_.load(std::memory_order_relaxed) != nullptr) n++;
      return n > kSize + 1 ? 0 : n;
    }
  }
}

void RunQueue::DrainTo(GQueue* q) {
  bool inherit;
  while (G* g = Get(&inherit)) q->PushBack(g);
}

}  // namespace mn::detail
