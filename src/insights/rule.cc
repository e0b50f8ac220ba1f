#include "insights/rule.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "logs/clf.h"

namespace lambkin::insights {

using nlohmann::json;

namespace {

constexpr size_t kMaxKeys = 4;
constexpr size_t kMaxFilters = 4;
constexpr size_t kMaxFilterValues = 10;

Status Invalid(std::string message) {
  return {StatusCode::kInvalidParameterValue, std::move(message)};
}

// A number written in full (surrounding spaces allowed), as numeric operators and Sum need.
std::optional<double> ParseNumber(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool ValidGroupChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
         c == '.' || c == '#';
}

Result<LogGroupSelector> ParseGroupName(std::string name, const char* member) {
  LogGroupSelector sel;
  if (name.ends_with('*')) {
    sel.prefix = true;
    name.pop_back();
  }
  if (name.size() > 512 || !std::all_of(name.begin(), name.end(), ValidGroupChar) ||
      (name.empty() && !sel.prefix)) {
    return Invalid(fmt::format(
        "{} contains '{}{}', which is not a log group name (1-512 of a-z, A-Z, 0-9, '_', '-', "
        "'/', '.', '#', optionally ending in '*')",
        member, name, sel.prefix ? "*" : ""));
  }
  sel.name = std::move(name);
  return sel;
}

// arn:<partition>:logs:<region>:<account>:log-group:<name>[*][:*]
Result<LogGroupSelector> ParseGroupArn(const std::string& arn) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (int i = 0; i < 6; ++i) {
    size_t colon = arn.find(':', start);
    if (colon == std::string::npos) break;
    parts.push_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "logs" || parts[3].empty() ||
      parts[4].empty() || parts[5] != "log-group") {
    return Invalid(fmt::format("LogGroupARNs contains '{}', which is not a log group ARN", arn));
  }
  std::string name = arn.substr(start);
  if (name.ends_with(":*")) name.resize(name.size() - 2);
  LAMBKIN_ASSIGN_OR_RETURN(LogGroupSelector sel, ParseGroupName(name, "LogGroupARNs"));
  sel.region = parts[3];
  sel.account = parts[4];
  return sel;
}

Result<std::vector<FieldRef::Step>> ParseJsonPath(const std::string& text) {
  if (!text.starts_with("$") || text.size() < 2) {
    return Invalid(fmt::format(
        "'{}' is not a JSON field: JSON rules name fields in property notation, such as "
        "$.requestParameters.instanceId or $.users[1].name",
        text));
  }
  std::vector<FieldRef::Step> steps;
  size_t i = 1;
  while (i < text.size()) {
    if (text[i] == '.') {
      size_t end = text.find_first_of(".[", i + 1);
      if (end == std::string::npos) end = text.size();
      if (end == i + 1) return Invalid(fmt::format("'{}' has an empty property name", text));
      steps.push_back({text.substr(i + 1, end - i - 1), -1});
      i = end;
    } else if (text[i] == '[') {
      size_t close = text.find(']', i);
      int index = -1;
      if (close != std::string::npos) {
        std::string_view digits(text.data() + i + 1, close - i - 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
        if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
          index = -1;
        }
      }
      if (index < 0) return Invalid(fmt::format("'{}' has a malformed array index", text));
      steps.push_back({"", index});
      i = close + 1;
    } else {
      return Invalid(fmt::format("'{}' is not a JSON field in property notation", text));
    }
  }
  return steps;
}

struct Context {
  LogFormat format;
  std::map<std::string, int> aliases;  // CLF Fields
};

Result<FieldRef> ParseField(const Context& ctx, const json& j, const std::string& where) {
  if (!j.is_string() || j.get<std::string>().empty()) {
    return Invalid(fmt::format("{} must be a non-empty string naming a log field", where));
  }
  FieldRef f;
  f.text = j.get<std::string>();
  if (ctx.format == LogFormat::kJson) {
    LAMBKIN_ASSIGN_OR_RETURN(f.path, ParseJsonPath(f.text));
    return f;
  }
  if (auto it = ctx.aliases.find(f.text); it != ctx.aliases.end()) {
    f.position = it->second;
    return f;
  }
  auto [end, ec] = std::from_chars(f.text.data(), f.text.data() + f.text.size(), f.position);
  if (ec != std::errc() || end != f.text.data() + f.text.size() || f.position < 1 ||
      f.position > logs::ClfFields::kMaxPosition) {
    return Invalid(
        fmt::format("{} '{}' is neither an alias defined in Fields nor a CLF field position (1-{})",
                    where, f.text, logs::ClfFields::kMaxPosition));
  }
  return f;
}

Result<RuleFilter> ParseFilter(const Context& ctx, const json& j, size_t n) {
  std::string where = fmt::format("Contribution.Filters[{}]", n);
  if (!j.is_object() || !j.contains("Match")) {
    return Invalid(fmt::format("{} must be an object with Match and one operator", where));
  }
  RuleFilter f;
  LAMBKIN_ASSIGN_OR_RETURN(f.field, ParseField(ctx, j["Match"], where + ".Match"));
  if (j.size() != 2) {
    return Invalid(fmt::format(
        "{} must have exactly one operator: In, NotIn, StartsWith, GreaterThan, LessThan, "
        "EqualTo, NotEqualTo or IsPresent",
        where));
  }
  static const std::map<std::string, FilterOp> kOps = {{"In", FilterOp::kIn},
                                                       {"NotIn", FilterOp::kNotIn},
                                                       {"StartsWith", FilterOp::kStartsWith},
                                                       {"GreaterThan", FilterOp::kGreaterThan},
                                                       {"LessThan", FilterOp::kLessThan},
                                                       {"EqualTo", FilterOp::kEqualTo},
                                                       {"NotEqualTo", FilterOp::kNotEqualTo},
                                                       {"IsPresent", FilterOp::kIsPresent}};
  for (const auto& [name, arg] : j.items()) {
    if (name == "Match") continue;
    auto op = kOps.find(name);
    if (op == kOps.end()) {
      return Invalid(fmt::format(
          "{} has unknown operator '{}'; the operators are In, NotIn, StartsWith, GreaterThan, "
          "LessThan, EqualTo, NotEqualTo and IsPresent",
          where, name));
    }
    f.op = op->second;
    switch (f.op) {
      case FilterOp::kIn:
      case FilterOp::kNotIn:
      case FilterOp::kStartsWith:
        if (!arg.is_array() || arg.empty() || arg.size() > kMaxFilterValues) {
          return Invalid(fmt::format("{}.{} must be an array of 1 to {} values", where, name,
                                     kMaxFilterValues));
        }
        for (const auto& v : arg) {
          if (v.is_string()) {
            f.strings.push_back(v.get<std::string>());
          } else if (v.is_number()) {
            f.strings.push_back(v.dump());
          } else {
            return Invalid(fmt::format("{}.{} values must be strings or numbers", where, name));
          }
        }
        break;
      case FilterOp::kIsPresent:
        if (!arg.is_boolean())
          return Invalid(fmt::format("{}.IsPresent must be true or false", where));
        f.present = arg.get<bool>();
        break;
      default:
        if (!arg.is_number()) return Invalid(fmt::format("{}.{} must be a number", where, name));
        f.number = arg.get<double>();
    }
  }
  return f;
}

// Key values are length-prefixed, so any bytes (a NUL included) stay one value.
void AppendKey(std::string& contributor, std::string_view value) {
  auto n = static_cast<uint32_t>(value.size());
  contributor.append(reinterpret_cast<const char*>(&n), sizeof n);
  contributor.append(value);
}

// The text of a JSON leaf as keys and string operators see it; nullopt for null, objects and
// arrays (not a leaf value).
std::optional<std::string> LeafText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

const json* Resolve(const json& root, const std::vector<FieldRef::Step>& path) {
  const json* at = &root;
  for (const auto& step : path) {
    if (step.index >= 0) {
      if (!at->is_array() || static_cast<size_t>(step.index) >= at->size()) return nullptr;
      at = &(*at)[static_cast<size_t>(step.index)];
    } else {
      if (!at->is_object()) return nullptr;
      auto it = at->find(step.name);
      if (it == at->end()) return nullptr;
      at = &*it;
    }
  }
  return at;
}

// Applies a filter to a field's value (nullopt = the field is missing); `number` is its numeric
// reading, computed on demand.
template <typename NumberFn>
bool Holds(const RuleFilter& f, const std::optional<std::string_view>& value, NumberFn number) {
  if (f.op == FilterOp::kIsPresent) return value.has_value() == f.present;
  if (!value) return false;
  switch (f.op) {
    case FilterOp::kIn:
      return std::find(f.strings.begin(), f.strings.end(), *value) != f.strings.end();
    case FilterOp::kNotIn:
      return std::find(f.strings.begin(), f.strings.end(), *value) == f.strings.end();
    case FilterOp::kStartsWith:
      return std::any_of(f.strings.begin(), f.strings.end(),
                         [&](const std::string& p) { return value->starts_with(p); });
    default:
      break;
  }
  std::optional<double> n = number();
  if (!n) return false;
  switch (f.op) {
    case FilterOp::kGreaterThan:
      return *n > f.number;
    case FilterOp::kLessThan:
      return *n < f.number;
    case FilterOp::kEqualTo:
      return *n == f.number;
    default:
      return *n != f.number;
  }
}

}  // namespace

