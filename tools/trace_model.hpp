// trace_model: a trace file (docs/tracing.md, "The format") loaded into typed events.
//
// What the loader guarantees, so that its users need not check again:
//  - The file is strict JSON (json.hpp) and its top level an object whose "traceEvents"
//    is an array of objects; "otherData", when present, an object.
//  - Every event has a one-character string "ph", a string "name", an integer "pid"; "tid"
//    is an integer (0 when absent); "cat" a string ("" when absent); "ts" a number (every
//    phase but metadata `M` must have it); `X` events a "dur" >= 0; "id" an integer or a
//    string of one ("0x1f" or "31"); "args" an object. Anything else is an error naming
//    the event (its index in traceEvents and the line it starts on) and the field.
//  - Times are integer nanoseconds (ts_ns, dur_ns), rounded from the file's microseconds:
//    the format writes at most three decimals, so the rounding loses nothing and sums of
//    durations are exact.
//  - Events keep the file's order; nothing is sorted (the recorder writes per-thread
//    buffers one after another, so users that need time order sort themselves).
//
// Memory. Events are the bulk of a trace (a loaded one takes about twice the file's size;
// StreamTraceFile holds one event at a time), so they are kept small: cat, name, arg keys and
// string arg values are interned (a trace repeats a few dozen of them: categories, labels,
// wait reasons) and held as string_views into the Trace's own string store, which does not
// move when the Trace does. Loading reads the file through a fixed buffer and holds one
// event's JSON at a time: memory is the events, not the file. Non-scalar arg values
// (nested objects or arrays, which the format does not use) are kept as kind kOther
// without their content.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "json.hpp"

namespace mn_tools::trace {

struct Arg {
  enum class Kind { kNull, kBool, kNumber, kString, kOther };
  std::string_view key;
  Kind kind = Kind::kNull;
  double number = 0;        // kNumber; kBool as 0 or 1
  std::string_view string;  // kString
};

struct Event {
  char ph = 0;
  std::string_view cat;
  std::string_view name;
  int64_t pid = 0;
  int64_t tid = 0;
  int64_t ts_ns = 0;
  int64_t dur_ns = -1;  // -1 when the event has no "dur"
  std::optional<uint64_t> id;
  std::vector<Arg> args;
  int64_t line = 0;  // where the event starts in the file, for messages

  const Arg* FindArg(std::string_view key) const;
  // The arg as an integer (a number with no fraction, or a bool), else nullopt.
  std::optional<int64_t> IntArg(std::string_view key) const;
  std::optional<std::string_view> StringArg(std::string_view key) const;
  std::optional<bool> BoolArg(std::string_view key) const;
  int64_t end_ns() const { return ts_ns + (dur_ns > 0 ? dur_ns : 0); }
};

// otherData, typed. Fields the file lacks keep these defaults (a trace from another
// producer has none of them); `present` says whether otherData was there at all.
struct OtherData {
  bool present = false;
  std::string producer;
  int64_t format = 0;
  int64_t pid = 0;
  int64_t procs = 0;
  std::string mode;  // "whole" or "ring"
  int64_t ring_bytes = 0;
  int64_t dropped_events = 0;
  bool kernel = false;
  std::optional<int64_t> spawns, parks, readies;  // counters
  std::optional<int64_t> clock_reads;  // clock.reads
  std::optional<double> clock_read_ns;  // clock.read_ns
};

class Trace {
 public:
  Trace();
  Trace(Trace&&) noexcept;
  Trace& operator=(Trace&&) noexcept;
  ~Trace();

  std::vector<Event> events;
  OtherData other_data;
  json::Value other_data_json;     // otherData as written (null when absent)
  std::string display_time_unit;  // "" when absent
  // From the metadata events: process_name per pid, thread_name per (pid, tid).
  std::map<int64_t, std::string> process_names;
  std::map<std::pair<int64_t, int64_t>, std::string> thread_names;

  // A view of `s` that lives as long as this Trace (the same view for equal strings).
  std::string_view Intern(std::string_view s);

 private:
  struct Strings;
  std::unique_ptr<Strings> strings_;
};

// Streaming, for traces too large to hold: calls `sink` with each event in file order, the
// Event valid only during the call (its string_views as long as `*trace`), and fills the
// rest of `*trace` (otherData, which the recorder writes after the events, the names),
// leaving its events empty. A sink's error stops the reading and is returned.
using EventSink = std::function<absl::Status(const Event&)>;
absl::Status StreamTraceFile(const std::string& path, Trace* trace, const EventSink& sink);
absl::Status StreamTrace(json::Reader& reader, Trace* trace, const EventSink& sink);

// Loads the trace file at `path`. Errors: the file cannot be read (the message names it
// and the OS error), or it is not valid JSON or not a trace in the format (the message
// names line and column, or the event and field).
absl::StatusOr<Trace> LoadTraceFile(const std::string& path);
// The same from text already in memory.
absl::StatusOr<Trace> ParseTrace(std::string_view text);
// The same from any Reader positioned at the start of a document.
absl::StatusOr<Trace> ReadTrace(json::Reader& reader);

}  // namespace mn_tools::trace
