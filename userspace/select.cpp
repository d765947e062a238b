// Select: Go's selectgo (runtime/select.go) over type-erased channels.
//
//  1. Poll the cases in a random order (so a ready case is chosen uniformly), holding
//     every involved channel's lock, taken in address order so that two selects over
//     the same channels cannot deadlock.
//  2. If none is ready and the select may block, queue one sudog per case, all sharing
//     one WaitSlot and one `done` word, and block; the locks are released only after the
//     waiter can no longer miss a wakeup (park.hpp).
//  3. Whoever completes one of our cases first wins the CAS on `done` (chan.cpp, Dequeue)
//     and records its sudog as the winner; everyone else skips our sudogs. Once woken we
//     take the locks again and unlink the losing sudogs.
#include <algorithm>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "mn/detail/chan_core.hpp"
#include "sched.hpp"
#include "sudog.hpp"

namespace mn::detail {

struct SelectImpl {
  struct Locks {
    ChanCore** chans;
    int n;
  };

  static void LockAll(const Locks& l) {
    for (int i = 0; i < l.n; i++) l.chans[i]->lock_.lock();
  }
  static void UnlockAll(const Locks& l) {
    for (int i = l.n - 1; i >= 0; i--) l.chans[i]->lock_.unlock();
  }
  static bool UnlockAllCb(G*, void* arg) {
    UnlockAll(*static_cast<Locks*>(arg));
    return true;
  }

  static int Run(SelectCase* cases, int n, bool block, bool* recv_ok) {
    *recv_ok = false;
    // Cases on a null channel never fire (Go's nil channel).
    absl::InlinedVector<int, 8> order;
    for (int i = 0; i < n; i++) {
      if (cases[i].c != nullptr) order.push_back(i);
    }
    if (order.empty()) {
      if (!block) return -1;
      BlockForever();
    }
    // Poll order: a uniform random permutation (Fisher-Yates).
    for (int i = static_cast<int>(order.size()) - 1; i > 0; i--) {
      std::swap(order[i], order[CheapRandN(static_cast<uint32_t>(i + 1))]);
    }
    // Lock order: by address, each channel once.
    absl::InlinedVector<ChanCore*, 8> chans;
    for (int i : order) chans.push_back(cases[i].c);
    std::sort(chans.begin(), chans.end());
    chans.erase(std::unique(chans.begin(), chans.end()), chans.end());
    Locks locks{chans.data(), static_cast<int>(chans.size())};

    LockAll(locks);
    // Pass 1: is any case ready now?
    for (int i : order) {
      ChanCore* c = cases[i].c;
      if (cases[i].send) {
        if (c->closed_) {
          UnlockAll(locks);
          throw ChannelClosed("mn::select: send on closed channel");
        }
        if (Sudog* r = c->recvq_.Dequeue()) {
          WaitSlot* w = c->GiveTo(r, cases[i].elem);
          UnlockAll(locks);
          Wake(w);
          return i;
        }
        if (c->qcount_ < c->cap_) {
          c->BufPut(cases[i].elem);
          UnlockAll(locks);
          return i;
        }
      } else {
        if (Sudog* s = c->sendq_.Dequeue()) {
          WaitSlot* w = c->TakeFrom(s, cases[i].elem);
          UnlockAll(locks);
          Wake(w);
          *recv_ok = true;
          return i;
        }
        if (c->qcount_ > 0) {
          c->BufTake(cases[i].elem);
          UnlockAll(locks);
          *recv_ok = true;
          return i;
        }
        if (c->closed_) {
          UnlockAll(locks);
          return i;
        }
      }
    }
    if (!block) {
      UnlockAll(locks);
      return -1;
    }

    // Pass 2: wait on every case.
    WaitSlot ws;
    PrepareWait(&ws);
    std::atomic<uint32_t> done{0};
    Sudog* winner = nullptr;
    absl::InlinedVector<Sudog, 8> sgs(order.size());
    for (std::size_t k = 0; k < order.size(); k++) {
      int i = order[k];
      Sudog& s = sgs[k];
      s.slot = &ws;
      s.elem = cases[i].elem;
      s.select_done = &done;
      s.select_winner = &winner;
      s.c = cases[i].c;
      s.case_index = i;
      (cases[i].send ? s.c->sendq_ : s.c->recvq_).Enqueue(&s);
    }
    Block(&ws, &UnlockAllCb, &locks, WaitReason::kSelect);

    // Pass 3: unlink the sudogs that did not win. winner was written under the winning
    // channel's lock before the wakeup, which orders it before us.
    LockAll(locks);
    for (std::size_t k = 0; k < sgs.size(); k++) {
      Sudog& s = sgs[k];
      if (&s == winner) continue;
      (cases[s.case_index].send ? s.c->sendq_ : s.c->recvq_).Remove(&s);
    }
    UnlockAll(locks);
    if (winner == nullptr) {
      std::fprintf(stderr, "mn: fatal: select woken without a winning case\n");
      std::abort();
    }
    int i = winner->case_index;
    if (cases[i].send) {
      if (!winner->success) throw ChannelClosed("mn::select: send on closed channel");
    } else {
      *recv_ok = winner->success;
    }
    return i;
  }

  [[noreturn]] static void BlockForever() {
    WaitSlot ws;
    PrepareWait(&ws);
    Block(&ws, [](G*, void*) { return true; }, nullptr, WaitReason::kSelectNoCases);
    std::fprintf(stderr, "mn: fatal: select with no cases resumed\n");
    std::abort();
  }
};

int Select(SelectCase* cases, int n, bool block, bool* recv_ok) {
  CheckPState();
  return SelectImpl::Run(cases, n, block, recv_ok);
}

}  // namespace mn::detail
