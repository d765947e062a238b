// tools/json.hpp, the strict JSON reader: what it accepts (and what it makes of it), what
// it rejects and where it says the fault is, the piecewise reading the trace loader uses,
// and input arriving a byte at a time (every token split across buffer refills).
#include "json.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <string_view>

namespace {

using mn_tools::json::Parse;
using mn_tools::json::Reader;
using mn_tools::json::Source;
using mn_tools::json::Value;

// Hands out its text `chunk` bytes per Read.
class TrickleSource : public Source {
 public:
  TrickleSource(std::string text, std::size_t chunk) : text_(std::move(text)), chunk_(chunk) {}
  absl::StatusOr<std::size_t> Read(char* buf, std::size_t cap) override {
    std::size_t n = std::min({cap, chunk_, text_.size() - at_});
    text_.copy(buf, n, at_);
    at_ += n;
    return n;
  }

 private:
  std::string text_;
  std::size_t chunk_;
  std::size_t at_ = 0;
};

// Parses `text` through a 64-byte buffer filled one byte per read.
absl::StatusOr<Value> ParseTrickled(std::string text) {
  Reader r(std::make_unique<TrickleSource>(std::move(text), 1), 64);
  Value v;
  if (absl::Status s = r.ReadValue(&v); !s.ok()) return s;
  if (absl::Status s = r.ExpectEnd(); !s.ok()) return s;
  return v;
}

testing::AssertionResult Rejects(std::string_view text, std::string_view message_part) {
  for (bool trickle : {false, true}) {
    absl::StatusOr<Value> v = trickle ? ParseTrickled(std::string(text)) : Parse(text);
    if (v.ok()) return testing::AssertionFailure() << "accepted: " << text;
    if (v.status().code() != absl::StatusCode::kInvalidArgument) {
      return testing::AssertionFailure() << "code " << v.status() << " for " << text;
    }
    if (std::string(v.status().message()).find(message_part) == std::string_view::npos) {
      return testing::AssertionFailure() << "message \"" << std::string(v.status().message()) << "\" lacks \"" << message_part
                                         << "\" for " << text;
    }
  }
  return testing::AssertionSuccess();
}

TEST(Json, ParsesEveryType) {
  for (bool trickle : {false, true}) {
    std::string text = R"( {"a": [1, -2.5, 3e2, 0, -0.0, 1E-2], "b": {"c": true, "d": false, "e": null},
                            "s": "x\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00", "u": "é€😀", "empty": {}, "none": []} )";
    absl::StatusOr<Value> v = trickle ? ParseTrickled(text) : Parse(text);
    ASSERT_TRUE(v.ok()) << v.status();
    ASSERT_TRUE(v->is_object());
    const Value* a = v->Find("a");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->as_array().size(), 6u);
    EXPECT_EQ(a->as_array()[0].as_number(), 1);
    EXPECT_EQ(a->as_array()[1].as_number(), -2.5);
    EXPECT_EQ(a->as_array()[2].as_number(), 300);
    EXPECT_EQ(a->as_array()[3].as_number(), 0);
    EXPECT_TRUE(std::signbit(a->as_array()[4].as_number()));
    EXPECT_DOUBLE_EQ(a->as_array()[5].as_number(), 0.01);
    const Value* b = v->Find("b");
    EXPECT_TRUE(b->Find("c")->as_bool());
    EXPECT_FALSE(b->Find("d")->as_bool());
    EXPECT_TRUE(b->Find("e")->is_null());
    EXPECT_EQ(v->Find("s")->as_string(), "x\"\\/\b\f\n\r\tA\u00e9\u20ac\U0001F600");
    EXPECT_EQ(v->Find("u")->as_string(), "\u00e9\u20ac\U0001F600");
    EXPECT_TRUE(v->Find("empty")->as_object().empty());
    EXPECT_TRUE(v->Find("none")->as_array().empty());
    EXPECT_EQ(v->Find("missing"), nullptr);
    // Members keep document order.
    EXPECT_EQ(v->as_object()[0].first, "a");
    EXPECT_EQ(v->as_object()[5].first, "none");
  }
}

TEST(Json, ScalarsAtTopLevel) {
  EXPECT_EQ(Parse("42")->as_number(), 42);
  EXPECT_EQ(Parse(" \"x\" ")->as_string(), "x");
  EXPECT_TRUE(Parse("null")->is_null());
  EXPECT_TRUE(Parse("true")->as_bool());
}

