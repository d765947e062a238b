// Feedback: see feedback.hpp for the policy and its invariants.
#include "feedback.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_format.h"
#include "sched.hpp"

#if MN_WITH_BPF
#include <bpf/libbpf.h>
#endif

namespace mn::detail {

namespace {
constexpr int64_t kMaxRecheckNs = 1'000'000;  // a switched-out M whose P is idle: look again
}  // namespace

Feedback::Feedback(Runtime* rt) : rt_(rt), cases_(static_cast<std::size_t>(rt->procs)) {
  read_m = [rt](int slot, mn_m_telemetry* out) {
    return rt->ktel != nullptr && rt->ktel->ReadM(slot, out);
  };
  if (rt->ktel != nullptr && rt->ktel->cpus() != nullptr && rt->ktel->rt_state() != nullptr) {
    // The CPUs the runtime may use: those of the thread that called run(), whose mask
    // the Ms inherit.
    std::vector<int> allowed;
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = rt->ktel->ncpus();
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      for (int c = 0; c < n && c < CPU_SETSIZE; c++) {
        if (CPU_ISSET(c, &set)) allowed.push_back(c);
      }
    } else {
      for (int c = 0; c < n; c++) allowed.push_back(c);
    }
    SetCpuView(rt->ktel->cpus(), n, std::move(allowed), &rt->ktel->rt_state()->want_cpu,
               &rt->ktel->rt_state()->scx_active);
  }
}

Feedback::~Feedback() { Stop(); }

void Feedback::SetCpuView(const mn_cpu_state* cpus, int ncpus, std::vector<int> allowed,
                          uint32_t* want_cpu, const uint32_t* scx_active) {
  cpus_ = cpus;
  ncpus_ = ncpus;
  allowed_ = std::move(allowed);
  want_cpu_ = want_cpu;
  scx_active_ = scx_active;
}

bool Feedback::OwnCpuFree(int own_cpu) const {
  // Unknown (no such CPU in the view): the policy cannot judge, so it does not hold back.
  if (own_cpu < 0 || own_cpu >= ncpus_) return true;
  return __atomic_load_n(&cpus_[own_cpu].nr_waiting, __ATOMIC_RELAXED) == 0;
}

bool Feedback::OtherCpuFree(int own_cpu) const {
  // Under the sched_ext scheduler in full mode a CPU running anything but one of our Ms is
  // as good as idle: a woken M ranks first there and kicks that task off (scx.bpf.c). The
  // fair scheduler offers no such thing, nor partial mode, where other tasks outrank the
  // Ms. Without this the policy declined every wake beside a CPU hog, and the work waited
  // for sysmon's backstop: p99 130 ms against 12 ms with scx alone in the VM evaluation.
  // Read alone, a sample (the loader flips it while the Ms run): relaxed.
  bool others_free = scx_active_ != nullptr &&
                     __atomic_load_n(scx_active_, __ATOMIC_RELAXED) == MN_SCX_ACTIVE_FULL;
  for (int c : allowed_) {
    if (c == own_cpu || c >= ncpus_) continue;
    if (__atomic_load_n(&cpus_[c].idle, __ATOMIC_RELAXED) != 0) return true;
    if (others_free && __atomic_load_n(&cpus_[c].runs_m, __ATOMIC_RELAXED) == 0) return true;
  }
  return false;
}

void Feedback::WantCpu() {
  // Already asked: the kernel has not answered yet, and the CAS that answers comes after
  // this load, so an upcall follows anyway. No store and no fence then, which matters as
  // a channel ping-pong with no CPU free asks millions of times a second.
  if (__atomic_load_n(want_cpu_, __ATOMIC_RELAXED) != 0) return;
  __atomic_store_n(want_cpu_, 1, __ATOMIC_RELAXED);
  // Pairs with the BPF program's barrier between its cpu_state store and its want_cpu
  // CAS: our store comes before the loads of cpu_state that follow in MaySpin/MayWake.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool Feedback::MaySpin(int own_cpu) {
  if (cpus_ == nullptr) return true;
  if (OwnCpuFree(own_cpu) || OtherCpuFree(own_cpu)) return true;
  WantCpu();
  return OwnCpuFree(own_cpu) || OtherCpuFree(own_cpu);
}

bool Feedback::MayWake(int own_cpu) {
  if (cpus_ == nullptr) return true;
  if (OtherCpuFree(own_cpu)) return true;
  WantCpu();
  return OtherCpuFree(own_cpu);
}

bool QueuedWork(Runtime* rt) {
  if (rt->runqsize.load(std::memory_order_seq_cst) != 0) return true;
  for (const auto& pp : rt->allp) {
    if (!pp->runq.Empty()) return true;
  }
  return false;
}

void Feedback::OnCpuIdle() {
  idle_events_.fetch_add(1, std::memory_order_relaxed);
  // WakeIdleP starts a spinner only with an idle P and none spinning; the feedback thread
  // holds no P, so the spin policy does not hold it back.
  if (QueuedWork(rt_) && WakeIdleP(rt_)) rt_->idle_wakeups.fetch_add(1, std::memory_order_relaxed);
}

