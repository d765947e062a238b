// ParseFlags: absl::ParseCommandLine with this project's exit codes, for the tools.
//
// absl reports a bad flag (and serves --help and --version) by calling exit(1). The tools
// exit 2 for bad usage, so while it parses an exit handler turns that exit into 2 after
// printing the usage line, or into 0 after a --help/--version request. Header-only: each
// tool is one translation unit, and the state below is that program's, set once in main.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "absl/flags/parse.h"

namespace mn_tools {

struct ParseState {
  const char* usage_line = "";
  bool parsing = false;
  bool help_requested = false;
};

inline ParseState& TheParseState() {
  static ParseState s;
  return s;
}

inline bool IsHelpFlag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  arg = arg.substr(0, arg.find('='));
  return arg == "help" || arg == "helpfull" || arg == "helpshort" || arg == "helppackage" ||
         arg == "version";
}

inline void ExitWhileParsing() {
  ParseState& s = TheParseState();
  if (!s.parsing) return;
  std::fflush(stdout);
  if (s.help_requested) _exit(0);
  std::fprintf(stderr, "%s\n", s.usage_line);
  std::fflush(stderr);
  _exit(2);
}

// The positional arguments (argv[0] first). Never returns on a bad flag (exit 2) or on
// --help/--version (exit 0).
inline std::vector<char*> ParseFlags(int argc, char** argv, const char* usage_line) {
  ParseState& s = TheParseState();
  s.usage_line = usage_line;
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; i++) {
    if (IsHelpFlag(argv[i])) s.help_requested = true;
  }
  std::atexit(&ExitWhileParsing);
  s.parsing = true;
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  s.parsing = false;
  return args;
}

}  // namespace mn_tools
