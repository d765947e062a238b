// SPDX-License-Identifier: GPL-2.0
/* mnsched's sched_ext scheduler: the kernel runs first the Ms that hold a P.
 *
 * An M (an OS thread of an mnsched runtime) that holds a P and runs a G is the only kind
 * of M doing the program's work; an M without a P is about to park, is in a blocking
 * system call, or is looking for work (spinning). CFS sees them all alike and lets a
 * spinner or an idle M delay a P-holder. This scheduler orders them with three shared
 * queues (mn_scx.h): RUN (P-holders outside blocking calls, whether running a G or
 * between two, and Ms just woken, spinning or not, which are woken to take work), OTHER
 * (everything else it schedules) and SPIN (spinning Ms that were not just woken), taken in
 * that order, and reads the runtime's own view of each M from the hints it writes
 * (mn_telemetry.h: p, g, spinning, blocking, in_critical) through maps it shares.
 *
 * One object, two modes: the struct_ops maps `mnsched` (SCX_OPS_SWITCH_PARTIAL: only the
 * tasks switched to SCHED_EXT, i.e. the Ms) and `mnsched_all` (every task) share all the
 * programs; the loader creates only the one it registers (bpf_map__set_autocreate).
 * Two objects would compile and verify the same programs twice for one flag and a name.
 *
 * Invariants:
 *  - A task is an M only if its tgid is a key of rt_tracked and its tid a key of that
 *    runtime's tracked map; only then are hints read, and only then is a telemetry
 *    record written. Everything else is class OTHER. So a runtime that is not entered,
 *    or a thread that is not (or no longer) an M, is scheduled like any task.
 *  - Hints are written by the runtime without telling us, and read here one aligned word
 *    at a time (volatile): a decision may use a hint a few hundred ns old. Every decision
 *    taken from them is a preference, never a correctness condition: a task in the
 *    wrong queue still runs.
 *  - Nothing waits forever. dispatch takes RUN first, but after MN_FAIR_EVERY dispatches
 *    on one CPU that passed over a non-empty OTHER or SPIN, it takes one of
 *    those first once (OTHER and SPIN by turns, as either can stay non-empty).
 *    P-holders can keep RUN non-empty for good (GOMAXPROCS busy Ms); an M left out
 *    would be one that must run to park or to give its P back, which the runtime waits
 *    for, and the kernel's watchdog would end the scheduler after timeout_ms.
 *  - A spinning M runs only when nothing else waits: its slice is short, and `tick` ends
 *    it early when RUN or OTHER have tasks. Spinning is the runtime looking for work that
 *    those tasks may be about to make.
 *  - A wakeup ranks RUN, for that one enqueue (or select_cpu's direct dispatch), whatever
 *    the M's hints say; every later enqueue (a slice's end, a preemption, a yield) is
 *    ranked from the hints again. A spinning M never sleeps while it spins: it drops the
 *    state before it parks or polls (findrunnable), and a sleeping M is given it only by
 *    startm, just before startm wakes it: by wakep, when a G was made runnable and a P is
 *    idle (Go's rule that a new spinner starts only for work that exists), or by handoffp
 *    for a P taken from an M in a blocking call or switched out, when nobody else spins.
 *    So a woken spinner is not looking for work that may come; it is the M the runtime
 *    chose to run work that is queued now (wakep), or to keep a P in use that its M
 *    cannot use (handoffp, at most once per handoff, and it parks when it finds nothing),
 *    and must run as soon as a P-holder would. Ranked SPIN it waited behind every OTHER
 *    task, in full mode a CPU hog's slices, until a fairness turn, while the G it was
 *    woken for waited for the M that queued it (which ranked the scheduler's p50 behind
 *    the fair class's). The same holds for the spin policy's wakeups and the feedback
 *    thread's (WakeIdleP, HandoffP), which go through startm: no mark is needed. The
 *    other sleep a spinner can take, the scheduler lock's futex, ends when the holder
 *    hands the lock on, which every M waits for: RUN too. Once it has run, a spinner that
 *    goes on spinning is searching again and is SPIN: `tick` cuts it when others wait.
 *  - An M inside a runtime critical section (hints.in_critical: it holds the scheduler
 *    lock) gets its slice extended when it runs out, at most MN_MAX_EXTENSIONS times in
 *    a row per run: preempting the lock holder would make every other M wait on the lock
 *    for a whole slice; the bound keeps a runtime that leaves in_critical set by mistake
 *    from holding a CPU.
 *  - cpu_run[cpu] describes the task this scheduler last started on cpu, set in
 *    `running` and cleared in `stopping` by that CPU (under its rq lock), and read by
 *    any CPU without a lock: a kick chosen from it may hit a CPU whose task just changed,
 *    which costs one needless reschedule there. Whether that task spins is read live
 *    from its hints, as an M starts and stops spinning without being rescheduled.
 *  - A kick (SCX_KICK_PREEMPT) is sent only for a RUN-class M (a woken spinner included)
 *    that found no idle CPU, and
 *    only to a CPU running a spinning M or a task that is not one of that runtime's Ms:
 *    never to one running another P-holder (they are equals), nor to the runtime's own
 *    other Ms (one without a P is on its way to park, block or hand its work over, and
 *    preempting it delays that). Not for an M requeued by its own CPU at the end of its
 *    slice either, unless others wait in RUN: that CPU dispatches next and takes it. In
 *    partial mode a CPU running a CFS task is not busy in cpu_run and is never kicked:
 *    CFS would win over the kick anyway.
 *  - Telemetry records follow the same seq protocol as telemetry.bpf.c's (even -> odd by
 *    CAS, give up after LOCK_TRIES counting nr_dropped): until the runtime sets
 *    rt_state.scx_active, telemetry.bpf.c writes the same records, from other CPUs, and
 *    user space reads them at any time. Within this scheduler one task's ops are
 *    serialised by its rq lock. rt_states gives the tids of each runtime's sysmon and
 *    feedback threads, which rank RUN like a woken M (rt_helper), and trace_on: while a
 *    runtime traces, `running` sends its trace record (mn_record.bpf.h, trace_switch_in)
 *    to the runtime's ring in rt_traces, under the same record lock, as telemetry.bpf.c
 *    does while this scheduler is off.
 *  - The exit record is written once, by `exit`, which the kernel calls once.
 */
