// What the BPF loaders (kfeedback.cpp, scx.cpp) share: capturing libbpf's messages during
// a load, to quote them in an error, and the capability check.
//
// Invariants:
//  - libbpf has one print callback per process. A LibbpfLog installs its own for its
//    lifetime and restores the previous one after; messages go to the LibbpfLog of the
//    thread that prints them (thread_local), so two loads on two threads do not mix
//    their logs, and a thread without one prints nothing.
//  - Only the last kMaxLog bytes are kept: the line worth quoting is the last one, after
//    a verifier log that can run to megabytes.
#pragma once

#include <string>

namespace mn::detail {

class LibbpfLog {
 public:
  // With echo, every message (the verifier's log included; libbpf's debug ones too when
  // debug) also goes to stderr as it comes.
  explicit LibbpfLog(bool echo = false, bool debug = false);
  ~LibbpfLog();
  LibbpfLog(const LibbpfLog&) = delete;
  LibbpfLog& operator=(const LibbpfLog&) = delete;

  // The last non-empty line libbpf printed, or "".
  std::string LastLine() const;
  // The verifier's error and the program's name when a program failed to load, else
  // LastLine().
  std::string Detail() const;
  // "<step>: <strerror(err)>: <Detail()>", for an error message. err may be negative.
  std::string Failure(const char* step, int err) const;

  static constexpr std::size_t kMaxLog = 8192;
  struct Impl;  // libbpf_log.cpp's

 private:
  Impl* impl_;
};

// Why this process may not load BPF programs, or "": it needs CAP_SYS_ADMIN, or CAP_BPF
// with CAP_PERFMON.
std::string BpfCapabilityProblem();

}  // namespace mn::detail