Result<Rule> Rule::Parse(std::string_view definition) {
  json j = json::parse(definition, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Invalid("The rule definition is not a valid JSON object.");
  }
  static const char* const kMembers[] = {"Schema", "LogGroupNames", "LogGroupARNs", "LogFormat",
                                         "Fields", "Contribution",  "AggregateOn"};
  for (const auto& [name, _] : j.items()) {
    if (std::find(std::begin(kMembers), std::end(kMembers), name) == std::end(kMembers)) {
      return Invalid(fmt::format("The rule definition has an unknown field '{}'.", name));
    }
  }
  const json& schema = j.value("Schema", json());
  if (!schema.is_object() || schema.size() != 2 ||
      schema.value("Name", json()) != "CloudWatchLogRule" || schema.value("Version", json()) != 1) {
    return Invalid("Schema must be {\"Name\": \"CloudWatchLogRule\", \"Version\": 1}.");
  }
  Rule rule;
  const json& format = j.value("LogFormat", json());
  if (format == "JSON") {
    rule.format_ = LogFormat::kJson;
  } else if (format == "CLF") {
    rule.format_ = LogFormat::kClf;
  } else {
    return Invalid("LogFormat must be JSON or CLF.");
  }
  bool by_name = j.contains("LogGroupNames"), by_arn = j.contains("LogGroupARNs");
  if (by_name == by_arn) {
    return Invalid("The rule must specify either LogGroupNames or LogGroupARNs, but not both.");
  }
  const char* groups_member = by_name ? "LogGroupNames" : "LogGroupARNs";
  const json& groups = j[groups_member];
  if (!groups.is_array() || groups.empty()) {
    return Invalid(fmt::format("{} must be a non-empty array of strings.", groups_member));
  }
  for (const auto& g : groups) {
    if (!g.is_string()) {
      return Invalid(fmt::format("{} must be a non-empty array of strings.", groups_member));
    }
    LAMBKIN_ASSIGN_OR_RETURN(LogGroupSelector sel,
                             by_name ? ParseGroupName(g.get<std::string>(), groups_member)
                                     : ParseGroupArn(g.get<std::string>()));
    rule.groups_.push_back(std::move(sel));
  }

  Context ctx{rule.format_, {}};
  if (j.contains("Fields")) {
    if (rule.format_ != LogFormat::kClf)
      return Invalid("Fields can only be used with LogFormat CLF.");
    const json& fields = j["Fields"];
    if (!fields.is_object()) return Invalid("Fields must map CLF positions to names.");
    for (const auto& [pos, alias] : fields.items()) {
      int n = 0;
      auto [end, ec] = std::from_chars(pos.data(), pos.data() + pos.size(), n);
      if (ec != std::errc() || end != pos.data() + pos.size() || n < 1 ||
          n > logs::ClfFields::kMaxPosition || !alias.is_string() ||
          alias.get<std::string>().empty()) {
        return Invalid(fmt::format(
            "Fields must map CLF positions (\"1\" to \"{}\") to non-empty names; '{}' is not one.",
            logs::ClfFields::kMaxPosition, pos));
      }
      if (!ctx.aliases.emplace(alias.get<std::string>(), n).second) {
        return Invalid(fmt::format("Fields names '{}' twice.", alias.get<std::string>()));
      }
    }
  }

  const json& aggregate = j.value("AggregateOn", json());
  if (aggregate == "Count") {
    rule.aggregate_on_ = AggregateOn::kCount;
  } else if (aggregate == "Sum") {
    rule.aggregate_on_ = AggregateOn::kSum;
  } else {
    return Invalid("AggregateOn must be Count or Sum.");
  }

  const json& contribution = j.value("Contribution", json());
  if (!contribution.is_object()) return Invalid("Contribution must be an object with Keys.");
  for (const auto& [name, _] : contribution.items()) {
    if (name != "Keys" && name != "ValueOf" && name != "Filters") {
      return Invalid(fmt::format("Contribution has an unknown field '{}'.", name));
    }
  }
  const json& keys = contribution.value("Keys", json());
  if (!keys.is_array() || keys.empty() || keys.size() > kMaxKeys) {
    return Invalid(fmt::format("Contribution.Keys must list 1 to {} fields.", kMaxKeys));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    LAMBKIN_ASSIGN_OR_RETURN(FieldRef key,
                             ParseField(ctx, keys[i], fmt::format("Contribution.Keys[{}]", i)));
    rule.key_labels_.push_back(key.text);
    rule.keys_.push_back(std::move(key));
  }
  if (contribution.contains("ValueOf")) {
    if (rule.aggregate_on_ != AggregateOn::kSum) {
      return Invalid("Contribution.ValueOf can only be used with AggregateOn Sum.");
    }
    LAMBKIN_ASSIGN_OR_RETURN(rule.value_of_,
                             ParseField(ctx, contribution["ValueOf"], "Contribution.ValueOf"));
  } else if (rule.aggregate_on_ == AggregateOn::kSum) {
    return Invalid("AggregateOn Sum needs Contribution.ValueOf, the field to add up.");
  }
  if (contribution.contains("Filters")) {
    const json& filters = contribution["Filters"];
    if (!filters.is_array() || filters.size() > kMaxFilters) {
      return Invalid(
          fmt::format("Contribution.Filters must list at most {} filters.", kMaxFilters));
    }
    for (size_t i = 0; i < filters.size(); ++i) {
      LAMBKIN_ASSIGN_OR_RETURN(RuleFilter f, ParseFilter(ctx, filters[i], i));
      rule.filters_.push_back(std::move(f));
    }
  }
  // A field's value is a substring of its CLF message, so a message that contains none of an
  // In/StartsWith filter's values cannot match. Splitting the first two fields is cheaper than
  // searching the whole message, so only filters further in are worth it.
  for (const auto& f : rule.filters_) {
    bool strings = f.op == FilterOp::kIn || f.op == FilterOp::kStartsWith;
    if (rule.format_ != LogFormat::kClf || !strings || f.field.position <= 2) continue;
    if (std::any_of(f.strings.begin(), f.strings.end(),
                    [](const std::string& v) { return v.empty(); })) {
      continue;
    }
    rule.required_any_ = f.strings;
    break;
  }
  return rule;
}