#define sched_ext_ops mn_vmlinux_sched_ext_ops /* a build machine's own, if it has one */
#include "vmlinux.h"
#undef sched_ext_ops

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mn_scx.h"
#include "mn_telemetry.h"
#include "mn_record.bpf.h"
#include "scx_kernel.h"

char LICENSE[] SEC("license") = "GPL";

/* Set before load: the possible CPUs (libbpf_num_possible_cpus), which bounds the scans. */
const volatile __u32 nr_cpus = 1;
/* Set before load: the slice of class OTHER (mnsched-scx --other_slice). In full mode that
 * is every task of the system that is not an M: a CPU hog there keeps a CPU for a whole
 * slice from the Ms that get no kick (neither woken nor holding a P) and from every other
 * task. The kernel's default, SCX_SLICE_DFL (20 ms), is what scx_simple uses; 3 ms, near
 * the fair class's own slices, gave the evaluation lower p50 and p99 at the same
 * throughput (docs/kernel-feedback.md, "sched_ext: evaluation in the VM"). */
const volatile __u64 other_slice_ns = 3ULL * 1000 * 1000;

#define MN_SPIN_SLICE (200ULL * 1000)       /* a spinner gives way at least this often */
#define MN_CRIT_EXTENSION (100ULL * 1000)   /* added to an expiring slice in a critical section */
#define MN_MAX_EXTENSIONS 4
#define MN_FAIR_EVERY 8

/* The inner maps' templates: identical to telemetry.bpf.c's tracked, hints, m_telemetry
 * and rt_state, which the kernel checks (type, key and value size, flags, max_entries)
 * when a runtime's map is entered. */
struct mn_tracked_map {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);
  __type(value, __u32);
};

struct mn_hints_map {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);
  __type(value, struct mn_m_hints);
};

struct mn_telemetry_map {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);
  __type(value, struct mn_m_telemetry);
};

struct mn_rt_state_map {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct mn_rt_state);
};

/* clang 14 emits the value types of inner map templates only as forward declarations,
 * unless the object has them in full elsewhere; libbpf then cannot size the inner maps.
 * This global has them in full. Its section is none libbpf knows, so it is no map, and
 * is not in the skeleton. */
