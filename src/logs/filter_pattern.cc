#include "logs/filter_pattern.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>
#include <nlohmann/json.hpp>

namespace lambkin::logs {

using nlohmann::json;

namespace {

Status Invalid(std::string_view detail = {}) {
  if (detail.empty()) return InvalidParameter("Invalid filter pattern");
  return InvalidParameter(fmt::format("Invalid filter pattern: {}", detail));
}

Status InvalidTerm(std::string_view term) {
  return Invalid(fmt::format("Invalid character(s) in term '{}'", term));
}

// A number as the patterns write them: optional sign, digits, decimals, an exponent.
std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// `%regex%`: AWS's restricted syntax (no groups), searched anywhere in the text. RE2 runs in
// time linear in the text and without recursion, so no pattern a caller writes can stall or
// crash the server on a 256 KB event (std::regex overflows its stack on `a.*b` there).
// Its cost per byte of text grows with the compiled program: a few `x{1000}` would make a
// 1 KB pattern cost ~10^5 steps per byte once RE2's DFA gives up, so the program is bounded.
constexpr int kMaxRegexProgram = 500;
constexpr int kMaxRegexes = 2;  // AWS's limit per filter pattern

Result<std::shared_ptr<const RE2>> CompileRegex(std::string_view body, int& count) {
  // AWS's characters: letters, digits, `: _ # = @ / ; , -` and the operators
  // `^ $ ? [ ] { } | \ * + .` (no groups, no spaces).
  for (char c : body) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
        std::string_view(":_#=@/;,-^$?[]{}|\\*+.").find(c) == std::string_view::npos) {
      return InvalidTerm(fmt::format("%{}%", body));
    }
  }
  if (++count > kMaxRegexes) {
    return Invalid("A filter pattern may hold at most two regular expressions");
  }
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(int64_t{1} << 20);
  auto re = std::make_shared<const RE2>(re2::StringPiece(body.data(), body.size()), options);
  if (!re->ok()) return InvalidTerm(fmt::format("%{}%", body));
  if (re->ProgramSize() > kMaxRegexProgram) {
    return Invalid(fmt::format("The regular expression %{}% is too complex", body));
  }
  return re;
}

bool Search(const RE2& re, std::string_view text) {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), re);
}

// The value of a condition: text with `*` at either end as a wildcard, a number, a regex, or
// `*` alone (the field exists).
struct Value {
  enum class Kind { kText, kNumber, kRegex, kAny } kind = Kind::kText;
  std::string text;  // kText: without its wildcards; kNumber: as written
  bool leading_star = false;
  bool trailing_star = false;
  double number = 0;
  std::shared_ptr<const RE2> regex;
};

// What a condition compares: a JSON scalar's (or a field's) text, and its number when it is one.
struct Scalar {
  std::string text;
  std::optional<double> number;
};

bool Glob(const Value& v, std::string_view text) {
  if (v.leading_star && v.trailing_star) return text.find(v.text) != std::string_view::npos;
  if (v.leading_star) return text.ends_with(v.text);
  if (v.trailing_star) return text.starts_with(v.text);
  return text == v.text;
}

bool Equals(const Value& v, const Scalar& s) {
  switch (v.kind) {
    case Value::Kind::kAny:
      return true;
    case Value::Kind::kRegex:
      return Search(*v.regex, s.text);
    case Value::Kind::kNumber:
      if (s.number) return *s.number == v.number;
      return s.text == v.text;
    case Value::Kind::kText:
      return Glob(v, s.text);
  }
  return false;
}

enum class Op { kEq, kNe, kLt, kGt, kLe, kGe };

bool Compare(Op op, const Value& v, const Scalar& s) {
  switch (op) {
    case Op::kEq:
      return Equals(v, s);
    case Op::kNe:
      return !Equals(v, s);
    case Op::kLt:
      return s.number && *s.number < v.number;
    case Op::kGt:
      return s.number && *s.number > v.number;
    case Op::kLe:
      return s.number && *s.number <= v.number;
    case Op::kGe:
      return s.number && *s.number >= v.number;
  }
  return false;
}

// A property selector's steps: a member, an index, or any child (`*`).
struct Step {
  enum class Kind { kMember, kIndex, kAny } kind;
  std::string member;
  size_t index = 0;
};

