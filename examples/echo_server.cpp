// echo_server: a TCP echo server on mn::net. One G accepts; each connection gets a G that
// reads and writes back what it read until the peer closes or an error. bench/run-net.sh
// drives it with bench/echo_load against bench/go/echoserver, its Go peer.
//
//   usage: echo_server [--addr HOST] [--port P] [--procs N]   (see net_serve.hpp)
#include <mn/mn.hpp>
#include <mn/net.hpp>

#include <cstddef>
#include <memory>

#include "net_serve.hpp"

namespace {

constexpr const char* kProgram = "echo_server";
// The same as the Go peer's buffer. On the heap: a G's stack is 64 KiB by default.
constexpr std::size_t kBufSize = 16 << 10;

// Errors end the connection quietly: a reset or a peer gone is a client's business, and a
// message per connection would swamp a benchmark's output.
void Echo(mn::net::Conn conn) {
  auto buf = std::make_unique<char[]>(kBufSize);
  for (;;) {
    auto n = conn.read(buf.get(), kBufSize);
    if (!n.ok() || *n == 0) break;
    if (!conn.write_all(buf.get(), *n).ok()) break;
  }
  (void)conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  mn_examples::ServerFlags flags = mn_examples::ParseServerFlags(argc, argv, kProgram, 9000);
  return mn::run(
      [&flags]() -> int {
        mn::net::Listener ln;
        if (int rc = mn_examples::Listen(kProgram, flags, &ln); rc != 0) return rc;
        return mn_examples::Serve(kProgram, ln, &Echo);
      },
      mn::Options{.procs = flags.procs});
}
