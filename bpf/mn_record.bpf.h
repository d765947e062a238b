/* The writers' side of the seq protocol of an M's telemetry record (mn_telemetry.h),
 * shared by the two programs that write the records: telemetry.bpf.c (sched_switch and
 * wakeups) and scx.bpf.c (the sched_ext scheduler's callbacks, while it runs the Ms).
 * Both may write one M's record at once (a wakeup on the waker's CPU, a migration, the
 * moment rt_state.scx_active changes), so a writer takes seq from even to odd with a
 * CAS and gives the event up, counting it in nr_dropped, when it cannot within
 * LOCK_TRIES: a BPF program must not wait unboundedly, and a lost event costs a sample.
 * A reader (mn_seqread.hpp) copies the record between two equal, even reads of seq.
 *
 * Include after vmlinux.h and mn_telemetry.h.
 */
#ifndef MN_RECORD_BPF_H
#define MN_RECORD_BPF_H

#define LOCK_TRIES 32

/* Takes the record's seq from even to odd. */
static __always_inline int rec_lock(struct mn_m_telemetry *r) {
  for (int i = 0; i < LOCK_TRIES; i++) {
    __u64 s = *(volatile __u64 *)&r->seq;
    if (s & 1) continue;
    /* A full barrier: the stores below cannot move above it, and a reader that sees the
     * old even seq after them will see this change at its second read and retry. */
    if (__sync_val_compare_and_swap(&r->seq, s, s + 1) == s) return 1;
  }
  __sync_fetch_and_add(&r->nr_dropped, 1);
  return 0;
}

static __always_inline void rec_unlock(struct mn_m_telemetry *r) {
  /* Full barrier again: the stores above are visible before seq turns even. */
  __sync_fetch_and_add(&r->seq, 1);
}

static __always_inline __u32 log2_bucket(__u64 v) {
  __u32 r = 0;
  if (v >> 32) { v >>= 32; r += 32; }
  if (v >> 16) { v >>= 16; r += 16; }
  if (v >> 8) { v >>= 8; r += 8; }
  if (v >> 4) { v >>= 4; r += 4; }
  if (v >> 2) { v >>= 2; r += 2; }
  if (v >> 1) { r += 1; }
  return r < MN_WAIT_BUCKETS ? r : MN_WAIT_BUCKETS - 1;
}

static __always_inline void end_wait(struct mn_m_telemetry *r, __u64 now) {
  if (r->state != mn_runnable && r->state != mn_preempted) return;
  __u64 wait = now > r->runnable_since_ns ? now - r->runnable_since_ns : 0;
  r->runq_wait_ns += wait;
  r->runq_wait_count++;
  if (wait > r->runq_wait_max_ns) r->runq_wait_max_ns = wait;
  __u32 b = log2_bucket(wait);
  if (b < MN_WAIT_BUCKETS) r->runq_wait_hist[b]++;
}

/* A tracked M switches in (r locked, not yet updated): while the runtime records a trace,
 * send what it was doing while off its CPU to `ring` (the runtime's trace_events), or
 * count the record lost. Records only switch-ins from preempted, runnable (woken after a
 * block) or blocked: the first switch of a new M has no off-CPU time to tell. */
static __always_inline void trace_switch_in(void *ring, struct mn_rt_state *st, __s32 slot,
                                            struct mn_m_telemetry *r, __u64 now) {
  if (!ring || !st || !*(volatile __u32 *)&st->trace_on) return;
  __u32 state = r->state;
  if ((state != mn_preempted && state != mn_runnable && state != mn_blocked) ||
      r->offcpu_since_ns == 0)
    return;
  struct mn_trace_record *t = bpf_ringbuf_reserve(ring, sizeof(*t), 0);
  if (!t) {
    __sync_fetch_and_add(&st->trace_lost, 1);
    return;
  }
  t->m = slot;
  t->off_ns = r->offcpu_since_ns;
  if (state == mn_preempted) {
    t->state = mn_preempted;
    t->woken_ns = r->offcpu_since_ns;
  } else {
    t->state = mn_blocked;
    t->woken_ns = state == mn_runnable ? r->runnable_since_ns : now;
  }
  t->on_ns = now;
  bpf_ringbuf_submit(t, 0);
}

#endif /* MN_RECORD_BPF_H */
