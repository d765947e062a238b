// ChanCore: Go's channel (runtime/chan.go) for type-erased elements.
//
// Invariants (all under lock_):
//  - At most one of recvq_ and sendq_ is non-empty, apart from select sudogs already won
//    elsewhere and not yet removed: a receiver only waits when there is no value (no
//    buffered one, no waiting sender), a sender only when there is no taker.
//  - recvq_ non-empty implies qcount_ == 0; sendq_ non-empty implies qcount_ == cap_.
//  - Buffer slots [recvx_, recvx_ + qcount_) (mod cap_) hold constructed elements; the
//    rest are raw storage.
//  - A dequeued sudog is owned by whoever dequeued it: it moves the value, sets success
//    and then wakes the waiter, after which the sudog (on the waiter's stack) may vanish.
// Elements are moved while the lock is held; Chan<T> requires a noexcept move, so a
// transfer cannot fail half-way.
#include <cstdlib>
#include <new>

#include "mn/detail/chan_core.hpp"
#include "sched.hpp"
#include "sudog.hpp"

namespace mn::detail {

void ChanCore::WaitQ::Enqueue(Sudog* s) {
  s->next = nullptr;
  s->prev = last;
  if (last != nullptr) last->next = s; else first = s;
  last = s;
}

Sudog* ChanCore::WaitQ::Dequeue() {
  for (;;) {
    Sudog* s = first;
    if (s == nullptr) return nullptr;
    first = s->next;
    if (first != nullptr) first->prev = nullptr; else last = nullptr;
    s->next = s->prev = nullptr;
    // A select woken through another case is still queued here until it takes the locks
    // again to remove itself; the CAS tells us we lost that race.
    if (s->select_done != nullptr) {
      uint32_t zero = 0;
      // acq_rel: pairs with the other contenders' CAS; the winner alone proceeds.
      if (!s->select_done->compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) continue;
      *s->select_winner = s;
    }
    return s;
  }
}

void ChanCore::WaitQ::Remove(Sudog* s) {
  Sudog* x = s->prev;
  Sudog* y = s->next;
  if (x != nullptr) {
    x->next = y;
    if (y != nullptr) y->prev = x; else last = x;
  } else if (y != nullptr) {
    y->prev = nullptr;
    first = y;
  } else if (first == s) {
    first = last = nullptr;
  }
  // else: already dequeued (a lost select race), nothing to do.
  s->next = s->prev = nullptr;
}

ChanCore::ChanCore(const ElemOps* ops, std::size_t elem_align, std::size_t capacity)
    : ops_(ops), cap_(capacity), elem_align_(elem_align) {
  if (cap_ > 0) {
    buf_ = static_cast<unsigned char*>(
        ::operator new(cap_ * ops_->size, std::align_val_t{elem_align_}));
  }
}

ChanCore::~ChanCore() {
  for (std::size_t i = 0; i < qcount_; i++) ops_->destroy(BufSlot((recvx_ + i) % cap_));
  if (buf_ != nullptr) ::operator delete(buf_, std::align_val_t{elem_align_});
}

std::size_t ChanCore::Len() const {
  std::lock_guard<SpinLock> lock(lock_);
  return qcount_;
}

WaitSlot* ChanCore::GiveTo(Sudog* r, void* src) {
  ops_->move_construct(r->elem, src);
  r->success = true;
  return r->slot;
}

WaitSlot* ChanCore::TakeFrom(Sudog* s, void* dst) {
  if (cap_ == 0) {
    ops_->move_construct(dst, s->elem);
  } else {
    // The buffer is full: take its head, and the sender's value takes the tail (which is
    // the same slot), so FIFO order holds.
    void* head = BufSlot(recvx_);
    ops_->move_construct(dst, head);
    ops_->destroy(head);
    ops_->move_construct(head, s->elem);
    if (++recvx_ == cap_) recvx_ = 0;
    sendx_ = recvx_;
  }
  s->success = true;
  return s->slot;
}

void ChanCore::BufPut(void* src) {
  ops_->move_construct(BufSlot(sendx_), src);
  if (++sendx_ == cap_) sendx_ = 0;
  qcount_++;
}

void ChanCore::BufTake(void* dst) {
  void* head = BufSlot(recvx_);
  ops_->move_construct(dst, head);
  ops_->destroy(head);
  if (++recvx_ == cap_) recvx_ = 0;
  qcount_--;
}

// Queues the caller on q (lock_ held) and blocks until a partner completes the operation
// (true) or close releases it (false). lock_ is released once the caller cannot miss the
// wakeup. Inlined on purpose: as an out-of-line call it cost 12 ns per ping-pong round
// trip (89 -> 102 ns, bench/pingpong).
[[gnu::always_inline]] inline bool ChanCore::Wait(WaitQ* q, void* elem, WaitReason reason) {
  WaitSlot ws;
  PrepareWait(&ws);
  Sudog s;
  s.slot = &ws;
  s.elem = elem;
  s.c = this;
  q->Enqueue(&s);
  Block(&ws, &UnlockSpinLock, &lock_, reason);
  // success was written under lock_ before the wakeup, which orders it before us.
  return s.success;
}

// Go's chansend: with block false it returns false instead of waiting.
bool ChanCore::SendImpl(void* src, bool block) {
  CheckPState();  // a call into the runtime: a safe point for preemption
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    throw ChannelClosed("mn::Chan: send on closed channel");
  }
  if (Sudog* r = recvq_.Dequeue()) {
    WaitSlot* w = GiveTo(r, src);
    lock_.unlock();
    Wake(w);
    return true;
  }
  if (qcount_ < cap_) {
    BufPut(src);
    lock_.unlock();
    return true;
  }
  if (!block) {
    lock_.unlock();
    return false;
  }
  if (!Wait(&sendq_, src, WaitReason::kChanSend)) {
    throw ChannelClosed("mn::Chan: send on closed channel");
  }
  return true;
}

