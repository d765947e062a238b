// mn::Context: Go's cancelCtx / timerCtx tree (context/context.go), without values.
//
// Invariants:
//  - A node's state goes from kLive to kCanceled or kDeadlineExceeded once, under its mu,
//    and in the same critical section its done channel is closed. So done is closed at
//    most once (a second close would throw), and err() can report "cancelled" exactly when
//    done is closed: it reads the state, and only when that is not live does it also take
//    mu, which waits for the close if the canceller is still inside.
//  - Ownership points up only: a child holds a shared_ptr to its parent; a parent reaches
//    its children through an intrusive list of raw pointers, guarded by the parent's mu, and
//    turns an entry into a shared_ptr with weak_from_this() before using it. A child unlinks
//    itself under the parent's mu when it is cancelled on its own or destroyed, and a
//    destroyed child's storage outlives that unlink (its destructor blocks on the parent's
//    mu), so the parent never follows a dangling link. No reference cycle exists, so a
//    dropped, never-cancelled context is freed, not leaked.
//  - Only cancellable nodes (with_cancel / with_deadline) keep child lists; a root
//    (background) is never cancelled, so its children do not link to it (Go's
//    propagateCancel returns early when parent.Done() is nil).
//  - A parent's cancellation unlinks every child under its mu and then cancels them one by
//    one from a work list, holding no lock while it does: no two node locks are ever held
//    at once (no lock order to break), and a deep tree does not recurse. A child linked
//    later sees the parent's state under the parent's mu and is born cancelled.
//  - A node's timer (deadline nodes only) is created under its mu only while it is live, and
//    moved out and stopped by its cancellation; its callback holds only a weak_ptr, so a
//    pending timer keeps nothing alive.
//  - Shared_ptrs to nodes are dropped only while no node lock is held, because the last one
//    runs the destructor, which takes the parent's mu.
#include "mn/context.hpp"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "mn/mutex.hpp"
#include "mn/runtime.hpp"

namespace mn {

namespace detail {

enum : int { kLive = 0, kCanceled = 1, kDeadlineExceeded = 2 };

struct ContextNode : std::enable_shared_from_this<ContextNode> {
  ContextNode(std::shared_ptr<ContextNode> parent_in, std::optional<Clock::time_point> d,
              bool cancellable_in)
      : parent(std::move(parent_in)), deadline(d), cancellable(cancellable_in) {}
  ~ContextNode();

  const std::shared_ptr<ContextNode> parent;  // null for a root
  const std::optional<Clock::time_point> deadline;  // effective: min(own, parent's)
  const bool cancellable;
  const Chan<std::monostate> done;

  // Written under mu; see err() for why relaxed accesses suffice.
  std::atomic<int> state{kLive};

  Mutex mu;
  ContextNode* first_child = nullptr;  // guarded by mu
  std::optional<Timer> timer;           // guarded by mu