struct {
  struct mn_m_hints hints;
  struct mn_m_telemetry telemetry;
  struct mn_rt_state rt_state;
} mn_btf_anchor SEC(".mn_btf_anchor");

/* Keyed by the runtime's tgid. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MN_SCX_MAX_RUNTIMES);
  __type(key, __u32);
  __array(values, struct mn_tracked_map);
} rt_tracked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MN_SCX_MAX_RUNTIMES);
  __type(key, __u32);
  __array(values, struct mn_hints_map);
} rt_hints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MN_SCX_MAX_RUNTIMES);
  __type(key, __u32);
  __array(values, struct mn_telemetry_map);
} rt_telemetry SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MN_SCX_MAX_RUNTIMES);
  __type(key, __u32);
  __array(values, struct mn_rt_state_map);
} rt_states SEC(".maps");

/* A runtime's execution-trace ring (telemetry.bpf.c's trace_events), entered only by a
 * runtime that has one: `running` sends it a record per switch-in while the runtime
 * traces (rt_state.trace_on), as telemetry.bpf.c does while this scheduler is off. */
struct mn_trace_ring_map {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, MN_TRACE_RING_BYTES);
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
  __uint(max_entries, MN_SCX_MAX_RUNTIMES);
  __type(key, __u32);
  __array(values, struct mn_trace_ring_map);
} rt_traces SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct mn_scx_stats);
} stats SEC(".maps");

struct mn_cpu_run cpu_run[MN_MAX_CPUS];

struct mn_scx_exit exit_info;

static __always_inline struct mn_scx_stats *my_stats(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&stats, &zero);
}

#define STAT_INC(field)                         \
  do {                                          \
    struct mn_scx_stats *s__ = my_stats();      \
    if (s__) s__->field++;                      \
  } while (0)

static __always_inline struct mn_cpu_run *cpu_rec(__s32 cpu) {
  if (cpu < 0 || cpu >= MN_MAX_CPUS) return NULL;
  return &cpu_run[cpu & (MN_MAX_CPUS - 1)];
}

/* One of a runtime's Ms, as found from its task. */
struct mn_m {
  __u32 tgid;
  __s32 slot;
  struct mn_m_hints *h;
};

static __always_inline bool find_m(struct task_struct *p, struct mn_m *m) {
  m->tgid = 0;
  m->slot = -1;
  m->h = NULL;
  __u32 tgid = p->tgid;
  void *tracked = bpf_map_lookup_elem(&rt_tracked, &tgid);
  if (!tracked) return false;
  __u32 tid = p->pid;
  __u32 *slot = bpf_map_lookup_elem(tracked, &tid);
  if (!slot) return false;
  __u32 s = *slot;
  m->tgid = tgid;
  m->slot = s;
  void *hints = bpf_map_lookup_elem(&rt_hints, &tgid);
  if (hints) m->h = bpf_map_lookup_elem(hints, &s);
  return true;
}

/* A runtime's own helper thread, sysmon or the feedback thread (rt_state's tids): not an
 * M, but the Ms wait on it (a P it is taking, a wakeup the spin policy left to its
 * backstop), and it runs for microseconds at a time. In OTHER it would wait behind a hog's
 * threads for a fairness turn, which RUN's traffic can make 100 ms long or more. */
static __always_inline bool rt_helper(struct task_struct *p) {
  __u32 tgid = p->tgid;
  void *states = bpf_map_lookup_elem(&rt_states, &tgid);
  if (!states) return false;
  __u32 zero = 0;
  struct mn_rt_state *st = bpf_map_lookup_elem(states, &zero);
  if (!st) return false;
  __u32 tid = p->pid;
  return tid == *(volatile __u32 *)&st->sysmon_tid || tid == *(volatile __u32 *)&st->feedback_tid;
}

static __always_inline struct mn_m_hints *hints_of(__u32 tgid, __s32 slot) {
  void *hints = bpf_map_lookup_elem(&rt_hints, &tgid);
  if (!hints || slot < 0) return NULL;
  __u32 s = slot;
  return bpf_map_lookup_elem(hints, &s);
}

#define HINT(h, field) (*(volatile typeof((h)->field) *)&(h)->field)

static __always_inline bool m_spinning(struct mn_m_hints *h) {
  return h && HINT(h, spinning);
}

