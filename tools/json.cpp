// The strict JSON reader (json.hpp says what strict means and why the work is linear).
#include "json.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mn_tools::json {

namespace {

class FdSource : public Source {
 public:
  FdSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FdSource() override { close(fd_); }
  absl::StatusOr<std::size_t> Read(char* buf, std::size_t cap) override {
    for (;;) {
      ssize_t n = read(fd_, buf, cap);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("reading ", path_));
    }
  }

 private:
  int fd_;
  std::string path_;
};

// How a byte is shown in a message: 'x' when printable ASCII, else its value.
std::string Describe(int c) {
  if (c < 0) return "the end of the input";
  if (c == '\'') return "\"'\"";
  if (c >= 0x20 && c < 0x7f) return absl::StrFormat("'%c'", static_cast<char>(c));
  return absl::StrFormat("byte 0x%02x", c);
}

void AppendUtf8(unsigned cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsDigit(int c) { return c >= '0' && c <= '9'; }

}  // namespace

const Value* Value::Find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

const char* TypeName(Value::Type t) {
  switch (t) {
    case Value::Type::kNull: return "null";
    case Value::Type::kBool: return "bool";
    case Value::Type::kNumber: return "number";
    case Value::Type::kString: return "string";
    case Value::Type::kArray: return "array";
    case Value::Type::kObject: return "object";
  }
  return "?";
}

Reader::Reader(std::string_view text) : buf_(text.data()), cap_(text.size()), end_(text.size()) {}

Reader::Reader(std::unique_ptr<Source> source, std::size_t buffer_bytes)
    : source_(std::move(source)),
      owned_(new char[std::max<std::size_t>(buffer_bytes, 64)]),
      buf_(owned_.get()),
      cap_(std::max<std::size_t>(buffer_bytes, 64)) {}

absl::StatusOr<std::unique_ptr<Reader>> Reader::OpenFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  return std::make_unique<Reader>(std::make_unique<FdSource>(fd, path));
}

bool Reader::Refill() {
  if (source_ == nullptr || !io_error_.ok()) return false;
  consumed_ += static_cast<int64_t>(end_);
  pos_ = 0;
  end_ = 0;
  absl::StatusOr<std::size_t> n = source_->Read(owned_.get(), cap_);
  if (!n.ok()) {
    io_error_ = n.status();
    return false;
  }
  end_ = *n;
  return end_ > 0;
}

Position Reader::position() const {
  return Position{line_, Offset() - line_start_ + 1, Offset()};
}

absl::Status Reader::ErrorAt(Position at, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrFormat("line %d, column %d: %s", at.line, at.column, what));
}

absl::Status Reader::Error(std::string_view what) const {
  if (!io_error_.ok()) return io_error_;
  return ErrorAt(position(), what);
}

absl::Status Reader::Unexpected(std::string_view expected) {
  int c = Peek();
  return Error(absl::StrCat("expected ", AbslView(expected), ", found ", Describe(c)));
}

void Reader::SkipSpace() {
  for (;;) {
    while (pos_ < end_) {
      char c = buf_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        pos_++;
      } else if (c == '\n') {
        pos_++;
        line_++;
        line_start_ = Offset();
      } else {
        return;
      }
    }
    if (!Refill()) return;
  }
}

absl::Status Reader::Literal(std::string_view word) {
  for (char w : word) {
    if (Peek() != static_cast<unsigned char>(w)) {
      return Error(absl::StrCat("expected '", AbslView(word), "', found ", Describe(Peek())));
    }
    Advance();
  }
  return absl::OkStatus();
}

absl::StatusOr<unsigned> Reader::ReadHex4() {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int c = Peek();
    unsigned d;
    if (IsDigit(c)) {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return Unexpected("4 hex digits after \\u");
    }
    Advance();
    v = v * 16 + d;
  }
  return v;
}

absl::Status Reader::ReadUtf8(unsigned char lead, std::string* out) {
  // RFC 3629's table: the lead byte fixes the count and the range of the first
  // continuation byte, which rules out overlong forms, surrogates and values past U+10FFFF.
  int more;
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    more = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    more = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    more = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return Error(absl::StrFormat("invalid UTF-8: byte 0x%02x cannot start a character", lead));
  }
  Position start = position();
  out->push_back(static_cast<char>(lead));
  Advance();
  for (int i = 0; i < more; i++) {
    int c = Peek();
    if (c < lo || c > hi) {
      return ErrorAt(start, absl::StrFormat("invalid UTF-8 sequence starting with byte 0x%02x", lead));
    }
    out->push_back(static_cast<char>(c));
    Advance();
    lo = 0x80;
    hi = 0xBF;
  }
  return absl::OkStatus();
}

