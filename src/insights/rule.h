// A Contributor Insights rule: its definition parsed, validated and compiled for evaluation.
//
// The rule language is CloudWatch's (../shared/spec/logs-and-insights.md §2.3): Schema
// CloudWatchLogRule/1, LogGroupNames (a trailing '*' makes a prefix) or LogGroupARNs, LogFormat
// JSON or CLF, CLF Fields aliases, Contribution {Keys 1-4, ValueOf, Filters 0-4 with In, NotIn,
// StartsWith, GreaterThan, LessThan, EqualTo, NotEqualTo, IsPresent}, AggregateOn Count or Sum.
// Matching is case-sensitive. An event counts when every filter holds and every key is present;
// with Sum, its ValueOf must be numeric. A missing field fails every operator except
// IsPresent:false. Immutable once parsed; Evaluate is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "functions/model.h"
#include "logs/log_store.h"

namespace lambkin::insights {

enum class LogFormat { kJson, kClf };
enum class AggregateOn { kCount, kSum };

// Where a field is: a CLF position (1-based) or a JSON path ($.a.b[0]).
struct FieldRef {
  std::string text;  // as written in the rule
  int position = 0;  // CLF
  struct Step {
    std::string name;  // member name, or empty for an index
    int index = -1;
  };
  std::vector<Step> path;  // JSON
};

enum class FilterOp {
  kIn,
  kNotIn,
  kStartsWith,
  kGreaterThan,
  kLessThan,
  kEqualTo,
  kNotEqualTo,
  kIsPresent
};

struct RuleFilter {
  FieldRef field;
  FilterOp op = FilterOp::kIn;
  std::vector<std::string> strings;  // In, NotIn, StartsWith
  double number = 0;                 // numeric operators
  bool present = true;               // IsPresent
};

// One log group the rule reads: by name in the rule's own account and region, or by ARN.
struct LogGroupSelector {
  std::optional<std::string> account;  // from an ARN; else the rule's
  std::optional<std::string> region;
  std::string name;
  bool prefix = false;  // trailing '*'
};

// What one matching event adds: its contributor (the key values, each length-prefixed; see
// SplitContributor) and value.
struct Contribution {
  std::string contributor;
  double value = 1;
};

class Rule {
 public:
  // Parses and validates a RuleDefinition. InvalidParameterValue with the reason otherwise.
  static Result<Rule> Parse(std::string_view definition);

  // Whether events of `group` in `scope` feed a rule that lives in `rule_scope`.
  bool AppliesTo(const functions::Scope& rule_scope, const functions::Scope& scope,
                 std::string_view group) const;
  // Evaluates one log message; true (and `out` filled) when it contributes.
  bool Evaluate(std::string_view message, Contribution& out) const;

  // When every matching CLF event must have a first field equal to one of `equal` or starting
  // with one of `prefix`, those values (a backfill can then read only such events).
  std::optional<logs::ScanRequest::Heads> head_constraint() const;

  const std::vector<std::string>& key_labels() const { return key_labels_; }
  AggregateOn aggregate_on() const { return aggregate_on_; }
  LogFormat log_format() const { return format_; }
  const std::vector<LogGroupSelector>& log_groups() const { return groups_; }

  // Splits a contributor back into its key values.
  static std::vector<std::string> SplitContributor(std::string_view contributor);

 private:
  bool EvaluateClf(std::string_view message, Contribution& out) const;
  bool EvaluateJson(std::string_view message, Contribution& out) const;

  LogFormat format_ = LogFormat::kClf;
  AggregateOn aggregate_on_ = AggregateOn::kCount;
  std::vector<LogGroupSelector> groups_;
  std::vector<FieldRef> keys_;
  std::vector<std::string> key_labels_;
  std::optional<FieldRef> value_of_;
  std::vector<RuleFilter> filters_;
  // CLF rules: strings one of which every matching message contains (a string filter's values),
  // checked before splitting fields when the filter looks past the first fields.
  std::vector<std::string> required_any_;
};

}  // namespace lambkin::insights