  // This node's entry in parent->first_child's list; guarded by parent->mu.
  ContextNode* prev = nullptr;
  ContextNode* next = nullptr;
  bool linked = false;
};

namespace {

// Takes n out of its parent's child list, if it is still in it. Caller holds parent->mu.
void UnlinkLocked(ContextNode* parent, ContextNode* n) {
  if (!n->linked) return;  // the parent's cancellation took it out already
  if (n->prev != nullptr) n->prev->next = n->next; else parent->first_child = n->next;
  if (n->next != nullptr) n->next->prev = n->prev;
  n->prev = n->next = nullptr;
  n->linked = false;
}

void RemoveFromParent(ContextNode* n) {
  ContextNode* p = n->parent.get();
  if (p == nullptr || !p->cancellable) return;
  std::lock_guard<Mutex> lock(p->mu);
  UnlinkLocked(p, n);
}

// Cancels root and all its descendants with reason `why` (Go's cancelCtx.cancel). The
// caller keeps root alive for the duration.
void Cancel(const std::shared_ptr<ContextNode>& root, int why, bool remove_from_parent) {
  std::vector<std::shared_ptr<ContextNode>> work{root};
  // Keeps the nodes alive until no lock is held (their destructors take parents' locks).
  std::vector<std::shared_ptr<ContextNode>> finished;
  while (!work.empty()) {
    std::shared_ptr<ContextNode> n = std::move(work.back());
    work.pop_back();
    std::optional<Timer> timer;
    {
      std::lock_guard<Mutex> lock(n->mu);
      // relaxed: state is only written under mu, which we hold.
      if (n->state.load(std::memory_order_relaxed) != kLive) continue;  // cancelled already
      // relaxed: readers that see it non-live take mu before reporting it (err()).
      n->state.store(why, std::memory_order_relaxed);
      n->done.close();
      for (ContextNode* c = n->first_child; c != nullptr;) {
        ContextNode* next = c->next;
        c->prev = c->next = nullptr;
        c->linked = false;
        // An expired child's destructor is waiting for our mu to unlink; it finds linked
        // false and leaves us alone.
        if (std::shared_ptr<ContextNode> child = c->weak_from_this().lock()) {
          work.push_back(std::move(child));
        }
        c = next;
      }
      n->first_child = nullptr;
      if (n->timer) {
        timer.emplace(std::move(*n->timer));
        n->timer.reset();
      }
    }
    // Stopped outside mu: stop() takes the timer's own lock, and no lock of ours needs to
    // be held around it (the callback, if it already started, finds the node cancelled).
    timer.reset();
    finished.push_back(std::move(n));
  }
  if (remove_from_parent) RemoveFromParent(root.get());
}

// Links child under its parent (Go's propagateCancel): returns the parent's state; if it
// is not live, the child was not linked and must be cancelled with that reason.
int Link(ContextNode* child) {
  ContextNode* p = child->parent.get();
  if (!p->cancellable) return kLive;  // never cancelled: nothing to propagate
  std::lock_guard<Mutex> lock(p->mu);
  int s = p->state.load(std::memory_order_relaxed);  // relaxed: under mu, its only writer's lock
  if (s != kLive) return s;
  child->next = p->first_child;
  if (child->next != nullptr) child->next->prev = child;
  p->first_child = child;
  child->linked = true;
  return kLive;
}

}  // namespace

ContextNode::~ContextNode() {
  // Never cancelled, or cancelled by the parent: the parent may still list it.
  RemoveFromParent(this);
  // timer (if still set) stops itself in its destructor.
}

struct ContextAccess {
  static std::pair<Context, CancelFunc> NewChild(const Context& parent,
                                                 std::optional<Clock::time_point> own_deadline) {
    const std::shared_ptr<ContextNode>& p = parent.node_;
    std::optional<Clock::time_point> d = p->deadline;
    bool needs_timer = own_deadline && (!d || *own_deadline < *d);
    if (needs_timer) d = own_deadline;
    auto node = std::make_shared<ContextNode>(p, d, /*cancellable=*/true);
    int parent_state = Link(node.get());
    if (parent_state != kLive) {
      Cancel(node, parent_state, /*remove_from_parent=*/false);  // born cancelled
    } else if (needs_timer) {
      Clock::duration left = *own_deadline - Clock::now();
      if (left <= Clock::duration::zero()) {
        Cancel(node, kDeadlineExceeded, /*remove_from_parent=*/true);
      } else {
        std::weak_ptr<ContextNode> weak = node;
        std::lock_guard<Mutex> lock(node->mu);
        // relaxed: under mu. A cancellation that won the race needs no timer.
        if (node->state.load(std::memory_order_relaxed) == kLive) {
          // Throws std::logic_error if the runtime ended meanwhile; the node is then
          // dropped and its destructor unlinks it.
          node->timer.emplace(left, [weak] {
            if (std::shared_ptr<ContextNode> n = weak.lock()) {
              Cancel(n, kDeadlineExceeded, /*remove_from_parent=*/true);
            }
          });
        }
      }
    }
    return {Context(node), CancelFunc(node)};
  }

  static Context MakeRoot() {
    return Context(std::make_shared<ContextNode>(nullptr, std::nullopt, /*cancellable=*/false));
  }
};

}  // namespace detail

Context Context::background() { return detail::ContextAccess::MakeRoot(); }

const Chan<std::monostate>& Context::done() const { return node_->done; }

absl::Status Context::err() const {
  // relaxed: a live answer needs no ordering (anyone who saw done closed is ordered after
  // the store, which precedes the close in the same critical section, so cannot read it).
  int s = node_->state.load(std::memory_order_relaxed);
  if (s == detail::kLive) return absl::OkStatus();
  {
    // The canceller sets the state and closes done under mu: once we get mu, done is closed.
    std::lock_guard<Mutex> lock(node_->mu);
  }
  if (s == detail::kDeadlineExceeded) return absl::DeadlineExceededError("context deadline exceeded");
  return absl::CancelledError("context canceled");
}

std::optional<Clock::time_point> Context::deadline() const { return node_->deadline; }

void CancelFunc::operator()() const {
  if (node_ != nullptr) detail::Cancel(node_, detail::kCanceled, /*remove_from_parent=*/true);
}

std::pair<Context, CancelFunc> with_cancel(const Context& parent) {
  return detail::ContextAccess::NewChild(parent, std::nullopt);
}

std::pair<Context, CancelFunc> with_deadline(const Context& parent, Clock::time_point d) {
  if (procs() == 0) {
    throw std::logic_error("mn::with_deadline: no active runtime (a deadline needs a timer)");
  }
  return detail::ContextAccess::NewChild(parent, d);
}

std::pair<Context, CancelFunc> with_timeout(const Context& parent, Clock::duration timeout) {
  if (procs() == 0) {
    throw std::logic_error("mn::with_timeout: no active runtime (a deadline needs a timer)");
  }
  return detail::ContextAccess::NewChild(parent, Clock::now() + timeout);
}

}  // namespace mn
