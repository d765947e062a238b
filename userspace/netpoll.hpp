// The netpoller: Gs waiting for fds, woken through one epoll instance per runtime (Go's
// runtime/netpoll.go and netpoll_epoll.go). The algorithms and their invariants are in
// netpoll_epoll.cpp; the scheduler's side (who polls, when) is in proc.cpp and sysmon.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runq.hpp"
#include "timers.hpp"

namespace mn::detail {

struct G;
struct Runtime;

struct Netpoll;

// One registration of an fd with the runtime's epoll instance, for the fd's whole life.
// PollDescs are pooled in their Netpoll and never freed while it lives: an event fetched
// by one M for an fd that another M has just closed may still name this one; `fdseq`
// tells it is stale.
struct PollDesc {
  // rg / wg: kNil, kReady (readiness not yet consumed), kWait (a G is about to park), or
  // the parked G itself (Go's pdNil, pdReady, pdWait).
  static constexpr uintptr_t kNil = 0, kReady = 1, kWait = 2;
  std::atomic<uintptr_t> rg{kNil};
  std::atomic<uintptr_t> wg{kNil};
  std::atomic<bool> closing{false};
  // Deadlines that outlive one operation (Conn::set_read_deadline): CLOCK_MONOTONIC ns,
  // 0 for none.
  std::atomic<int64_t> rd{0};
  std::atomic<int64_t> wd{0};
  // Bumped when the descriptor is freed; the low 16 bits tag its epoll events.
  std::atomic<uint32_t> fdseq{0};
  int fd = -1;
  Netpoll* np = nullptr;  // kept alive by the NetFd that owns this registration
  // What fires an operation's deadline while its G is parked (TimerCore::arg = this).
  TimerCore rtimer{false};
  TimerCore wtimer{false};
  PollDesc* link = nullptr;  // free list; guarded by Netpoll::mu
};

// One per runtime, shared (shared_ptr) by the runtime and the sockets registered with it,
// so that a socket that outlives run() (a Conn moved out of it, or destroyed after) touches
// only memory that is still there. When the runtime dies (NetpollClose) `rt` becomes null
// under `mu`, the epoll fds are closed and every PollDesc still in use is marked closing
// with empty wait slots (the Gs that were parked on it died with the runtime).
struct Netpoll {
  std::atomic<Runtime*> rt{nullptr};  // written under mu
  int epfd = -1;
  int evfd = -1;  // eventfd that breaks a blocking epoll_wait
  // 1 while a break is pending: many breakers, one write (Go's netpollWakeSig).
  std::atomic<uint32_t> wake_sig{0};
  bool has_pwait2 = true;  // epoll_pwait2 (ns timeouts); else epoll_wait (ms)
  // Gs parked on a PollDesc (Go's netpollWaiters): while > 0 an idle M polls.
  std::atomic<int32_t> waiters{0};
  std::mutex mu;
  PollDesc* free = nullptr;                        // guarded by mu
  std::vector<std::unique_ptr<PollDesc[]>> blocks;  // guarded by mu
};

// Runtime construction and teardown.
void NetpollInit(Runtime* rt);
void NetpollClose(Runtime* rt);

// Waits for events: delay < 0 blocks, 0 does not, > 0 waits up to delay ns. Gs whose fd
// became ready are appended to *ready, still kWaiting (InjectGList makes them runnable).
void NetpollPoll(Runtime* rt, int64_t delay, GQueue* ready);
// Breaks a blocking NetpollPoll (Go's netpollBreak).
void NetpollBreak(Runtime* rt);

// Registers fd (edge-triggered, read and write, for its life) with rt's epoll set. errno on
// failure. The caller keeps rt->netpoll alive as long as it holds the PollDesc.
PollDesc* PollOpen(Runtime* rt, int fd, int* err);
// Marks pd closing and wakes its waiters; later waits fail at once.
void PollEvict(PollDesc* pd);
// Removes the fd from the epoll set (while the fd number is still the same file).
void PollUnregister(PollDesc* pd);
// Recycles pd once no G can touch it any more (NetFd's last reference).
void PollRelease(PollDesc* pd);

enum class PollResult { kReady, kTimeout, kClosed, kBusy };
// Parks the calling G (which must belong to pd->np->rt) until the fd is ready for `write` or
// not, the earlier of `deadline_ns` (0: none) and pd's own deadline passes, or pd closes.
// kReady may be spurious (edge-triggered: retry the call, then wait again).
PollResult PollWait(PollDesc* pd, bool write, int64_t deadline_ns);
// Sets pd's lasting deadline and wakes a G already waiting, which re-reads it.
void PollSetDeadline(PollDesc* pd, bool write, int64_t deadline_ns);

}  // namespace mn::detail
