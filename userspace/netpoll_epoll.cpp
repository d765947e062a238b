// The netpoller on epoll (Go's netpoll.go + netpoll_epoll.go).
//
// Registration. Each fd is added once, edge-triggered for reading and writing
// (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), when its PollDesc is opened, and removed when it
// is closed. Edge-triggered means an event says "this became ready", once: the PollDesc
// remembers it (kReady) until a G consumes it, and a G only waits after its own call got
// EAGAIN, so no readiness is lost between the two.
//
// The wait state. rg (wg) is the only shared state of a direction; every transition is one
// CAS on it:
//   kNil   -> kReady  an event (the poller) ............ ready, nobody waits
//   kNil   -> kWait   a G about to park (PollWait)
//   kWait  -> G       the G parked: its commit, on g0 after its context is saved
//   kWait/G -> kReady an event: a parked G is taken out and readied by the poller
//   kWait/G -> kNil   a deadline, a close or a deadline change: likewise, no readiness
//   kReady -> kNil    the G consumes readiness, without parking
// A G in kWait whose commit CAS fails (an event came first) does not park. So one G is
// readied at most once per wait, by whoever moved it out of rg. The count of parked Gs
// (Netpoll::waiters) is raised by the commit and lowered by whoever takes the G out.
//
// What a parked G re-checks. Closing and deadline changes are published by a store and
// then a read of rg (Unblock); the G, after its CAS to kWait, reads them again. Both sides
// are seq_cst, so one sees the other (the same pairing as run queues and nmspinning): a G
// never parks past a close or a deadline it could have seen. A deadline timer fires only
// at or after its time, so a G that finds the time passed after its CAS to kWait need not
// park either, and a timer that fired before the CAS (and found nobody) is not needed.
//
// Stale events. PollDescs live as long as their Netpoll, recycled through a free list. An
// event fetched by one M for an fd another M has just closed (and whose PollDesc may have
// been reused) carries the low 16 bits of fdseq in its tag; recycling bumps fdseq, so the
// event is dropped.
//
// Breaking a blocking poll. An eventfd, registered level-triggered, is written by
// NetpollBreak; a CAS on wake_sig makes many breaks one write, and the blocking poll that
// sees it reads it back and clears wake_sig. A non-blocking poll leaves it for the
// blocking one.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "netpoll.hpp"
#include "sched.hpp"

