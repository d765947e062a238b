/* The records the telemetry programs (telemetry.bpf.c) share with user space: the runtime
 * (userspace/kfeedback.cpp), tools/mnstat, and anyone running `bpftool map dump`. Field
 * names are part of the interface: bpftool prints them.
 *
 * The header includes nothing: the BPF side gets __u32/__u64 from vmlinux.h, user space
 * includes <linux/types.h> first and may wrap this in a namespace.
 *
 * Invariants:
 *  - m_telemetry[slot] and cpu_state[cpu] are written by BPF programs and read by user
 *    space with plain loads through mmap. Each carries `seq`, odd while a writer is inside:
 *    a reader copies the record between two reads of an equal, even seq. Writers of one
 *    M's record may run on two CPUs at once (a wakeup and a migration), so a writer takes
 *    the odd value with a CAS and gives up the event rather than wait.
 *  - m_hints[slot] and p_state[p] are written by the runtime (plain stores through mmap)
 *    and read by BPF programs and tools; each field is one aligned word, read alone.
 *  - cpu_state[cpu].nr_waiting and rt_state are outside the seq protocol: each field is
 *    one aligned word, read alone (rt_state's want_cpu is a flag both sides CAS).
 *  - Every record is aligned to a 64-byte cache line: neighbours are written from
 *    different CPUs (two Ms' hints by their own threads at every G switch, two CPUs'
 *    cpu_state by their sched_switch), and sharing a line cost skynet 3%.
 *  - Slots are the runtime's M ids; an M with an id at or past MN_MAX_MS is not tracked.
 *    An M registers from its own thread, so the programs first see it at its first switch
 *    after that: until then cpu_state does not show it on its CPU.
 */
#ifndef MN_TELEMETRY_H
#define MN_TELEMETRY_H

#define MN_MAX_MS 1024
#define MN_MAX_CPUS 1024
#define MN_MAX_PS 1024
#define MN_WAIT_BUCKETS 32
#define MN_CACHE_LINE __attribute__((aligned(64)))

/* What the kernel is doing with an M. */
enum mn_m_state {
  mn_none = 0,      /* slot unused, or the M has not switched since it was registered */
  mn_on_cpu = 1,    /* running */
  mn_runnable = 2,  /* woken, waiting for a CPU */
  mn_preempted = 3, /* switched out while runnable: waiting for a CPU */
  mn_blocked = 4,   /* switched out asleep (futex, I/O, page fault, ...) */
  mn_exited = 5,    /* the thread ended */
};

struct mn_m_telemetry {
  __u64 seq;
  __u32 tid;
  __s32 cpu;                 /* the CPU it runs on, or last ran or was queued on */
  enum mn_m_state state;
  __u32 pad0;
  __u64 since_ns;            /* CLOCK_MONOTONIC when `state` began */
  __u64 oncpu_ns;            /* total time on a CPU (up to the last switch out) */
  __u64 nr_preempted;        /* switches out still runnable: preempted (or sched_yield) */
  __u64 nr_blocked;          /* voluntary switches out */
  __u64 nr_wakeups;
  __u64 nr_migrations;
  __u64 runq_wait_ns;        /* total time runnable but not running */
  __u64 runq_wait_max_ns;
  __u64 runq_wait_count;     /* waits summed in runq_wait_ns */
  /* runq_wait_hist[i] counts waits of [2^i, 2^(i+1)) ns; [0] also holds 0 ns, the last
   * bucket everything from 2^31 ns (2.1 s) up. */
  __u64 runq_wait_hist[MN_WAIT_BUCKETS];
  __u64 runnable_since_ns;   /* when the current wait for a CPU began (runnable/preempted) */
  __u64 nr_dropped;          /* events given up because another CPU was writing */
  __u64 offcpu_since_ns;     /* when it last switched out (preempted or blocked) */
} MN_CACHE_LINE;

struct mn_cpu_state {
  __u64 seq;
  __u32 idle;      /* 1 while the CPU runs its idle task */
  __u32 runs_m;    /* 1 while it runs one of this runtime's Ms */
  __s32 m;         /* that M's slot, or -1 */
  __u32 tid;       /* the thread running there (0 when idle) */
  __u64 since_ns;  /* the last switch on this CPU that changed the fields above */
  /* Tasks queued on the CPU besides the one running, as of the last switch or wakeup
   * there (rq->nr_running); kept only with the spin policy on. Read alone. */
  __u32 nr_waiting;
  __u32 pad0;
} MN_CACHE_LINE;

/* Written by the runtime for each of its Ms; the sched_ext scheduler reads it. */
struct mn_m_hints {
  __u32 tid;
  __s32 p;          /* the P held, or -1 */
  __u64 g;          /* the id of the G running, or 0 (on the scheduler's own stack) */
  __u32 spinning;   /* looking for work */
  __u32 blocking;   /* inside mn::blocking or a wrapped system call */
  __u32 parked;     /* asleep in the runtime (or in the poller), waiting for work */
  /* Inside a short runtime critical section (the scheduler lock held): the sched_ext
   * scheduler extends its slice rather than preempt it while others wait on the lock. */
  __u32 in_critical;
  /* The address, in the runtime's memory, of the local run queue of the P held (valid
   * while p >= 0): the handoff policy's program reads it in the M's own context, as it
   * is switched out, to report only Ms whose P has work queued. */
  __u64 runq;
} MN_CACHE_LINE;

