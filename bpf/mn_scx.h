/* What the sched_ext scheduler (scx.bpf.c) shares with user space: the loader in the
 * runtime (userspace/scx.cpp), tools/mnsched-scx, and `bpftool map dump`.
 *
 * Like mn_telemetry.h it includes nothing: the BPF side gets __u32/__u64 from vmlinux.h,
 * user space includes <linux/types.h> first.
 *
 * Invariants:
 *  - One scheduler serves any number of runtime processes. Each runtime's telemetry maps
 *    (mn_telemetry.h: tracked, hints, m_telemetry, rt_state) are entered in the outer maps
 *    rt_tracked, rt_hints, rt_telemetry and rt_states, keyed by the runtime's tgid, by
 *    whoever loaded the scheduler: the runtime itself (MN_KERNEL_FEEDBACK=scx) or the tool,
 *    from the maps each runtime pins under /sys/fs/bpf/mnsched/<pid>/. The inner maps are
 *    created by the telemetry object with the same definitions as the outer maps'
 *    templates, which the kernel checks when an inner map is entered.
 *  - A task is one of the runtime's Ms when its tgid is in rt_tracked and its tid in that
 *    inner map; only then are its hints read. Anything else is scheduled as "other".
 *  - Counters are per CPU (stats, a PERCPU_ARRAY of one mn_scx_stats): the tool sums them.
 *  - The exit record (exit_info in .bss) is written once, by the `exit` op, before the
 *    kernel finishes disabling the scheduler; user space reads it when it sees the state
 *    leave "enabled" or exit_info.kind turn nonzero.
 */
#ifndef MN_SCX_H
#define MN_SCX_H

#define MN_SCX_MAX_RUNTIMES 64

/* The scheduler's three queues, in the order dispatch takes them. */
#define MN_SCX_DSQ_RUN 0x100   /* Ms that hold a P and run a G, and Ms just woken (spinning or not) */
#define MN_SCX_DSQ_OTHER 0x101 /* every other task it schedules: idle/blocking Ms, others */
#define MN_SCX_DSQ_SPIN 0x102  /* spinning Ms: run only when nothing else waits */

/* How the scheduler sees a task, for the stats and for the tool. */
enum mn_scx_class {
  mn_scx_other = 0,
  mn_scx_run = 1,
  mn_scx_spin = 2,
};

struct mn_scx_stats {
  __u64 enq_run;          /* enqueued on MN_SCX_DSQ_RUN */
  __u64 enq_other;        /* enqueued on MN_SCX_DSQ_OTHER */
  __u64 enq_spin;         /* enqueued on MN_SCX_DSQ_SPIN */
  __u64 direct_idle;      /* select_cpu found an idle CPU and dispatched there directly */
  __u64 prev_cpu_idle;    /* ... and it was the task's previous CPU */
  __u64 kicks;            /* SCX_KICK_PREEMPT sent for a RUN-class M that found no idle CPU */
  __u64 spin_yields;      /* a spinning M's slice cut because other tasks waited */
  __u64 slice_extensions; /* slices extended for an M inside a critical section */
  __u64 dispatched_run;   /* moved to a local DSQ from each queue */
  __u64 dispatched_other;
  __u64 dispatched_spin;
  __u64 spin_wakeups;     /* a spinning M woken (by startm: work for it) and ranked RUN for it */
};

/* What the scheduler last started on each CPU (cpu_run[cpu] in .bss; see scx.bpf.c's
 * invariants). Written by that CPU at each switch of a task it schedules, read without
 * a lock. */
struct mn_cpu_run {
  __u32 busy;       /* one of its tasks runs there */
  __u32 cls;        /* that task's enum mn_scx_class when it started */
  __u32 tgid;       /* its runtime, if it is an M; else 0 */
  __s32 slot;       /* its M slot, or -1 */
  __u32 extensions; /* slice extensions since it started */
  __u32 fair;       /* dispatches on this CPU that passed over OTHER or SPIN, since the last turn */
  __u32 fair_turns; /* times it then took OTHER or SPIN first */
  __u32 pad[9];     /* a cache line each: each CPU writes its own at every switch */
};

/* The kernel's reason for disabling the scheduler (struct scx_exit_info), copied by the
 * `exit` op. kind is 0 while the scheduler runs. */
struct mn_scx_exit {
  __s64 kind;
  __s64 exit_code;
  char reason[128];
  char msg[256];
};

#endif /* MN_SCX_H */
