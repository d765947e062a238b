// mn::blocking and mn::blocking_now: calls that may block in the kernel without holding up
// the other Gs of their P (Go's entersyscall / exitsyscall around a system call).
//
// blocking(f) keeps the P wired to the calling M while f runs, so a short call costs two
// atomic operations and nothing else. If f is still running after one sysmon tick
// (20 us or more) while the P has other work, or after 10 ms in any case, sysmon hands the P
// to another M, and the caller takes a P back (or waits for one) when f returns.
// blocking_now(f) hands the P off at once: use it for calls known to block for long.
//
// Both return f's result and rethrow what f throws. Outside the runtime (a plain thread)
// they just call f. f should not call into the runtime itself; if it does, that call
// first takes the P back, and the rest of f runs as ordinary G code.
// See docs/design.md, "Blocking calls and sysmon".
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace mn {

namespace detail {
struct M;
// nullptr: not in a G (f just runs). Otherwise the M, to be passed to ExitBlocking.
M* EnterBlocking(bool handoff_now) noexcept;
void ExitBlocking(M* m) noexcept;

template <class F>
std::invoke_result_t<F&> RunBlocking(F& f, bool handoff_now) {
  using R = std::invoke_result_t<F&>;
  M* m = EnterBlocking(handoff_now);
  if (m == nullptr) return f();
  // f's exception is caught here and rethrown after the exit: leaving may move the G to
  // another thread, which must not happen while an exception is in flight (the C++
  // runtime keeps per-thread exception state).
  std::exception_ptr ep;
  if constexpr (std::is_void_v<R>) {
    try {
      f();
    } catch (...) {
      ep = std::current_exception();
    }
    ExitBlocking(m);
    if (ep) std::rethrow_exception(ep);
  } else if constexpr (std::is_reference_v<R>) {
    std::remove_reference_t<R>* p = nullptr;
    try {
      p = &f();
    } catch (...) {
      ep = std::current_exception();
    }
    ExitBlocking(m);
    if (ep) std::rethrow_exception(ep);
    return static_cast<R>(*p);
  } else {
    std::optional<R> r;
    try {
      r.emplace(f());
    } catch (...) {
      ep = std::current_exception();
    }
    ExitBlocking(m);
    if (ep) std::rethrow_exception(ep);
    return std::move(*r);
  }
}
}  // namespace detail

// Runs f, a call that may block in the kernel, as a blocking call.
template <class F>
std::invoke_result_t<F&> blocking(F&& f) {
  return detail::RunBlocking(f, false);
}

// As blocking(f), but gives the P away before f starts (Go's entersyscallblock).
template <class F>
std::invoke_result_t<F&> blocking_now(F&& f) {
  return detail::RunBlocking(f, true);
}

}  // namespace mn
