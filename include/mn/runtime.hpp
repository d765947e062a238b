// mn::run, mn::go, mn::yield: starting a runtime and Gs in it.
//
// Errors (docs/errors.md): misuse that Go would panic on throws std::logic_error
// (run inside a G or beside another run, go with no runtime); bad configuration prints
// a message naming the setting and exits with code 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <source_location>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "mn/options.hpp"

namespace mn {

namespace detail {
struct G;
struct SpawnSlot {
  G* g;
  void* storage;  // where the callable is constructed: on the new G's own stack when it fits
};
// Takes a G from the free pool and reserves `size` bytes for its callable. Throws
// std::logic_error when no runtime is active.
SpawnSlot SpawnBegin(std::size_t size, std::size_t align);
// Makes the G runnable; `entry(storage)` runs the callable and `destroy(storage)` destroys
// it, when the G finishes, or when the runtime stops first. `label` names it in traces:
// a SiteLabel or a NameLabel.
void SpawnCommit(G* g, void (*entry)(void*), void (*destroy)(void*), uint64_t label) noexcept;
// Returns the G to the pool when constructing the callable threw.
void SpawnAbort(G* g) noexcept;
int RunMain(absl::AnyInvocable<int()> main, const Options& opts);

// A G's label for traces (docs/tracing.md) in one word: the spawn site, whose
// std::source_location is a pointer to static data (even), or a name from NameLabel
// (odd: the interned string's address + 1).
static_assert(sizeof(std::source_location) == sizeof(uint64_t) &&
              std::is_trivially_copyable_v<std::source_location>);
inline uint64_t SiteLabel(const std::source_location& loc) noexcept {
  uint64_t w;
  __builtin_memcpy(&w, &loc, sizeof w);
  return w;
}
// Interns `name` for the runtime's life (one lock and a hash lookup per call).
uint64_t NameLabel(std::string_view name);

template <class Fn>
void DestroyOnly(void* p) {
  std::destroy_at(static_cast<Fn*>(p));
}

template <class Fn>
void Invoke(void* p) {
  (*static_cast<Fn*>(p))();
}
}  // namespace detail

// Runs `main` as the first G of a new runtime and returns when it returns: its int result,
// or 0 if it returns void. An exception escaping `main` is rethrown from run().
// When main returns the runtime stops: Gs that have not finished never run again. Their
// callables are destroyed, but their stacks are unmapped without unwinding (destructors of
// objects on them do not run), and a later run() in the same process starts afresh. See
// docs/design.md, "Exit".
template <class F>
int run(F&& main, Options opts = {}) {
  return detail::RunMain(
      [&main]() -> int {
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
          main();
          return 0;
        } else {
          return static_cast<int>(main());
        }
      },
      opts);
}

// Starts a G running `f` (any move-only callable taking no arguments). From a G it goes to
// this P's runnext slot; from a thread outside the runtime it goes to the global queue
// and wakes an M. An exception escaping `f` ends the process with a message naming the G,
// as an unrecovered panic does in Go.
namespace detail {
template <class F>
void Spawn(F&& f, uint64_t label) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "mn::go needs a callable taking no arguments");
  SpawnSlot slot = SpawnBegin(sizeof(Fn), alignof(Fn));
  try {
    ::new (slot.storage) Fn(std::forward<F>(f));
  } catch (...) {
    SpawnAbort(slot.g);
    throw;
  }
  SpawnCommit(slot.g, &Invoke<Fn>, &DestroyOnly<Fn>, label);
}
}  // namespace detail

// (`site` is filled in by the compiler: traces name the G after the line that spawned it.)
template <class F>
void go(F&& f, std::source_location site = std::source_location::current()) {
  detail::Spawn(std::forward<F>(f), detail::SiteLabel(site));
}

// As go(f), but traces name the G `name` rather than its spawn site. Costs a lock and a
// hash lookup more than go(): for Gs worth telling apart, not for every G of a million.
template <class F>
void go_named(std::string_view name, F&& f) {
  detail::Spawn(std::forward<F>(f), detail::NameLabel(name));
}

// Gosched: lets other Gs run. The caller goes to the global queue, so that two Gs yielding
// to each other cannot starve the rest of a P's queue (Go issue 13546). Outside the
// runtime it yields the OS thread.
void yield();

// True when the caller is a G of an active runtime.
bool in_runtime() noexcept;

// The number of Ps of the active runtime (Go's GOMAXPROCS(0)); 0 when none is active.
int procs() noexcept;

// A scheduling point for long loops that make no other runtime call: if sysmon asked this
// G to yield (it has run for 10 ms), it yields here. Costs one load otherwise. Every call
// into the runtime (go, channel operations, select, sleeps, blocking calls, contended
// locks) checks the same flag. Without it a hog is still not allowed to hold up its P:
// sysmon takes the P away and the hog runs on alone (docs/design.md, "Preemption").
void preempt_point();

// Wires the calling G to its thread (Go's LockOSThread): until the matching
// unlock_os_thread, the G runs only on this thread and the thread runs no other G. Calls
// nest. A G that exits while locked takes its thread with it: the thread ends. Outside
// a G they do nothing.
void lock_os_thread();
void unlock_os_thread();

}  // namespace mn