/* Holds a P and is not in a blocking call: running a G, or between two in the scheduler,
 * where a preemption holds up the P's whole local queue just the same. */
static __always_inline bool m_holds_p(struct mn_m_hints *h) {
  return h && HINT(h, p) >= 0 && !HINT(h, blocking);
}

/* The queue an M or task belongs in. A woken M, spinning or not, is usually woken to take
 * a P (a handoff, or a G made runnable for it): left behind others it would hold that
 * work up, and did (the p50 latency of the previous attempt, without this). A woken
 * spinner above all: see "A wakeup ranks RUN" at the top. */
static __always_inline enum mn_scx_class classify(struct mn_m_hints *h, bool woken) {
  if (!h) return mn_scx_other;
  if (woken) return mn_scx_run;
  if (m_spinning(h)) return mn_scx_spin;
  if (m_holds_p(h)) return mn_scx_run;
  return mn_scx_other;
}

static __always_inline __u64 slice_of(enum mn_scx_class cls) {
  if (cls == mn_scx_spin) return MN_SPIN_SLICE;
  return cls == mn_scx_other ? other_slice_ns : SCX_SLICE_DFL;
}

static __always_inline void insert(struct task_struct *p, __u64 dsq, __u64 slice, __u64 flags) {
  if (mn_ksym_exists(scx_bpf_dsq_insert))
    scx_bpf_dsq_insert(p, dsq, slice, flags);
  else
    scx_bpf_dispatch(p, dsq, slice, flags);
}

static __always_inline bool move_to_local(__u64 dsq) {
  if (mn_ksym_exists(scx_bpf_dsq_move_to_local)) return scx_bpf_dsq_move_to_local(dsq);
  return scx_bpf_consume(dsq);
}

static __always_inline void set_slice(struct task_struct *p, __u64 slice) {
  if (mn_ksym_exists(scx_bpf_task_set_slice))
    scx_bpf_task_set_slice(p, slice);
  else
    ((struct task_struct___mn *)p)->scx.slice = slice;
}

static __always_inline __u64 slice_left(struct task_struct *p) {
  return ((struct task_struct___mn *)p)->scx.slice;
}

/* ---- Telemetry: the same records and protocol as telemetry.bpf.c ---- */

static __always_inline struct mn_m_telemetry *record_of(struct mn_m *m) {
  __u32 tgid = m->tgid;
  void *tel = bpf_map_lookup_elem(&rt_telemetry, &tgid);
  if (!tel) return NULL;
  __u32 s = m->slot;
  return bpf_map_lookup_elem(tel, &s);
}

/* An M of m's runtime switches in (r locked, not yet updated): its trace record, if the
 * runtime traces. Two lookups per switch-in when it does not. */
static __always_inline void trace_record(struct mn_m *m, struct mn_m_telemetry *r, __u64 now) {
  __u32 tgid = m->tgid, zero = 0;
  void *states = bpf_map_lookup_elem(&rt_states, &tgid);
  struct mn_rt_state *st = states ? bpf_map_lookup_elem(states, &zero) : NULL;
  if (!st || !*(volatile __u32 *)&st->trace_on) return;
  trace_switch_in(bpf_map_lookup_elem(&rt_traces, &tgid), st, m->slot, r, now);
}

/* ---- Kicks ---- */

struct kick_scan {
  __u32 start;
  __u32 tgid;    /* the runtime of the M that waits */
  __s32 spin_cpu;
  __s32 other_cpu;
};

static long kick_scan_one(__u32 i, void *data) {
  struct kick_scan *k = data;
  __u32 cpu = k->start + i;
  if (cpu >= nr_cpus) cpu -= nr_cpus;
  struct mn_cpu_run *c = cpu_rec(cpu);
  if (!c || !*(volatile __u32 *)&c->busy) return 0;
  __s32 slot = *(volatile __s32 *)&c->slot;
  __u32 tgid = *(volatile __u32 *)&c->tgid;
  if (slot < 0) {
    if (k->other_cpu < 0) k->other_cpu = cpu;
    return 0;
  }
  struct mn_m_hints *h = hints_of(tgid, slot);
  if (m_spinning(h)) {
    k->spin_cpu = cpu;
    return 1; /* the best there is */
  }
  if (tgid != k->tgid && !m_holds_p(h) && k->other_cpu < 0) k->other_cpu = cpu;
  return 0;
}

