// json: a strict JSON (RFC 8259) reader of the project's own, for the trace tools.
//
// Strict means it accepts exactly the grammar of RFC 8259 and nothing more: no comments,
// no trailing commas, no leading zeros, NaN or Infinity, no unescaped control characters
// in strings, only valid UTF-8 (and \u escapes that pair their surrogates), no duplicate
// keys in an object, nothing but whitespace after the value. Every rejection is an
// absl::InvalidArgumentError whose message starts "line L, column C:" (1-based, the
// column in bytes) and says what was found where what was expected.
//
// Two ways to read. Parse() builds a whole Value, for small documents. A Reader pulls a
// document piece by piece (BeginObject/NextMember, BeginArray/NextElement, ReadValue for
// one element), so that a caller can walk a 100 MB array of small objects holding only the
// current element: the trace loader reads traceEvents that way. A Reader reads its input
// through a fixed-size buffer (a file is never held whole), and its work is linear in the
// input: no backtracking, and the duplicate-key check sorts each object's keys once.
// Nesting deeper than kMaxDepth is an error, not a stack overflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mn_tools {

// Debian's Abseil is built with its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW
// 0, for a stable ABI), which StrCat, SimpleAtoi and the hash containers' lookups take,
// and which std::string_view does not convert to.
inline absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace mn_tools

namespace mn_tools::json {

inline constexpr int kMaxDepth = 512;

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
using Object = std::vector<Member>;  // in document order; keys are unique

class Value {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Value() = default;
  explicit Value(bool b) : v_(b) {}
  explicit Value(double d) : v_(d) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_number() const { return type() == Type::kNumber; }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // Each requires the matching type.
  bool as_bool() const { return std::get<bool>(v_); }
  double as_number() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Each makes this a value of that type, in place; the containers and string start empty.
  void set_null() { v_.emplace<std::monostate>(); }
  void set_bool(bool b) { v_.emplace<bool>(b); }
  void set_number(double d) { v_.emplace<double>(d); }
  std::string& set_string() { return v_.emplace<std::string>(); }
  Array& set_array() { return v_.emplace<Array>(); }
  Object& set_object() { return v_.emplace<Object>(); }

  // An object's member, or nullptr (also when this is not an object). Linear: objects
  // here are small.
  const Value* Find(std::string_view key) const;

 private:
  std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
};

// "null", "bool", "number", "string", "array", "object": for messages.
const char* TypeName(Value::Type t);

struct Position {
  int64_t line = 1;    // 1-based
  int64_t column = 1;  // 1-based, in bytes
  int64_t offset = 0;  // bytes from the start
};

// Where a Reader gets its bytes: Read fills up to `cap` bytes and returns how many, 0 at
// the end, or an error.
class Source {
 public:
  virtual ~Source() = default;
  virtual absl::StatusOr<std::size_t> Read(char* buf, std::size_t cap) = 0;
};

class Reader {
 public:
  // Reads `text`, which must outlive the Reader.
  explicit Reader(std::string_view text);
  // Reads from `source` through a buffer of `buffer_bytes`.
  explicit Reader(std::unique_ptr<Source> source, std::size_t buffer_bytes = 1 << 20);
  // Reads the file at `path`; fails (NotFound, PermissionDenied, ...) naming it.
  static absl::StatusOr<std::unique_ptr<Reader>> OpenFile(const std::string& path);

  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // One whole value (of any type) into `*out`.
  absl::Status ReadValue(Value* out);
  // Reads and drops one value.
  absl::Status SkipValue();

  // Piecewise containers. After BeginObject, NextMember reads the next key (and its ':')
  // into `*key` and returns true, the caller then reading the member's value (ReadValue,
  // SkipValue or a nested Begin...); it returns false once it has read the closing '}'.
  // A key seen before in the same object is an error. BeginArray/NextElement likewise.
  absl::Status BeginObject();
  absl::StatusOr<bool> NextMember(std::string* key);
  absl::Status BeginArray();
  absl::StatusOr<bool> NextElement();

  // Only whitespace remains.
  absl::Status ExpectEnd();

  // Where the next unread byte is (after any whitespace already skipped).
  Position position() const;
  // Where the most recent ReadValue / Begin... started.
  Position value_start() const { return value_start_; }

  // An InvalidArgumentError "line L, column C: <what>" at `at`.
  static absl::Status ErrorAt(Position at, std::string_view what);

 private:
  struct Frame {
    explicit Frame(bool object) : is_object(object) {}
    bool is_object;
    bool first = true;
    std::vector<std::string> keys;  // objects: the keys so far, for the duplicate check
  };

  // Buffer access. Peek returns -1 at the end of input; errors from the source are kept
  // in io_error_ and reported by the caller that sees -1.
  int Peek() {
    if (pos_ < end_) return static_cast<unsigned char>(buf_[pos_]);
    return Refill() ? static_cast<unsigned char>(buf_[pos_]) : -1;
  }
  void Advance() { pos_++; }
  bool Refill();
  int64_t Offset() const { return consumed_ + static_cast<int64_t>(pos_); }

  void SkipSpace();
  absl::Status Error(std::string_view what) const;  // at the current position
  absl::Status Unexpected(std::string_view expected);  // "expected X, found Y"
  absl::Status ValueAt(Value* out, int depth);
  absl::Status SkipAt(int depth);
  absl::Status Literal(std::string_view word);
  absl::Status ReadString(std::string* out);
  absl::Status ReadNumber(double* out);
  absl::Status ReadUtf8(unsigned char lead, std::string* out);
  absl::StatusOr<unsigned> ReadHex4();
  absl::Status CheckDuplicates(const Object& members, Position object_start);

  std::unique_ptr<Source> source_;
  std::unique_ptr<char[]> owned_;
  const char* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  int64_t consumed_ = 0;  // bytes before buf_[0]
  int64_t line_ = 1;
  int64_t line_start_ = 0;  // offset of the current line's first byte
  absl::Status io_error_;
  Position value_start_;
  std::vector<Frame> frames_;  // the open piecewise containers
  std::string scratch_;        // number text
};

// The whole of `text` as one value.
absl::StatusOr<Value> Parse(std::string_view text);

// `s` as a JSON string literal, quotes included (control characters escaped; the bytes
// are passed through, so valid UTF-8 in is valid JSON out).
std::string Quote(std::string_view s);

}  // namespace mn_tools::json
