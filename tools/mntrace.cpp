// mntrace: reads the execution traces MN_TRACE records (docs/tracing.md).
//
//   mntrace summarize <trace.json> [--json] [--top=N]
//
// summarize prints, per G kind (the label: mn::go_named's name, else the spawn site), the
// time its Gs spent running, runnable and blocked (and in blocking calls), how many there
// were, and their scheduling latency (runnable to running) P50/P99; the same over all Gs;
// the wait reasons ranked by the time Gs spent blocked on them; and the trace's totals
// (events, Gs, events dropped). trace_summary.hpp says exactly how each figure is
// computed. --top limits the kinds and wait reasons listed (0: all); --json prints one
// JSON object instead of the tables (keys below, times in ns, percentiles null without
// samples).
//
// Exit codes: 0 done; 1 the trace cannot be read or is not a valid trace (the message names
// the file and the fault: line and column, or event and field); 2 bad usage (an unknown
// subcommand or flag, no file or more than one; absl's own parse errors exit 2 through
// cli_parse.hpp, and --help 0).
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_format.h"
#include "cli_parse.hpp"
#include "json.hpp"
#include "trace_model.hpp"
#include "trace_summary.hpp"

ABSL_FLAG(bool, json, false, "summarize: print one JSON object instead of the tables");
ABSL_FLAG(int32_t, top, 10, "summarize: list at most N G kinds and N wait reasons (0: all)");

