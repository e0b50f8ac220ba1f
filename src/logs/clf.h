// Space-delimited ("CLF") fields of a log message, as Contributor Insights rules address them.
//
// Fields are separated by runs of spaces, TABs and line breaks; leading and trailing whitespace
// makes no empty field. A field that opens with '[' runs to the matching ']' and one that opens
// with '"' to the next '"', spaces included, and the delimiters are not part of the value (an
// unterminated one is an ordinary field). Fields are numbered from 1, as in the rule syntax
// (../shared/spec/logs-and-insights.md §2.4):
//   INIT_START Runtime Version: python:3.12.v21<TAB>Runtime Version ARN: arn:...
//   1          2       3        4                   5       6       7    8
// The tokenizer is lazy: it splits only as far as the highest field asked for, so a rule that
// looks at field 1 costs a scan of the first word.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace lambkin::logs {

class ClfFields {
 public:
  static constexpr int kMaxPosition = 64;
  explicit ClfFields(std::string_view message) : message_(message) {}

  // Field `position` (1-based, ≤ kMaxPosition); nullptr when the message has fewer fields.
  const std::string_view* Get(int position) {
    while (count_ < position && Next()) {
    }
    return position <= count_ ? &fields_[position - 1] : nullptr;
  }

 private:
  bool Next();

  std::string_view message_;
  size_t at_ = 0;
  int count_ = 0;
  std::array<std::string_view, kMaxPosition> fields_;
};

// The first field, cut to kHeadBytes: what the log store indexes for rule backfills.
constexpr size_t kHeadBytes = 64;
std::string_view ClfHead(std::string_view message);

}  // namespace lambkin::logs
