// Labels: what a trace calls a G (docs/tracing.md, "G<id> <label>"), in one word that a
// spawn stores in the G without formatting anything (mn/runtime.hpp, SiteLabel).
//
// Invariants:
//  - A word is 0 (no label), a std::source_location's bits (a pointer to the compiler's
//    static record of the site: aligned, so even), or the address + 1 of a string that
//    lives as long as the word can be read: one interned by a LabelTable (freed with the
//    runtime, whose Gs and traces are the only readers) or a static one below.
//  - Intern may be called from any thread at once; the table's lock is held only inside.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace mn::detail {

class LabelTable {
 public:
  uint64_t Intern(std::string_view name);

 private:
  std::mutex mu_;
  // Keys view the owned copies in `owned_`, which never move (unique_ptr<char[]>).
  absl::flat_hash_map<std::string_view, uint64_t> words_;  // guarded by mu_
  std::vector<std::unique_ptr<char[]>> owned_;            // guarded by mu_
};

// The labels the runtime gives Gs it starts itself.
uint64_t MainLabel();       // run()'s main
uint64_t TimerFuncLabel();  // mn::Timer's function (Go's AfterFunc)

// The text of a label word: the name, or the site as "file.cpp:line" (no directories).
std::string LabelText(uint64_t word);

}  // namespace mn::detail
