// Command-line flags shared by the side-by-side workloads (pingpong, chan_mpmc,
// mutex_contention, timer_storm): -n N and, where a program takes it, --seed S.
//
// Each flag is accepted as Go's flag package accepts it: -flag V, --flag V, -flag=V and
// --flag=V. -h or --help prints the usage line to stdout and exits 0. A bad argument
// prints "<program>: <what is wrong>" and the usage line to stderr and exits 2; the
// message names the flag (-n or -seed).
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mn_bench {

// What a program accepts, and its defaults.
struct FlagSpec {
  const char* program;  // prefixes every error message, as "<program>: ..."
  const char* usage;    // the usage line: printed by -h/--help and after every error
  int64_t n;            // -n's default
  int64_t max_n;        // -n's largest value (the smallest is 1)
  bool has_seed = false;  // whether --seed is accepted at all
  uint64_t seed = 1;      // --seed's default
};

struct Flags {
  int64_t n;
  uint64_t seed;
};

// Prints "<program>: <msg>" and the usage line to stderr and exits 2.
[[noreturn]] inline void Usage(const FlagSpec& spec, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n%s\n", spec.program, msg.c_str(), spec.usage);
  std::exit(2);
}

// Parses argv as spec says; exits (0 for -h/--help, 2 on a bad argument) instead of
// returning when it does not hold flags alone. A later flag overrides an earlier one.
inline Flags ParseFlags(int argc, char** argv, const FlagSpec& spec) {
  Flags f{spec.n, spec.seed};
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::printf("%s\n", spec.usage);
      std::exit(0);
    }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name.rfind("--", 0) == 0) name.erase(0, 1);  // --flag is -flag
    if (name != "-n" && !(spec.has_seed && name == "-seed")) {
      Usage(spec, "unknown argument \"" + arg + "\"");
    }
    if (!has_value) {
      if (i + 1 >= argc) Usage(spec, "flag " + name + " needs a value");
      value = argv[++i];
    }
    char* end = nullptr;
    errno = 0;
    if (name == "-n") {
      long long x = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || x < 1 || x > spec.max_n) {
        Usage(spec, "invalid value \"" + value + "\" for flag -n: want an integer from 1 to " +
                        std::to_string(spec.max_n));
      }
      f.n = x;
    } else {
      unsigned long long x = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || value[0] == '-' || *end != '\0' || errno != 0) {
        Usage(spec, "invalid value \"" + value + "\" for flag -seed: want an unsigned integer");
      }
      f.seed = x;
    }
  }
  return f;
}

}  // namespace mn_bench