bool Rule::AppliesTo(const functions::Scope& rule_scope, const functions::Scope& scope,
                     std::string_view group) const {
  return std::any_of(groups_.begin(), groups_.end(), [&](const LogGroupSelector& sel) {
    return sel.account.value_or(rule_scope.account) == scope.account &&
           sel.region.value_or(rule_scope.region) == scope.region &&
           (sel.prefix ? group.starts_with(sel.name) : group == sel.name);
  });
}

bool Rule::Evaluate(std::string_view message, Contribution& out) const {
  return format_ == LogFormat::kClf ? EvaluateClf(message, out) : EvaluateJson(message, out);
}

bool Rule::EvaluateClf(std::string_view message, Contribution& out) const {
  if (!required_any_.empty() &&
      std::none_of(required_any_.begin(), required_any_.end(), [&](const std::string& v) {
        return message.find(v) != std::string_view::npos;
      })) {
    return false;
  }
  logs::ClfFields fields(message);
  for (const auto& f : filters_) {
    const std::string_view* v = fields.Get(f.field.position);
    std::optional<std::string_view> value;
    if (v != nullptr) value = *v;
    if (!Holds(f, value, [&] { return ParseNumber(*v); })) return false;
  }
  double value = 1;
  if (value_of_) {
    const std::string_view* v = fields.Get(value_of_->position);
    std::optional<double> n = v != nullptr ? ParseNumber(*v) : std::nullopt;
    if (!n) return false;
    value = *n;
  }
  out.contributor.clear();
  for (size_t i = 0; i < keys_.size(); ++i) {
    const std::string_view* v = fields.Get(keys_[i].position);
    if (v == nullptr) return false;
    AppendKey(out.contributor, *v);
  }
  out.value = value;
  return true;
}