struct Condition {
  enum class Kind { kCompare, kIsTrue, kIsFalse, kIsNull, kNotExists } kind = Kind::kCompare;
  std::vector<Step> selector;  // empty: the subject itself (a space-delimited field)
  Op op = Op::kEq;
  Value value;
};

struct Expr {
  enum class Kind { kAnd, kOr, kCondition } kind = Kind::kCondition;
  std::vector<Expr> operands;
  Condition condition;
};

void Select(const json& node, const std::vector<Step>& steps, size_t at,
            std::vector<const json*>& out) {
  if (at == steps.size()) {
    out.push_back(&node);
    return;
  }
  const Step& step = steps[at];
  switch (step.kind) {
    case Step::Kind::kMember:
      if (node.is_object()) {
        auto it = node.find(step.member);
        if (it != node.end()) Select(*it, steps, at + 1, out);
      }
      break;
    case Step::Kind::kIndex:
      if (node.is_array() && step.index < node.size()) Select(node[step.index], steps, at + 1, out);
      break;
    case Step::Kind::kAny:
      if (node.is_object() || node.is_array()) {
        for (const json& child : node) Select(child, steps, at + 1, out);
      }
      break;
  }
}

std::optional<Scalar> ScalarOf(const json& node) {
  if (node.is_string()) {
    const std::string& text = node.get_ref<const std::string&>();
    return Scalar{text, ParseNumber(text)};
  }
  if (node.is_number()) return Scalar{node.dump(), node.get<double>()};
  if (node.is_boolean()) return Scalar{node.get<bool>() ? "true" : "false", std::nullopt};
  return std::nullopt;  // null, an object or an array: no condition compares them
}

bool Holds(const Condition& c, const json& subject) {
  std::vector<const json*> nodes;
  Select(subject, c.selector, 0, nodes);
  if (c.kind == Condition::Kind::kNotExists) return nodes.empty();
  for (const json* node : nodes) {
    switch (c.kind) {
      case Condition::Kind::kIsTrue:
        if (node->is_boolean() && node->get<bool>()) return true;
        break;
      case Condition::Kind::kIsFalse:
        if (node->is_boolean() && !node->get<bool>()) return true;
        break;
      case Condition::Kind::kIsNull:
        if (node->is_null()) return true;
        break;
      case Condition::Kind::kCompare:
        if (auto s = ScalarOf(*node); s && Compare(c.op, c.value, *s)) return true;
        break;
      case Condition::Kind::kNotExists:
        break;
    }
  }
  return false;
}

bool Evaluate(const Expr& e, const json& subject) {
  switch (e.kind) {
    case Expr::Kind::kAnd:
      for (const Expr& o : e.operands) {
        if (!Evaluate(o, subject)) return false;
      }
      return true;
    case Expr::Kind::kOr:
      for (const Expr& o : e.operands) {
        if (Evaluate(o, subject)) return true;
      }
      return false;
    case Expr::Kind::kCondition:
      return Holds(e.condition, subject);
  }
  return false;
}

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

// Conditions joined by && and || with parentheses: the body of a JSON pattern (subjects are
// selectors) or a space-delimited field's conditions (the subject is the field's own name).
class ConditionParser {
 public:
  // `regexes` counts the pattern's regular expressions (AWS allows two in all).
  ConditionParser(std::string_view text, std::string_view field, int& regexes)
      : s_(text), field_(field), regexes_(regexes) {}

  Result<Expr> ParseAll() {
    LAMBKIN_ASSIGN_OR_RETURN(Expr e, ParseOr());
    Skip();
    if (i_ != s_.size()) return InvalidTerm(Rest());
    return e;
  }

