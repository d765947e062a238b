// Block / Wake: one way to wait for every primitive that may be used both by Gs and by
// plain threads outside the runtime. A G parks (its M runs other Gs); a plain thread
// blocks on a futex.
//
// Invariants: the waiter's WaitSlot lives on the waiter's own stack and is reachable by a
// waker only through the structure the waiter registered it in, under that structure's
// lock; unlockf releases that lock only after the waiter can no longer miss its wakeup
// (for a G: after its context is saved, proc.cpp; for a thread: before it sleeps on a
// futex word that Wake sets first). A slot is woken at most once per Block.
#pragma once

#include <atomic>
#include <cstdint>

#include "g.hpp"
#include "mn/detail/sema.hpp"

namespace mn::detail {

struct WaitSlot {
  G* g = nullptr;                  // the waiting G, or nullptr for a plain thread
  std::atomic<uint32_t> woken{0};  // futex word for a plain thread
};

// Fills in slot->g for the caller (a G or not). Call before publishing the slot.
void PrepareWait(WaitSlot* slot);
// Blocks the caller until Wake(slot). unlockf(g, arg) releases whatever protects the
// slot's registration; it runs after the caller can no longer miss the wakeup.
void Block(WaitSlot* slot, bool (*unlockf)(G*, void*), void* arg, WaitReason reason);
// Wakes the slot's owner. After this returns the slot may already be gone.
void Wake(WaitSlot* slot);
// An unlockf for Block that releases the SpinLock at arg (the usual case: a wait queue
// guarded by a spin lock).
bool UnlockSpinLock(G*, void* spinlock);

}  // namespace mn::detail