/* A RUN-class M of runtime tgid was queued: find it a CPU now rather than at the next
 * slice's end somewhere. */
static __always_inline void kick_for(struct task_struct *p, __u32 tgid) {
  __s32 idle = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
  if (idle >= 0) {
    scx_bpf_kick_cpu(idle, SCX_KICK_IDLE);
    return;
  }
  __u32 n = nr_cpus;
  if (n == 0 || n > MN_MAX_CPUS) return;
  struct kick_scan k = {
      .start = bpf_get_prandom_u32() % n, /* spread the kicks over equal candidates */
      .tgid = tgid,
      .spin_cpu = -1,
      .other_cpu = -1,
  };
  /* bpf_loop, not an unrolled loop: the verifier walks a 1024-CPU loop in every path. */
  bpf_loop(n, kick_scan_one, &k, 0);
  __s32 cpu = k.spin_cpu >= 0 ? k.spin_cpu : k.other_cpu;
  if (cpu < 0) return;
  scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
  STAT_INC(kicks);
}

/* ---- The ops ---- */

SEC("struct_ops/mnsched_select_cpu")
s32 BPF_PROG(mnsched_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags) {
  s32 cpu = -1;
  bool prev_idle = false;
  if (prev_cpu >= 0 && bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
      scx_bpf_test_and_clear_cpu_idle(prev_cpu)) {
    cpu = prev_cpu;
    prev_idle = true;
  } else {
    cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
  }
  if (cpu < 0) return prev_cpu;
  /* An idle CPU is the best there is for anyone: skip the queues. */
  struct mn_m m = {};
  enum mn_scx_class cls = mn_scx_other;
  bool spinner = false;
  if (find_m(p, &m)) {
    cls = classify(m.h, true);
    spinner = m_spinning(m.h);
  } else if (rt_helper(p)) {
    cls = mn_scx_run;
  }
  insert(p, SCX_DSQ_LOCAL, slice_of(cls), 0);
  struct mn_scx_stats *s = my_stats();
  if (s) {
    s->direct_idle++;
    if (prev_idle) s->prev_cpu_idle++;
    if (spinner && cls == mn_scx_run) s->spin_wakeups++;
  }
  return cpu;
}

SEC("struct_ops/mnsched_enqueue")
void BPF_PROG(mnsched_enqueue, struct task_struct *p, u64 enq_flags) {
  struct mn_m m = {};
  enum mn_scx_class cls = mn_scx_other;
  bool is_m = find_m(p, &m);
  if (is_m) cls = classify(m.h, enq_flags & SCX_ENQ_WAKEUP);
  else if (rt_helper(p)) {
    cls = mn_scx_run;
    m.tgid = p->tgid;
  }
  struct mn_scx_stats *s = my_stats();
  switch (cls) {
    case mn_scx_run: {
      /* An M whose slice ran out is queued by its own CPU, which dispatches next and
       * takes RUN's head: a kick is wanted only if others wait there before it. (One
       * preempted by a higher class keeps slice left, and its CPU is taken.) */
      bool requeued = !(enq_flags & SCX_ENQ_WAKEUP) && slice_left(p) == 0;
      insert(p, MN_SCX_DSQ_RUN, SCX_SLICE_DFL, enq_flags);
      if (s) {
        s->enq_run++;
        if (is_m && (enq_flags & SCX_ENQ_WAKEUP) && m_spinning(m.h)) s->spin_wakeups++;
      }
      if (!requeued || scx_bpf_dsq_nr_queued(MN_SCX_DSQ_RUN) > 1) kick_for(p, m.tgid);
      break;
    }
    case mn_scx_spin:
      insert(p, MN_SCX_DSQ_SPIN, MN_SPIN_SLICE, enq_flags);
      if (s) s->enq_spin++;
      break;
    default:
      insert(p, MN_SCX_DSQ_OTHER, other_slice_ns, enq_flags);
      if (s) s->enq_other++;
      break;
  }
}

static __always_inline bool take(__u64 dsq, struct mn_scx_stats *s) {
  if (!move_to_local(dsq)) return false;
  if (s) {
    if (dsq == MN_SCX_DSQ_RUN) s->dispatched_run++;
    else if (dsq == MN_SCX_DSQ_OTHER) s->dispatched_other++;
    else s->dispatched_spin++;
  }
  return true;
}

