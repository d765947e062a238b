// mn::Context: Go's context.Context for cancellation and deadlines (no values).
//
//   auto [ctx, cancel] = mn::with_timeout(parent, std::chrono::seconds(1));
//   mn::select(mn::on_recv(ctx.done(), [&](auto) { /* cancelled: ctx.err() says why */ }),
//              mn::on_recv(results, [&](std::optional<Result> r) { ... }));
//   cancel();  // always, once the work is done: releases the timer and the parent's link
//
// A Context is a cheap shared handle (one shared_ptr); copies refer to the same context.
// Contexts form a tree: cancelling one (its CancelFunc, its deadline, or its parent's
// cancellation) closes its done() channel and cancels every descendant, never its parent
// or siblings. A context created under an already-cancelled parent is born cancelled.
// When a cancelling call returns, every descendant is cancelled; someone watching only the
// parent's done() may, as in Go, briefly see it closed while a descendant is still live.
// As in Go, a context that is never cancelled stays linked to its cancellable parent until
// the parent is cancelled, or until every handle to it (including its CancelFunc) is gone.
//
// Everything works from Gs and from plain threads outside the runtime, except that
// with_deadline and with_timeout use an mn::Timer and so need an active runtime: with none
// they throw std::logic_error (always, even when no timer would be needed).
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "mn/chan.hpp"
#include "mn/timer.hpp"

namespace mn {

namespace detail {
struct ContextNode;    // userspace/context_tree.cpp
struct ContextAccess;  // userspace/context_tree.cpp: builds Contexts and CancelFuncs
}  // namespace detail

class Context {
 public:
  // A new root context: never cancelled, no deadline (Go's context.Background()). Each
  // call makes a fresh root (one small allocation).
  static Context background();
  Context() : Context(background()) {}

  // Closed when the context is cancelled; it never carries a value, so a receive (or an
  // mn::on_recv case) gets std::nullopt then. A background context's never closes.
  const Chan<std::monostate>& done() const;
  // OK while the context is live; absl::CancelledError("context canceled") after it was
  // cancelled, absl::DeadlineExceededError("context deadline exceeded") after its deadline
  // (its own or an ancestor's) passed. Non-OK exactly when done() is closed.
  absl::Status err() const;
  // The earliest of its own deadline and its ancestors', if any.
  std::optional<Clock::time_point> deadline() const;

 private:
  friend struct detail::ContextAccess;
  explicit Context(std::shared_ptr<detail::ContextNode> node) : node_(std::move(node)) {}
  std::shared_ptr<detail::ContextNode> node_;
};

// Cancels the context it came with (err() becomes "context canceled", unless it was
// already cancelled, in which case nothing changes). Copyable; calling it again, from any
// copy, does nothing. A default-constructed CancelFunc does nothing.
class CancelFunc {
 public:
  CancelFunc() = default;
  void operator()() const;

 private:
  friend struct detail::ContextAccess;
  explicit CancelFunc(std::shared_ptr<detail::ContextNode> node) : node_(std::move(node)) {}
  std::shared_ptr<detail::ContextNode> node_;
};

// A child of parent that is cancelled by the returned CancelFunc or with its parent.
std::pair<Context, CancelFunc> with_cancel(const Context& parent);
// As with_cancel, and also cancelled (with DeadlineExceeded) at time d, or at once if d
// has passed. If the parent's deadline is earlier, that one applies. Throws
// std::logic_error when no runtime is active.
std::pair<Context, CancelFunc> with_deadline(const Context& parent, Clock::time_point d);
// with_deadline(parent, Clock::now() + timeout).
std::pair<Context, CancelFunc> with_timeout(const Context& parent, Clock::duration timeout);

}  // namespace mn
