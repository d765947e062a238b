// Command-line flags shared by the side-by-side workloads (bench/<target>.cpp and their
// Boost.Fiber peers bench/boost/boost_<target>.cpp): -n N and, where a program takes them,
// --seed S (timer_storm) and --rounds R (spawn_many, spawn_remote, yield_many,
// chained_spawn).
//
// Each flag is accepted as Go's flag package accepts it: -flag V, --flag V, -flag=V and
// --flag=V. The arguments are read in order, and the first bad one is reported: -h or
// --help prints the usage line to stdout and exits 0; a bad argument prints
// "<program>: <what is wrong>" and the usage line to stderr and exits 2; the message names
// the flag (-n, -seed or -rounds).
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
  bool has_rounds = false;  // whether --rounds is accepted at all
  int64_t rounds = 1;       // --rounds' default
  int64_t max_rounds = 1;   // --rounds' largest value (the smallest is 1)
};

struct Flags {
  int64_t n;
  uint64_t seed;    // spec.seed unless the program takes --seed
  int64_t rounds;   // spec.rounds unless the program takes --rounds
};

// Prints "<program>: <msg>" and the usage line to stderr and exits 2.
[[noreturn]] inline void Usage(const FlagSpec& spec, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n%s\n", spec.program, msg.c_str(), spec.usage);
  std::exit(2);
}

// The value of flag `name` (-n or -rounds): an integer from 1 to max, or Usage() names it.
inline int64_t ParseCount(const FlagSpec& spec, const std::string& name, const std::string& value,
                          int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || x < 1 || x > max) {
    Usage(spec, "invalid value \"" + value + "\" for flag " + name +
                    ": want an integer from 1 to " + std::to_string(max));
  }
  return x;
}

// Parses argv as spec says; exits (0 for -h/--help, 2 on a bad argument) instead of
// returning when it does not hold flags alone. A later flag overrides an earlier one.
inline Flags ParseFlags(int argc, char** argv, const FlagSpec& spec) {
  Flags f{spec.n, spec.seed, spec.rounds};
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
    if (name != "-n" && !(spec.has_seed && name == "-seed") &&
        !(spec.has_rounds && name == "-rounds")) {
      Usage(spec, "unknown argument \"" + arg + "\"");
    }
    if (!has_value) {
      if (i + 1 >= argc) Usage(spec, "flag " + name + " needs a value");
      value = argv[++i];
    }
    if (name == "-n") {
      f.n = ParseCount(spec, name, value, spec.max_n);
    } else if (name == "-rounds") {
      f.rounds = ParseCount(spec, name, value, spec.max_rounds);
    } else {
      char* end = nullptr;
      errno = 0;
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
