// Feedback: the kernel-feedback policies, acting on what the BPF programs report
// (docs/kernel-feedback.md). For now one policy, handoff: an M the kernel switched out
// while it holds a P and runs a G keeps that P's queue waiting, so after a threshold the P
// is taken from it as from a blocking call and handed to an M that can run.
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
#pragma once

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

 private:
  struct Case {
    bool open = false;
    int slot = -1;
    uint64_t since_ns = 0;  // the switch-out this case is about
    int64_t due = 0;
    int64_t backoff = 0;    // re-check interval while the P has no work
  };
  void Serve();

  Runtime* rt_;
  std::vector<Case> cases_;  // one per P
  ::ring_buffer* rb_ = nullptr;
  int stop_fd_ = -1;
  std::thread thread_;
};

}  // namespace mn::detail
