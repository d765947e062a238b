// The reader's half of the seq protocol of mn_telemetry.h, for C++ user space (the runtime
// and tools/mnstat): copy a record that BPF programs may be writing at the same moment.
//
// A writer makes seq odd with an atomic RMW (a full barrier), writes, and makes it even with
// another. A copy taken between two reads of the same even seq is therefore whole. Every
// word is read with an atomic load (a plain move on x86) through a type that may alias the
// record; acquire on each keeps the second read of seq after all of them (a fence would do
// too, but TSan cannot model fences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mn_telemetry {

using AliasU64 = uint64_t __attribute__((may_alias));

// Copies *rec to *out; false if no consistent copy was had in `tries` attempts (a writer
// kept the record busy).
template <typename T>
bool SeqRead(const T* rec, T* out, int tries = 1000) {
  static_assert(sizeof(T) % 8 == 0 && offsetof(T, seq) == 0);
  const auto* words = reinterpret_cast<const AliasU64*>(rec);
  for (int i = 0; i < tries; i++) {
    uint64_t s1 = __atomic_load_n(&words[0], __ATOMIC_ACQUIRE);
    if (s1 & 1) {
      __builtin_ia32_pause();
      continue;
    }
    uint64_t copy[sizeof(T) / 8];
    for (std::size_t w = 0; w < sizeof(T) / 8; w++) copy[w] = __atomic_load_n(&words[w], __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&words[0], __ATOMIC_RELAXED) == s1) {
      std::memcpy(static_cast<void*>(out), copy, sizeof(T));
      return true;
    }
  }
  return false;
}

}  // namespace mn_telemetry
