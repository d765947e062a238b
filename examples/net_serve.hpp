// What examples/echo_server and examples/http_hello share: their flags, listening, and an
// accept loop that survives running out of file descriptors. bench/go/internal/netserve is
// the same for their Go peers, so that the benchmark compares the servers, not their
// start-up or error paths.
//
//   <program> [--addr HOST] [--port P] [--procs N]
//     --addr HOST  the interface to listen on (default: every interface, IPv6 and IPv4)
//     --port P     the TCP port, 0 for one the kernel picks (the "listening on" line says
//                  which)
//     --procs N    mn::Options.procs: the number of Ps (default 0: MN_PROCS, else the CPUs)
//
// Once listening, the program prints "listening on <address>" on stdout, so that a script
// can wait for that line and read the port from it.
#pragma once

#include <mn/mn.hpp>
#include <mn/net.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "cli_flags.hpp"

namespace mn_examples {

struct ServerFlags {
  std::string addr;  // the listen address, as mn::net::listen takes it
  int procs = 0;
};

inline ServerFlags ParseServerFlags(int argc, char** argv, const char* program,
                                    int64_t default_port) {
  std::string usage = std::string("usage: ") + program +
                      " [--addr HOST] [--port P] [--procs N]\n"
                      "  --addr HOST  interface to listen on (default: all)\n"
                      "  --port P     TCP port, 0 for any free one (default " +
                      std::to_string(default_port) +
                      ")\n"
                      "  --procs N    number of Ps, 0 for MN_PROCS or the CPU count (default 0)";
  std::string host;
  int64_t port = default_port, procs = 0;
  mn_bench::FlagSet flags(program, usage);
  flags.String("addr", &host);
  flags.Int("port", &port, 0, 65535);
  flags.Int("procs", &procs, 0, 1024);
  flags.Parse(argc, argv);
  // ":" and "" both mean every interface, as Go's ":8080" does.
  if (host == ":") host.clear();
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.find_first_of(" /") != std::string::npos) {
    flags.Fail("invalid value \"" + host + "\" for flag -addr: want a host name or IP address");
  }
  ServerFlags f;
  bool v6 = host.find(':') != std::string::npos;
  f.addr = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  f.procs = static_cast<int>(procs);
  return f;
}

// Listens on flags.addr (from a G: the listener belongs to the runtime that makes it) and
// prints the "listening on" line. On failure it prints why and returns the exit code for
// main: 2 when the address itself is malformed, 1 otherwise (the port is taken, ...).
inline int Listen(const char* program, const ServerFlags& flags, mn::net::Listener* out) {
  // Each connection is an fd, and the soft limit is often 1024. Go raises it to the hard
  // limit at start (since Go 1.19); so do we, or the comparison would measure the limit.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  auto ln = mn::net::listen("tcp", flags.addr);
  if (!ln.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, std::string(ln.status().message()).c_str());
    return ln.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  *out = std::move(*ln);
  std::printf("listening on %s\n", out->addr().to_string().c_str());
  std::fflush(stdout);
  return 0;
}

// Accepts connections until the listener is closed, starting a G running
// handle(mn::net::Conn) for each. On an accept error it does what Go's http.Server does
// with a temporary one: sleep 5 ms, doubling up to 1 s, and try again; the pending
// connection waits in the kernel's queue meanwhile. Running out of fds (EMFILE) is the usual cause, and
// retrying at once would spin on it, since the fds come back only as other connections
// close. The error is printed once per run of failures, not once per retry, so a long
// shortage cannot flood stderr. Returns 0 when the listener is closed, 1 on an error that
// retrying cannot cure (the listener itself is broken).
template <class Handler>
int Serve(const char* program, mn::net::Listener& ln, Handler handle) {
  using std::chrono::milliseconds;
  milliseconds delay{0};
  int64_t failures = 0;
  auto episode_start = mn::Clock::now();
  for (;;) {
    auto conn = ln.accept();
    if (!conn.ok()) {
      const absl::Status& st = conn.status();
      if (mn::net::is_closed(st)) return 0;
      int err = mn::sys::errno_of(st);
      if (err == EBADF || err == EINVAL || err == ENOTSOCK || err == EOPNOTSUPP) {
        std::fprintf(stderr, "%s: %s\n", program, std::string(st.message()).c_str());
        return 1;
      }
      if (delay.count() == 0) {
        delay = milliseconds(5);
        episode_start = mn::Clock::now();
        std::fprintf(stderr, "%s: accept: %s; retrying every 5 ms to 1 s until it succeeds\n",
                     program, std::string(st.message()).c_str());
      } else {
        delay = std::min(delay * 2, milliseconds(1000));
      }
      failures++;
      mn::sleep_for(delay);
      continue;
    }
    if (delay.count() != 0) {
      auto ms = std::chrono::duration_cast<milliseconds>(mn::Clock::now() - episode_start);
      std::fprintf(stderr, "%s: accept: succeeded again after %lld failure(s) in %lld ms\n",
                   program, static_cast<long long>(failures), static_cast<long long>(ms.count()));
      delay = milliseconds(0);
      failures = 0;
    }
    mn::go([handle, c = std::move(*conn)]() mutable { handle(std::move(c)); });
  }
}

}  // namespace mn_examples