TEST(Json, RejectsWhatRfc8259Does) {
  EXPECT_TRUE(Rejects("", "line 1, column 1: expected a value, found the end of the input"));
  EXPECT_TRUE(Rejects("   \n  ", "line 2, column 3: expected a value"));
  EXPECT_TRUE(Rejects("[1,]", "line 1, column 4: expected a value, found ']'"));
  EXPECT_TRUE(Rejects("{\"a\":1,}", "line 1, column 8: expected a string key, found '}'"));
  EXPECT_TRUE(Rejects("{a:1}", "expected a string key, found 'a'"));
  EXPECT_TRUE(Rejects("{\"a\" 1}", "expected ':' after an object key, found '1'"));
  EXPECT_TRUE(Rejects("{\"a\":1 \"b\":2}", "line 1, column 8: expected ',' or '}' after an object member"));
  EXPECT_TRUE(Rejects("[1 2]", "expected ',' or ']' after an array element, found '2'"));
  EXPECT_TRUE(Rejects("[1", "expected ',' or ']' after an array element, found the end of the input"));
  EXPECT_TRUE(Rejects("01", "leading zero"));
  EXPECT_TRUE(Rejects("-", "expected a digit, found the end"));
  EXPECT_TRUE(Rejects("1.", "expected a digit after the decimal point"));
  EXPECT_TRUE(Rejects("1e", "expected a digit in the exponent"));
  EXPECT_TRUE(Rejects("+1", "expected a value, found '+'"));
  EXPECT_TRUE(Rejects(".5", "expected a value, found '.'"));
  EXPECT_TRUE(Rejects("1e999", "out of the range of a double"));
  EXPECT_TRUE(Rejects("NaN", "expected a value, found 'N'"));
  EXPECT_TRUE(Rejects("Infinity", "expected a value"));
  EXPECT_TRUE(Rejects("tru", "expected 'true', found the end"));
  EXPECT_TRUE(Rejects("nulL", "expected 'null', found 'L'"));
  EXPECT_TRUE(Rejects("[1] x", "line 1, column 5: unexpected 'x' after the end of the JSON value"));
  EXPECT_TRUE(Rejects("{} {}", "after the end of the JSON value"));
  EXPECT_TRUE(Rejects("// c\n1", "expected a value, found '/'"));
  EXPECT_TRUE(Rejects("\"abc", "line 1, column 1: unterminated string"));
  EXPECT_TRUE(Rejects("\"a\tb\"", "line 1, column 3: control character 0x09 in a string"));
  EXPECT_TRUE(Rejects("\"a\nb\"", "control character 0x0a"));
  EXPECT_TRUE(Rejects("\"\\x\"", "line 1, column 2: invalid escape \\x"));
  EXPECT_TRUE(Rejects("\"\\", "invalid escape: '\\' followed by the end of the input"));
  EXPECT_TRUE(Rejects("\"\\u12G4\"", "expected 4 hex digits after \\u, found 'G'"));
  EXPECT_TRUE(Rejects("\"\\udc00\"", "low surrogate without a high one"));
  EXPECT_TRUE(Rejects("\"\\ud800x\"", "not followed by \\u and a low one"));
  EXPECT_TRUE(Rejects("\"\\ud800\\u0041\"", "is followed by \\u0041, not a low surrogate"));
  EXPECT_TRUE(Rejects("\"\xff\"", "invalid UTF-8: byte 0xff"));
  EXPECT_TRUE(Rejects("\"\xc0\x80\"", "byte 0xc0 cannot start"));          // overlong NUL
  EXPECT_TRUE(Rejects("\"\xe0\x80\x80\"", "invalid UTF-8 sequence"));        // overlong
  EXPECT_TRUE(Rejects("\"\xed\xa0\x80\"", "invalid UTF-8 sequence"));        // a surrogate
  EXPECT_TRUE(Rejects("\"\xf4\x90\x80\x80\"", "invalid UTF-8 sequence"));    // past U+10FFFF
  EXPECT_TRUE(Rejects("\"\xe2\x82\"", "invalid UTF-8 sequence"));            // cut short
  EXPECT_TRUE(Rejects("\xef\xbb\xbf{}", "found byte 0xef"));                 // a BOM
  EXPECT_TRUE(Rejects("{\"k\":1,\"j\":2,\"k\":3}", "line 1, column 1: duplicate key \"k\""));
}

