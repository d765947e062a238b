// The public entry points (mn::run, mn::go, mn::yield) and the Runtime object's life.
//
// Invariants:
//  - At most one runtime is active per process: ActiveRegistry holds it from the start of
//    run() until main returns. Outside threads that spawn into it take a reference
//    under the registry's lock, so the runtime cannot be freed under them.
//  - A Runtime is deleted by whoever drops the last reference: run(), an M thread on its
//    way out, or an outside spawner (sched.hpp, Runtime::refs).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "mn/runtime.hpp"
#include "mn/stats.hpp"
#include "procs.hpp"
#include "sched.hpp"
#include "scx_runtime.hpp"
#include "trace.hpp"

namespace mn {

absl::Status Validate(const Options& opts) {
  if (opts.procs < 0 || opts.procs > detail::kMaxProcs) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Options.procs=%d: must be between 1 and %d (or 0 for the default)", opts.procs,
        detail::kMaxProcs));
  }
  if (opts.stack_size != 0 &&
      (opts.stack_size < kMinStackSize || opts.stack_size > kMaxStackSize)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Options.stack_size=%zu: must be between %zu and %zu bytes (or 0 for the default)",
        opts.stack_size, kMinStackSize, kMaxStackSize));
  }
  return absl::OkStatus();
}

