// SPDX-License-Identifier: GPL-2.0
/* Kernel telemetry for one mnsched runtime: what the scheduler does to each of its Ms.
 *
 * One instance is loaded per runtime process, with its own maps (mn_telemetry.h describes
 * the records). Programs on the scheduler's tracepoints keep, per M, whether it is on a
 * CPU, preempted (switched out still runnable) or blocked (switched out asleep), since
 * when, and how long it waited for a CPU; and per CPU, whether it is idle and whether one
 * of the runtime's Ms runs there.
 *
 * Invariants:
 *  - Only threads in `tracked` are followed. The runtime adds an M's tid when the M
 *    starts and removes it when it ends. Another task costs one compare of its tgid with
 *    the runtime's (set read-only before load), and a thread of the process that is not
 *    an M one hash lookup.
 *  - A wait for a CPU starts at a wakeup or at a switch-out that leaves the task runnable
 *    (preempt, or prev_state == TASK_RUNNING: __schedule only dequeues a task that
 *    switches out voluntarily with a sleeping state), and ends at the next switch-in.
 *    `preempt` alone would miss most preemptions: a task preempted on its way back to
 *    user mode goes through schedule(), with preempt false and TASK_RUNNING. The price
 *    is that sched_yield counts as a preemption too.
 *  - Writers of one M's record may run on two CPUs at once (a wakeup on the waker's CPU
 *    and a migration by the load balancer), so each takes the record's seq from even to
 *    odd with a CAS, and drops its event (counting it) if it cannot within a few tries:
 *    a BPF program must not wait unboundedly, and a lost event costs one sample.
 *  - cpu_state[cpu] has one writer: sched_switch on that CPU, which the rq lock
 *    serialises. It is written only when one of its fields changes, so switches between
 *    other tasks leave it (and its cache line) alone. With the spin policy, nr_waiting is
 *    also written by sched_wakeup(_new) of any task queued there: both tracepoints run
 *    under that CPU's rq lock (ttwu_do_activate, wake_up_new_task), so it has one writer
 *    at a time too. It misses a task the load balancer pulls away (no switch there), and
 *    is right again at the CPU's next switch.
 *  - While rt_state.scx_active is set, the sched_ext scheduler (scx.bpf.c) keeps the Ms'
 *    records from its own callbacks and these programs leave them alone; cpu_state and
 *    the upcalls are still theirs.
 *  - While rt_state.trace_on is set (an execution trace is being recorded), each switch-in
 *    of an M that was off its CPU sends one mn_trace_record through trace_events, written
 *    under the M's record lock before the record changes, so off, woken and on times
 *    belong to one off-CPU period. A full ring loses the record and counts it
 *    (rt_state.trace_lost); the upcall ring `events` is another map and never waits
 *    behind it.
 *  - want_cpu turns 1 -> 0 by CAS at a switch to the idle task, so one upcall answers one
 *    request however many CPUs go idle at once. The runtime sets it before it looks at
 *    cpu_state, this program writes cpu_state before it looks at want_cpu, both with full
 *    barriers: a CPU that goes idle while the runtime declines is seen by one side.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mn_telemetry.h"
#include "mn_record.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the runtime before load: its process id (the kernel's tgid), and the
 * kernel-feedback policies on (MN_POLICY_*). */
const volatile __u32 target_tgid = 0;
const volatile __u32 policies = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);   /* tid */
  __type(value, __u32); /* slot in m_telemetry and hints */
} tracked SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);
  __type(value, struct mn_m_telemetry);
} m_telemetry SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_CPUS); /* resized to the possible CPUs before load */
  __type(key, __u32);
  __type(value, struct mn_cpu_state);
} cpu_state SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_MS);
  __type(key, __u32);
  __type(value, struct mn_m_hints);
} hints SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, MN_MAX_PS); /* resized to the runtime's Ps before load */
  __type(key, __u32);
  __type(value, struct mn_p_state);
} p_state SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct mn_rt_state);
} rt_state SEC(".maps");

/* Upcalls to the runtime's feedback thread, which waits on it with epoll. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* The execution trace's records (mn_trace_record), while rt_state.trace_on: apart from
 * `events`, so that a burst of them never delays an upcall. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, MN_TRACE_RING_BYTES);
} trace_events SEC(".maps");

#define TASK_RUNNING 0

/* The record of t if t is one of the runtime's Ms; its slot goes to *slot_out. */
static __always_inline struct mn_m_telemetry *lookup_m(struct task_struct *t, __s32 *slot_out) {
  if (t->tgid != target_tgid) return NULL;
  __u32 tid = t->pid;
  __u32 *slot = bpf_map_lookup_elem(&tracked, &tid);
  if (!slot) return NULL;
  __u32 s = *slot;
  *slot_out = s;
  return bpf_map_lookup_elem(&m_telemetry, &s);
}

