// See libbpf_log.hpp.
#include "libbpf_log.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"

#if MN_WITH_BPF
#include <bpf/libbpf.h>
#endif

namespace mn::detail {

namespace {

bool HasCap(const __user_cap_data_struct* d, int cap) {
  return (d[cap / 32].effective >> (cap % 32)) & 1;
}

}  // namespace

std::string BpfCapabilityProblem() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) {
    return absl::StrFormat("capget: %s", std::strerror(errno));
  }
  if (HasCap(data, CAP_SYS_ADMIN)) return "";
  if (HasCap(data, CAP_BPF) && HasCap(data, CAP_PERFMON)) return "";
  return "the process has neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON (run as root, "
         "or grant them: setcap cap_bpf,cap_perfmon+ep <binary>)";
}

#if MN_WITH_BPF

struct LibbpfLog::Impl {
  std::string log;
  bool echo = false;
  bool debug = false;
  libbpf_print_fn_t old = nullptr;
  Impl* prev = nullptr;  // the thread's enclosing LibbpfLog, if any
};

namespace {

thread_local LibbpfLog::Impl* current = nullptr;

int Print(enum libbpf_print_level level, const char* fmt, va_list ap) {
  LibbpfLog::Impl* l = current;
  if (l == nullptr) return 0;
  if (level == LIBBPF_DEBUG && !(l->echo && l->debug)) return 0;
  va_list copy;
  va_copy(copy, ap);
  char small[512];
  int n = std::vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string msg;
  if (static_cast<std::size_t>(n) < sizeof small) {
    msg.assign(small, n);
  } else {  // a verifier log arrives as one message
    msg.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(msg.data(), msg.size(), fmt, ap);
    msg.resize(static_cast<std::size_t>(n));
  }
  if (l->echo) std::fputs(msg.c_str(), stderr);
  if (level == LIBBPF_DEBUG) return 0;
  l->log += msg;
  if (l->log.size() > LibbpfLog::kMaxLog) l->log.erase(0, l->log.size() - LibbpfLog::kMaxLog);
  return 0;
}

}  // namespace

LibbpfLog::LibbpfLog(bool echo, bool debug) : impl_(new Impl) {
  impl_->echo = echo;
  impl_->debug = debug;
  impl_->prev = current;
  current = impl_;
  impl_->old = libbpf_set_print(&Print);
}

LibbpfLog::~LibbpfLog() {
  libbpf_set_print(impl_->old);
  current = impl_->prev;
  delete impl_;
}

namespace {

// The last non-empty line of v.
std::string_view LastLineOf(std::string_view v) {
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  std::size_t nl = v.rfind('\n');
  if (nl != std::string_view::npos) v.remove_prefix(nl + 1);
  return v;
}

}  // namespace

std::string LibbpfLog::Detail() const {
  // A verifier log ends "<the error>\nprocessed N insns ...\n-- END PROG LOAD LOG --":
  // the error, and the program's name from the BEGIN line, say more than libbpf's own
  // last line ("failed to load BPF skeleton").
  std::string_view v = impl_->log;
  std::size_t end = v.rfind("-- END PROG LOAD LOG --");
  if (end == std::string_view::npos) return LastLine();
  std::string_view before = v.substr(0, end);
  std::size_t begin = before.rfind("-- BEGIN PROG LOAD LOG --");
  std::string prog;
  if (begin != std::string_view::npos) {
    std::string_view head = before.substr(0, begin);
    std::size_t q = head.rfind("prog '");
    if (q != std::string_view::npos) {
      std::size_t q2 = head.find('\'', q + 6);
      if (q2 != std::string_view::npos) prog = std::string(head.substr(q + 6, q2 - q - 6));
    }
    before = before.substr(begin);
  }
  // Skip the statistics lines at the end.
  std::string_view line = LastLineOf(before);
  while (!line.empty() && (line.starts_with("processed ") || line.starts_with("verification time"))) {
    before = before.substr(0, static_cast<std::size_t>(line.data() - before.data()));
    line = LastLineOf(before);
  }
  if (line.empty()) return LastLine();
  return prog.empty() ? std::string(line) : "prog '" + prog + "': " + std::string(line);
}

std::string LibbpfLog::LastLine() const {
  std::string_view v = impl_->log;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  std::size_t nl = v.rfind('\n');
  if (nl != std::string_view::npos) v.remove_prefix(nl + 1);
  return std::string(v);
}

#else  // !MN_WITH_BPF

struct LibbpfLog::Impl {};
LibbpfLog::LibbpfLog(bool, bool) : impl_(nullptr) {}
LibbpfLog::~LibbpfLog() = default;
std::string LibbpfLog::LastLine() const { return ""; }
std::string LibbpfLog::Detail() const { return ""; }

#endif  // MN_WITH_BPF

std::string LibbpfLog::Failure(const char* step, int err) const {
  std::string last = Detail();
  return absl::StrFormat("%s: %s%s%s", step, std::strerror(err < 0 ? -err : err),
                         last.empty() ? "" : ": ", last);
}

}  // namespace mn::detail