// Go's chanrecv: with block false it returns kWouldBlock instead of waiting.
ChanCore::TryRecvResult ChanCore::RecvImpl(void* dst, bool block) {
  CheckPState();
  lock_.lock();
  if (closed_ && qcount_ == 0) {
    lock_.unlock();
    return TryRecvResult::kClosed;
  }
  if (Sudog* s = sendq_.Dequeue()) {
    WaitSlot* w = TakeFrom(s, dst);
    lock_.unlock();
    Wake(w);
    return TryRecvResult::kValue;
  }
  if (qcount_ > 0) {
    BufTake(dst);
    lock_.unlock();
    return TryRecvResult::kValue;
  }
  if (!block) {
    lock_.unlock();
    return TryRecvResult::kWouldBlock;
  }
  return Wait(&recvq_, dst, WaitReason::kChanRecv) ? TryRecvResult::kValue
                                                    : TryRecvResult::kClosed;
}

void ChanCore::Send(void* src) { SendImpl(src, true); }
bool ChanCore::Recv(void* dst) { return RecvImpl(dst, true) == TryRecvResult::kValue; }
bool ChanCore::TrySend(void* src) { return SendImpl(src, false); }
ChanCore::TryRecvResult ChanCore::TryRecv(void* dst) { return RecvImpl(dst, false); }

void ChanCore::Close() {
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    throw ChannelClosed("mn::Chan: close of closed channel");
  }
  closed_ = true;
  // Every waiter is released: receivers with no value, senders to throw. Collected first
  // and woken after the unlock, as Go does, to keep the lock short.
  Sudog* wake = nullptr;
  for (WaitQ* q : {&recvq_, &sendq_}) {
    while (Sudog* s = q->Dequeue()) {
      s->success = false;
      s->next = wake;
      wake = s;
    }
  }
  lock_.unlock();
  while (wake != nullptr) {
    Sudog* next = wake->next;  // read before the waiter may vanish
    Wake(wake->slot);
    wake = next;
  }
}

}  // namespace mn::detail
