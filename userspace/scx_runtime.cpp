// The runtime's side of the sched_ext scheduler: see scx_runtime.hpp for the invariants,
// bpf/scx.bpf.c for the scheduler and docs/kernel-feedback.md for the user's view.
#include "scx_runtime.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sched.hpp"

extern "C" {
__thread uint32_t* mn_detail_tls_critical __attribute__((tls_model("initial-exec"))) = nullptr;
}

namespace mn::detail {

namespace {

void SetReason(Runtime* rt, std::string why) {
  std::lock_guard<std::mutex> lock(rt->scx_mu);
  rt->scx_reason = std::move(why);
}

void SetScxActive(Runtime* rt, uint32_t on) {
  if (mn_rt_state* st = rt->ktel != nullptr ? rt->ktel->rt_state() : nullptr) {
    // The programs read it alone, as a sample: the sched_switch program stops (or starts)
    // keeping the Ms' records at its next switch.
    __atomic_store_n(&st->scx_active, on, __ATOMIC_RELAXED);
  }
}

// The tids of the Ms whose threads run.
std::vector<pid_t> MTids(Runtime* rt) {
  std::vector<pid_t> tids;
  std::lock_guard<SchedLock> lock(rt->lock);
  for (const auto& m : rt->allm) {
    pid_t tid = m->tid.load(std::memory_order_relaxed);
    if (tid != 0 && !m->exited.load(std::memory_order_relaxed)) tids.push_back(tid);
  }
  return tids;
}

}  // namespace

void StartScx(Runtime* rt, bool required) {
  if (!rt->scx_wanted) return;
  std::string why;
  if (rt->ktel == nullptr) {
    why = "kernel telemetry is off: " + rt->kf_reason;
  } else if (std::string pre = ScxScheduler::Preflight(); !pre.empty()) {
    why = pre;
  } else if (absl::StatusOr<std::unique_ptr<ScxScheduler>> s = ScxScheduler::Load(ScxMode::kPartial);
             !s.ok()) {
    why = std::string(s.status().message());
  } else if (absl::Status added = (*s)->AddRuntime(
                 static_cast<uint32_t>(getpid()), rt->ktel->MapFd("tracked"),
                 rt->ktel->MapFd("hints"), rt->ktel->MapFd("m_telemetry"),
                 rt->ktel->MapFd("rt_state"), rt->ktel->trace_events_fd());
             !added.ok()) {
    why = std::string(added.message());
  } else {
    rt->scx = std::move(*s);
  }
  if (rt->scx == nullptr) {
    if (required) {
      std::fprintf(stderr, "mn: kernel feedback is required but the sched_ext scheduler is unavailable: %s\n",
                   why.c_str());
      std::fflush(stderr);
      std::exit(2);
    }
    std::fprintf(stderr, "mn: sched_ext scheduler: off: %s; kernel feedback %s\n", why.c_str(),
                 rt->ktel != nullptr ? "continues with telemetry only" : "stays off");
    SetReason(rt, std::move(why));
    return;
  }
  SetScxActive(rt, MN_SCX_ACTIVE_PARTIAL);  // the runtime loads partial mode only
  rt->scx_on.store(true, std::memory_order_seq_cst);  // see ScxMStarted
}

void ScxMStarted(Runtime* rt, M* m, pid_t tid) {
  if (!rt->scx_on.load(std::memory_order_seq_cst)) return;
  mn_detail_tls_critical = &m->hints->in_critical;
  if (absl::Status s = SetSchedExt(tid); !s.ok()) {
    // Not fatal: this M runs in the fair class, as every M does without the scheduler.
    std::fprintf(stderr, "mn: sched_ext scheduler: M %lld stays in the fair class: %s\n",
                 static_cast<long long>(m->id), std::string(s.message()).c_str());
    return;
  }
  // sysmon may have dropped the scheduler between the load above and the switch: it
  // clears scx_on before it collects the Ms' tids (both seq_cst), so either it saw this
  // M's tid, stored before this function, or this load sees false.
  if (!rt->scx_on.load(std::memory_order_seq_cst)) (void)SetSchedOther(tid);
}

void ScxPoll(Runtime* rt, int64_t now) {
  if (rt->scx == nullptr || now < rt->scx_next_poll) return;
  rt->scx_next_poll = now + kScxPollNs;
  mn_scx_exit ex{};
  if (rt->scx->Alive(&ex)) return;
  std::string why = absl::StrFormat("ejected by the kernel: %s", ex.reason[0] ? ex.reason : "no reason given");
  if (ex.msg[0] != 0) why += absl::StrFormat(" (%s)", ex.msg);
  std::fprintf(stderr, "mn: sched_ext scheduler: %s; kernel feedback continues with telemetry only\n",
               why.c_str());
  SetReason(rt, std::move(why));  // first: whoever sees scx_on false finds the reason
  rt->scx_on.store(false, std::memory_order_seq_cst);
  SetScxActive(rt, 0);
  for (pid_t tid : MTids(rt)) (void)SetSchedOther(tid);  // an M that ended meanwhile: ESRCH
  rt->scx.reset();
}

void StopScx(Runtime* rt) {
  if (rt->scx == nullptr) return;
  rt->scx_on.store(false, std::memory_order_seq_cst);
  SetScxActive(rt, 0);
  rt->scx->RemoveRuntime(static_cast<uint32_t>(getpid()));
  rt->scx.reset();
}

}  // namespace mn::detail