SEC("struct_ops/mnsched_dispatch")
void BPF_PROG(mnsched_dispatch, s32 cpu, struct task_struct *prev) {
  struct mn_scx_stats *s = my_stats();
  struct mn_cpu_run *c = cpu_rec(cpu);
  if (c && c->fair >= MN_FAIR_EVERY) {
    /* OTHER and SPIN in turn: either can be non-empty for good. */
    c->fair = 0;
    bool spin_first = c->fair_turns++ & 1;
    if (spin_first ? take(MN_SCX_DSQ_SPIN, s) || take(MN_SCX_DSQ_OTHER, s)
                   : take(MN_SCX_DSQ_OTHER, s) || take(MN_SCX_DSQ_SPIN, s))
      return;
  }
  /* Passes are counted, never reset by a dispatch that found RUN empty: in full mode
   * OTHER is hardly ever empty, and a reset there starved SPIN for seconds. */
  if (take(MN_SCX_DSQ_RUN, s)) {
    if (c && (scx_bpf_dsq_nr_queued(MN_SCX_DSQ_OTHER) > 0 ||
              scx_bpf_dsq_nr_queued(MN_SCX_DSQ_SPIN) > 0))
      c->fair++;
    return;
  }
  if (take(MN_SCX_DSQ_OTHER, s)) {
    if (c && scx_bpf_dsq_nr_queued(MN_SCX_DSQ_SPIN) > 0) c->fair++;
    return;
  }
  take(MN_SCX_DSQ_SPIN, s);
}

SEC("struct_ops/mnsched_tick")
void BPF_PROG(mnsched_tick, struct task_struct *p) {
  struct mn_m m = {};
  if (!find_m(p, &m) || !m.h) return;
  if (m_spinning(m.h)) {
    if (slice_left(p) > 0 && (scx_bpf_dsq_nr_queued(MN_SCX_DSQ_RUN) > 0 ||
                              scx_bpf_dsq_nr_queued(MN_SCX_DSQ_OTHER) > 0)) {
      set_slice(p, 0);
      STAT_INC(spin_yields);
    }
    return;
  }
  /* The kernel checks the slice right after this op: 0 now means preempted now. */
  if (slice_left(p) == 0 && HINT(m.h, in_critical)) {
    struct mn_cpu_run *c = cpu_rec(bpf_get_smp_processor_id());
    if (!c || c->extensions >= MN_MAX_EXTENSIONS) return;
    c->extensions++;
    set_slice(p, MN_CRIT_EXTENSION);
    STAT_INC(slice_extensions);
  }
}

SEC("struct_ops/mnsched_runnable")
void BPF_PROG(mnsched_runnable, struct task_struct *p, u64 enq_flags) {
  struct mn_m m = {};
  if (!find_m(p, &m)) return;
  struct mn_m_telemetry *r = record_of(&m);
  if (!r || !rec_lock(r)) return;
  __u64 now = bpf_ktime_get_ns();
  if (r->state != mn_on_cpu && r->state != mn_preempted) {
    r->state = mn_runnable;
    r->runnable_since_ns = now;
    r->since_ns = now;
  }
  /* Also called when the kernel re-queues a task to change its properties. */
  if (enq_flags & SCX_ENQ_WAKEUP) r->nr_wakeups++;
  rec_unlock(r);
}

SEC("struct_ops/mnsched_running")
void BPF_PROG(mnsched_running, struct task_struct *p) {
  __s32 cpu = bpf_get_smp_processor_id();
  struct mn_m m = {};
  bool is_m = find_m(p, &m);
  struct mn_cpu_run *c = cpu_rec(cpu);
  if (c) {
    c->cls = is_m ? classify(m.h, false) : mn_scx_other;
    c->tgid = is_m ? m.tgid : 0;
    c->slot = is_m ? m.slot : -1;
    c->extensions = 0;
    /* The fields before the flag: a scan that sees busy sees this task's. */
    __sync_fetch_and_add(&c->busy, 0);
    c->busy = 1;
  }
  if (!is_m) return;
  struct mn_m_telemetry *r = record_of(&m);
  if (!r || !rec_lock(r)) return;
  __u64 now = bpf_ktime_get_ns();
  trace_record(&m, r, now);
  end_wait(r, now);
  if (r->cpu != cpu && r->state != mn_none) r->nr_migrations++;
  r->state = mn_on_cpu;
  r->since_ns = now;
  r->cpu = cpu;
  rec_unlock(r);
}

