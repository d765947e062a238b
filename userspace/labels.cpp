// Labels: see labels.hpp for the word's encoding and why the strings outlive it.
#include "labels.hpp"

#include <cstring>
#include <source_location>

#include "absl/strings/str_cat.h"
#include "mn/runtime.hpp"

namespace mn::detail {

namespace {
uint64_t StaticName(const char* s) { return reinterpret_cast<uintptr_t>(s) + 1; }
// alignas(2): the +1 tag needs an even address.
alignas(2) constexpr char kMain[] = "main";
alignas(2) constexpr char kTimerFunc[] = "mn::Timer func";
}  // namespace

uint64_t LabelTable::Intern(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = words_.find(name); it != words_.end()) return it->second;
  // operator new[] returns memory aligned for any object: the address is even.
  auto copy = std::make_unique<char[]>(name.size() + 1);
  std::memcpy(copy.get(), name.data(), name.size());
  copy[name.size()] = 0;
  uint64_t word = StaticName(copy.get());
  words_.emplace(std::string_view(copy.get(), name.size()), word);
  owned_.push_back(std::move(copy));
  return word;
}

uint64_t MainLabel() { return StaticName(kMain); }
uint64_t TimerFuncLabel() { return StaticName(kTimerFunc); }

std::string LabelText(uint64_t word) {
  if (word == 0) return "";
  if (word & 1) return reinterpret_cast<const char*>(word - 1);
  std::source_location loc;
  std::memcpy(static_cast<void*>(&loc), &word, sizeof word);
  std::string_view file = loc.file_name();
  if (std::size_t slash = file.rfind('/'); slash != std::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  return absl::StrCat(std::string(file), ":", static_cast<uint32_t>(loc.line()));
}

}  // namespace mn::detail
