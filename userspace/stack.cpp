#include "stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "context.hpp"

namespace mn::detail {

namespace {
// A segment is about 16 MiB of address space: few mappings for a million Gs (a GiB holds
// some 16k stacks of 64 KiB), yet small enough that a runtime with a few Gs reserves little.
constexpr std::size_t kSegmentTarget = 16u << 20;

[[noreturn]] void DieNoMemory(std::size_t bytes) {
  std::fprintf(stderr, "mn: fatal: cannot map %zu bytes for G stacks: %s\n", bytes,
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
  guarded_slot_bytes_ = page_ + usable_;
  unguarded_slot_bytes_ = (usable_ + kCanaryBytes + page_ - 1) / page_ * page_;
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

void StackAllocator::NewSegment() {
  std::size_t gslots = std::max<std::size_t>(1, kSegmentTarget / guarded_slot_bytes_);
  bool guarded = guard_budget_ - guarded_ >= static_cast<int64_t>(gslots);
  std::size_t slots = guarded ? gslots
                              : std::max<std::size_t>(1, kSegmentTarget / unguarded_slot_bytes_);
  // guarded:   [guard][guard|stack]...            unguarded: [guard][canary page][stack+canary]...
  std::size_t bytes = guarded ? page_ + slots * guarded_slot_bytes_
                              : 2 * page_ + slots * unguarded_slot_bytes_;
  bytes = (bytes + page_ - 1) / page_ * page_;
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) DieNoMemory(bytes);
  char* b = static_cast<char*>(base);
  // Huge pages would make every touched stack cost 2 MiB.
  madvise(b, bytes, MADV_NOHUGEPAGE);
  // The segment's own bottom guard: the end of the line for any runaway stack here.
  if (mprotect(b, page_, PROT_NONE) != 0) DieNoMemory(page_);
  if (guarded) {
    for (std::size_t i = 0; i < slots; i++) {
      if (mprotect(b + page_ + i * guarded_slot_bytes_, page_, PROT_NONE) != 0) {
        // Out of mappings after all (another part of the process took them). Throw this
        // segment away and make unguarded ones from now on.
        munmap(b, bytes);
        guard_budget_ = guarded_;
        NewSegment();
        return;
      }
    }
    guarded_ += static_cast<int64_t>(slots);
  }
  segments_.push_back({b, bytes});
  cursor_ = guarded ? b + page_ : b + 2 * page_;
  left_ = slots;
  cursor_guarded_ = guarded;
}

std::size_t StackAllocator::Allocate(StackSlot* out, std::size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (left_ == 0) NewSegment();
  std::size_t k = std::min(n, left_);
  for (std::size_t i = 0; i < k; i++) {
    StackSlot& s = out[i];
    s.guarded = cursor_guarded_;
    if (cursor_guarded_) {
      s.zone = cursor_;
      s.lo = cursor_ + page_;
      cursor_ += guarded_slot_bytes_;
    } else {
      // The canary lies just below lo: in the canary page for the segment's first slot,
      // else in the top of the slot below.
      s.lo = cursor_;
      s.hi = cursor_ + unguarded_slot_bytes_ - kCanaryBytes;
      s.zone = cursor_ - kCanaryBytes;
      for (std::size_t w = 0; w < kCanaryBytes / 8; w++) {
        std::memcpy(s.zone + 8 * w, &kCanaryWord, 8);
      }
      cursor_ += unguarded_slot_bytes_;
      continue;
    }
    s.hi = s.lo + usable_;
  }
  left_ -= k;
  return k;
}

int64_t StackAllocator::guarded_stacks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return guarded_;
}

}  // namespace mn::detail