 private:
  void Skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])) != 0) ++i_;
  }
  bool Eat(std::string_view token) {
    Skip();
    if (s_.substr(i_).starts_with(token)) {
      i_ += token.size();
      return true;
    }
    return false;
  }
  std::string Rest() const {
    std::string_view rest = s_.substr(i_);
    size_t end = rest.find_first_of(" \t\r\n");
    return std::string(rest.substr(0, end == std::string_view::npos ? rest.size() : end));
  }
  // A keyword (IS, NOT, TRUE, ...), whole words only.
  bool EatWord(std::string_view word) {
    Skip();
    if (!s_.substr(i_).starts_with(word)) return false;
    size_t end = i_ + word.size();
    if (end < s_.size() && IsNameChar(s_[end])) return false;
    i_ = end;
    return true;
  }

  // Operands of `next` joined by `op` (|| over &&-groups, && over unaries: && binds tighter).
  Result<Expr> ParseJoined(Expr::Kind kind, std::string_view op,
                           Result<Expr> (ConditionParser::*next)()) {
    Expr e{kind, {}, {}};
    do {
      LAMBKIN_ASSIGN_OR_RETURN(Expr operand, (this->*next)());
      e.operands.push_back(std::move(operand));
    } while (Eat(op));
    if (e.operands.size() == 1) return std::move(e.operands.front());
    return e;
  }
  Result<Expr> ParseOr() { return ParseJoined(Expr::Kind::kOr, "||", &ConditionParser::ParseAnd); }
  Result<Expr> ParseAnd() {
    return ParseJoined(Expr::Kind::kAnd, "&&", &ConditionParser::ParseUnary);
  }

  Result<Expr> ParseUnary() {
    if (Eat("(")) {
      // Nesting is bounded, so no pattern can run the parser (a recursion) out of stack.
      if (++depth_ > kMaxNesting) return Invalid("Parentheses are nested too deeply");
      LAMBKIN_ASSIGN_OR_RETURN(Expr inner, ParseOr());
      if (!Eat(")")) return Invalid();
      --depth_;
      return inner;
    }
    Expr e;
    LAMBKIN_ASSIGN_OR_RETURN(e.condition, ParseCondition());
    return e;
  }

  Result<std::vector<Step>> ParseSubject() {
    Skip();
    std::vector<Step> steps;
    if (!field_.empty()) {
      // A space-delimited field's conditions name that field.
      if (!s_.substr(i_).starts_with(field_) ||
          (i_ + field_.size() < s_.size() && IsNameChar(s_[i_ + field_.size()]))) {
        return Invalid();
      }
      i_ += field_.size();
      return steps;
    }
    if (i_ >= s_.size() || s_[i_] != '$') return InvalidTerm(Rest());
    size_t start = i_++;
    int wildcards = 0;
    while (i_ < s_.size()) {
      if (s_[i_] == '.' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        steps.push_back({Step::Kind::kAny, {}, 0});
        i_ += 2;
        ++wildcards;
      } else if (s_[i_] == '.' && i_ + 2 < s_.size() && s_[i_ + 1] == '[' && s_[i_ + 2] == '\'') {
        size_t close = s_.find("']", i_ + 3);
        if (close == std::string_view::npos) return InvalidTerm(s_.substr(start, i_ + 3 - start));
        steps.push_back({Step::Kind::kMember, std::string(s_.substr(i_ + 3, close - i_ - 3)), 0});
        i_ = close + 2;
      } else if (s_[i_] == '.') {
        size_t end = i_ + 1;
        while (end < s_.size() && IsNameChar(s_[end])) ++end;
        if (end == i_ + 1) return InvalidTerm(s_.substr(start, end + 1 - start));
        steps.push_back({Step::Kind::kMember, std::string(s_.substr(i_ + 1, end - i_ - 1)), 0});
        i_ = end;
      } else if (s_[i_] == '[') {
        size_t close = s_.find(']', i_);
        if (close == std::string_view::npos) return InvalidTerm(s_.substr(start));
        std::string_view inside = s_.substr(i_ + 1, close - i_ - 1);
        if (inside == "*") {
          steps.push_back({Step::Kind::kAny, {}, 0});
          ++wildcards;
        } else {
          size_t index = 0;
          auto [end, ec] = std::from_chars(inside.data(), inside.data() + inside.size(), index);
          if (inside.empty() || ec != std::errc() || end != inside.data() + inside.size()) {
            return InvalidTerm(s_.substr(start, close + 1 - start));
          }
          steps.push_back({Step::Kind::kIndex, {}, index});
        }
        i_ = close + 1;
      } else {
        break;
      }
    }
    if (steps.empty()) return InvalidTerm(s_.substr(start, i_ - start + 1));
    // AWS's limits: one wildcard per selector, three selectors with one per pattern.
    if (wildcards > 1) return Invalid("Only one wildcard is allowed per property selector");
    if (wildcards > 0 && ++wildcards_ > 3) {
      return Invalid("At most three wildcard selectors are allowed per pattern");
    }
    return steps;
  }

  Result<Value> ParseValue(bool numeric_only) {
    Skip();
    Value v;
    if (i_ < s_.size() && s_[i_] == '"') {
      std::string text;
      size_t j = i_ + 1;
      for (; j < s_.size() && s_[j] != '"'; ++j) {
        if (s_[j] == '\\' && j + 1 < s_.size()) ++j;
        text += s_[j];
      }
      if (j >= s_.size()) return Invalid();
      std::string_view written = s_.substr(i_, j + 1 - i_);
      i_ = j + 1;
      if (numeric_only) return InvalidTerm(written);
      if (text == "*") {
        v.kind = Value::Kind::kAny;
        return v;
      }
      v.leading_star = text.starts_with('*');
      v.trailing_star = text.size() > 1 && text.ends_with('*');
      v.text = text.substr(v.leading_star ? 1 : 0,
                           text.size() - (v.leading_star ? 1 : 0) - (v.trailing_star ? 1 : 0));
      return v;
    }
    if (i_ < s_.size() && s_[i_] == '%') {
      size_t close = s_.find('%', i_ + 1);
      if (close == std::string_view::npos) return InvalidTerm(s_.substr(i_));
      if (numeric_only) return InvalidTerm(s_.substr(i_, close + 1 - i_));
      v.kind = Value::Kind::kRegex;
      LAMBKIN_ASSIGN_OR_RETURN(v.regex, CompileRegex(s_.substr(i_ + 1, close - i_ - 1), regexes_));
      i_ = close + 1;
      return v;
    }
    size_t end = i_;
    while (end < s_.size() && std::isspace(static_cast<unsigned char>(s_[end])) == 0 &&
           s_[end] != ')' && s_[end] != '&' && s_[end] != '|' && s_[end] != '(') {
      ++end;
    }
    std::string_view token = s_.substr(i_, end - i_);
    if (token.empty()) return InvalidTerm(Rest());
    for (char c : token) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.' &&
          c != '*' && c != '+' && c != ':' && c != '/' && c != '@') {
        return InvalidTerm(token);
      }
    }
    i_ = end;
    if (token == "*") {
      if (numeric_only) return InvalidTerm(token);
      v.kind = Value::Kind::kAny;
      return v;
    }
    if (auto number = ParseNumber(token)) {
      v.kind = Value::Kind::kNumber;
      v.number = *number;
      v.text = std::string(token);
      return v;
    }
    if (numeric_only) return InvalidTerm(token);
    v.leading_star = token.starts_with('*');
    v.trailing_star = token.size() > 1 && token.ends_with('*');
    v.text =
        std::string(token.substr(v.leading_star ? 1 : 0, token.size() - (v.leading_star ? 1 : 0) -
                                                             (v.trailing_star ? 1 : 0)));
    return v;
  }

  Result<Condition> ParseCondition() {
    Condition c;
    LAMBKIN_ASSIGN_OR_RETURN(c.selector, ParseSubject());
    if (EatWord("IS")) {
      if (EatWord("TRUE")) {
        c.kind = Condition::Kind::kIsTrue;
      } else if (EatWord("FALSE")) {
        c.kind = Condition::Kind::kIsFalse;
      } else if (EatWord("NULL")) {
        c.kind = Condition::Kind::kIsNull;
      } else {
        return InvalidTerm(Rest());
      }
      return c;
    }
    if (EatWord("NOT")) {
      if (!EatWord("EXISTS")) return InvalidTerm(Rest());
      c.kind = Condition::Kind::kNotExists;
      return c;
    }
    if (Eat("!=")) {
      c.op = Op::kNe;
    } else if (Eat("<=")) {
      c.op = Op::kLe;
    } else if (Eat(">=")) {
      c.op = Op::kGe;
    } else if (Eat("=")) {
      c.op = Op::kEq;
    } else if (Eat("<")) {
      c.op = Op::kLt;
    } else if (Eat(">")) {
      c.op = Op::kGt;
    } else {
      return InvalidTerm(Rest());
    }
    LAMBKIN_ASSIGN_OR_RETURN(c.value, ParseValue(c.op != Op::kEq && c.op != Op::kNe));
    return c;
  }

  static constexpr int kMaxNesting = 64;
  std::string_view s_;
  std::string_view field_;
  int& regexes_;
  size_t i_ = 0;
  int wildcards_ = 0;
  int depth_ = 0;
};