/* The layout of a run queue at mn_m_hints.runq (userspace/runq.hpp asserts it): two
 * 32-bit indexes, equal when the ring is empty, and the runnext slot, a pointer. */
#define MN_RUNQ_HEAD_OFF 0
#define MN_RUNQ_TAIL_OFF 64
#define MN_RUNQ_NEXT_OFF 72

/* Written by the runtime's sysmon, for tools: a sample of each P. */
struct mn_p_state {
  __s32 id;
  __u32 running;    /* 1 when owned by an M, 0 when idle */
  __s32 m;          /* the owning M's slot, or -1 */
  __u32 runq;       /* Gs in its local run queue */
  __u64 steals;     /* times this P stole work (half a victim's queue each time) */
  __u64 handoffs;   /* times this P was taken from an M in a blocking call or a hog */
  __u64 schedtick;  /* the P's schedule count, modulo 2^32 */
  __u64 sample_ns;  /* when sysmon wrote this */
} MN_CACHE_LINE;

#define MN_SCX_ACTIVE_PARTIAL 1u /* rt_state.scx_active: only SCHED_EXT tasks (the Ms) */
#define MN_SCX_ACTIVE_FULL 2u    /* ... every task of the machine (mnsched-scx --full) */

/* Kernel-feedback policies (docs/kernel-feedback.md), set in the programs before load. */
#define MN_POLICY_HANDOFF 1u /* report Ms descheduled while they hold a P and run a G */
#define MN_POLICY_SPIN 2u    /* keep nr_waiting; report a CPU turning idle when asked */

enum mn_event_type {
  mn_ev_descheduled = 1, /* an M holding a P, running a G, was switched out */
  mn_ev_cpu_idle = 2,    /* a CPU turned idle while rt_state.want_cpu was set */
};

/* An upcall, through the `events` ring buffer. */
struct mn_event {
  __u32 type;      /* enum mn_event_type */
  __s32 m;         /* descheduled: the M's slot; else -1 */
  __s32 p;         /* descheduled: the P it held (from its hints); else -1 */
  __u32 state;     /* descheduled: what it became, mn_preempted or mn_blocked */
  __u64 since_ns;  /* when (CLOCK_MONOTONIC) */
  __s32 cpu;       /* the CPU it happened on */
  __u32 pad0;
};

/* The runtime as a whole (one entry). */
struct mn_rt_state {
  /* Set to 1 by the runtime when it declined to spin or to wake an M because no CPU was
   * free; the first switch to the idle task that CASes it back to 0 sends mn_ev_cpu_idle. */
  __u32 want_cpu;
  /* The runtime's feedback thread: the handoff policy does not report an M it switches
   * out, as it runs for microseconds and waking it for its own switch would never end. */
  __u32 feedback_tid;
  /* Non-zero while the sched_ext scheduler (scx.bpf.c) schedules the Ms and keeps their
   * m_telemetry records itself: the sched_switch program then leaves them alone, as
   * both would count each switch. MN_SCX_ACTIVE_FULL when it schedules every task of the
   * machine: then a CPU running a task that is not an M of this runtime is one the
   * scheduler takes for a woken M at once (its kick), and the spin policy counts it free. */
  __u32 scx_active;
  /* 1 while the runtime records an execution trace: the programs then send an
   * mn_trace_record at each switch-in of an M that was off its CPU (trace_events). */
  __u32 trace_on;
  /* The runtime's sysmon thread (0 until it starts). The sched_ext scheduler runs it and
   * feedback_tid ahead of its OTHER queue: the Ms wait on both at times. */
  __u32 sysmon_tid;
  __u32 pad1;
  /* Counters, written by sysmon at each tick for tools (mn::stats() has the live ones). */
  struct {
    __u64 kernel_handoffs; /* Ps taken from Ms the kernel switched out */
    __u64 idle_wakeups;    /* Ms started because a CPU turned idle (mn_ev_cpu_idle) */
    __u64 spins;           /* times an M started spinning */
    __u64 spins_declined;  /* times an M parked instead, no CPU being free */
    __u64 wakes_declined;  /* times no M was woken to spin, no CPU being free */
    __u64 spin_ns;         /* wall time Ms spent spinning */
    __u64 sample_ns;       /* when sysmon wrote these */
    __u64 spin_backstops;  /* Ms sysmon started for work left waiting after a declined wake */
  } counters MN_CACHE_LINE;
  /* Trace records the programs could not send (trace_events full). */
  __u64 trace_lost;
} MN_CACHE_LINE;

/* The execution trace's kernel side (userspace/trace_kernel.cpp): one record per switch-in
 * of an M that was off its CPU, through the `trace_events` ring buffer, while
 * rt_state.trace_on is set. All times CLOCK_MONOTONIC. */
#define MN_TRACE_RING_BYTES (512 * 1024)
struct mn_trace_record {
  __s32 m;         /* the M's slot */
  __u32 state;     /* what it was: mn_preempted, or mn_blocked (woken since, or not) */
  __u64 off_ns;    /* when it switched out */
  __u64 woken_ns;  /* when it became runnable: off_ns if preempted */
  __u64 on_ns;     /* when it switched in */
};

#endif /* MN_TELEMETRY_H */