/* Whether the sched_ext scheduler keeps the Ms' records (rt_state.scx_active): it sees
 * preemption and sleep directly, and two writers would count every switch twice. */
static __always_inline bool scx_keeps_records(void) {
  __u32 zero = 0;
  struct mn_rt_state *st = bpf_map_lookup_elem(&rt_state, &zero);
  return st && *(volatile __u32 *)&st->scx_active;
}

/* Whether the run queue at addr (mn_m_hints.runq, in the switched-out M's memory) holds
 * a G. Read in the M's own context, as sched_switch runs before the switch; a read that
 * fails (the page is not present: it has just been used, so hardly ever) counts as work,
 * since the runtime checks again before it acts. */
static __always_inline bool runq_has_work(__u64 addr) {
  __u32 head = 0;
  struct { __u32 tail; __u32 pad; __u64 next; } t = {};
  if (!addr) return false;
  if (bpf_probe_read_user(&head, sizeof(head), (void *)(addr + MN_RUNQ_HEAD_OFF)) ||
      bpf_probe_read_user(&t, sizeof(t), (void *)(addr + MN_RUNQ_TAIL_OFF)))
    return true;
  return head != t.tail || t.next != 0;
}

/* An M switched out while it holds a P, runs a G (outside mn::blocking, which sysmon
 * already watches) and its P has Gs queued, which may now wait for it. Not when the
 * runtime's own feedback thread takes the CPU: it runs for microseconds, and its own
 * upcalls would wake it again. The runtime decides, after a threshold, whether to hand
 * the P to another M. */
static __always_inline void report_descheduled(__s32 slot, __u32 state, __u64 now,
                                               struct task_struct *next) {
  __u32 key = slot;
  struct mn_m_hints *h = bpf_map_lookup_elem(&hints, &key);
  if (!h) return;
  __s32 p = *(volatile __s32 *)&h->p;
  if (p < 0 || *(volatile __u64 *)&h->g == 0 || *(volatile __u32 *)&h->blocking) return;
  __u32 zero = 0;
  struct mn_rt_state *st = bpf_map_lookup_elem(&rt_state, &zero);
  if (st && next->pid == *(volatile __u32 *)&st->feedback_tid) return;
  if (!runq_has_work(*(volatile __u64 *)&h->runq)) return;
  struct mn_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) return;
  ev->type = mn_ev_descheduled;
  ev->m = slot;
  ev->p = p;
  ev->state = state;
  ev->since_ns = now;
  ev->cpu = bpf_get_smp_processor_id();
  bpf_ringbuf_submit(ev, 0);
}

/* The run queue of the CPU task t is on. Through its cfs_rq (every task has one, the idle
 * and RT ones included, set with its CPU), not the `runqueues` per-CPU symbol: kernels
 * without CONFIG_KALLSYMS_ALL, such as this project's test machines, cannot resolve a
 * per-CPU variable for BPF. */
static __always_inline struct rq *task_rq_of(struct task_struct *t) {
  struct cfs_rq *cfs = t->se.cfs_rq;
  return cfs ? cfs->rq : NULL;
}

/* Tasks queued on t's CPU besides the one running (the idle task does not count). */
static __always_inline void note_waiting(struct task_struct *t) {
  __u32 cpu = t->thread_info.cpu;
  struct mn_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &cpu);
  struct rq *rq = task_rq_of(t);
  if (!c || !rq) return;
  __u32 n = rq->nr_running;
  struct task_struct *curr = rq->curr;
  if (curr && curr->pid != 0 && n > 0) n--;
  if (c->nr_waiting != n) c->nr_waiting = n;
}