// One term of a term pattern: a substring, or a regex.
struct Term {
  std::string text;
  std::shared_ptr<const RE2> regex;
  bool In(std::string_view message) const {
    if (regex) return Search(*regex, message);
    return message.find(text) != std::string_view::npos;
  }
};

// One field of a space-delimited pattern.
struct Field {
  bool ellipsis = false;
  std::optional<Expr> conditions;  // none: any value
};

// A space-delimited event's fields: `[...]` and `"..."` are one field each, without them.
// `starts[k]` is where field k starts, for the last pattern field to take the rest.
void SplitFields(std::string_view message, std::vector<std::string_view>& fields,
                 std::vector<size_t>& starts) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  size_t i = 0;
  while (true) {
    while (i < message.size() && message[i] == ' ') ++i;
    if (i >= message.size()) break;
    starts.push_back(i);
    char open = message[i];
    char close = open == '[' ? ']' : (open == '"' ? '"' : '\0');
    size_t end = close != 0 ? message.find(close, i + 1) : std::string_view::npos;
    if (close != 0 && end != std::string_view::npos) {
      fields.push_back(message.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      end = message.find(' ', i);
      if (end == std::string_view::npos) end = message.size();
      fields.push_back(message.substr(i, end - i));
      i = end;
    }
  }
  starts.push_back(message.size());
}

}  // namespace

