// Context: one saved execution context (a G, or an M's own thread stack, g0) and the
// switch between two of them, with the sanitizer bookkeeping every switch needs.
//
// Invariants:
//  - A Context is either running on exactly one thread or saved (sp valid); the runtime's
//    G status protocol, not this file, guarantees no two threads resume the same one.
//  - ASan and TSan are told about every switch before it happens (start/switch_to_fiber)
//    and ASan again right after (finish_switch_fiber), so both follow the stacks. A context
//    that will never resume passes from_dying, which lets ASan drop its fake stack.
#pragma once

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(MN_ASAN)
#define MN_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(MN_TSAN)
#define MN_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(MN_ASAN)
#define MN_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(MN_TSAN)
#define MN_TSAN 1
#endif

#if MN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if MN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

extern "C" void mn_ctx_switch(void** save_sp, void* next_sp);

namespace mn::detail {

struct Context {
  void* sp = nullptr;
  // The stack this context runs on, for ASan; for g0 the thread's stack.
  void* stack_lo = nullptr;
  std::size_t stack_size = 0;
#if MN_ASAN
  void* fake_stack = nullptr;
#endif
#if MN_TSAN
  void* tsan_fiber = nullptr;
  bool tsan_owned = false;  // created by us (a G), not the thread's own fiber (g0)
#endif
};

// Prepares `c` so that switching to it runs fn(arg) on the stack ending at stack_top.
void MakeContext(Context* c, void* stack_top, void (*fn)(void*), void* arg);

// Records the calling thread's own stack as `c` (an M's g0).
void InitThreadContext(Context* c);
void DestroyContext(Context* c);

// Called first thing on a new context's stack, to close ASan's switch.
inline void ContextEntered() {
#if MN_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

inline void SwitchContext(Context* from, Context* to, bool from_dying = false) {
#if MN_ASAN
  __sanitizer_start_switch_fiber(from_dying ? nullptr : &from->fake_stack, to->stack_lo,
                                 to->stack_size);
#else
  (void)from_dying;
#endif
#if MN_TSAN
  // flags 0: the switch is a synchronization point (everything before it happens before
  // everything the next context does), which is what the scheduler's hand-over means.
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  mn_ctx_switch(&from->sp, to->sp);
#if MN_ASAN
  __sanitizer_finish_switch_fiber(from->fake_stack, nullptr, nullptr);
#endif
}

}  // namespace mn::detail
