// What skynet's two C++ sides (bench/skynet.cpp for mnsched, bench/boost/boost_skynet.cpp
// for Boost.Fiber) share around the tree itself: the flags, the expected sum and the
// output line. Independent of the runtime: no mnsched or Boost header.
//
// Flags: --leaves N (default 1,000,000; a power of 10) and --runs K (default 1), each a
// positive decimal integer given as a separate argument. Anything else prints
// "<program>: <what is wrong>" and the usage line to stderr and exits 2.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mn_bench {

struct SkynetFlags {
  int64_t leaves = 1'000'000;
  int64_t runs = 1;
};

// Prints "<program>: <msg>" and the usage line to stderr and exits 2.
[[noreturn]] inline void SkynetUsage(const char* program, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\nusage: %s [--leaves N (a power of 10)] [--runs K]\n", program,
               msg.c_str(), program);
  std::exit(2);
}

// The value v of flag (--leaves or --runs): a positive integer, or SkynetUsage() names it.
inline int64_t ParseSkynetPositive(const char* program, const char* flag, const char* v) {
  char* end = nullptr;
  long long x = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x <= 0) {
    SkynetUsage(program, std::string(flag) + "=\"" + v + "\": not a positive integer");
  }
  return x;
}

// Parses argv as the top of this file says; exits 2 instead of returning on a bad argument.
inline SkynetFlags ParseSkynetFlags(int argc, char** argv, const char* program) {
  SkynetFlags f;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--leaves") == 0 && i + 1 < argc) {
      f.leaves = ParseSkynetPositive(program, "--leaves", argv[++i]);
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      f.runs = ParseSkynetPositive(program, "--runs", argv[++i]);
    } else {
      SkynetUsage(program, std::string("unknown argument \"") + argv[i] + "\"");
    }
  }
  for (int64_t x = f.leaves; x > 1; x /= 10) {
    if (x % 10 != 0) SkynetUsage(program, "--leaves must be a power of 10");
  }
  return f;
}

// The sum a tree of `leaves` leaves must come to: 0 + 1 + ... + (leaves - 1).
inline int64_t SkynetWant(int64_t leaves) { return leaves * (leaves - 1) / 2; }

// Prints a run's output line and flushes it:
//   skynet system=<system> procs=<procs> leaves=<N> sum=<S> ms=<wall ms>
inline void PrintSkynet(const char* system, int procs, int64_t leaves, int64_t sum, double ms) {
  std::printf("skynet system=%s procs=%d leaves=%lld sum=%lld ms=%.1f\n", system, procs,
              static_cast<long long>(leaves), static_cast<long long>(sum), ms);
  std::fflush(stdout);
}

}  // namespace mn_bench