void Feedback::OnEvent(const mn_event& ev, int64_t now) {
  if (ev.type == mn_ev_cpu_idle) {
    OnCpuIdle();
    return;
  }
  if (ev.type != mn_ev_descheduled || ev.p < 0 || ev.p >= rt_->procs) return;
  descheduled_events_.fetch_add(1, std::memory_order_relaxed);
  Case& c = cases_[static_cast<std::size_t>(ev.p)];
  // A newer switch-out of the P's M replaces the case; the deadline counts from it.
  c.open = true;
  c.slot = ev.m;
  c.since_ns = ev.since_ns;
  c.due = std::max<int64_t>(static_cast<int64_t>(ev.since_ns) + threshold_ns, now);
  c.backoff = threshold_ns;
}

int64_t Feedback::Expire(int64_t now) {
  int64_t next = 0;
  for (std::size_t i = 0; i < cases_.size(); i++) {
    Case& c = cases_[i];
    if (!c.open) continue;
    if (c.due > now) {
      next = next == 0 ? c.due : std::min(next, c.due);
      continue;
    }
    mn_m_telemetry r{};
    // Still the same switch-out, and still off the CPU? Else the M ran again: its P's
    // queue is its own business once more.
    if (!read_m(c.slot, &r) || r.since_ns != c.since_ns ||
        (r.state != mn_preempted && r.state != mn_runnable && r.state != mn_blocked)) {
      c.open = false;
      continue;
    }
    M* m = nullptr;
    {
      std::lock_guard<SchedLock> lock(rt_->lock);  // allm grows under it
      if (c.slot >= 0 && static_cast<std::size_t>(c.slot) < rt_->allm.size()) {
        m = rt_->allm[static_cast<std::size_t>(c.slot)].get();
      }
    }
    P* pp = rt_->allp[i].get();
    if (m == nullptr || pp->m.load(std::memory_order_acquire) != m) {
      c.open = false;  // it no longer holds the P (sysmon took it, or it released it)
      continue;
    }
    if (PHasWork(rt_, pp, now) && TakeP(rt_, pp, m, TakeReason::kDescheduled)) {
      rt_->kernel_handoffs.fetch_add(1, std::memory_order_relaxed);
      c.open = false;
      continue;
    }
    // Nothing waits yet (or the M is inside the runtime, where its P cannot be taken):
    // look again while it stays off the CPU, less and less often.
    c.due = now + c.backoff;
    c.backoff = std::min(c.backoff * 2, kMaxRecheckNs);
    next = next == 0 ? c.due : std::min(next, c.due);
  }
  return next;
}

#if MN_WITH_BPF

bool Feedback::Start(int events_fd, std::string* error) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    *error = absl::StrFormat("eventfd: %s", std::strerror(errno));
    return false;
  }
  auto on_sample = [](void* ctx, void* data, size_t size) -> int {
    if (size >= sizeof(mn_event)) {
      static_cast<Feedback*>(ctx)->OnEvent(*static_cast<const mn_event*>(data), NanoTime());
    }
    return 0;
  };
  rb_ = ring_buffer__new(events_fd, on_sample, this, nullptr);
  if (rb_ == nullptr) {
    *error = absl::StrFormat("ring_buffer__new: %s", std::strerror(errno));
    return false;
  }
  thread_ = std::thread([this] { Serve(); });
  // Deadlock detection counts threads that are not the runtime's: this one must be known
  // before any M runs.
  while (rt_->feedback_tid.load(std::memory_order_acquire) == 0) FutexWait(&rt_->feedback_tid, 0);
  return true;
}

void Feedback::Serve() {
  pthread_setname_np(pthread_self(), "mn-feedback");
  const auto tid = static_cast<uint32_t>(gettid());
  // The program skips the switches to this thread (mn_rt_state.feedback_tid).
  if (rt_->ktel != nullptr && rt_->ktel->rt_state() != nullptr) {
    __atomic_store_n(&rt_->ktel->rt_state()->feedback_tid, tid, __ATOMIC_RELAXED);
  }
  rt_->feedback_tid.store(tid, std::memory_order_release);
  FutexWake(&rt_->feedback_tid, 1);
  // Deadlines are tens of microseconds: no timer slack, and ahead of ordinary threads
  // when the kernel allows it (root). Its work is a few loads per event.
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  sched_param sp{};
  sp.sched_priority = 1;
  pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  pollfd fds[2] = {{ring_buffer__epoll_fd(rb_), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  int64_t next = 0;
  for (;;) {
    timespec ts{};
    timespec* tsp = nullptr;
    if (next != 0) {
      int64_t wait = std::max<int64_t>(0, next - NanoTime());
      ts.tv_sec = wait / 1'000'000'000;
      ts.tv_nsec = wait % 1'000'000'000;
      tsp = &ts;
    }
    int n = ppoll(fds, 2, tsp, nullptr);
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    if (n > 0 && fds[0].revents != 0) ring_buffer__consume(rb_);
    next = Expire(NanoTime());
  }
}

void Feedback::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (rb_ != nullptr) ring_buffer__free(rb_);
  rb_ = nullptr;
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
}

#else  // !MN_WITH_BPF

bool Feedback::Start(int, std::string* error) {
  *error = "built without BPF";
  return false;
}
void Feedback::Serve() {}
void Feedback::Stop() {}

#endif  // MN_WITH_BPF

}  // namespace mn::detail
