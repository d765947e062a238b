/* The sched_ext types, constants and kfuncs scx.bpf.c uses, declared by hand.
 *
 * Why not vmlinux.h: the build's vmlinux.h comes from the build machine's BTF, and the
 * project's build machines run kernels without sched_ext (CONFIG_SCHED_CLASS_EXT off), so
 * it has none of these. Include this after vmlinux.h.
 *
 * Rules, so that one object loads on every kernel with sched_ext (6.12 and later):
 *  - Kernel structs are CO-RE flavours (`___mn`, which libbpf strips when it matches them
 *    to the running kernel's BTF) with only the fields used, marked preserve_access_index:
 *    offsets come from the running kernel. 7.x inserted fields in scx_exit_info, for one.
 *  - struct sched_ext_ops is the exception: libbpf 1.1 looks the struct_ops map's value
 *    type up in the kernel's BTF by its exact name (find_struct_ops_kern_types does not
 *    strip flavours), so it must be called sched_ext_ops. libbpf then copies the members
 *    it declares one by one, by name, to the kernel's layout: declare only members the
 *    kernel has had since 6.12, with their kernel sizes. scx.bpf.c renames a
 *    sched_ext_ops that a build machine's vmlinux.h might have out of the way.
 *  - Constants are macros, defined after vmlinux.h, so that they neither clash with a
 *    vmlinux.h that has them nor depend on one. The values used are sched_ext's ABI: the
 *    DSQ ids, SCX_ENQ_WAKEUP, SCX_DEQ_SLEEP, the kick flags and the ops flags used have
 *    kept their values since 6.12 (BPF schedulers compiled against one kernel's
 *    vmlinux.h run on later ones with them baked in).
 *  - kfuncs renamed in 6.13 are declared under both names, __weak, and chosen with
 *    mn_ksym_exists(); so are kfuncs that only recent kernels have. Return and argument
 *    types must match the kernel's exactly: libbpf drops a weak kfunc whose prototype is
 *    incompatible as if it were missing.
 */
#ifndef MN_SCX_KERNEL_H
#define MN_SCX_KERNEL_H

/* libbpf 1.2 has bpf_ksym_exists(); 1.1 does not. The address of an unresolved weak
 * ksym is 0 after relocation, and the verifier drops the branch not taken (with the
 * call to the missing kfunc, which it would otherwise reject). */
#ifdef bpf_ksym_exists
#define mn_ksym_exists(sym) bpf_ksym_exists(sym)
#else
#define mn_ksym_exists(sym) (!!&(sym))
#endif

/* enum scx_dsq_id_flags */
#define SCX_DSQ_FLAG_BUILTIN (1ULL << 63)
#define SCX_DSQ_FLAG_LOCAL_ON (1ULL << 62)
#define SCX_DSQ_GLOBAL (SCX_DSQ_FLAG_BUILTIN | 1)
#define SCX_DSQ_LOCAL (SCX_DSQ_FLAG_BUILTIN | 2)
#define SCX_DSQ_LOCAL_ON (SCX_DSQ_FLAG_BUILTIN | SCX_DSQ_FLAG_LOCAL_ON)

/* enum scx_public_consts */
#define SCX_SLICE_DFL (20ULL * 1000 * 1000)

/* enum scx_enq_flags, enum scx_deq_flags */
#define SCX_ENQ_WAKEUP (1ULL << 0)
#define SCX_ENQ_HEAD (1ULL << 16)
#define SCX_ENQ_PREEMPT (1ULL << 32)
#define SCX_DEQ_SLEEP (1ULL << 0)

/* enum scx_kick_flags */
#define SCX_KICK_IDLE (1ULL << 0)
#define SCX_KICK_PREEMPT (1ULL << 1)

/* enum scx_ops_flags */
#define SCX_OPS_SWITCH_PARTIAL (1ULL << 3)

#define SCX_OPS_NAME_LEN 128

struct sched_ext_entity___mn {
  __u64 slice;
  __u64 dsq_vtime;
} __attribute__((preserve_access_index));

struct task_struct___mn {
  struct sched_ext_entity___mn scx;
} __attribute__((preserve_access_index));

/* A named enum, not an int: CO-RE matches a field of enum type only to an enum. */
enum scx_exit_kind___mn {
  SCX_EXIT_NONE___mn = 0,
};

struct scx_exit_info___mn {
  enum scx_exit_kind___mn kind;
  __s64 exit_code;
  const char *reason;
  char *msg;
} __attribute__((preserve_access_index));

/* The struct_ops value type. The members' order here is irrelevant (see above). */
struct sched_ext_ops {
  __s32 (*select_cpu)(struct task_struct *p, __s32 prev_cpu, __u64 wake_flags);
  void (*enqueue)(struct task_struct *p, __u64 enq_flags);
  void (*dispatch)(__s32 cpu, struct task_struct *prev);
  void (*tick)(struct task_struct *p);
  void (*runnable)(struct task_struct *p, __u64 enq_flags);
  void (*running)(struct task_struct *p);
  void (*stopping)(struct task_struct *p, bool runnable);
  void (*quiescent)(struct task_struct *p, __u64 deq_flags);
  __s32 (*init)(void);
  void (*exit)(struct scx_exit_info___mn *ei);
  __u64 flags;
  __u32 timeout_ms;
  char name[SCX_OPS_NAME_LEN];
};

/* 6.13 names, and the ones before. */
void scx_bpf_dsq_insert(struct task_struct *p, __u64 dsq_id, __u64 slice, __u64 enq_flags) __ksym __weak;
void scx_bpf_dispatch(struct task_struct *p, __u64 dsq_id, __u64 slice, __u64 enq_flags) __ksym __weak;
bool scx_bpf_dsq_move_to_local(__u64 dsq_id) __ksym __weak;
bool scx_bpf_consume(__u64 dsq_id) __ksym __weak;

/* 6.19 and later: the way to change a task's slice (writing p->scx.slice is the old one). */
bool scx_bpf_task_set_slice(struct task_struct *p, __u64 slice) __ksym __weak;

/* Unchanged since 6.12. */
__s32 scx_bpf_create_dsq(__u64 dsq_id, __s32 node) __ksym;
__s32 scx_bpf_dsq_nr_queued(__u64 dsq_id) __ksym;
void scx_bpf_kick_cpu(__s32 cpu, __u64 flags) __ksym;
__s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, __u64 flags) __ksym;
bool scx_bpf_test_and_clear_cpu_idle(__s32 cpu) __ksym;
bool bpf_cpumask_test_cpu(__u32 cpu, const struct cpumask *cpumask) __ksym;

#endif /* MN_SCX_KERNEL_H */