absl::Status Reader::ReadString(std::string* out) {
  out->clear();
  Position start = position();
  Advance();  // the opening quote
  for (;;) {
    // The common case, a run of plain ASCII, is appended in one piece.
    std::size_t run = pos_;
    while (run < end_) {
      unsigned char c = static_cast<unsigned char>(buf_[run]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      run++;
    }
    out->append(buf_ + pos_, run - pos_);
    pos_ = run;
    int c = Peek();
    if (c < 0) {
      if (!io_error_.ok()) return io_error_;
      return ErrorAt(start, "unterminated string (the input ends inside it)");
    }
    if (c == '"') {
      Advance();
      return absl::OkStatus();
    }
    if (c < 0x20) return Error(absl::StrFormat("control character 0x%02x in a string (it must be escaped)", c));
    if (c >= 0x80) {
      if (absl::Status s = ReadUtf8(static_cast<unsigned char>(c), out); !s.ok()) return s;
      continue;
    }
    if (c != '\\') continue;  // a plain byte at a buffer boundary
    Position esc = position();
    Advance();
    int e = Peek();
    switch (e) {
      case '"': out->push_back('"'); break;
      case '\\': out->push_back('\\'); break;
      case '/': out->push_back('/'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        Advance();
        absl::StatusOr<unsigned> cp = ReadHex4();
        if (!cp.ok()) return cp.status();
        if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
          return ErrorAt(esc, absl::StrFormat("\\u%04X is a low surrogate without a high one before it", *cp));
        }
        if (*cp >= 0xD800 && *cp <= 0xDBFF) {
          if (Peek() != '\\') return ErrorAt(esc, absl::StrFormat("\\u%04X (a high surrogate) is not followed by \\u and a low one", *cp));
          Advance();
          if (Peek() != 'u') return ErrorAt(esc, absl::StrFormat("\\u%04X (a high surrogate) is not followed by \\u and a low one", *cp));
          Advance();
          absl::StatusOr<unsigned> low = ReadHex4();
          if (!low.ok()) return low.status();
          if (*low < 0xDC00 || *low > 0xDFFF) {
            return ErrorAt(esc, absl::StrFormat("\\u%04X (a high surrogate) is followed by \\u%04X, not a low surrogate", *cp, *low));
          }
          AppendUtf8(0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00), out);
        } else {
          AppendUtf8(*cp, out);
        }
        continue;  // ReadHex4 consumed the digits
      }
      default:
        if (e >= 0x20 && e < 0x7f) return ErrorAt(esc, absl::StrFormat("invalid escape \\%c", static_cast<char>(e)));
        return ErrorAt(esc, absl::StrCat("invalid escape: '\\' followed by ", Describe(e)));
    }
    Advance();
  }
}

absl::Status Reader::ReadNumber(double* out) {
  Position start = position();
  scratch_.clear();
  auto take = [&] {
    scratch_.push_back(static_cast<char>(Peek()));
    Advance();
  };
  if (Peek() == '-') take();
  if (Peek() == '0') {
    take();
    if (IsDigit(Peek())) return Error("a number may not have a leading zero");
  } else if (IsDigit(Peek())) {
    while (IsDigit(Peek())) take();
  } else {
    return Unexpected("a digit");
  }
  if (Peek() == '.') {
    take();
    if (!IsDigit(Peek())) return Unexpected("a digit after the decimal point");
    while (IsDigit(Peek())) take();
  }
  if (Peek() == 'e' || Peek() == 'E') {
    take();
    if (Peek() == '+' || Peek() == '-') take();
    if (!IsDigit(Peek())) return Unexpected("a digit in the exponent");
    while (IsDigit(Peek())) take();
  }
  auto [end, ec] = std::from_chars(scratch_.data(), scratch_.data() + scratch_.size(), *out);
  if (ec == std::errc::result_out_of_range) {
    return ErrorAt(start, absl::StrCat("number ", scratch_, " is out of the range of a double"));
  }
  if (ec != std::errc() || end != scratch_.data() + scratch_.size()) {
    return ErrorAt(start, absl::StrCat("invalid number ", scratch_));
  }
  return absl::OkStatus();
}

absl::Status Reader::CheckDuplicates(const Object& members, Position object_start) {
  if (members.size() < 2) return absl::OkStatus();
  std::vector<std::string_view> keys;
  keys.reserve(members.size());
  for (const Member& m : members) keys.push_back(m.first);
  std::sort(keys.begin(), keys.end());
  auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup == keys.end()) return absl::OkStatus();
  return ErrorAt(object_start, absl::StrCat("duplicate key \"", AbslView(*dup), "\" in the object starting here"));
}

