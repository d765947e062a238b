// Timers, as Go's time package: sleep_for / sleep_until, mn::Timer, mn::Ticker, mn::after.
// Timers live in per-P 4-ary heaps (Go 1.14+): the scheduler runs due timers when it
// looks for work, and the earliest one bounds how long an idle M sleeps. A sleeping G
// costs no CPU.
//
// Timer and Ticker channels follow Go 1.23: once stop() or reset() returns, no value
// from before the call can be received. Outside a G, sleep_for blocks the thread; Timer,
// Ticker and after need an active runtime (std::logic_error otherwise).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/functional/any_invocable.h"
#include "mn/chan.hpp"

namespace mn {

using Clock = std::chrono::steady_clock;

namespace detail {
void SleepNs(int64_t ns);
struct TimerCore;
}  // namespace detail

template <class Rep, class Period>
void sleep_for(const std::chrono::duration<Rep, Period>& d) {
  detail::SleepNs(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}
template <class Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& t) {
  sleep_for(t - Clock::now());
}

// A single event: after the duration, the current time is sent on c() (a channel with a
// buffer of one), or, for the second constructor, f runs in a new G (Go's AfterFunc).
class Timer {
 public:
  explicit Timer(Clock::duration d);
  Timer(Clock::duration d, absl::AnyInvocable<void()> f);
  ~Timer();  // stops it
  Timer(Timer&&) noexcept;
  Timer& operator=(Timer&&) noexcept;

  // The channel the time is sent on (empty for an AfterFunc timer).
  const Chan<Clock::time_point>& c() const { return c_; }
  // Prevents the timer from firing. True if it was still pending.
  bool stop();
  // Makes it fire after d from now. True if it was still pending.
  bool reset(Clock::duration d);

 private:
  std::shared_ptr<detail::TimerCore> t_;
  Chan<Clock::time_point> c_{1};
};

// Sends the time on c() every period; a slow receiver misses ticks rather than queueing
// them (the channel holds one).
class Ticker {
 public:
  explicit Ticker(Clock::duration period);  // period must be positive (else logic_error)
  ~Ticker();
  Ticker(Ticker&&) noexcept;
  Ticker& operator=(Ticker&&) noexcept;
  const Chan<Clock::time_point>& c() const { return c_; }
  void stop();
  void reset(Clock::duration period);

 private:
  std::shared_ptr<detail::TimerCore> t_;
  Chan<Clock::time_point> c_{1};
};

// A channel that receives the time once, after d (Go's time.After).
Chan<Clock::time_point> after(Clock::duration d);

}  // namespace mn
