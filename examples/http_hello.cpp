// http_hello: an HTTP/1.1 keep-alive server on mn::net that answers every request with
// "Hello, World!". Written by hand over a connection, as bench/go/httphello is in Go (the
// same parsing, the same bytes out), so that bench/run-net.sh compares the runtimes and not
// two HTTP libraries; bench/go/httpnethttp is Go's net/http for reference.
//
//   usage: http_hello [--addr HOST] [--port P] [--procs N]   (see net_serve.hpp)
//
// Per connection, one G reads. Every complete request head (up to its blank line) in what
// has arrived is answered, and the answers to one read's requests go out in one write:
// pipelined requests cost one write, and a head split across reads waits for its end.
//  - "Connection: close" (or an HTTP/1.0 request, which has no keep-alive here) gets its
//    answer, with "Connection: close", and the connection closes.
//  - A body announced by Content-Length is read and discarded; "Transfer-Encoding" (a
//    chunked body) is not supported: 501 and close. A malformed request: 400 and close.
//  - A head over 64 KiB: 431 and close (Go's net/http allows 1 MiB; these heads are tiny).
// There is no Date header, unlike net/http's: the response is a constant.
#include <mn/mn.hpp>
#include <mn/net.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net_serve.hpp"

namespace {

constexpr const char* kProgram = "http_hello";
constexpr std::size_t kReadSize = 16 << 10;  // on the heap: a G's stack is 64 KiB
constexpr std::size_t kMaxHead = 64 << 10;

constexpr std::string_view kOK =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
constexpr std::string_view kOKClose =
    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\nContent-Type: "
    "text/plain\r\n\r\nHello, World!";
constexpr std::string_view kBadRequest =
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view kNotImplemented =
    "HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
constexpr std::string_view kTooLarge =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: "
    "0\r\n\r\n";

// (Debian's absl predates std::string_view in its API, hence these by hand.)
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The part of *s before the first sep, which is removed from *s with the part; all of *s
// when there is no sep.
std::string_view Cut(std::string_view* s, std::string_view sep) {
  std::size_t i = s->find(sep);
  std::string_view part = s->substr(0, i);
  s->remove_prefix(i == std::string_view::npos ? s->size() : i + sep.size());
  return part;
}

struct Request {
  std::string_view response;
  bool close = false;
  uint64_t body = 0;  // Content-Length: bytes after the head to discard
};

// head: the request line and the header lines, without the blank line that ends them.
Request Parse(std::string_view head) {
  Request bad{kBadRequest, true, 0};
  // RFC 9112 2.2: empty lines before a request line are to be ignored.
  while (head.substr(0, 2) == "\r\n") head.remove_prefix(2);
  if (head.empty()) return Request{"", false, 0};
  std::string_view line = Cut(&head, "\r\n");

  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    return bad;
  }
  std::string_view version = line.substr(sp2 + 1);
  Request r{kOK, false, 0};
  if (version == "HTTP/1.0") {
    r.close = true;
  } else if (version != "HTTP/1.1") {
    return bad;
  }

  bool chunked = false;
  while (!head.empty()) {
    std::string_view h = Cut(&head, "\r\n");
    std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return bad;
    std::string_view name = h.substr(0, colon);
    std::string_view value = TrimSpace(h.substr(colon + 1));
    if (EqualsIgnoreCase(name, "Connection")) {
      while (!value.empty()) {
        if (EqualsIgnoreCase(TrimSpace(Cut(&value, ",")), "close")) r.close = true;
      }
    } else if (EqualsIgnoreCase(name, "Content-Length")) {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return bad;
      }
      r.body = 0;
      for (char c : value) r.body = r.body * 10 + static_cast<uint64_t>(c - '0');
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      chunked = true;
    }
  }
  if (chunked) return Request{kNotImplemented, true, 0};
  if (r.close) r.response = kOKClose;
  return r;
}

void ServeConn(mn::net::Conn conn) {
  auto buf = std::make_unique<char[]>(kReadSize);
  std::string pending;  // the start of a request head that has not ended yet
  std::string out;      // the answers to one read's requests
  uint64_t skip = 0;    // body bytes still to come and be discarded
  bool close = false;
  while (!close) {
    auto n = conn.read(buf.get(), kReadSize);
    if (!n.ok() || *n == 0) break;
    std::string_view data(buf.get(), *n);
    uint64_t drop = std::min<uint64_t>(skip, data.size());
    data.remove_prefix(drop);
    skip -= drop;
    // The blank line may straddle the old bytes and the new: search from 3 bytes back.
    std::size_t from = pending.size() >= 3 ? pending.size() - 3 : 0;
    bool carried = !pending.empty();
    if (carried) {
      pending.append(data);
      data = pending;
    } else {
      from = 0;
    }
    std::size_t pos = 0;
    while (!close) {
      std::size_t end = data.find("\r\n\r\n", std::max(pos, from));
      if (end == std::string_view::npos) break;
      Request r = Parse(data.substr(pos, end - pos));
      pos = end + 4;
      out.append(r.response);
      close = r.close;
      drop = std::min<uint64_t>(r.body, data.size() - pos);
      pos += drop;
      skip = r.body - drop;
    }
    if (!close) {
      if (carried) {
        pending.erase(0, pos);
      } else {
        pending.assign(data.substr(pos));
      }
      if (pending.size() > kMaxHead) {
        out.append(kTooLarge);
        close = true;
      }
    }
    if (!out.empty()) {
      if (!conn.write_all(out).ok()) break;
      out.clear();
    }
  }
  (void)conn.close();
}

}  // namespace

int main(int argc, char** argv) {
  mn_examples::ServerFlags flags = mn_examples::ParseServerFlags(argc, argv, kProgram, 8080);
  return mn::run(
      [&flags]() -> int {
        mn::net::Listener ln;
        if (int rc = mn_examples::Listen(kProgram, flags, &ln); rc != 0) return rc;
        return mn_examples::Serve(kProgram, ln, &ServeConn);
      },
      mn::Options{.procs = flags.procs});
}
