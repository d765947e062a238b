// A small command-line parser for the network programs (examples/echo_server,
// examples/http_hello, bench/echo_load), which take more kinds of flags than
// bench_flags.hpp's -n/-rounds: integers, strings and durations.
//
// Flags are accepted as Go's flag package accepts them, so the Go peers in bench/go/ and
// these programs take the same command lines: -flag V, --flag V, -flag=V and --flag=V. -h or
// --help prints the usage to stdout and exits 0; anything else that is wrong prints
// "<program>: <what is wrong>" and the usage to stderr and exits 2, naming the flag. A
// later flag overrides an earlier one. Positional arguments are refused.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace mn_bench {

class FlagSet {
 public:
  FlagSet(std::string program, std::string usage)
      : program_(std::move(program)), usage_(std::move(usage)) {}

  // An integer from lo to hi.
  void Int(std::string name, int64_t* v, int64_t lo, int64_t hi) {
    flags_.push_back({std::move(name), kInt, v, nullptr, nullptr, lo, hi, 0, 0});
  }
  void String(std::string name, std::string* v) {
    flags_.push_back({std::move(name), kString, nullptr, v, nullptr, 0, 0, 0, 0});
  }
  // A duration as Go writes one ("10s", "1.5s", "250ms", "2m", "100us"; a bare number is
  // seconds), stored in seconds, from lo to hi seconds.
  void Duration(std::string name, double* seconds, double lo, double hi) {
    flags_.push_back({std::move(name), kDuration, nullptr, nullptr, seconds, 0, 0, lo, hi});
  }

  // Prints "<program>: <msg>" and the usage to stderr and exits 2.
  [[noreturn]] void Fail(const std::string& msg) const {
    std::fprintf(stderr, "%s: %s\n%s\n", program_.c_str(), msg.c_str(), usage_.c_str());
    std::exit(2);
  }

  void Parse(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
      std::string arg = argv[i];
      if (arg == "-h" || arg == "--help" || arg == "-help") {
        std::printf("%s\n", usage_.c_str());
        std::exit(0);
      }
      if (arg.size() < 2 || arg[0] != '-') Fail("unexpected argument \"" + arg + "\"");
      std::string name = arg.substr(arg.rfind("--", 0) == 0 ? 2 : 1), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.erase(eq);
        has_value = true;
      }
      Flag* f = Find(name);
      if (f == nullptr) Fail("unknown flag \"" + arg + "\"");
      if (!has_value) {
        if (i + 1 >= argc) Fail("flag -" + name + " needs a value");
        value = argv[++i];
      }
      Set(*f, value);
    }
  }

 private:
  enum Kind { kInt, kString, kDuration };
  struct Flag {
    std::string name;
    Kind kind;
    int64_t* i;
    std::string* s;
    double* d;
    int64_t lo, hi;
    double dlo, dhi;
  };

  Flag* Find(const std::string& name) {
    for (Flag& f : flags_) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  void Set(Flag& f, const std::string& value) {
    auto bad = [&](const std::string& want) {
      Fail("invalid value \"" + value + "\" for flag -" + f.name + ": want " + want);
    };
    switch (f.kind) {
      case kString:
        *f.s = value;
        return;
      case kInt: {
        char* end = nullptr;
        errno = 0;
        long long x = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || errno != 0 || x < f.lo || x > f.hi) {
          bad("an integer from " + std::to_string(f.lo) + " to " + std::to_string(f.hi));
        }
        *f.i = x;
        return;
      }
      case kDuration: {
        std::string want =
            "a duration such as 10s or 500ms, from " + Seconds(f.dlo) + " to " + Seconds(f.dhi);
        char* end = nullptr;
        errno = 0;
        double x = std::strtod(value.c_str(), &end);
        if (value.empty() || end == value.c_str() || errno != 0 || !std::isfinite(x)) bad(want);
        static constexpr std::pair<const char*, double> kUnits[] = {
            {"", 1}, {"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"ns", 1e-9},
            {"m", 60}, {"h", 3600}};
        double scale = 0;
        for (const auto& [unit, seconds] : kUnits) {
          if (std::string(end) == unit) scale = seconds;
        }
        if (scale == 0) bad(want);
        x *= scale;
        if (x < f.dlo || x > f.dhi) bad(want);
        *f.d = x;
        return;
      }
    }
  }

  static std::string Seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%gs", s);
    return buf;
  }

  std::string program_;
  std::string usage_;
  std::vector<Flag> flags_;
};

}  // namespace mn_bench