SEC("struct_ops/mnsched_stopping")
void BPF_PROG(mnsched_stopping, struct task_struct *p, bool runnable) {
  __s32 cpu = bpf_get_smp_processor_id();
  struct mn_cpu_run *c = cpu_rec(cpu);
  if (c) c->busy = 0;
  struct mn_m m = {};
  if (!find_m(p, &m)) return;
  struct mn_m_telemetry *r = record_of(&m);
  if (!r || !rec_lock(r)) return;
  __u64 now = bpf_ktime_get_ns();
  if (r->state == mn_on_cpu && now > r->since_ns) r->oncpu_ns += now - r->since_ns;
  r->offcpu_since_ns = now;
  if (runnable) {
    r->state = mn_preempted;
    r->nr_preempted++;
    r->runnable_since_ns = now;
  }
  /* Not runnable: `quiescent` follows at once and says it blocked. */
  r->since_ns = now;
  r->cpu = cpu;
  rec_unlock(r);
}

SEC("struct_ops/mnsched_quiescent")
void BPF_PROG(mnsched_quiescent, struct task_struct *p, u64 deq_flags) {
  /* Also called when the kernel takes a task off to change its properties. */
  if (!(deq_flags & SCX_DEQ_SLEEP)) return;
  struct mn_m m = {};
  if (!find_m(p, &m)) return;
  struct mn_m_telemetry *r = record_of(&m);
  if (!r || !rec_lock(r)) return;
  r->state = mn_blocked;
  r->nr_blocked++;
  r->since_ns = bpf_ktime_get_ns();
  rec_unlock(r);
}

/* Sleepable (the loader sets BPF_F_SLEEPABLE: libbpf 1.1 has no "struct_ops.s"):
 * scx_bpf_create_dsq allocates. */
SEC("struct_ops/mnsched_init")
s32 BPF_PROG(mnsched_init) {
  s32 err = scx_bpf_create_dsq(MN_SCX_DSQ_RUN, -1);
  if (err) return err;
  err = scx_bpf_create_dsq(MN_SCX_DSQ_OTHER, -1);
  if (err) return err;
  return scx_bpf_create_dsq(MN_SCX_DSQ_SPIN, -1);
}

SEC("struct_ops/mnsched_exit")
void BPF_PROG(mnsched_exit, struct scx_exit_info___mn *ei) {
  exit_info.exit_code = ei->exit_code;
  const char *reason = ei->reason;
  const char *msg = ei->msg;
  if (reason) bpf_probe_read_kernel_str(exit_info.reason, sizeof(exit_info.reason), reason);
  if (msg) bpf_probe_read_kernel_str(exit_info.msg, sizeof(exit_info.msg), msg);
  /* Last, after a full barrier: user space takes kind != 0 to mean the rest is written. */
  __s64 kind = ei->kind;
  __sync_fetch_and_add(&exit_info.kind, 0);
  exit_info.kind = kind ? kind : -1;
}

/* The two modes share every program; they differ in flags and name. */
#define MN_SCX_OPS(ops_name, ops_flags) \
    .select_cpu = (void *)mnsched_select_cpu, \
    .enqueue = (void *)mnsched_enqueue, \
    .dispatch = (void *)mnsched_dispatch, \
    .tick = (void *)mnsched_tick, \
    .runnable = (void *)mnsched_runnable, \
    .running = (void *)mnsched_running, \
    .stopping = (void *)mnsched_stopping, \
    .quiescent = (void *)mnsched_quiescent, \
    .init = (void *)mnsched_init, \
    .exit = (void *)mnsched_exit, \
    .flags = (ops_flags), \
    .name = ops_name,

SEC(".struct_ops")
struct sched_ext_ops mnsched = {MN_SCX_OPS("mnsched", SCX_OPS_SWITCH_PARTIAL)};

SEC(".struct_ops")
struct sched_ext_ops mnsched_all = {MN_SCX_OPS("mnsched_all", 0)};
