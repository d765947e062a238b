// Loading a trace file into the model (trace_model.hpp states what the loader guarantees).
#include "trace_model.hpp"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/container/node_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mn_tools::trace {

using json::Value;

struct Trace::Strings {
  absl::node_hash_set<std::string> set;  // nodes: a string's address never changes
};

Trace::Trace() : strings_(std::make_unique<Strings>()) {}
Trace::Trace(Trace&&) noexcept = default;
Trace& Trace::operator=(Trace&&) noexcept = default;
Trace::~Trace() = default;

std::string_view Trace::Intern(std::string_view s) {
  auto it = strings_->set.find(AbslView(s));
  if (it == strings_->set.end()) it = strings_->set.emplace(s).first;
  return *it;
}

const Arg* Event::FindArg(std::string_view key) const {
  for (const Arg& a : args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

std::optional<int64_t> Event::IntArg(std::string_view key) const {
  const Arg* a = FindArg(key);
  if (a == nullptr || (a->kind != Arg::Kind::kNumber && a->kind != Arg::Kind::kBool)) return std::nullopt;
  if (a->number != std::floor(a->number) || std::fabs(a->number) >= 9.2e18) return std::nullopt;
  return static_cast<int64_t>(a->number);
}

std::optional<std::string_view> Event::StringArg(std::string_view key) const {
  const Arg* a = FindArg(key);
  if (a == nullptr || a->kind != Arg::Kind::kString) return std::nullopt;
  return a->string;
}

std::optional<bool> Event::BoolArg(std::string_view key) const {
  const Arg* a = FindArg(key);
  if (a == nullptr || a->kind != Arg::Kind::kBool) return std::nullopt;
  return a->number != 0;
}

namespace {

bool IsInteger(const Value& v) {
  if (!v.is_number()) return false;
  double d = v.as_number();
  return d == std::floor(d) && std::fabs(d) < 9.2e18;
}

std::string Found(const Value& v) {
  if (IsInteger(v)) return "an integer";
  if (v.is_array() || v.is_object()) return absl::StrCat("an ", json::TypeName(v.type()));
  return absl::StrCat("a ", json::TypeName(v.type()));
}

int64_t ToNanos(double us) { return std::llround(us * 1000.0); }

// One event's checks and conversion; `where` prefixes its messages.
class EventReader {
 public:
  EventReader(Trace& trace, std::string where) : trace_(trace), where_(std::move(where)) {}

  absl::Status Convert(const Value& v, Event* e) {
    if (!v.is_object()) return Err(absl::StrCat("is ", Found(v), ", expected an object"));
    const Value* ph = v.Find("ph");
    if (ph == nullptr) return Err("has no \"ph\"");
    if (!ph->is_string() || ph->as_string().size() != 1) {
      return Err(absl::StrCat("\"ph\" is ", ph->is_string() ? absl::StrCat("\"", ph->as_string(), "\"") : Found(*ph),
                              ", expected a one-character string"));
    }
    e->ph = ph->as_string()[0];
    if (absl::Status s = String(v, "name", &e->name); !s.ok()) return s;
    if (absl::Status s = String(v, "cat", &e->cat); !s.ok()) return s;
    if (const Value* pid = v.Find("pid"); pid == nullptr) {
      return Err("has no \"pid\"");
    } else if (!IsInteger(*pid)) {
      return Err(absl::StrCat("\"pid\" is ", Found(*pid), ", expected an integer"));
    } else {
      e->pid = static_cast<int64_t>(pid->as_number());
    }
    if (const Value* tid = v.Find("tid"); tid != nullptr) {
      if (!IsInteger(*tid)) return Err(absl::StrCat("\"tid\" is ", Found(*tid), ", expected an integer"));
      e->tid = static_cast<int64_t>(tid->as_number());
    }
    if (const Value* ts = v.Find("ts"); ts != nullptr) {
      if (!ts->is_number()) return Err(absl::StrCat("\"ts\" is ", Found(*ts), ", expected a number"));
      e->ts_ns = ToNanos(ts->as_number());
    } else if (e->ph != 'M') {
      return Err("has no \"ts\"");
    }
    if (const Value* dur = v.Find("dur"); dur != nullptr) {
      if (!dur->is_number() || dur->as_number() < 0) {
        return Err(absl::StrCat("\"dur\" is ", dur->is_number() ? absl::StrCat(dur->as_number()) : Found(*dur),
                                ", expected a number >= 0"));
      }
      e->dur_ns = ToNanos(dur->as_number());
    } else if (e->ph == 'X') {
      return Err("is a complete event (ph X) without \"dur\"");
    }
    if (const Value* id = v.Find("id"); id != nullptr) {
      uint64_t n = 0;
      bool ok = false;
      if (IsInteger(*id) && id->as_number() >= 0) {
        n = static_cast<uint64_t>(id->as_number());
        ok = true;
      } else if (id->is_string()) {
        std::string_view s = id->as_string();
        ok = (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                 ? absl::SimpleHexAtoi(AbslView(s.substr(2)), &n) && s.find_first_of("+-", 2) == std::string_view::npos
                 : !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos && absl::SimpleAtoi(AbslView(s), &n);
      }
      if (!ok) return Err(absl::StrCat("\"id\" is ", Found(*id), " that is not an id (a whole number >= 0, or a string of one)"));
      e->id = n;
    }
    if (const Value* args = v.Find("args"); args != nullptr) {
      if (!args->is_object()) return Err(absl::StrCat("\"args\" is ", Found(*args), ", expected an object"));
      e->args.reserve(args->as_object().size());
      for (const json::Member& m : args->as_object()) {
        Arg a;
        a.key = trace_.Intern(m.first);
        switch (m.second.type()) {
          case Value::Type::kNull: a.kind = Arg::Kind::kNull; break;
          case Value::Type::kBool:
            a.kind = Arg::Kind::kBool;
            a.number = m.second.as_bool() ? 1 : 0;
            break;
          case Value::Type::kNumber:
            a.kind = Arg::Kind::kNumber;
            a.number = m.second.as_number();
            break;
          case Value::Type::kString:
            a.kind = Arg::Kind::kString;
            a.string = trace_.Intern(m.second.as_string());
            break;
          default: a.kind = Arg::Kind::kOther; break;
        }
        e->args.push_back(a);
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Err(std::string_view what) { return absl::InvalidArgumentError(absl::StrCat(where_, " ", AbslView(what))); }

  absl::Status String(const Value& v, std::string_view key, std::string_view* out) {
    const Value* f = v.Find(key);
    if (f == nullptr) return absl::OkStatus();
    if (!f->is_string()) return Err(absl::StrCat("\"", AbslView(key), "\" is ", Found(*f), ", expected a string"));
    *out = trace_.Intern(f->as_string());
    return absl::OkStatus();
  }

  Trace& trace_;
  std::string where_;
};

absl::Status ReadOtherData(const Value& v, OtherData* od) {
  if (!v.is_object()) return absl::InvalidArgumentError(absl::StrCat("otherData is ", Found(v), ", expected an object"));
  od->present = true;
  auto bad = [](std::string_view field, const Value& f, std::string_view expected) {
    return absl::InvalidArgumentError(absl::StrCat("otherData.", AbslView(field), " is ", Found(f), ", expected ", AbslView(expected)));
  };
  auto integer = [&](const Value& obj, std::string_view prefix, std::string_view key, int64_t* out) -> absl::Status {
    const Value* f = obj.Find(key);
    if (f == nullptr) return absl::OkStatus();
    if (!IsInteger(*f)) return bad(absl::StrCat(AbslView(prefix), AbslView(key)), *f, "an integer");
    *out = static_cast<int64_t>(f->as_number());
    return absl::OkStatus();
  };
  auto string = [&](std::string_view key, std::string* out) -> absl::Status {
    const Value* f = v.Find(key);
    if (f == nullptr) return absl::OkStatus();
    if (!f->is_string()) return bad(key, *f, "a string");
    *out = f->as_string();
    return absl::OkStatus();
  };
  for (absl::Status s : {string("producer", &od->producer), string("mode", &od->mode),
                         integer(v, "", "format", &od->format), integer(v, "", "pid", &od->pid),
                         integer(v, "", "procs", &od->procs), integer(v, "", "ring_bytes", &od->ring_bytes),
                         integer(v, "", "dropped_events", &od->dropped_events)}) {
    if (!s.ok()) return s;
  }
  if (const Value* k = v.Find("kernel"); k != nullptr) {
    if (!k->is_bool()) return bad("kernel", *k, "true or false");
    od->kernel = k->as_bool();
  }
  if (const Value* c = v.Find("counters"); c != nullptr) {
    if (!c->is_object()) return bad("counters", *c, "an object");
    for (auto [key, out] : {std::pair{"spawns", &od->spawns}, std::pair{"parks", &od->parks},
                            std::pair{"readies", &od->readies}}) {
      int64_t n = 0;
      if (c->Find(key) == nullptr) continue;
      if (absl::Status s = integer(*c, "counters.", key, &n); !s.ok()) return s;
      *out = n;
    }
  }
  if (const Value* c = v.Find("clock"); c != nullptr) {
    if (!c->is_object()) return bad("clock", *c, "an object");
    if (c->Find("reads") != nullptr) {
      int64_t n = 0;
      if (absl::Status s = integer(*c, "clock.", "reads", &n); !s.ok()) return s;
      od->clock_reads = n;
    }
    if (const Value* ns = c->Find("read_ns"); ns != nullptr) {
      if (!ns->is_number() || ns->as_number() < 0) return bad("clock.read_ns", *ns, "a number of nanoseconds");
      od->clock_read_ns = ns->as_number();
    }
  }
  return absl::OkStatus();
}

void NoteMetadata(const Event& e, Trace& t) {
  if (e.ph != 'M') return;
  std::optional<std::string_view> name = e.StringArg("name");
  if (!name) return;
  if (e.name == "process_name") t.process_names[e.pid] = std::string(*name);
  if (e.name == "thread_name") t.thread_names[{e.pid, e.tid}] = std::string(*name);
}

absl::Status ReadEvents(json::Reader& r, Trace& t, const EventSink& sink) {
  if (absl::Status s = r.BeginArray(); !s.ok()) return s;
  Value v;
  Event e;
  for (std::size_t i = 0;; i++) {
    absl::StatusOr<bool> more = r.NextElement();
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    if (absl::Status s = r.ReadValue(&v); !s.ok()) return s;
    int64_t line = r.value_start().line;
    EventReader er(t, absl::StrFormat("traceEvents[%d] (line %d)", i, line));
    e = Event();
    e.line = line;
    if (absl::Status s = er.Convert(v, &e); !s.ok()) return s;
    NoteMetadata(e, t);
    if (absl::Status s = sink(e); !s.ok()) return s;
  }
}

}  // namespace

absl::Status StreamTrace(json::Reader& r, Trace* t, const EventSink& sink) {
  if (absl::Status s = r.BeginObject(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(s.message(), " (a trace is a JSON object with \"traceEvents\")"));
  }
  bool have_events = false;
  std::string key;
  for (;;) {
    absl::StatusOr<bool> more = r.NextMember(&key);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (key == "traceEvents") {
      if (absl::Status s = ReadEvents(r, *t, sink); !s.ok()) return s;
      have_events = true;
    } else if (key == "otherData") {
      if (absl::Status s = r.ReadValue(&t->other_data_json); !s.ok()) return s;
      if (absl::Status s = ReadOtherData(t->other_data_json, &t->other_data); !s.ok()) return s;
    } else if (key == "displayTimeUnit") {
      Value v;
      if (absl::Status s = r.ReadValue(&v); !s.ok()) return s;
      if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat("displayTimeUnit is ", Found(v), ", expected a string"));
      t->display_time_unit = v.as_string();
    } else if (absl::Status s = r.SkipValue(); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = r.ExpectEnd(); !s.ok()) return s;
  if (!have_events) return absl::InvalidArgumentError("the trace has no \"traceEvents\" array");
  return absl::OkStatus();
}

absl::StatusOr<Trace> ReadTrace(json::Reader& r) {
  Trace t;
  absl::Status s = StreamTrace(r, &t, [&t](const Event& e) {
    t.events.push_back(e);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return t;
}

absl::StatusOr<Trace> ParseTrace(std::string_view text) {
  json::Reader r(text);
  return ReadTrace(r);
}

namespace {

// A file's parse errors name it (the open errors already do).
absl::Status NameTheFile(const std::string& path, absl::Status s) {
  if (s.code() != absl::StatusCode::kInvalidArgument) return s;
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
}

}  // namespace

absl::StatusOr<Trace> LoadTraceFile(const std::string& path) {
  absl::StatusOr<std::unique_ptr<json::Reader>> r = json::Reader::OpenFile(path);
  if (!r.ok()) return r.status();
  absl::StatusOr<Trace> t = ReadTrace(**r);
  if (!t.ok()) return NameTheFile(path, t.status());
  return t;
}

absl::Status StreamTraceFile(const std::string& path, Trace* trace, const EventSink& sink) {
  absl::StatusOr<std::unique_ptr<json::Reader>> r = json::Reader::OpenFile(path);
  if (!r.ok()) return r.status();
  return NameTheFile(path, StreamTrace(**r, trace, sink));
}

}  // namespace mn_tools::trace
