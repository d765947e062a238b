#include "stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "context.hpp"

namespace mn::detail {

namespace {
// A segment is about 16 MiB of address space: few mappings for a million Gs (64k stacks of
// 64 KiB per GiB), yet small enough that a runtime with a handful of Gs reserves little.
constexpr std::size_t kSegmentTarget = 16u << 20;

[[noreturn]] void DieNoMemory(std::size_t bytes) {
  std::fprintf(stderr, "mn: cannot map %zu bytes for G stacks: %s\n", bytes,
               std::strerror(errno));
  std::abort();
}
}  // namespace

int64_t StackAllocator::DefaultGuardBudget() {
  int64_t max_maps = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    long long v = 0;
    if (std::fscanf(f, "%lld", &v) == 1 && v > 0) max_maps = v;
    std::fclose(f);
  }
  return max_maps / 4;
}

StackAllocator::StackAllocator(std::size_t usable_size, int64_t guard_budget)
    : page_(static_cast<std::size_t>(sysconf(_SC_PAGESIZE))),
      guard_budget_(guard_budget < 0 ? DefaultGuardBudget() : guard_budget) {
  usable_ = (usable_size + page_ - 1) / page_ * page_;
  slot_bytes_ = usable_ + page_;
  slots_per_segment_ = std::max<std::size_t>(1, kSegmentTarget / slot_bytes_);
}

StackAllocator::~StackAllocator() {
  for (const Segment& s : segments_) {
#if MN_ASAN
    // Frames of Gs that never finished leave poisoned shadow behind; clear it before the
    // addresses can be handed out again by a later mmap.
    ASAN_UNPOISON_MEMORY_REGION(s.base, s.bytes);
#endif
    munmap(s.base, s.bytes);
  }
}

std::size_t StackAllocator::Allocate(StackSlot* out, std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (left_ == 0) {
    std::size_t slots = slots_per_segment_;
    bool guarded = guard_budget_ - guarded_ >= static_cast<int64_t>(slots);
    std::size_t bytes = page_ + slots * slot_bytes_;
    void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) DieNoMemory(bytes);
    char* b = static_cast<char*>(base);
    // The segment's own bottom guard: the end of the line for any runaway stack here.
    if (mprotect(b, page_, PROT_NONE) != 0) DieNoMemory(page_);
    if (guarded) {
      for (std::size_t i = 0; i < slots; i++) {
        if (mprotect(b + page_ + i * slot_bytes_, page_, PROT_NONE) != 0) {
          // Out of mappings after all (another part of the process took them): keep
          // what is protected, treat the rest as unguarded from now on.
          guard_budget_ = guarded_;
          guarded = false;
          break;
        }
      }
      if (guarded) guarded_ += static_cast<int64_t>(slots);
    }
    segments_.push_back({b, bytes});
    cursor_ = b + page_;
    left_ = slots;
    cursor_guarded_ = guarded;
  }
  std::size_t k = std::min(n, left_);
  for (std::size_t i = 0; i < k; i++) {
    out[i].zone = cursor_;
    out[i].lo = cursor_ + page_;
    out[i].hi = cursor_ + slot_bytes_;
    out[i].guarded = cursor_guarded_;
    cursor_ += slot_bytes_;
  }
  left_ -= k;
  return k;
}

int64_t StackAllocator::guarded_stacks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return guarded_;
}

}  // namespace mn::detail
