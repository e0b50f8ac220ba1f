// CloudWatch Logs filter patterns (FilterLogEvents' filterPattern), the three kinds AWS's
// "Filter pattern syntax" describes, chosen by the first character:
//
// - Terms, for unstructured events: space-separated terms that must all occur in the message
//   (`ERROR timeout`); `-term` terms that must not; `?term` terms of which one must occur
//   (`?ERROR ?WARN`; ignored, as AWS ignores them, once the pattern has a plain term); a term in
//   double quotes may hold any character, an unquoted one only letters, digits and `_`;
//   `%regex%` searches the message with a regular expression. Substrings, case-sensitive; an
//   empty pattern (or blanks) matches everything.
// - JSON, `{ ... }`, for events that are JSON: conditions on property selectors (`$.a.b`,
//   `$.list[0]`, `$.['dotted.key']`, the wildcards `$.*` and `[*]`) with `=`/`!=` (strings,
//   `*` at either end as a wildcard, `= *` for "exists", `%regex%`, numbers compared as numbers
//   when both sides are), `<`, `>`, `<=`, `>=` (numbers only), `IS TRUE`, `IS FALSE`, `IS NULL`
//   and `NOT EXISTS`, combined with `&&` (binding tighter), `||` and parentheses. A selector
//   that names an object or an array, or nothing, matches neither `=` nor `!=`.
// - Space-delimited, `[ip, user, ..., status=4*, bytes>1000]`, for events of fields separated
//   by spaces (a field in `[...]` or `"..."` is one field, without them): a name per field, `...`
//   once for any number of fields, conditions on a field (as in JSON, on its text) joined by
//   `&&` and `||`; the last field takes the rest of the event.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lambkin::logs {

class FilterPattern {
 public:
  // InvalidParameter ("Invalid filter pattern…", AWS's text) when the pattern is malformed.
  static Result<FilterPattern> Parse(const std::string& pattern);
  bool Matches(std::string_view message) const;

  struct Node;  // one kind of pattern, parsed

 private:
  std::shared_ptr<const Node> node_;  // null: matches everything
};

}  // namespace lambkin::logs