namespace mntrace {
namespace {

using mn_tools::json::Quote;
using mn_tools::trace::KindSummary;
using mn_tools::trace::Latency;
using mn_tools::trace::Summary;
using mn_tools::trace::WaitReasonSummary;

constexpr const char* kUsageLine = "usage: mntrace summarize <trace.json> [--json] [--top=N]";

std::string VersionString() {
#ifdef MN_VERSION
  return absl::StrFormat("mntrace (mnsched %s)\n", MN_VERSION);
#else
  return "mntrace\n";
#endif
}

// A duration for people: 850ns, 12.3us, 4.56ms, 1.234s.
std::string Dur(int64_t ns) {
  if (ns < 1000) return absl::StrFormat("%dns", ns);
  if (ns < 1000000) return absl::StrFormat("%.1fus", ns / 1e3);
  if (ns < 1000000000) return absl::StrFormat("%.2fms", ns / 1e6);
  return absl::StrFormat("%.3fs", ns / 1e9);
}

std::string LatencyText(const Latency& l) {
  if (l.count == 0) return "no samples";
  return absl::StrFormat("%d samples, p50 %s, p99 %s, max %s", l.count, Dur(l.p50_ns), Dur(l.p99_ns), Dur(l.max_ns));
}

template <typename T>
std::size_t Shown(const std::vector<T>& v, int top) {
  return top == 0 ? v.size() : std::min(v.size(), static_cast<std::size_t>(top));
}

std::string Text(const std::string& path, const Summary& s, int top) {
  std::string o = absl::StrFormat("trace %s\n", path);
  if (!s.producer.empty()) {
    absl::StrAppendFormat(&o, "  %s format %d, %s mode, %d Ps, kernel slices %s\n", s.producer, s.format,
                          s.mode.empty() ? "?" : s.mode, s.procs, s.kernel ? "on" : "off");
  }
  absl::StrAppendFormat(&o, "  %s long, %d events, %d Gs, %d events dropped\n", Dur(s.duration_ns), s.events, s.gs,
                        s.dropped_events);
  absl::StrAppendFormat(&o, "  %d runs, %d syscalls, %d spawns, %d parks, %d readies, %d steals, %d handoffs, %d timers\n",
                        s.runs, s.syscalls, s.spawns, s.parks, s.readies, s.steals, s.handoffs, s.timers);
  if (s.unattributed > 0) absl::StrAppendFormat(&o, "  %d events name no G\n", s.unattributed);
  absl::StrAppendFormat(&o, "\nall Gs: running %s, runnable %s, blocked %s, in syscalls %s\n", Dur(s.running_ns),
                        Dur(s.runnable_ns), Dur(s.blocked_ns), Dur(s.syscall_ns));
  absl::StrAppendFormat(&o, "scheduling latency: %s\n", LatencyText(s.latency));

  std::size_t kinds = Shown(s.kinds, top);
  std::size_t w = 4;
  for (std::size_t i = 0; i < kinds; i++) w = std::max(w, std::min<std::size_t>(s.kinds[i].label.size(), 40));
  absl::StrAppendFormat(&o, "\nG kinds by running time (%d of %d):\n", kinds, s.kinds.size());
  absl::StrAppendFormat(&o, "  %-*s %7s %10s %10s %10s %10s %8s %9s %9s\n", w, "KIND", "GS", "RUNNING", "RUNNABLE",
                        "BLOCKED", "SYSCALL", "RUNS", "LAT P50", "LAT P99");
  for (std::size_t i = 0; i < kinds; i++) {
    const KindSummary& k = s.kinds[i];
    bool lat = k.latency.count > 0;
    absl::StrAppendFormat(&o, "  %-*s %7d %10s %10s %10s %10s %8d %9s %9s\n", w, k.label, k.gs, Dur(k.running_ns),
                          Dur(k.runnable_ns), Dur(k.blocked_ns), Dur(k.syscall_ns), k.runs,
                          lat ? Dur(k.latency.p50_ns) : "-", lat ? Dur(k.latency.p99_ns) : "-");
  }

  std::size_t reasons = Shown(s.wait_reasons, top);
  w = 6;
  for (std::size_t i = 0; i < reasons; i++) w = std::max(w, s.wait_reasons[i].reason.size());
  absl::StrAppendFormat(&o, "\nwait reasons by blocked time (%d of %d):\n", reasons, s.wait_reasons.size());
  if (reasons > 0) absl::StrAppendFormat(&o, "  %-*s %9s %10s\n", w, "REASON", "COUNT", "BLOCKED");
  for (std::size_t i = 0; i < reasons; i++) {
    const WaitReasonSummary& r = s.wait_reasons[i];
    absl::StrAppendFormat(&o, "  %-*s %9d %10s\n", w, r.reason, r.count, Dur(r.blocked_ns));
  }

  if (!s.kernel_slices.empty()) {
    o += "\nkernel slices:\n";
    for (const Summary::KernelSlices& k : s.kernel_slices) {
      absl::StrAppendFormat(&o, "  %-12s %9d %10s\n", k.name, k.count, Dur(k.ns));
    }
  }
  return o;
}

std::string LatencyJson(const Latency& l) {
  if (l.count == 0) return R"({"count":0,"p50_ns":null,"p99_ns":null,"max_ns":null})";
  return absl::StrFormat(R"({"count":%d,"p50_ns":%d,"p99_ns":%d,"max_ns":%d})", l.count, l.p50_ns, l.p99_ns, l.max_ns);
}

// Keys: file, producer, format, mode, procs, kernel, dropped_events, events, gs,
// duration_ns, counts {runs, syscalls, spawns, parks, readies, steals, handoffs, timers,
// unattributed}, running_ns, runnable_ns, blocked_ns, syscall_ns, latency {count, p50_ns,
// p99_ns, max_ns}, kinds_total, kinds [{label, gs, spawns, exits, runs, running_ns,
// runnable_ns, blocked_ns, syscall_ns, latency}], wait_reasons_total, wait_reasons
// [{reason, count, blocked_ns}], kernel_slices [{name, count, ns}].
std::string Json(const std::string& path, const Summary& s, int top) {
  std::string o = absl::StrFormat(
      R"({"file":%s,"producer":%s,"format":%d,"mode":%s,"procs":%d,"kernel":%s,"dropped_events":%d,)"
      R"("events":%d,"gs":%d,"duration_ns":%d,)",
      Quote(path), Quote(s.producer), s.format, Quote(s.mode), s.procs, s.kernel ? "true" : "false", s.dropped_events,
      s.events, s.gs, s.duration_ns);
  absl::StrAppendFormat(&o,
                        R"("counts":{"runs":%d,"syscalls":%d,"spawns":%d,"parks":%d,"readies":%d,"steals":%d,)"
                        R"("handoffs":%d,"timers":%d,"unattributed":%d},)",
                        s.runs, s.syscalls, s.spawns, s.parks, s.readies, s.steals, s.handoffs, s.timers, s.unattributed);
  absl::StrAppendFormat(&o, R"("running_ns":%d,"runnable_ns":%d,"blocked_ns":%d,"syscall_ns":%d,"latency":%s,)",
                        s.running_ns, s.runnable_ns, s.blocked_ns, s.syscall_ns, LatencyJson(s.latency));
  absl::StrAppendFormat(&o, R"("kinds_total":%d,"kinds":[)", s.kinds.size());
  for (std::size_t i = 0, n = Shown(s.kinds, top); i < n; i++) {
    const KindSummary& k = s.kinds[i];
    absl::StrAppendFormat(&o,
                          R"(%s{"label":%s,"gs":%d,"spawns":%d,"exits":%d,"runs":%d,"running_ns":%d,)"
                          R"("runnable_ns":%d,"blocked_ns":%d,"syscall_ns":%d,"latency":%s})",
                          i ? "," : "", Quote(k.label), k.gs, k.spawns, k.exits, k.runs, k.running_ns, k.runnable_ns,
                          k.blocked_ns, k.syscall_ns, LatencyJson(k.latency));
  }
  absl::StrAppendFormat(&o, R"(],"wait_reasons_total":%d,"wait_reasons":[)", s.wait_reasons.size());
  for (std::size_t i = 0, n = Shown(s.wait_reasons, top); i < n; i++) {
    const WaitReasonSummary& r = s.wait_reasons[i];
    absl::StrAppendFormat(&o, R"(%s{"reason":%s,"count":%d,"blocked_ns":%d})", i ? "," : "", Quote(r.reason), r.count,
                          r.blocked_ns);
  }
  o += R"(],"kernel_slices":[)";
  for (std::size_t i = 0; i < s.kernel_slices.size(); i++) {
    const Summary::KernelSlices& k = s.kernel_slices[i];
    absl::StrAppendFormat(&o, R"(%s{"name":%s,"count":%d,"ns":%d})", i ? "," : "", Quote(k.name), k.count, k.ns);
  }
  o += "]}\n";
  return o;
}

int BadUsage(const std::string& what) {
  std::fprintf(stderr, "mntrace: %s\n%s\n", what.c_str(), kUsageLine);
  return 2;
}

int Summarize(const std::vector<char*>& args) {
  if (args.size() < 3) return BadUsage("summarize: no trace file given");
  if (args.size() > 3) return BadUsage(absl::StrFormat("summarize: one trace file, not %d", args.size() - 2));
  int top = absl::GetFlag(FLAGS_top);
  if (top < 0) return BadUsage(absl::StrFormat("--top=%d: must be 0 (all) or more", top));
  std::string path = args[2];
  // Streamed: a trace of millions of events is summarized without holding them.
  mn_tools::trace::Trace trace;
  mn_tools::trace::Summarizer summarizer;
  absl::Status read = mn_tools::trace::StreamTraceFile(path, &trace, [&](const mn_tools::trace::Event& e) {
    summarizer.Add(e);
    return absl::OkStatus();
  });
  if (!read.ok()) {
    std::fprintf(stderr, "mntrace: %s\n", std::string(read.message()).c_str());
    return 1;
  }
  Summary s = summarizer.Finish(trace.other_data);
  std::string out = absl::GetFlag(FLAGS_json) ? Json(path, s, top) : Text(path, s, top);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::perror("mntrace: writing the summary");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace mntrace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrFormat(
      "%s\n\nSummarizes an execution trace recorded with MN_TRACE (docs/tracing.md): per G kind the "
      "time running, runnable and blocked, scheduling latency, wait reasons.",
      mntrace::kUsageLine));
  absl::FlagsUsageConfig config;
  config.version_string = &mntrace::VersionString;
  absl::SetFlagsUsageConfig(config);

  std::vector<char*> args = mn_tools::ParseFlags(argc, argv, mntrace::kUsageLine);
  if (args.size() < 2) return mntrace::BadUsage("no subcommand given (summarize)");
  std::string_view sub = args[1];
  if (sub == "summarize") return mntrace::Summarize(args);
  return mntrace::BadUsage(absl::StrFormat("unknown subcommand \"%s\" (summarize)", std::string(sub)));
}