/* This CPU is turning idle: if the runtime asked for a CPU, say so, once. */
static __always_inline void report_idle(__u32 cpu, __u64 now) {
  __u32 zero = 0;
  struct mn_rt_state *st = bpf_map_lookup_elem(&rt_state, &zero);
  if (!st || *(volatile __u32 *)&st->want_cpu == 0) return;
  if (__sync_val_compare_and_swap(&st->want_cpu, 1, 0) != 1) return;
  struct mn_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) return;
  ev->type = mn_ev_cpu_idle;
  ev->m = -1;
  ev->p = -1;
  ev->state = 0;
  ev->since_ns = now ? now : bpf_ktime_get_ns();
  ev->cpu = cpu;
  bpf_ringbuf_submit(ev, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(mn_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
             unsigned int prev_state) {
  /* The clock only when something is written: a switch between other tasks that leaves
   * this CPU's record as it was costs the two tgid compares and one array lookup. */
  __u64 now = 0;
  __u32 cpu = bpf_get_smp_processor_id();

  __s32 slot = -1;
  struct mn_m_telemetry *r = lookup_m(prev, &slot);
  bool scx = r && scx_keeps_records();
  if (r) {
    now = bpf_ktime_get_ns();
    __u32 state = preempt || prev_state == TASK_RUNNING ? mn_preempted : mn_blocked;
    if (!scx && rec_lock(r)) {
      if (r->state == mn_on_cpu && now > r->since_ns) r->oncpu_ns += now - r->since_ns;
      r->offcpu_since_ns = now;
      if (state == mn_preempted) {
        r->nr_preempted++;
        r->runnable_since_ns = now;
      } else {
        r->nr_blocked++;
      }
      r->state = state;
      r->since_ns = now;
      r->cpu = cpu;
      rec_unlock(r);
    }
    if (policies & MN_POLICY_HANDOFF) report_descheduled(slot, state, now, next);
  }

  __s32 next_slot = -1;
  __u32 next_tid = 0;
  r = lookup_m(next, &next_slot);
  if (r) {
    next_tid = next->pid;
    if (now == 0) now = bpf_ktime_get_ns();
    if (!scx_keeps_records() && rec_lock(r)) {
      __u32 zero = 0;
      trace_switch_in(&trace_events, bpf_map_lookup_elem(&rt_state, &zero), next_slot, r, now);
      end_wait(r, now);
      r->state = mn_on_cpu;
      r->since_ns = now;
      r->cpu = cpu;
      rec_unlock(r);
    }
  }

  struct mn_cpu_state *c = bpf_map_lookup_elem(&cpu_state, &cpu);
  if (c) {
    __u32 idle = next->pid == 0;
    __u32 runs_m = next_slot >= 0;
    if (c->idle != idle || c->runs_m != runs_m || c->m != next_slot || c->tid != next_tid) {
      /* The atomic adds are full barriers (BPF has no fence): odd before the stores,
       * even after them. */
      if (now == 0) now = bpf_ktime_get_ns();
      __sync_fetch_and_add(&c->seq, 1);
      c->idle = idle;
      c->runs_m = runs_m;
      c->m = next_slot;
      c->tid = next_tid;
      c->since_ns = now;
      __sync_fetch_and_add(&c->seq, 1);
    }
    if (policies & MN_POLICY_SPIN) {
      /* Here rq->curr is already next; nr_running counts it unless it is the idle task. */
      struct rq *rq = task_rq_of(next);
      if (rq) {
        __u32 n = rq->nr_running;
        if (!idle && n > 0) n--;
        if (c->nr_waiting != n) c->nr_waiting = n;
      }
      /* cpu_state (idle) was written above, with a full barrier after it. */
      if (idle) report_idle(cpu, now);
    }
  }
  return 0;
}

static __always_inline int on_wakeup(struct task_struct *p) {
  /* Any task queued on a CPU changes what a spinner there would take from it. */
  if (policies & MN_POLICY_SPIN) note_waiting(p);
  __s32 slot;
  struct mn_m_telemetry *r = lookup_m(p, &slot);
  if (!r || scx_keeps_records() || !rec_lock(r)) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (r->state != mn_on_cpu && r->state != mn_preempted) {
    r->state = mn_runnable;
    r->runnable_since_ns = now;
    r->since_ns = now;
  }
  r->nr_wakeups++;
  r->cpu = p->thread_info.cpu;
  rec_unlock(r);
  return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(mn_sched_wakeup, struct task_struct *p) { return on_wakeup(p); }

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(mn_sched_wakeup_new, struct task_struct *p) { return on_wakeup(p); }

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(mn_sched_migrate_task, struct task_struct *p, int dest_cpu) {
  __s32 slot;
  struct mn_m_telemetry *r = lookup_m(p, &slot);
  if (!r || scx_keeps_records() || !rec_lock(r)) return 0;
  r->nr_migrations++;
  r->cpu = dest_cpu;
  rec_unlock(r);
  return 0;
}
