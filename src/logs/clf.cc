#include "logs/clf.h"

namespace lambkin::logs {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

bool ClfFields::Next() {
  if (count_ >= kMaxPosition) return false;
  const size_t n = message_.size();
  while (at_ < n && IsSpace(message_[at_])) ++at_;
  if (at_ >= n) return false;
  char open = message_[at_];
  if (open == '[' || open == '"') {
    size_t close = message_.find(open == '[' ? ']' : '"', at_ + 1);
    if (close != std::string_view::npos) {
      fields_[count_++] = message_.substr(at_ + 1, close - at_ - 1);
      at_ = close + 1;
      return true;
    }
  }
  size_t start = at_;
  while (at_ < n && !IsSpace(message_[at_])) ++at_;
  fields_[count_++] = message_.substr(start, at_ - start);
  return true;
}

std::string_view ClfHead(std::string_view message) {
  ClfFields fields(message);
  const std::string_view* first = fields.Get(1);
  if (first == nullptr) return {};
  return first->substr(0, kHeadBytes);
}

}  // namespace lambkin::logs