struct FilterPattern::Node {
  enum class Kind { kTerms, kJson, kFields } kind = Kind::kTerms;
  std::vector<Term> all, any, none;
  Expr expr;
  std::vector<Field> fields;

  bool Matches(std::string_view message) const {
    switch (kind) {
      case Kind::kTerms:
        return MatchesTerms(message);
      case Kind::kJson: {
        json j = json::parse(message, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() && !j.is_array()) return false;
        return Evaluate(expr, j);
      }
      case Kind::kFields:
        return MatchesFields(message);
    }
    return false;
  }

  bool MatchesTerms(std::string_view message) const {
    for (const Term& t : all) {
      if (!t.In(message)) return false;
    }
    for (const Term& t : none) {
      if (t.In(message)) return false;
    }
    // "If you combine ? with other filter patterns, all question mark terms are ignored."
    if (any.empty() || !all.empty()) return true;
    for (const Term& t : any) {
      if (t.In(message)) return true;
    }
    return false;
  }

  bool FieldHolds(const Field& f, std::string_view text) const {
    if (!f.conditions) return true;
    return Evaluate(*f.conditions, json(std::string(text)));
  }

  bool MatchesFields(std::string_view message) const {
    std::vector<std::string_view> values;
    std::vector<size_t> starts;
    SplitFields(message, values, starts);
    size_t ellipsis = fields.size();
    for (size_t k = 0; k < fields.size(); ++k) {
      if (fields[k].ellipsis) ellipsis = k;
    }
    if (ellipsis == fields.size()) {
      if (values.size() < fields.size()) return false;
      for (size_t k = 0; k + 1 < fields.size(); ++k) {
        if (!FieldHolds(fields[k], values[k])) return false;
      }
      // The last field takes the rest of the event.
      size_t last = fields.size() - 1;
      std::string_view rest =
          values.size() == fields.size()
              ? values[last]
              : std::string_view(message).substr(starts[last], starts.back() - starts[last]);
      return FieldHolds(fields[last], rest);
    }
    size_t after = fields.size() - ellipsis - 1;
    if (values.size() < ellipsis + after) return false;
    for (size_t k = 0; k < ellipsis; ++k) {
      if (!FieldHolds(fields[k], values[k])) return false;
    }
    for (size_t k = 0; k < after; ++k) {
      if (!FieldHolds(fields[ellipsis + 1 + k], values[values.size() - after + k])) return false;
    }
    return true;
  }
};