TEST(Json, PositionsCountLinesAndColumns) {
  absl::StatusOr<Value> v = Parse("{\n  \"a\": 1,\n  \"b\": [true,\n        fals]\n}");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(std::string(v.status().message()), "line 4, column 13: expected 'false', found ']'");
}

TEST(Json, DepthIsLimited) {
  std::string deep(mn_tools::json::kMaxDepth + 10, '[');
  EXPECT_TRUE(Rejects(deep, "nesting deeper than"));
  std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(Parse(ok).ok());
}

TEST(Json, PiecewiseReading) {
  Reader r(R"({"head": 1, "items": [{"n": 1}, {"n": 2}, {"n": 3}], "tail": "t"})");
  ASSERT_TRUE(r.BeginObject().ok());
  std::string key;
  std::vector<std::string> keys;
  double sum = 0;
  for (;;) {
    absl::StatusOr<bool> more = r.NextMember(&key);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    keys.push_back(key);
    if (key == "items") {
      ASSERT_TRUE(r.BeginArray().ok());
      for (;;) {
        absl::StatusOr<bool> el = r.NextElement();
        ASSERT_TRUE(el.ok()) << el.status();
        if (!*el) break;
        Value v;
        ASSERT_TRUE(r.ReadValue(&v).ok());
        sum += v.Find("n")->as_number();
      }
    } else {
      ASSERT_TRUE(r.SkipValue().ok());
    }
  }
  EXPECT_TRUE(r.ExpectEnd().ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"head", "items", "tail"}));
  EXPECT_EQ(sum, 6);
}

TEST(Json, PiecewiseReadingChecksTheGrammar) {
  {
    Reader r(R"({"a": 1, "a": 2})");
    std::string key;
    ASSERT_TRUE(r.BeginObject().ok());
    ASSERT_TRUE(*r.NextMember(&key));
    ASSERT_TRUE(r.SkipValue().ok());
    absl::StatusOr<bool> dup = r.NextMember(&key);
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(std::string(dup.status().message()), "line 1, column 10: duplicate key \"a\"");
  }
  {
    Reader r("[1 2]");
    ASSERT_TRUE(r.BeginArray().ok());
    ASSERT_TRUE(*r.NextElement());
    ASSERT_TRUE(r.SkipValue().ok());
    EXPECT_FALSE(r.NextElement().ok());
  }
  {
    Reader r("[]");
    ASSERT_TRUE(r.BeginArray().ok());
    EXPECT_FALSE(*r.NextElement());
    EXPECT_TRUE(r.ExpectEnd().ok());
  }
  {
    Reader r("[1]");
    EXPECT_FALSE(r.BeginObject().ok());
  }
}

// A long array read piecewise: each element is read and dropped (nothing here should grow
// with the input but the count).
TEST(Json, LongArrayPiecewise) {
  std::string text = "[";
  constexpr int kN = 200000;
  for (int i = 0; i < kN; i++) {
    if (i) text += ",\n";
    text += R"({"ph":"X","ts":)" + std::to_string(i) + ".125}";
  }
  text += "]";
  Reader r(std::make_unique<TrickleSource>(text, 4096), 1000);
  ASSERT_TRUE(r.BeginArray().ok());
  int n = 0;
  double last = -1;
  Value v;
  for (;;) {
    absl::StatusOr<bool> el = r.NextElement();
    ASSERT_TRUE(el.ok()) << el.status();
    if (!*el) break;
    ASSERT_TRUE(r.ReadValue(&v).ok());
    last = v.Find("ts")->as_number();
    n++;
  }
  EXPECT_EQ(n, kN);
  EXPECT_EQ(last, kN - 1 + 0.125);
  EXPECT_EQ(r.position().line, kN);
  EXPECT_TRUE(r.ExpectEnd().ok());
}

TEST(Json, OpenFileNamesAMissingFile) {
  absl::StatusOr<std::unique_ptr<Reader>> r = Reader::OpenFile("/nonexistent/x.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(r.status().message()).find("/nonexistent/x.json"), std::string_view::npos) << r.status();
}

}  // namespace
