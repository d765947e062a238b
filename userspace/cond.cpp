// mn::Cond: Go's sync.Cond on a ticket-based notify list (runtime/sema.go, notifyList).
//
// Invariants:
//  - wait_ is the next ticket to hand out, notify_ the next ticket to notify; every ticket
//    t with t < notify_ (modulo 2^32) has been notified. notify_ never passes wait_, and
//    only moves forward, under lock_.
//  - A waiter takes its ticket while it still holds the user's mutex, and queues itself
//    only after unlocking it. So a notification may come before the waiter queues; it then
//    finds its ticket already below notify_ under lock_ and does not block. A notification
//    that finds the ticket's owner queued unlinks it under lock_ and wakes it after
//    unlocking. Each ticket is thus consumed exactly once, either way, and no wakeup is
//    lost.
//  - signal() notifies the single oldest unnotified ticket, so it can never wake a waiter
//    whose ticket was taken after it (that is, one that started waiting after the signal).
//  - A CondWaiter lives on the waiting party's stack and is linked in only while it is
//    blocked; a notifier reads its next pointer before waking it, because once woken it may
//    return and its frame be reused.
#include "mn/cond.hpp"

#include "park.hpp"

namespace mn {

namespace detail {
struct CondWaiter {
  WaitSlot slot;
  uint32_t ticket = 0;
  CondWaiter* next = nullptr;
};
}  // namespace detail

namespace {

// a < b in ticket order, with wraparound.
bool Less(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace

void Cond::wait() {
  // relaxed: the ticket needs no ordering of its own. A notifier that must see it is
  // ordered after it by m_ (the caller holds m_ here and unlocks it next) or by lock_.
  uint32_t t = wait_.fetch_add(1, std::memory_order_relaxed);
  m_.unlock();
  WaitTicket(t);
  m_.lock();
}

void Cond::WaitTicket(uint32_t ticket) {
  detail::CondWaiter w;
  w.ticket = ticket;
  detail::PrepareWait(&w.slot);
  lock_.lock();
  // relaxed: notify_ is only written under lock_, which we hold.
  if (Less(ticket, notify_.load(std::memory_order_relaxed))) {
    lock_.unlock();  // notified before we queued
    return;
  }
  if (tail_ != nullptr) tail_->next = &w; else head_ = &w;
  tail_ = &w;
  // lock_ is released once we can no longer miss the Wake (park.hpp).
  detail::Block(&w.slot, &detail::UnlockSpinLock, &lock_, detail::WaitReason::kCond);
}

void Cond::signal() {
  // Fast path, without lock_: no ticket taken since the last notification. relaxed: a
  // stale notify_ only sends us to the slow path; a waiter whose ticket we are obliged to
  // see is ordered before us by m_ or lock_ (see wait()).
  if (wait_.load(std::memory_order_relaxed) == notify_.load(std::memory_order_relaxed)) return;
  lock_.lock();
  uint32_t t = notify_.load(std::memory_order_relaxed);  // written only under lock_
  if (t == wait_.load(std::memory_order_relaxed)) {
    lock_.unlock();
    return;
  }
  // relaxed: readers under lock_ are ordered by it; the lock-free reader above treats
  // the value as a hint.
  notify_.store(t + 1, std::memory_order_relaxed);
  detail::CondWaiter* prev = nullptr;
  for (detail::CondWaiter* w = head_; w != nullptr; prev = w, w = w->next) {
    if (w->ticket != t) continue;
    if (prev != nullptr) prev->next = w->next; else head_ = w->next;
    if (w->next == nullptr) tail_ = prev;
    lock_.unlock();
    detail::Wake(&w->slot);
    return;
  }
  // Ticket t's owner has not queued yet; it will see t < notify_ and not block.
  lock_.unlock();
}

void Cond::broadcast() {
  // Fast path as in signal().
  if (wait_.load(std::memory_order_relaxed) == notify_.load(std::memory_order_relaxed)) return;
  lock_.lock();
  detail::CondWaiter* w = head_;
  head_ = tail_ = nullptr;
  // Every ticket handed out so far counts as notified, queued or not. relaxed as in signal().
  notify_.store(wait_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  lock_.unlock();
  while (w != nullptr) {
    detail::CondWaiter* next = w->next;  // before the wakeup: w may vanish after it
    detail::Wake(&w->slot);
    w = next;
  }
}

}  // namespace mn