namespace {

Status ParseTerms(std::string_view pattern, FilterPattern::Node& node, int& regexes) {
  size_t i = 0;
  while (i < pattern.size()) {
    while (i < pattern.size() && std::isspace(static_cast<unsigned char>(pattern[i])) != 0) ++i;
    if (i >= pattern.size()) break;
    char kind = 0;
    if (pattern[i] == '?' || pattern[i] == '-') kind = pattern[i++];
    Term term;
    if (i < pattern.size() && pattern[i] == '"') {
      size_t close = pattern.find('"', i + 1);
      if (close == std::string_view::npos) return Invalid();
      term.text = std::string(pattern.substr(i + 1, close - i - 1));
      if (term.text.empty()) return InvalidTerm("\"\"");
      i = close + 1;
    } else if (i < pattern.size() && pattern[i] == '%') {
      size_t close = pattern.find('%', i + 1);
      if (close == std::string_view::npos) return InvalidTerm(pattern.substr(i));
      LAMBKIN_ASSIGN_OR_RETURN(term.regex,
                               CompileRegex(pattern.substr(i + 1, close - i - 1), regexes));
      i = close + 1;
    } else {
      size_t end = i;
      while (end < pattern.size() && std::isspace(static_cast<unsigned char>(pattern[end])) == 0) {
        ++end;
      }
      term.text = std::string(pattern.substr(i, end - i));
      for (char c : term.text) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') {
          return InvalidTerm(term.text);
        }
      }
      i = end;
    }
    if (term.text.empty() && !term.regex) return InvalidTerm(std::string(1, kind));
    (kind == '?' ? node.any : kind == '-' ? node.none : node.all).push_back(std::move(term));
  }
  return Status::Ok();
}

// Splits a space-delimited pattern's body at its commas (not those inside quotes or regexes).
std::vector<std::string_view> SplitCommas(std::string_view body) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  char quote = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '%') {
      quote = c;
    } else if (c == ',') {
      parts.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(body.substr(start));
  return parts;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

Status ParseFields(std::string_view body, FilterPattern::Node& node, int& regexes) {
  bool ellipsis = false;
  for (std::string_view part : SplitCommas(body)) {
    part = Trim(part);
    Field field;
    if (part == "...") {
      if (ellipsis) return Invalid("Duplicate field '...'");
      ellipsis = field.ellipsis = true;
    } else if (!part.empty()) {
      size_t end = 0;
      while (end < part.size() && IsNameChar(part[end])) ++end;
      if (end == 0) return InvalidTerm(part);
      if (Trim(part.substr(end)).empty()) {
        node.fields.push_back(std::move(field));
        continue;
      }
      ConditionParser parser(part, part.substr(0, end), regexes);
      LAMBKIN_ASSIGN_OR_RETURN(Expr conditions, parser.ParseAll());
      field.conditions = std::move(conditions);
    }
    node.fields.push_back(std::move(field));
  }
  return Status::Ok();
}

}  // namespace

Result<FilterPattern> FilterPattern::Parse(const std::string& pattern) {
  FilterPattern p;
  std::string_view text = Trim(pattern);
  if (text.empty()) return p;
  auto node = std::make_shared<Node>();
  int regexes = 0;
  if (text.front() == '{' || text.front() == '[') {
    const bool json_pattern = text.front() == '{';
    const char close = json_pattern ? '}' : ']';
    if (text.back() != close || text.size() < 2) {
      return InvalidParameter(fmt::format(
          "If a filter pattern starts with '{}' it must end with '{}'", text.front(), close));
    }
    std::string_view body = text.substr(1, text.size() - 2);
    if (json_pattern) {
      node->kind = Node::Kind::kJson;
      ConditionParser parser(body, {}, regexes);
      LAMBKIN_ASSIGN_OR_RETURN(node->expr, parser.ParseAll());
    } else {
      node->kind = Node::Kind::kFields;
      LAMBKIN_RETURN_IF_ERROR(ParseFields(body, *node, regexes));
    }
  } else {
    LAMBKIN_RETURN_IF_ERROR(ParseTerms(text, *node, regexes));
    if (node->all.empty() && node->any.empty() && node->none.empty()) return p;
  }
  p.node_ = std::move(node);
  return p;
}

bool FilterPattern::Matches(std::string_view message) const {
  return node_ == nullptr || node_->Matches(message);
}

}  // namespace lambkin::logs