namespace mn::detail {

namespace {

constexpr int kMaxEvents = 128;  // per epoll_wait, as Go
constexpr int kTagShift = 48;    // user-space pointers fit in 47 bits on x86-64
constexpr uint64_t kPtrMask = (uint64_t{1} << kTagShift) - 1;
constexpr int kPollDescBlock = 64;

[[noreturn]] void NetpollFatal(const char* what, int err) {
  std::fprintf(stderr, "mn: fatal: netpoll: %s: %s\n", what, std::strerror(err));
  std::abort();
}

uint64_t Tag(PollDesc* pd) {
  return reinterpret_cast<uintptr_t>(pd) |
         (uint64_t{pd->fdseq.load(std::memory_order_relaxed) & 0xffff} << kTagShift);
}

std::atomic<uintptr_t>& WaitSlotOf(PollDesc* pd, bool write) { return write ? pd->wg : pd->rg; }

// Takes the waiter out of one direction (see the table at the top). ioready: an event
// (leaves kReady behind), else a deadline, close or deadline change (leaves kNil). Returns
// the parked G to ready, if any.
G* Unblock(PollDesc* pd, bool write, bool ioready) {
  std::atomic<uintptr_t>& gpp = WaitSlotOf(pd, write);
  // seq_cst: the second half of "publish closing / a deadline, then look for a waiter".
  uintptr_t old = gpp.load(std::memory_order_seq_cst);
  for (;;) {
    if (old == PollDesc::kReady) return nullptr;
    if (old == PollDesc::kNil && !ioready) return nullptr;
    uintptr_t next = ioready ? PollDesc::kReady : PollDesc::kNil;
    // acq_rel: acquire pairs with the commit's release (the G is parked); release makes
    // the readiness visible to the G that consumes it.
    if (gpp.compare_exchange_weak(old, next, std::memory_order_acq_rel)) break;
  }
  if (old == PollDesc::kNil || old == PollDesc::kWait) return nullptr;
  pd->np->waiters.fetch_sub(1, std::memory_order_seq_cst);
  return reinterpret_cast<G*>(old);
}

// The park's commit, on g0 once the G's context is saved: kWait -> G, or refuse (the G
// resumes at once) when an event, deadline or close got there first.
bool CommitWait(G* g, void* arg) {
  auto* gpp = static_cast<std::atomic<uintptr_t>*>(arg);
  uintptr_t expect = PollDesc::kWait;
  // release: pairs with Unblock's acquire, which then readies a fully parked G.
  if (!gpp->compare_exchange_strong(expect, reinterpret_cast<uintptr_t>(g),
                                    std::memory_order_acq_rel)) {
    return false;
  }
  // seq_cst: read by an M deciding whether to poll before it sleeps (FindRunnable).
  g->rt->netpoll->waiters.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void FireDeadline(TimerCore* t, uint64_t seq, int64_t) {
  auto* pd = static_cast<PollDesc*>(t->arg);
  G* g;
  {
    std::lock_guard<std::mutex> lock(t->mu);
    if (t->seq.load(std::memory_order_relaxed) != seq || !t->pending) return;  // disarmed
    t->pending = false;
    g = Unblock(pd, t == &pd->wtimer, false);
  }
  if (g != nullptr) Ready(g);
}

void ArmDeadline(PollDesc* pd, TimerCore* t, int64_t when) {
  std::lock_guard<std::mutex> lock(t->mu);
  t->pending = true;
  AddTimer(pd->np->rt.load(std::memory_order_relaxed), t, when);  // a G of that runtime arms it
}

void DisarmDeadline(TimerCore* t) {
  std::lock_guard<std::mutex> lock(t->mu);
  DelTimer(t);
  // After taking it out of its heap: a firing already popped sees the new seq and drops.
  t->seq.fetch_add(1, std::memory_order_relaxed);
  t->pending = false;
}

int64_t Earliest(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a < b ? a : b;
}

// Back to the free list. Events already fetched for it are stale from here.
void Recycle(PollDesc* pd) {
  // release: pairs with NetpollPoll's acquire of fdseq.
  pd->fdseq.store(pd->fdseq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  pd->fd = -1;
  Netpoll& np = *pd->np;
  std::lock_guard<std::mutex> lock(np.mu);
  pd->link = np.free;
  np.free = pd;
}

int EpollWait(Netpoll& np, epoll_event* ev, int64_t delay) {
  if (delay <= 0) return epoll_wait(np.epfd, ev, kMaxEvents, delay < 0 ? -1 : 0);
  if (np.has_pwait2) {
    timespec ts{static_cast<time_t>(delay / 1'000'000'000), static_cast<long>(delay % 1'000'000'000)};
    int n = epoll_pwait2(np.epfd, ev, kMaxEvents, &ts, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    np.has_pwait2 = false;  // a kernel before 5.11 (or a filter): milliseconds, rounded up
  }
  int64_t ms = (delay + 999'999) / 1'000'000;
  return epoll_wait(np.epfd, ev, kMaxEvents, static_cast<int>(ms < 1'000'000'000 ? ms : 1'000'000'000));
}

}  // namespace

void NetpollInit(Runtime* rt) {
  rt->netpoll = std::make_shared<Netpoll>();
  Netpoll& np = *rt->netpoll;
  np.rt.store(rt, std::memory_order_relaxed);
  np.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (np.epfd < 0) NetpollFatal("epoll_create1", errno);
  np.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (np.evfd < 0) NetpollFatal("eventfd", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: pending until a blocking poll reads it
  ev.data.u64 = 0;      // no PollDesc is at address 0
  if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.evfd, &ev) != 0) NetpollFatal("epoll_ctl(eventfd)", errno);
}

void NetpollClose(Runtime* rt) {
  Netpoll& np = *rt->netpoll;
  std::lock_guard<std::mutex> lock(np.mu);
  np.rt.store(nullptr, std::memory_order_release);
  // Sockets still open lose their waits: later ones fail (closing) or, from plain
  // threads, use poll(2); the Gs that were parked on them are gone with the runtime.
  for (auto& block : np.blocks) {
    for (int i = 0; i < kPollDescBlock; i++) {
      PollDesc& pd = block[i];
      if (pd.fd < 0) continue;
      pd.closing.store(true, std::memory_order_relaxed);
      pd.rg.store(PollDesc::kNil, std::memory_order_relaxed);
      pd.wg.store(PollDesc::kNil, std::memory_order_relaxed);
    }
  }
  if (np.evfd >= 0) ::close(np.evfd);
  if (np.epfd >= 0) ::close(np.epfd);
  np.evfd = np.epfd = -1;
}

void NetpollBreak(Runtime* rt) {
  Netpoll& np = *rt->netpoll;
  uint32_t zero = 0;
  if (!np.wake_sig.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) return;
  uint64_t one = 1;
  // EAGAIN: the counter is full, so a break is pending anyway.
  while (::write(np.evfd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void NetpollPoll(Runtime* rt, int64_t delay, GQueue* ready) {
  Netpoll& np = *rt->netpoll;
  epoll_event ev[kMaxEvents];
  int n;
  if (delay > 0) {
    // The kernel lets a timed wait overrun by the thread's timer slack (50 us by default);
    // the poller sleeps for the earliest timer, so it asks for the exact time, for this
    // wait only: left on, it measurably slows ping-pong at procs=2 (bench/pingpong, ~15%).
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    n = EpollWait(np, ev, delay);
    int err = errno;
    prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);  // 0: the default again
    errno = err;
  } else {
    do {
      n = EpollWait(np, ev, delay);
    } while (n < 0 && errno == EINTR);  // a timed wait returns instead: its caller re-plans
  }
  if (n < 0) {
    if (errno == EINTR) return;
    NetpollFatal("epoll_wait", errno);
  }
  for (int i = 0; i < n; i++) {
    uint64_t data = ev[i].data.u64;
    if (data == 0) {
      if (delay != 0) {
        uint64_t v;
        (void)!::read(np.evfd, &v, sizeof v);
        np.wake_sig.store(0, std::memory_order_release);
      }
      continue;
    }
    auto* pd = reinterpret_cast<PollDesc*>(data & kPtrMask);
    // acquire: pairs with Recycle's release bump; a stale event is dropped.
    if ((pd->fdseq.load(std::memory_order_acquire) & 0xffff) != (data >> kTagShift)) continue;
    uint32_t e = ev[i].events;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (G* g = Unblock(pd, false, true)) ready->PushBack(g);
    }
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      if (G* g = Unblock(pd, true, true)) ready->PushBack(g);
    }
  }
}

PollDesc* PollOpen(Runtime* rt, int fd, int* err) {
  Netpoll& np = *rt->netpoll;
  PollDesc* pd;
  {
    std::lock_guard<std::mutex> lock(np.mu);
    if (np.free == nullptr) {
      np.blocks.push_back(std::make_unique<PollDesc[]>(kPollDescBlock));
      PollDesc* block = np.blocks.back().get();
      for (int i = 0; i < kPollDescBlock; i++) {
        block[i].rtimer.fire = block[i].wtimer.fire = &FireDeadline;
        block[i].rtimer.arg = block[i].wtimer.arg = &block[i];
        block[i].np = &np;
        block[i].link = np.free;
        np.free = &block[i];
      }
    }
    pd = np.free;
    np.free = pd->link;
  }
  pd->link = nullptr;
  pd->fd = fd;
  pd->closing.store(false, std::memory_order_relaxed);
  pd->rg.store(PollDesc::kNil, std::memory_order_relaxed);
  pd->wg.store(PollDesc::kNil, std::memory_order_relaxed);
  pd->rd.store(0, std::memory_order_relaxed);
  pd->wd.store(0, std::memory_order_relaxed);
  // release: pairs with NetpollPoll's acquire of fdseq, so the M that gets this fd's first
  // event sees the resets above. (epoll_ctl orders them in fact; the release says so in
  // the language, which is what ThreadSanitizer checks.)
  pd->fdseq.store(pd->fdseq.load(std::memory_order_relaxed), std::memory_order_release);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = Tag(pd);
  if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    *err = errno;
    Recycle(pd);
    return nullptr;
  }
  return pd;
}

void PollUnregister(PollDesc* pd) {
  Netpoll& np = *pd->np;
  // Under mu: once the runtime is gone, epfd is closed and its number may be anything.
  std::lock_guard<std::mutex> lock(np.mu);
  if (np.rt.load(std::memory_order_relaxed) == nullptr) return;
  // ENOENT / EBADF: the caller closed the fd first, which removed it from the interest list.
  epoll_ctl(np.epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
}

void PollRelease(PollDesc* pd) {
  uintptr_t r = pd->rg.load(std::memory_order_acquire), w = pd->wg.load(std::memory_order_acquire);
  if (r > PollDesc::kWait || w > PollDesc::kWait) {
    NetpollFatal("releasing an fd a G still waits on", EBUSY);
  }
  Recycle(pd);
}

void PollEvict(PollDesc* pd) {
  // seq_cst: the first half of "publish closing, then look for a waiter" (see the top).
  pd->closing.store(true, std::memory_order_seq_cst);
  bool live;
  {
    // A runtime that has stopped runs nothing (its parked Gs are abandoned, not readied),
    // and one that is gone has no Gs at all.
    std::lock_guard<std::mutex> lock(pd->np->mu);
    Runtime* rt = pd->np->rt.load(std::memory_order_relaxed);
    live = rt != nullptr && !rt->stopping.load(std::memory_order_acquire);
  }
  G* r = Unblock(pd, false, false);
  G* w = Unblock(pd, true, false);
  if (live && r != nullptr) Ready(r);
  if (live && w != nullptr) Ready(w);
}

void PollSetDeadline(PollDesc* pd, bool write, int64_t deadline_ns) {
  // seq_cst: the first half of "publish a deadline, then look for a waiter".
  (write ? pd->wd : pd->rd).store(deadline_ns, std::memory_order_seq_cst);
  if (G* g = Unblock(pd, write, false)) Ready(g);  // it re-reads the deadline and parks again
}

PollResult PollWait(PollDesc* pd, bool write, int64_t deadline_ns) {
  std::atomic<uintptr_t>& gpp = WaitSlotOf(pd, write);
  std::atomic<int64_t>& lasting = write ? pd->wd : pd->rd;
  for (;;) {
    if (pd->closing.load(std::memory_order_seq_cst)) return PollResult::kClosed;
    int64_t lasting_ns = lasting.load(std::memory_order_seq_cst);
    int64_t d = Earliest(deadline_ns, lasting_ns);
    if (d != 0 && NanoTime() >= d) return PollResult::kTimeout;
    uintptr_t v = gpp.load(std::memory_order_acquire);
    if (v == PollDesc::kReady) {
      // acquire: pairs with Unblock's release; what the event stands for is visible.
      if (gpp.compare_exchange_strong(v, PollDesc::kNil, std::memory_order_acquire)) {
        return PollResult::kReady;
      }
      continue;
    }
    if (v != PollDesc::kNil) return PollResult::kBusy;  // another G waits this way
    // seq_cst: the second half of the close / deadline pairing (see the top).
    if (!gpp.compare_exchange_strong(v, PollDesc::kWait, std::memory_order_seq_cst)) continue;
    bool park = !pd->closing.load(std::memory_order_seq_cst) &&
                lasting.load(std::memory_order_seq_cst) == lasting_ns &&
                (d == 0 || NanoTime() < d);
    if (park) {
      TimerCore* t = write ? &pd->wtimer : &pd->rtimer;
      if (d != 0) ArmDeadline(pd, t, d);
      Park(&CommitWait, &gpp, write ? WaitReason::kIOWrite : WaitReason::kIORead);
      if (d != 0) DisarmDeadline(t);
    }
    uintptr_t old = gpp.exchange(PollDesc::kNil, std::memory_order_acquire);
    if (old > PollDesc::kWait) NetpollFatal("a woken G found a G in its wait slot", EINVAL);
    if (old == PollDesc::kReady) return PollResult::kReady;
    // Not parked (something changed after kWait), or woken by a deadline, close or
    // deadline change: the checks at the top say which.
  }
}

}  // namespace mn::detail
