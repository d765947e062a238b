// mn::detail::ChanCore: the type-erased channel under mn::Chan<T> and mn::select.
// Go's runtime/chan.go: a lock, an optional ring buffer, and FIFO queues of waiting
// senders and receivers. The element type is known only through ElemOps, so one select
// can wait on channels of different types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

#include "mn/detail/sema.hpp"

namespace mn {

// Thrown by a send on a closed channel and by closing a closed channel (Go panics).
class ChannelClosed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

struct ElemOps {
  std::size_t size;
  // Constructs *dst from std::move(*src); src stays a valid (moved-from) object.
  void (*move_construct)(void* dst, void* src);
  void (*destroy)(void* p);
};

template <class T>
inline constexpr ElemOps kElemOps = {
    sizeof(T),
    [](void* dst, void* src) { ::new (dst) T(std::move(*static_cast<T*>(src))); },
    [](void* p) { std::destroy_at(static_cast<T*>(p)); },
};

// Uninitialized storage for one T.
template <class T>
struct Slot {
  alignas(T) unsigned char bytes[sizeof(T)];
  T* ptr() { return std::launder(reinterpret_cast<T*>(bytes)); }
};

struct Sudog;
struct WaitSlot;
enum class WaitReason : uint8_t;

class ChanCore {
 public:
  ChanCore(const ElemOps* ops, std::size_t elem_align, std::size_t capacity);
  ~ChanCore();
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // Moves *src into the channel, blocking until a receiver or buffer space takes it.
  // Throws ChannelClosed.
  void Send(void* src);
  // Constructs a received value at dst (raw storage) and returns true, or returns false
  // once the channel is closed and drained.
  bool Recv(void* dst);
  // Non-blocking forms. TrySend returns false when it would block (and leaves *src
  // alone); it throws ChannelClosed on a closed channel.
  bool TrySend(void* src);
  enum class TryRecvResult { kValue, kWouldBlock, kClosed };
  TryRecvResult TryRecv(void* dst);
  // Throws ChannelClosed on a second close.
  void Close();

  std::size_t Len() const;
  std::size_t Cap() const { return cap_; }

 private:
  friend struct SelectImpl;
  struct WaitQ {
    Sudog* first = nullptr;
    Sudog* last = nullptr;
    void Enqueue(Sudog* s);
    Sudog* Dequeue();  // skips select waiters another case already won
    void Remove(Sudog* s);
  };
  void* BufSlot(std::size_t i) const { return buf_ + i * ops_->size; }
  // All with lock_ held. GiveTo/TakeFrom complete a waiting receiver's / sender's
  // operation and return whom to wake once the lock is released.
  struct WaitSlot* GiveTo(Sudog* receiver, void* src);
  struct WaitSlot* TakeFrom(Sudog* sender, void* dst);
  void BufPut(void* src);
  void BufTake(void* dst);
  bool Wait(WaitQ* q, void* elem, WaitReason reason);
  bool SendImpl(void* src, bool block);
  TryRecvResult RecvImpl(void* dst, bool block);

  const ElemOps* ops_;
  const std::size_t cap_;
  unsigned char* buf_ = nullptr;
  std::size_t elem_align_;
  mutable SpinLock lock_;
  std::size_t qcount_ = 0;  // guarded by lock_
  std::size_t sendx_ = 0;   // guarded by lock_
  std::size_t recvx_ = 0;   // guarded by lock_
  bool closed_ = false;     // guarded by lock_
  WaitQ recvq_;             // guarded by lock_
  WaitQ sendq_;             // guarded by lock_
};

// One case of a select, type-erased.
struct SelectCase {
  ChanCore* c;   // nullptr: a case that never fires (Go's nil channel)
  bool send;
  void* elem;    // send: the value to move from; recv: raw storage for the value
};
// Waits until one case can proceed and performs it. Returns its index, or -1 when
// `block` is false and none was ready (the default case). For a receive, *recv_ok says
// whether a value was constructed at the case's elem (false: the channel was closed).
// Throws ChannelClosed for a send on a closed channel. With no cases and block, blocks
// forever.
int Select(SelectCase* cases, int n, bool block, bool* recv_ok);

}  // namespace detail
}  // namespace mn