namespace detail {

absl::StatusOr<int64_t> SchedTraceFromEnv();       // schedtrace.cpp
std::string SchedTraceLine(Runtime* rt, bool at_exit);  // schedtrace.cpp

// The process-wide registry of the active runtime: the one piece of global state, since
// outside threads must find the runtime to spawn into it.
struct ActiveRegistry {
  std::mutex mu;
  Runtime* rt = nullptr;  // guarded by mu
  std::atomic<Runtime*> signal_rt{nullptr};  // rt, for signal handlers that cannot lock
};
ActiveRegistry& Registry() {
  static ActiveRegistry* r = new ActiveRegistry();  // never destroyed: threads may outlive main
  return *r;
}

namespace {

[[noreturn]] void ConfigError(const absl::Status& s) {
  std::fprintf(stderr, "mn: %s\n", std::string(s.message()).c_str());
  std::fflush(stderr);
  std::exit(2);
}

[[noreturn]] void FatalUncaught(G* g, const char* what) {
  std::fprintf(stderr, "mn: fatal: uncaught exception in G %llu: %s\n",
               static_cast<unsigned long long>(g->id), what);
  std::abort();
}

// Small callables live in the G itself; larger ones go to the heap.
void* PlaceCallable(G* g, std::size_t size, std::size_t align) {
  if (size <= G::kInlineFnBytes && align <= 16) {
    g->fn_on_heap = false;
    return g->fn_buf;
  }
  g->fn_on_heap = true;
  g->fn_align = std::max(align, alignof(std::max_align_t));
  return ::operator new(size, std::align_val_t{g->fn_align});
}

}  // namespace

[[noreturn]] void GEntry(void* arg) {
  ContextEntered();
  G* g = static_cast<G*>(arg);
  try {
    g->entry(g->fn);
  } catch (const std::exception& e) {
    if (!g->is_main) FatalUncaught(g, e.what());
    g->rt->main_exception = std::current_exception();
  } catch (...) {
    if (!g->is_main) FatalUncaught(g, "(not a std::exception)");
    g->rt->main_exception = std::current_exception();
  }
  // Claim the callable's destruction before it starts: if its destructor parks and the
  // runtime stops meanwhile, teardown must not destroy it a second time.
  void* fn = g->fn;
  void (*destroy)(void*) = g->destroy;
  g->destroy = nullptr;
  if (destroy != nullptr) destroy(fn);
  if (g->fn_on_heap) ::operator delete(fn, std::align_val_t{g->fn_align});
  g->fn = nullptr;
  GoExit();
}

Runtime::Runtime(int procs_in, std::size_t stack_size)
    : procs(procs_in), stacks(stack_size) {
  allp.reserve(static_cast<std::size_t>(procs));
  idlep_mask.Reset(procs);
  steal_order.Reset(static_cast<uint32_t>(procs));
  // All Ps start idle; the first M takes one for main. Pushed in reverse so that the
  // LIFO idle list hands out P0 first.
  for (int i = 0; i < procs; i++) {
    allp.push_back(std::make_unique<P>());
    allp.back()->id = i;
    allp.back()->timers.rt = this;
  }
  for (int i = procs - 1; i >= 0; i--) {
    P* pp = allp[i].get();
    pp->link = pidle;
    pidle = pp;
    idlep_mask.Set(i);
  }
  npidle.store(procs, std::memory_order_relaxed);
  start_ns = NanoTime();
  NetpollInit(this);
}

Runtime::~Runtime() {
  for (auto& pp : allp) ClearTimers(&pp->timers);
  // Gs abandoned at exit: their callables (which often own channels and buffers) are
  // destroyed; what their stacks hold is not, since they cannot be unwound.
  for (G* g : allg) {
    if (g->status.load(std::memory_order_relaxed) == GStatus::kDead || g->fn == nullptr ||
        g->destroy == nullptr) {
      continue;
    }
    g->destroy(g->fn);
    if (g->fn_on_heap) ::operator delete(g->fn, std::align_val_t{g->fn_align});
    g->fn = nullptr;
  }
  // After the callables: a socket one of them owned closed itself through the netpoller.
  NetpollClose(this);
  // Every G, pooled or abandoned at exit, lives inside `stacks`: release what each
  // context holds outside it (TSan fibers), then `stacks` unmaps the memory.
  for (G* g : allg) DestroyContext(&g->ctx);
  for (G* block : gblocks) delete[] block;
}

Runtime* AcquireRuntime(bool* outside) {
  M* m = GetM();
  if (m != nullptr) {
    *outside = false;
    return m->rt;
  }
  ActiveRegistry& reg = Registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (reg.rt == nullptr) throw std::logic_error("mn: no runtime is active (call this inside mn::run)");
  reg.rt->refs.fetch_add(1, std::memory_order_relaxed);  // the caller Unrefs
  *outside = true;
  return reg.rt;
}

Runtime* ActiveRuntimeForSignal() noexcept {
  return Registry().signal_rt.load(std::memory_order_acquire);
}

namespace {
// A new G from the caller's P's pool, or the global one when it has no P.
G* NewGHere(Runtime* rt, M* m) {
  if (m == nullptr || m->rt != rt) return NewG(rt, nullptr);
  G* g = NewG(rt, EnterP(m));
  LeaveP(m);
  return g;
}

// A G was made and is about to be queued: the trace's event, then the count (as Ready's).
void CountSpawn(Runtime* rt, M* m, G* g, uint64_t label) {
  g->label = label;
  TraceSpawn(rt, g, label);
  if (m != nullptr && m->rt == rt) {
    BumpOwn(m->spawns);
  } else {
    rt->spawns_outside.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

void SpawnOn(Runtime* rt, absl::AnyInvocable<void()> f) {
  M* m = GetM();
  G* g = NewGHere(rt, m);
  CountSpawn(rt, m, g, TimerFuncLabel());
  using Fn = absl::AnyInvocable<void()>;
  g->fn = PlaceCallable(g, sizeof(Fn), alignof(Fn));
  ::new (g->fn) Fn(std::move(f));
  g->entry = &Invoke<Fn>;
  g->destroy = &DestroyOnly<Fn>;
  QueueRunnable(rt, m != nullptr && m->rt == rt ? m : nullptr, g);
}

SpawnSlot SpawnBegin(std::size_t size, std::size_t align) {
  CheckPState();  // go() is a call into the runtime: a safe point
  M* m = GetM();
  Runtime* rt;
  if (m != nullptr && m->curg != nullptr) {
    rt = m->rt;
  } else {
    ActiveRegistry& reg = Registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    rt = reg.rt;
    if (rt == nullptr) throw std::logic_error("mn::go: no runtime is active (call it inside mn::run)");
    rt->refs.fetch_add(1, std::memory_order_relaxed);  // dropped in SpawnCommit/SpawnAbort
    m = nullptr;
  }
  G* g = NewGHere(rt, m);
  g->fn = PlaceCallable(g, size, align);
  return SpawnSlot{g, g->fn};
}

void SpawnCommit(G* g, void (*entry)(void*), void (*destroy)(void*), uint64_t label) noexcept {
  g->entry = entry;
  g->destroy = destroy;  // the stack and first frame come when it first runs
  Runtime* rt = g->rt;
  M* m = GetM();
  CountSpawn(rt, m != nullptr && m->curg != nullptr ? m : nullptr, g, label);
  if (m != nullptr && m->curg != nullptr) {
    QueueRunnable(rt, m, g);
  } else {
    QueueRunnable(rt, nullptr, g);
    Unref(rt);  // taken in SpawnBegin
  }
}

void SpawnAbort(G* g) noexcept {
  Runtime* rt = g->rt;
  if (g->fn_on_heap) ::operator delete(g->fn, std::align_val_t{g->fn_align});
  M* m = GetM();
  bool outside = m == nullptr || m->curg == nullptr;
  if (outside) {
    FreeG(rt, nullptr, g);
    Unref(rt);
    return;
  }
  FreeG(rt, EnterP(m), g);
  LeaveP(m);
}

int RunMain(absl::AnyInvocable<int()> main, const Options& opts) {
  if (GetM() != nullptr) throw std::logic_error("mn::run: called from inside a G");
  if (absl::Status s = Validate(opts); !s.ok()) ConfigError(s);
  const char* env = std::getenv("MN_PROCS");
  absl::StatusOr<int> procs = ResolveProcs(opts.procs, env);
  if (!procs.ok()) ConfigError(procs.status());
  absl::StatusOr<int64_t> trace = SchedTraceFromEnv();
  if (!trace.ok()) ConfigError(trace.status());
  absl::StatusOr<TraceConfig> exec_trace = TraceConfigFromEnv(opts.trace_path != nullptr ? opts.trace_path : "", opts.trace_ring_mib);
  if (!exec_trace.ok()) ConfigError(exec_trace.status());
  KernelFeedback kf_mode = opts.kernel_feedback;
  uint32_t kf_policies = kDefaultPolicies;
  if (kf_mode == KernelFeedback::kScx) {
    kf_mode = KernelFeedback::kAuto;
    kf_policies |= kPolicyScx;
  }
  if (const char* kf = std::getenv("MN_KERNEL_FEEDBACK")) {
    std::string error;
    if (!ParseKernelFeedback(kf, &kf_mode, &kf_policies, &error)) {
      ConfigError(absl::InvalidArgumentError(error));
    }
  }

  std::size_t stack = opts.stack_size != 0 ? opts.stack_size : kDefaultStackSize;
  auto* rt = new Runtime(*procs, stack);
  rt->detect_deadlock = opts.detect_deadlock;
  rt->run_tid = static_cast<int32_t>(gettid());
  pthread_sigmask(SIG_SETMASK, nullptr, &rt->sigmask);
  pthread_getschedparam(pthread_self(), &rt->sched_policy, &rt->sched_param_);
  rt->schedtrace_ms = *trace;
  {
    ActiveRegistry& reg = Registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    if (reg.rt != nullptr) {
      delete rt;
      throw std::logic_error("mn::run: another runtime is already active in this process");
    }
    reg.rt = rt;
    reg.signal_rt.store(rt, std::memory_order_release);
  }
  // Before the first M starts: each M registers its thread with the programs.
  if (kf_mode == KernelFeedback::kOff) {
    rt->kf_reason = "turned off (MN_KERNEL_FEEDBACK=off or Options::kernel_feedback)";
  } else {
    rt->ktel = KernelTelemetry::Open(rt->procs, kf_policies, &rt->kf_reason, &rt->kf_pin_error);
    if (rt->ktel != nullptr && (kf_policies & kAllPolicies) != 0) {
      rt->feedback = std::make_unique<Feedback>(rt);
      // For experiments (docs/kernel-feedback.md, "Choosing the threshold"): 1..100000 us.
      if (const char* t = std::getenv("MN_KF_HANDOFF_US")) {
        char* end = nullptr;
        long us = std::strtol(t, &end, 10);
        if (end == t || *end != 0 || us < 1 || us > 100000) {
          ConfigError(absl::InvalidArgumentError(absl::StrFormat(
              "MN_KF_HANDOFF_US=\"%s\": must be microseconds, 1 to 100000", t)));
        }
        rt->feedback->threshold_ns = us * 1000;
      }
      if (!rt->feedback->Start(rt->ktel->events_fd(), &rt->kf_reason)) {
        rt->feedback.reset();
        rt->ktel.reset();
        rt->kf_reason = "starting the feedback thread: " + rt->kf_reason;
      } else if (kf_policies & MN_POLICY_SPIN) {
        // release pairs with SpinAllowed's and WakeP's acquire: `feedback` is set.
        rt->kf_spin.store(true, std::memory_order_release);
      }
    }
    if (rt->ktel == nullptr && kf_mode == KernelFeedback::kRequired) {
      std::fprintf(stderr, "mn: kernel feedback is required but unavailable: %s\n",
                   rt->kf_reason.c_str());
      std::fflush(stderr);
      std::exit(2);
    }
    if (rt->ktel != nullptr) rt->kf_policies = kf_policies & ~kPolicyScx;
    rt->scx_wanted = (kf_policies & kPolicyScx) != 0;
    StartScx(rt, kf_mode == KernelFeedback::kRequired);
  }
  InstallSignalHandlers();
  InstallQuitHandler();
  // Before main is made and the first M starts: the trace holds the whole run.
  if (!exec_trace->path.empty()) {
    if (absl::Status s = StartTrace(rt, exec_trace->path, exec_trace->ring_bytes); !s.ok()) {
      ConfigError(absl::Status(s.code(), absl::StrFormat("%s=\"%s\": %s", exec_trace->setting,
                                                         exec_trace->path, s.message())));
    }
  }

  struct MainState {
    absl::AnyInvocable<int()>* main;
    Runtime* rt;
  } state{&main, rt};
  auto body = [](void* p) {
    auto* st = static_cast<MainState*>(p);
    st->rt->main_result = (*st->main)();
  };
  G* g = NewG(rt, nullptr);
  g->is_main = true;
  g->fn_on_heap = false;
  g->fn = &state;
  g->entry = body;
  g->destroy = nullptr;  // run() owns main's callable
  CountSpawn(rt, nullptr, g, MainLabel());
  {
    std::lock_guard<detail::SchedLock> lock(rt->lock);
    g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
    rt->runq.PushBack(g);
    rt->runqsize.store(rt->runq.size, std::memory_order_relaxed);
  }
  StartSysmon(rt);
  StartMainM(rt);

  rt->main_done.Sleep();
  {
    ActiveRegistry& reg = Registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    reg.rt = nullptr;
    reg.signal_rt.store(nullptr, std::memory_order_release);
  }
  StopRuntime(rt);
  StopSysmon(rt);
  if (rt->feedback != nullptr) rt->feedback->Stop();  // no P is taken after this
  WaitForMs(rt);
  if (!exec_trace->path.empty() || rt->tracer != nullptr) {
    // A trace still running (MN_TRACE's, or one trace_start began) ends with the run.
    if (absl::Status s = StopTrace(rt); !s.ok() && !absl::IsFailedPrecondition(s)) {
      std::fprintf(stderr, "mn: execution trace: %s\n", std::string(s.message()).c_str());
    }
  }
  StopScx(rt);
  if (rt->schedtrace_ms > 0) std::fputs((SchedTraceLine(rt, true) + "\n").c_str(), stderr);
  int result = rt->main_result;
  std::exception_ptr exc = rt->main_exception;
  Unref(rt);
  if (exc) std::rethrow_exception(exc);
  return result;
}

}  // namespace detail

void yield() { detail::Gosched(); }

void preempt_point() { detail::CheckPState(); }

void lock_os_thread() {
  detail::M* m = detail::GetM();
  if (m == nullptr || m->curg == nullptr) return;
  detail::G* g = m->curg;
  if (g->lock_count++ == 0) {
    g->lockedm = m;
    m->lockedg = g;
  }
}

void unlock_os_thread() {
  detail::M* m = detail::GetM();
  if (m == nullptr || m->curg == nullptr) return;
  detail::G* g = m->curg;
  if (g->lock_count == 0) return;  // as Go: unlocking an unlocked G does nothing
  if (--g->lock_count == 0) {
    g->lockedm = nullptr;
    m->lockedg = nullptr;
  }
}

Stats stats() {
  Stats st;
  detail::Runtime* rt = nullptr;
  detail::ActiveRegistry& reg = detail::Registry();
  std::lock_guard<std::mutex> reg_lock(reg.mu);  // keeps rt alive while it is read
  if (detail::M* m = detail::GetM()) {
    rt = m->rt;
  } else {
    rt = reg.rt;
  }
  if (rt == nullptr) return st;
  st.procs = rt->procs;
  st.idle_procs = rt->npidle.load(std::memory_order_relaxed);
  st.gs = detail::GCount(rt);
  st.threads = rt->mcount.load(std::memory_order_relaxed);
  {
    std::lock_guard<detail::SchedLock> lock(rt->lock);
    st.idle_threads = rt->nmidle;
  }
  st.spinning_threads = rt->nmspinning.load(std::memory_order_relaxed);
  st.handoffs = rt->handoffs.load(std::memory_order_relaxed);
  st.preempt_requests = rt->preempt_requests.load(std::memory_order_relaxed);
  st.hogs = rt->hogs.load(std::memory_order_relaxed);
  st.kernel_handoffs = rt->kernel_handoffs.load(std::memory_order_relaxed);
  detail::SpinCounters spin = SumSpins(rt);
  st.spins = spin.spins;
  st.spin_ns = spin.spin_ns;
  st.spins_declined = spin.spins_declined;
  st.wakes_declined = spin.wakes_declined;
  st.idle_wakeups = rt->idle_wakeups.load(std::memory_order_relaxed);
  st.spin_backstops = rt->spin_backstops.load(std::memory_order_relaxed);
  st.spawns = spin.spawns;
  st.parks = spin.parks;
  st.readies = spin.readies;
  return st;
}

KernelFeedbackStatus kernel_feedback_status() {
  KernelFeedbackStatus st;
  detail::ActiveRegistry& reg = detail::Registry();
  std::lock_guard<std::mutex> reg_lock(reg.mu);  // keeps rt alive while it is read
  detail::Runtime* rt = detail::GetM() != nullptr ? detail::GetM()->rt : reg.rt;
  if (rt == nullptr) {
    st.reason = "no runtime is active";
    return st;
  }
  st.active = rt->ktel != nullptr;
  if (st.active) {
    st.policies = detail::PolicyNames(rt->kf_policies);
    st.pin_dir = rt->ktel->pin_dir();
    if (!rt->kf_pin_error.empty()) st.reason = "not pinned: " + rt->kf_pin_error;
  } else {
    st.reason = rt->kf_reason;
  }
  st.scx = rt->scx_on.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> scx_lock(rt->scx_mu);
  st.scx_reason = rt->scx_reason;
  return st;
}

namespace detail {
uint64_t NameLabel(std::string_view name) {
  bool outside = false;
  Runtime* rt = AcquireRuntime(&outside);  // throws, as go() does, with no runtime
  uint64_t word = rt->labels.Intern(name);
  if (outside) Unref(rt);
  return word;
}
}  // namespace detail

bool in_runtime() noexcept { return detail::CurrentG() != nullptr; }

int procs() noexcept {
  if (detail::M* m = detail::GetM()) return m->rt->procs;
  detail::ActiveRegistry& reg = detail::Registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  return reg.rt != nullptr ? reg.rt->procs : 0;
}

}  // namespace mn
