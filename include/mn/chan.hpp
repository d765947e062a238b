// mn::Chan<T>: Go's channels. A Chan is a cheap handle: copies share one channel, which
// lives while any copy does, and every operation works on a const handle (so a channel
// captured by value in a plain lambda is usable as is). Capacity 0 (the default) is an
// unbuffered channel: a send completes only when a receiver takes the value.
//
// Waiters queue in FIFO order; a sender that finds a waiting receiver moves the value
// straight into it (and the reverse), with no trip through the buffer. T need only be
// move-constructible. Gs park; plain threads outside the runtime block.
//
// Errors (docs/errors.md): send on a closed channel and a second close throw
// mn::ChannelClosed, as Go panics.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>

#include "mn/detail/chan_core.hpp"

namespace mn {

template <class T>
class Chan {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "mn::Chan<T> needs a noexcept move constructor: values move between stacks "
                "under the channel's lock, where a throw could not be undone");

 public:
  explicit Chan(std::size_t capacity = 0)
      : core_(std::make_shared<detail::ChanCore>(&detail::kElemOps<T>, alignof(T), capacity)) {}

  void send(T v) const { core_->Send(&v); }

  // The next value, or std::nullopt once the channel is closed and drained.
  std::optional<T> recv() const {
    detail::Slot<T> slot;
    if (!core_->Recv(slot.bytes)) return std::nullopt;
    return TakeSlot(slot);
  }

  // Sends without blocking; on success v is moved from. Throws ChannelClosed if closed.
  bool try_send(T& v) const { return core_->TrySend(&v); }
  bool try_send(T&& v) const { return core_->TrySend(&v); }

  // A value if one is ready now; std::nullopt if none is, or the channel is closed and
  // drained (select with on_recv and on_default tells the two apart).
  std::optional<T> try_recv() const {
    detail::Slot<T> slot;
    if (core_->TryRecv(slot.bytes) != detail::ChanCore::TryRecvResult::kValue) {
      return std::nullopt;
    }
    return TakeSlot(slot);
  }

  void close() const { core_->Close(); }

  std::size_t size() const { return core_->Len(); }
  std::size_t capacity() const { return core_->Cap(); }

  // Range-for receives until the channel is closed and drained.
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(const Chan* ch) : ch_(ch) { ++*this; }
    T& operator*() { return *cur_; }
    iterator& operator++() {
      cur_ = ch_->recv();
      if (!cur_) ch_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& o) const { return ch_ == o.ch_; }

   private:
    const Chan* ch_ = nullptr;
    std::optional<T> cur_;
  };
  iterator begin() const { return iterator(this); }
  iterator end() const { return iterator(); }

  // For select: the type-erased channel.
  detail::ChanCore* core() const { return core_.get(); }

  friend bool operator==(const Chan& a, const Chan& b) { return a.core_ == b.core_; }

 private:
  static std::optional<T> TakeSlot(detail::Slot<T>& slot) {
    std::optional<T> out(std::move(*slot.ptr()));
    std::destroy_at(slot.ptr());
    return out;
  }
  std::shared_ptr<detail::ChanCore> core_;
};

}  // namespace mn
