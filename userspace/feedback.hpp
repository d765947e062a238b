// Feedback: the kernel-feedback policies, acting on what the BPF programs report
// (docs/kernel-feedback.md).
//  - handoff: an M the kernel switched out while it holds a P and runs a G keeps that P's
//    queue waiting, so after a threshold the P is taken from it as from a blocking call
//    and handed to an M that can run.
//  - spin: an M spins (looks for work to steal, burning its CPU) only while a CPU is free
//    for it: its own, when nothing else waits for it, or another that is idle (or, when
//    the sched_ext scheduler runs every task, one that runs none of our Ms). Otherwise
//    it parks at once, and wakep() does not start a spinner, leaving the CPU to whoever
//    waits for it; and they ask the kernel (want_cpu) for an upcall when a CPU turns idle,
//    which starts one spinner if work is queued and nobody spins.
//
// Invariants:
//  - Events come from the `events` ring buffer (an upcall: the program's submit wakes the
//    feedback thread, which waits on it with ppoll). The thread is the only caller of
//    OnEvent and Expire, so the pending table needs no lock; tests drive them directly.
//  - An event only opens a case. The decision is taken at its deadline on fresh state:
//    the M's record must still show the same switch-out (same since_ns, not on a CPU),
//    the M must still own the P, and the P must have work. So a stale or duplicated event
//    does nothing, and each switch-out hands a P off at most once.
//  - The taking itself is TakeP's protocol on the M's pstate word (proc.cpp, "Taking a P
//    away"), shared with sysmon: whoever wins the CAS acts, the other backs off.
//  - A declined spin or wake loses no work. The work a declined wakep() leaves behind is
//    on the caller's P (or the global queue) and its M runs it later, or sysmon starts a
//    spinner for it after kSpinBackstopNs. A CPU that turns idle meanwhile is not missed:
//    the runtime stores want_cpu, then reads cpu_state; the BPF program writes cpu_state,
//    then CASes want_cpu; both with full barriers, so one of them sees the other
//    (telemetry.bpf.c). A runtime that finds want_cpu already 1 stores nothing: the CAS
//    that will clear it, and send the upcall, is still to come.
//  - The handoff program reports only Ms whose P has Gs queued (it reads the P's run
//    queue, mn_m_hints.runq) and not switches to the feedback thread itself: an upcall
//    per switch-out would cost the workloads that switch most (a ping-pong, 1.4x).
//  - MaySpin and MayWake run on the Ms' hot paths, from any M at once: they only load
//    words of the mmapped maps, each read alone, and store want_cpu when it is 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "kfeedback.hpp"

struct ring_buffer;  // libbpf's

namespace mn::detail {

struct Runtime;

// How long an M may stay switched out with work behind its P before the P is handed off.
// Chosen by measurement (docs/kernel-feedback.md, "Choosing the threshold").
inline constexpr int64_t kHandoffThresholdNs = 50'000;

// Gs queued anywhere: the global queue or a P's.
bool QueuedWork(Runtime* rt);

// The spin policy's backstop (sysmon.cpp): work queued, a P idle and nobody spinning for
// this long, and sysmon starts a spinner itself. A declined wakeup counts on the work's
// own M or on a CPU turning idle; a G that runs on without a runtime call, on CPUs that
// never idle, would leave its P's queue waiting for sysmon's 10 ms preemption instead.
inline constexpr int64_t kSpinBackstopNs = 1'000'000;

class Feedback {
 public:
  explicit Feedback(Runtime* rt);
  ~Feedback();
  Feedback(const Feedback&) = delete;
  Feedback& operator=(const Feedback&) = delete;

  // Starts the thread that serves the ring buffer at events_fd; false with *error.
  bool Start(int events_fd, std::string* error);
  void Stop();

  // One upcall. now is CLOCK_MONOTONIC ns.
  void OnEvent(const mn_event& ev, int64_t now);
  // Acts on the cases due by now; returns when the next one is due (0: none).
  int64_t Expire(int64_t now);

  // The seam: how the M's kernel record is read (the mmapped map, or a test's fake).
  std::function<bool(int slot, mn_m_telemetry*)> read_m;
  int64_t threshold_ns = kHandoffThresholdNs;

  // ---- the spin policy
  // The seam: the CPUs as the kernel shows them (cpu_state by CPU number, ncpus of them),
  // the CPUs this process may run on, the want_cpu word, and rt_state.scx_active (null:
  // no sched_ext). The maps by default.
  void SetCpuView(const mn_cpu_state* cpus, int ncpus, std::vector<int> allowed,
                  uint32_t* want_cpu, const uint32_t* scx_active = nullptr);
  // An M on own_cpu that found no work may spin: nothing else waits for its CPU, or
  // another CPU it may run on is idle (or, under full-mode sched_ext, runs none of our
  // Ms). If not, asks for an idle-CPU upcall.
  bool MaySpin(int own_cpu);
  // A new spinner may be woken by an M on own_cpu: another CPU it may run on is idle. If
  // not, asks for an idle-CPU upcall.
  bool MayWake(int own_cpu);
  // Upcalls seen, per kind (tests).
  int64_t descheduled_events() const { return descheduled_events_.load(std::memory_order_relaxed); }
  int64_t idle_events() const { return idle_events_.load(std::memory_order_relaxed); }

 private:
  struct Case {
    bool open = false;
    int slot = -1;
    uint64_t since_ns = 0;  // the switch-out this case is about
    int64_t due = 0;
    int64_t backoff = 0;    // re-check interval while the P has no work
  };
  void Serve();
  // Another allowed CPU is idle, or (full-mode sched_ext) runs none of our Ms.
  bool OtherCpuFree(int own_cpu) const;
  bool OwnCpuFree(int own_cpu) const;
  // Stores want_cpu, then looks again (the Dekker half of the invariant).
  void WantCpu();
  void OnCpuIdle();

  Runtime* rt_;
  const mn_cpu_state* cpus_ = nullptr;
  int ncpus_ = 0;
  std::vector<int> allowed_;
  uint32_t* want_cpu_ = nullptr;
  const uint32_t* scx_active_ = nullptr;  // rt_state.scx_active, or null (tests)
  std::atomic<int64_t> descheduled_events_{0}, idle_events_{0};
  std::vector<Case> cases_;  // one per P
  ::ring_buffer* rb_ = nullptr;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace mn::detail