bool Rule::EvaluateJson(std::string_view message, Contribution& out) const {
  size_t first = message.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || message[first] != '{') return false;
  json doc = json::parse(message, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return false;
  auto leaf = [&](const FieldRef& f) -> std::optional<std::string> {
    const json* v = Resolve(doc, f.path);
    return v != nullptr ? LeafText(*v) : std::nullopt;
  };
  for (const auto& f : filters_) {
    const json* v = Resolve(doc, f.field.path);
    std::optional<std::string> text = v != nullptr ? LeafText(*v) : std::nullopt;
    std::optional<std::string_view> value;
    if (text) value = *text;
    auto number = [&]() -> std::optional<double> {
      if (v->is_number()) return v->get<double>();
      return ParseNumber(*text);
    };
    if (!Holds(f, value, number)) return false;
  }
  double value = 1;
  if (value_of_) {
    const json* v = Resolve(doc, value_of_->path);
    std::optional<double> n;
    if (v != nullptr && v->is_number()) n = v->get<double>();
    if (v != nullptr && v->is_string()) n = ParseNumber(v->get<std::string>());
    if (!n) return false;
    value = *n;
  }
  out.contributor.clear();
  for (size_t i = 0; i < keys_.size(); ++i) {
    std::optional<std::string> v = leaf(keys_[i]);
    if (!v) return false;
    AppendKey(out.contributor, *v);
  }
  out.value = value;
  return true;
}

std::optional<logs::ScanRequest::Heads> Rule::head_constraint() const {
  if (format_ != LogFormat::kClf) return std::nullopt;
  for (const auto& f : filters_) {
    if (f.field.position != 1) continue;
    if (f.op == FilterOp::kIn) return logs::ScanRequest::Heads{f.strings, {}};
    if (f.op == FilterOp::kStartsWith) return logs::ScanRequest::Heads{{}, f.strings};
  }
  return std::nullopt;
}

std::vector<std::string> Rule::SplitContributor(std::string_view contributor) {
  std::vector<std::string> out;
  while (contributor.size() >= sizeof(uint32_t)) {
    uint32_t n = 0;
    std::memcpy(&n, contributor.data(), sizeof n);
    contributor.remove_prefix(sizeof n);
    out.emplace_back(contributor.substr(0, n));
    contributor.remove_prefix(std::min<size_t>(n, contributor.size()));
  }
  return out;
}

}  // namespace lambkin::insights
