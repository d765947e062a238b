// Sudog: a G (or plain thread) waiting in a channel's queue (Go's sudog). It lives on the
// waiter's stack. A select puts one Sudog per case in several queues; they share the
// select's WaitSlot and `select_done` word, and a waker must win the CAS on that word
// before it may complete the operation, so exactly one case of a select ever happens.
#pragma once

#include <atomic>
#include <cstdint>

#include "park.hpp"

namespace mn::detail {

class ChanCore;

struct Sudog {
  WaitSlot* slot = nullptr;                      // whom to wake
  void* elem = nullptr;                          // send: value to move from; recv: storage
  std::atomic<uint32_t>* select_done = nullptr;  // non-null for a select's sudogs
  Sudog** select_winner = nullptr;               // where the winning sudog is recorded
  ChanCore* c = nullptr;
  Sudog* next = nullptr;  // queue links; guarded by c's lock
  Sudog* prev = nullptr;
  int case_index = -1;
  bool success = false;   // a value moved (false: woken by close)
};

}  // namespace mn::detail
