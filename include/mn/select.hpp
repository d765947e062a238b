// mn::select: Go's select statement.
//
//   int i = mn::select(
//       mn::on_recv(requests, [&](std::optional<Request> r) { ... }),  // nullopt: closed
//       mn::on_send(replies, reply, [&] { ... }),
//       mn::on_timeout(std::chrono::milliseconds(50), [&] { ... }),
//       mn::on_default([&] { ... }));
//
// Returns the index (in argument order) of the case that ran, after running its callback.
// Callbacks are optional (on_recv(ch) and on_send(ch, v) without one). When several cases
// are ready, one is chosen uniformly at random. A receive from a closed channel is always
// ready (its callback gets std::nullopt). A send on a closed channel throws ChannelClosed.
// With a default case select never blocks; with a timeout case it blocks at most that
// long. With no cases and no default it blocks forever, as Go's `select {}`.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mn/chan.hpp"
#include "mn/timer.hpp"

namespace mn {

namespace detail {

struct NoCallback {};

template <class T, class F>
struct RecvCase {
  const Chan<T>* ch;
  F f;
  Slot<T> slot;
  static constexpr bool kChannel = true;
  SelectCase Case() { return {ch->core(), false, slot.bytes}; }
  void Run(bool ok) {
    std::optional<T> v;
    if (ok) {
      v.emplace(std::move(*slot.ptr()));
      std::destroy_at(slot.ptr());
    }
    if constexpr (!std::is_same_v<F, NoCallback>) f(std::move(v));
  }
};

template <class T, class F>
struct SendCase {
  const Chan<T>* ch;
  T v;
  F f;
  static constexpr bool kChannel = true;
  SelectCase Case() { return {ch->core(), true, &v}; }
  void Run(bool) {
    if constexpr (!std::is_same_v<F, NoCallback>) f();
  }
};

template <class F>
struct DefaultCase {
  F f;
  static constexpr bool kChannel = false;
  static constexpr bool kDefault = true;
  void Run(bool) {
    if constexpr (!std::is_same_v<F, NoCallback>) f();
  }
};

template <class F>
struct TimeoutCase {
  Clock::duration d;
  F f;
  static constexpr bool kChannel = false;
  static constexpr bool kDefault = false;
  void Run(bool) {
    if constexpr (!std::is_same_v<F, NoCallback>) f();
  }
};

template <class C>
constexpr bool IsDefault() {
  if constexpr (C::kChannel) return false; else return C::kDefault;
}
template <class C>
constexpr bool IsTimeout() {
  if constexpr (C::kChannel) return false; else return !C::kDefault;
}

}  // namespace detail

template <class T, class F>
auto on_recv(const Chan<T>& ch, F f) {
  return detail::RecvCase<T, F>{&ch, std::move(f), {}};
}
template <class T>
auto on_recv(const Chan<T>& ch) {
  return detail::RecvCase<T, detail::NoCallback>{&ch, {}, {}};
}
template <class T, class V, class F>
auto on_send(const Chan<T>& ch, V&& v, F f) {
  return detail::SendCase<T, F>{&ch, T(std::forward<V>(v)), std::move(f)};
}
template <class T, class V>
auto on_send(const Chan<T>& ch, V&& v) {
  return detail::SendCase<T, detail::NoCallback>{&ch, T(std::forward<V>(v)), {}};
}
template <class F>
auto on_default(F f) {
  return detail::DefaultCase<F>{std::move(f)};
}
inline auto on_default() { return detail::DefaultCase<detail::NoCallback>{}; }
template <class Rep, class Period, class F>
auto on_timeout(std::chrono::duration<Rep, Period> d, F f) {
  return detail::TimeoutCase<F>{std::chrono::duration_cast<Clock::duration>(d), std::move(f)};
}
template <class Rep, class Period>
auto on_timeout(std::chrono::duration<Rep, Period> d) {
  return detail::TimeoutCase<detail::NoCallback>{std::chrono::duration_cast<Clock::duration>(d), {}};
}

template <class... Cases>
int select(Cases&&... cases) {
  constexpr int kDefaults = (0 + ... + (detail::IsDefault<std::decay_t<Cases>>() ? 1 : 0));
  constexpr int kTimeouts = (0 + ... + (detail::IsTimeout<std::decay_t<Cases>>() ? 1 : 0));
  static_assert(kDefaults <= 1, "mn::select: at most one on_default case");
  static_assert(kTimeouts <= 1, "mn::select: at most one on_timeout case");
  constexpr int kChannels = (0 + ... + (std::decay_t<Cases>::kChannel ? 1 : 0));
  // Channel cases first, in argument order; then the timeout's timer channel.
  std::array<detail::SelectCase, kChannels + kTimeouts + 1> sc{};
  std::array<int, kChannels + kTimeouts + 1> arg_index{};
  int n = 0, i = 0;
  std::optional<Timer> timer;
  detail::Slot<Clock::time_point> timer_slot;
  auto collect = [&](auto& c) {
    using C = std::decay_t<decltype(c)>;
    if constexpr (C::kChannel) {
      sc[n] = c.Case();
      arg_index[n++] = i;
    } else if constexpr (!C::kDefault) {
      timer.emplace(c.d);
      sc[n] = {timer->c().core(), false, timer_slot.bytes};
      arg_index[n++] = i;
    }
    i++;
  };
  (collect(cases), ...);
  (void)collect;  // unused when there are no cases
  bool ok = false;
  int chosen = detail::Select(sc.data(), n, kDefaults == 0, &ok);
  int arg = -1;
  if (chosen < 0) {
    i = 0;
    ((detail::IsDefault<std::decay_t<Cases>>() ? (arg = i, 0) : 0, i++), ...);
  } else {
    arg = arg_index[chosen];
  }
  if (timer) {
    if (chosen >= 0 && sc[chosen].elem == timer_slot.bytes && ok) std::destroy_at(timer_slot.ptr());
    timer->stop();
  }
  i = 0;
  ((i++ == arg ? (cases.Run(ok), 0) : 0), ...);
  return arg;
}

}  // namespace mn
