// G: a goroutine -- a stackful coroutine with its own stack, saved context and status.
//
// Invariants (the status protocol, as Go's casgstatus):
//  - kRunnable: in exactly one run queue (a P's ring or runnext, or the global queue) or
//    being handed to execute(); nobody else touches it.
//  - kRunning: owned by the M in g->m; only that M switches away from it.
//  - kWaiting: parked. Its context was saved before its unlock callback released the lock
//    of whatever it waits on, so whoever finds it there may ready() it at once.
//    ready() moves it back to kRunnable with a CAS, so a double ready is caught.
//  - kDead: on a free list with its stack, ready for reuse.
// A G gets its stack when it first runs, not when it is made (AttachStack, proc.cpp), and
// gives it back when it exits: a runnable G that has not started costs only this object,
// and stacks are reused from a LIFO cache while still warm in cache and TLB. Small
// callables live inline in the G (fn_buf); larger ones on the heap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "context.hpp"
#include "stack.hpp"

namespace mn::detail {

struct M;
struct Runtime;

enum class GStatus : uint32_t { kIdle, kRunnable, kRunning, kWaiting, kDead };

// Why a G waits; printed by schedtrace dumps and (later) the deadlock detector.
enum class WaitReason : uint8_t {
  kNone,
  kMutex,
  kWaitGroup,
  kSemaphore,
  kChanSend,
  kChanRecv,
  kSelect,
  kSelectNoCases,
  kSleep,
  kCond,
  kRWMutexR,
  kRWMutexW,
  kIORead,   // the netpoller: waiting for an fd to become readable
  kIOWrite,  // ... writable
};
const char* WaitReasonString(WaitReason r);

struct alignas(64) G {
  // Callables up to this size (and 16-byte alignment) are stored inline.
  static constexpr std::size_t kInlineFnBytes = 128;

  alignas(16) unsigned char fn_buf[kInlineFnBytes];
  Context ctx;
  G* schedlink = nullptr;  // run queue / free list link; owned by whoever holds the G
  std::atomic<GStatus> status{GStatus::kIdle};
  uint64_t id = 0;
  Runtime* rt = nullptr;
  // The M running it, while kRunning. Atomics (relaxed, free on x86) only because dumps
  // read them from another thread while the G runs.
  std::atomic<M*> m{nullptr};

  void (*entry)(void*) = nullptr;    // runs and destroys the callable at fn
  void (*destroy)(void*) = nullptr;  // only destroys it (a G abandoned at exit)
  void* fn = nullptr;
  bool fn_on_heap = false;  // the callable did not fit on the stack; fn is operator new'd
  std::size_t fn_align = 0;  // ... with this alignment
  bool is_main = false;

  StackSlot stack{};  // lo == nullptr until the G first runs

  std::atomic<WaitReason> wait_reason{WaitReason::kNone};
  // When it began to wait, on sysmon's coarse clock (0: unknown); read by dumps.
  std::atomic<int64_t> wait_since_ns{0};

  // The C++ runtime's per-thread exception state (libstdc++'s __cxa_eh_globals: the
  // stack of caught exceptions and the count of uncaught ones) belongs to the G, not to
  // the thread: a G that parks inside a catch block may resume on another M, where
  // `throw;` and the end of the catch must find its exception. Execute swaps it in and out.
  void* eh_caught = nullptr;
  unsigned int eh_uncaught = 0;

  M* lockedm = nullptr;     // lock_os_thread: the only M that may run it
  uint32_t lock_count = 0;  // nesting of lock_os_thread

  uint64_t label = 0;  // what traces call it (labels.hpp), set when it is spawned
  // The clock reading of the latest traced event about this G (its spawn, ready or run
  // end; trace.hpp), written by the thread that records it before the G is published
  // to a run queue, which orders it before the read of the M that runs the G next.
  int64_t trace_raw = 0;
};

}  // namespace mn::detail