absl::Status Reader::ValueAt(Value* out, int depth) {
  SkipSpace();
  if (depth >= kMaxDepth) return Error(absl::StrFormat("nesting deeper than %d levels", kMaxDepth));
  int c = Peek();
  switch (c) {
    case '{': {
      Position start = position();
      Advance();
      Object& members = out->set_object();
      SkipSpace();
      if (Peek() == '}') {
        Advance();
        return absl::OkStatus();
      }
      for (;;) {
        SkipSpace();
        if (Peek() != '"') return Unexpected("a string key");
        members.emplace_back();
        if (absl::Status s = ReadString(&members.back().first); !s.ok()) return s;
        SkipSpace();
        if (Peek() != ':') return Unexpected("':' after an object key");
        Advance();
        if (absl::Status s = ValueAt(&members.back().second, depth + 1); !s.ok()) return s;
        SkipSpace();
        int d = Peek();
        if (d == ',') {
          Advance();
          continue;
        }
        if (d == '}') {
          Advance();
          break;
        }
        return Unexpected("',' or '}' after an object member");
      }
      return CheckDuplicates(members, start);
    }
    case '[': {
      Advance();
      Array& elements = out->set_array();
      SkipSpace();
      if (Peek() == ']') {
        Advance();
        return absl::OkStatus();
      }
      for (;;) {
        elements.emplace_back();
        if (absl::Status s = ValueAt(&elements.back(), depth + 1); !s.ok()) return s;
        SkipSpace();
        int d = Peek();
        if (d == ',') {
          Advance();
          continue;
        }
        if (d == ']') {
          Advance();
          break;
        }
        return Unexpected("',' or ']' after an array element");
      }
      return absl::OkStatus();
    }
    case '"':
      return ReadString(&out->set_string());
    case 't':
      out->set_bool(true);
      return Literal("true");
    case 'f':
      out->set_bool(false);
      return Literal("false");
    case 'n':
      out->set_null();
      return Literal("null");
    default:
      if (c == '-' || IsDigit(c)) {
        double d;
        if (absl::Status s = ReadNumber(&d); !s.ok()) return s;
        out->set_number(d);
        return absl::OkStatus();
      }
      return Unexpected("a value");
  }
}

absl::Status Reader::ReadValue(Value* out) {
  SkipSpace();
  value_start_ = position();
  return ValueAt(out, static_cast<int>(frames_.size()));
}

absl::Status Reader::SkipValue() {
  Value ignored;
  return ReadValue(&ignored);
}

absl::Status Reader::BeginObject() {
  SkipSpace();
  value_start_ = position();
  if (Peek() != '{') return Unexpected("an object ('{')");
  if (static_cast<int>(frames_.size()) >= kMaxDepth) return Error(absl::StrFormat("nesting deeper than %d levels", kMaxDepth));
  Advance();
  frames_.emplace_back(true);
  return absl::OkStatus();
}

absl::StatusOr<bool> Reader::NextMember(std::string* key) {
  if (frames_.empty() || !frames_.back().is_object) {
    return absl::FailedPreconditionError("json::Reader::NextMember outside an object");
  }
  Frame& f = frames_.back();
  SkipSpace();
  int c = Peek();
  if (c == '}') {
    Advance();
    frames_.pop_back();
    return false;
  }
  if (f.first) {
    f.first = false;
  } else if (c == ',') {
    Advance();
    SkipSpace();
  } else {
    return Unexpected("',' or '}' after an object member");
  }
  if (Peek() != '"') return Unexpected("a string key");
  Position at = position();
  if (absl::Status s = ReadString(key); !s.ok()) return s;
  // Linear: piecewise objects are the few outer levels of a document, with few keys.
  if (std::find(f.keys.begin(), f.keys.end(), *key) != f.keys.end()) {
    return ErrorAt(at, absl::StrCat("duplicate key \"", *key, "\""));
  }
  f.keys.push_back(*key);
  SkipSpace();
  if (Peek() != ':') return Unexpected("':' after an object key");
  Advance();
  return true;
}

absl::Status Reader::BeginArray() {
  SkipSpace();
  value_start_ = position();
  if (Peek() != '[') return Unexpected("an array ('[')");
  if (static_cast<int>(frames_.size()) >= kMaxDepth) return Error(absl::StrFormat("nesting deeper than %d levels", kMaxDepth));
  Advance();
  frames_.emplace_back(false);
  return absl::OkStatus();
}

absl::StatusOr<bool> Reader::NextElement() {
  if (frames_.empty() || frames_.back().is_object) {
    return absl::FailedPreconditionError("json::Reader::NextElement outside an array");
  }
  Frame& f = frames_.back();
  SkipSpace();
  int c = Peek();
  if (f.first) {
    f.first = false;
    if (c == ']') {
      Advance();
      frames_.pop_back();
      return false;
    }
    return true;
  }
  if (c == ']') {
    Advance();
    frames_.pop_back();
    return false;
  }
  if (c != ',') return Unexpected("',' or ']' after an array element");
  Advance();
  return true;
}

absl::Status Reader::ExpectEnd() {
  SkipSpace();
  int c = Peek();
  if (!io_error_.ok()) return io_error_;
  if (c >= 0) return Error(absl::StrCat("unexpected ", Describe(c), " after the end of the JSON value"));
  return absl::OkStatus();
}

absl::StatusOr<Value> Parse(std::string_view text) {
  Reader r(text);
  Value v;
  if (absl::Status s = r.ReadValue(&v); !s.ok()) return s;
  if (absl::Status s = r.ExpectEnd(); !s.ok()) return s;
  return v;
}

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace mn_tools::json
