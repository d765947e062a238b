#include "context.hpp"

#include <pthread.h>

#include <cstdint>
#include <cstring>

extern "C" void mn_ctx_entry();

namespace mn::detail {

namespace {
// Default MXCSR (all exceptions masked, round to nearest) and x87 control word
// (extended precision, all exceptions masked): what a fresh thread starts with.
constexpr uint32_t kDefaultMxcsr = 0x1F80;
constexpr uint16_t kDefaultFpuCw = 0x037F;
}  // namespace

void MakeContext(Context* c, void* stack_top, void (*fn)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t{15};
  // Eight words, mirroring what mn_ctx_switch pops. After the final pop the stack pointer
  // is `top`, 16-byte aligned, so mn_ctx_entry's call sees the ABI's alignment.
  auto* frame = reinterpret_cast<uint64_t*>(top) - 8;
  uint64_t fp_state = kDefaultMxcsr | (uint64_t{kDefaultFpuCw} << 32);
  frame[0] = fp_state;
  frame[1] = 0;                                        // r15
  frame[2] = 0;                                        // r14
  frame[3] = reinterpret_cast<uint64_t>(fn);           // r13: entry
  frame[4] = reinterpret_cast<uint64_t>(arg);          // r12: its argument
  frame[5] = 0;                                        // rbx
  frame[6] = 0;                                        // rbp: ends frame-pointer walks
  frame[7] = reinterpret_cast<uint64_t>(&mn_ctx_entry);  // return address
  c->sp = frame;
#if MN_TSAN
  if (c->tsan_fiber == nullptr) {
    c->tsan_fiber = __tsan_create_fiber(0);
    c->tsan_owned = true;
  }
#endif
}

void InitThreadContext(Context* c) {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* lo = nullptr;
    size_t size = 0;
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    c->stack_lo = lo;
    c->stack_size = size;
  }
#if MN_TSAN
  c->tsan_fiber = __tsan_get_current_fiber();
  c->tsan_owned = false;
#endif
}

void DestroyContext(Context* c) {
#if MN_TSAN
  if (c->tsan_owned && c->tsan_fiber != nullptr) __tsan_destroy_fiber(c->tsan_fiber);
  c->tsan_fiber = nullptr;
#endif
  (void)c;
}

}  // namespace mn::detail
