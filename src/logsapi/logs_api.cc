#include "logsapi/logs_api.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "iam/authenticator.h"
#include "server/json_input.h"

namespace lambkin::logsapi {

using nlohmann::json;
using server::HttpResponse;
using server::JsonInput;

namespace {

constexpr std::string_view kTargetPrefix = "Logs_20140328.";
constexpr size_t kMaxBatchBytes = 1048576;
constexpr size_t kMaxBatchEvents = 10000;
constexpr int64_t kTwoHoursMs = 2LL * 3600 * 1000;
constexpr int64_t kFourteenDaysMs = 14LL * 24 * 3600 * 1000;

std::string ErrorName(StatusCode code) {
  switch (code) {
    case StatusCode::kResourceNotFound:
      return "ResourceNotFoundException";
    case StatusCode::kResourceConflict:
      return "ResourceAlreadyExistsException";
    case StatusCode::kInvalidRequestContent:
      return "SerializationException";
    case StatusCode::kUnrecognizedClient:
      return "UnrecognizedClientException";
    case StatusCode::kExpiredToken:
      return "ExpiredTokenException";
    case StatusCode::kInvalidSignature:
      return "InvalidSignatureException";
    case StatusCode::kIncompleteSignature:
      return "IncompleteSignature";
    case StatusCode::kMissingAuthenticationToken:
      return "MissingAuthenticationTokenException";
    case StatusCode::kAccessDenied:
      return "AccessDeniedException";
    case StatusCode::kNotImplemented:
      return "UnknownOperationException";
    case StatusCode::kServiceValidation:
      return "ValidationException";
    case StatusCode::kInternal:
    case StatusCode::kUnavailable:
      return "ServiceUnavailableException";
    default:
      return "InvalidParameterException";
  }
}

HttpResponse Reply(int status, const json& body) {
  return server::JsonReply(status, "application/x-amz-json-1.1", body);
}

HttpResponse Error(const Status& s) {
  std::string name = ErrorName(s.code());
  bool denied = s.code() == StatusCode::kUnrecognizedClient ||
                s.code() == StatusCode::kExpiredToken || s.code() == StatusCode::kAccessDenied ||
                s.code() == StatusCode::kInvalidSignature ||
                s.code() == StatusCode::kMissingAuthenticationToken;
  HttpResponse r = Reply(s.code() == StatusCode::kInternal      ? 500
                         : s.code() == StatusCode::kUnavailable ? 503
                         : denied                               ? 403
                                                                : 400,
                         {{"__type", name}, {"message", s.message()}});
  r.SetHeader("x-amzn-ErrorType", name);
  return r;
}

Status Invalid(std::string message) { return InvalidParameter(std::move(message)); }

Status TagsConstraint(std::string_view member, std::string_view constraint) {
  return Status(StatusCode::kValidation,
                fmt::format("1 validation error detected: Value at '{}' failed to satisfy "
                            "constraint: {}",
                            member, constraint));
}

// A tags map (CreateLogGroup, TagResource, TagLogGroup) as CloudWatch's model constrains it.
Result<std::map<std::string, std::string>> Tags(const JsonInput& in, const char* member) {
  std::map<std::string, std::string> tags;
  if (!in.Has(member)) return tags;
  if (!in[member].is_object()) {
    return Status(StatusCode::kInvalidRequestContent,
                  fmt::format("Unexpected type for member {}", member));
  }
  for (const auto& [k, v] : in[member].items()) {
    if (!v.is_string()) {
      return Status(StatusCode::kInvalidRequestContent,
                    fmt::format("Unexpected type for member {}", member));
    }
    if (k.empty() || k.size() > 128) {
      return TagsConstraint(member,
                            "Map keys must satisfy constraint: [Member must have length less "
                            "than or equal to 128, Member must have length greater than or "
                            "equal to 1]");
    }
    if (k.starts_with("aws:")) {
      return TagsConstraint(member,
                            "Map keys must satisfy constraint: [Member must satisfy regular "
                            "expression pattern: ^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+$]");
    }
    if (v.get_ref<const std::string&>().size() > 256) {
      return TagsConstraint(member,
                            "Map value must satisfy constraint: [Member must have length less "
                            "than or equal to 256]");
    }
    tags[k] = v.get<std::string>();
  }
  return tags;
}

// A character of a log group name (and of a name pattern): [\.\-_/#A-Za-z0-9].
bool GroupNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '/' ||
         c == '.' || c == '#';
}

bool ValidGroupName(const std::string& n) {
  return !n.empty() && n.size() <= 512 && std::all_of(n.begin(), n.end(), GroupNameChar);
}

bool ValidStreamName(const std::string& n) {
  return !n.empty() && n.size() <= 512 && n.find(':') == std::string::npos &&
         n.find('*') == std::string::npos;
}

// CloudWatch's answer for a name over 512 characters, group or stream.
Status TooLong() {
  return Invalid("Invalid LogGroup or LogStream, both must have length less than or equal to 512.");
}

Status CheckGroup(const std::string& n) {
  if (ValidGroupName(n)) return Status::Ok();
  if (n.size() > 512) return TooLong();
  return {StatusCode::kValidation,
          fmt::format("1 validation error detected: Value '{}' at 'logGroupName' failed to "
                      "satisfy constraint: Member must satisfy regular expression pattern: "
                      "[\\.\\-_/#A-Za-z0-9]+",
                      n)};
}

Status CheckStream(const std::string& n) {
  if (ValidStreamName(n)) return Status::Ok();
  if (n.size() > 512) return TooLong();
  return {StatusCode::kValidation,
          fmt::format("1 validation error detected: Value '{}' at 'logStreamName' failed to "
                      "satisfy constraint: Member must satisfy regular expression pattern: "
                      "[^:*]*",
                      n)};
}

// logGroupName or logGroupIdentifier (a name or an ARN ending in :log-group:<name>[:*]).
Result<std::string> GroupOf(const JsonInput& in) {
  bool by_name = in.Has("logGroupName"), by_id = in.Has("logGroupIdentifier");
  if (by_name && by_id) {
    return Status(StatusCode::kServiceValidation,
                  "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  }
  if (!by_name && !by_id) {
    return Invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string g,
                           in.String(by_name ? "logGroupName" : "logGroupIdentifier", ""));
  size_t at = g.find(":log-group:");
  if (by_id && at != std::string::npos) {
    g = g.substr(at + 11);
    if (g.ends_with(":*")) g.resize(g.size() - 2);
  }
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(g));
  return g;
}

// logGroupName and logStreamName, both required and checked.
Result<std::pair<std::string, std::string>> NamedStream(const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_ASSIGN_OR_RETURN(std::string stream, in.RequiredString("logStreamName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  LAMBKIN_RETURN_IF_ERROR(CheckStream(stream));
  return std::make_pair(std::move(group), std::move(stream));
}

Result<int> Limit(const JsonInput& in, int max, int fallback) {
  LAMBKIN_ASSIGN_OR_RETURN(int64_t limit, in.Int("limit", fallback));
  if (limit < 1 || limit > max) {
    return Status(
        StatusCode::kValidation,
        fmt::format("1 validation error detected: Value '{}' at 'limit' failed to "
                    "satisfy constraint: Member must have value {} {}",
                    limit, limit < 1 ? "greater than or equal to" : "less than or equal to",
                    limit < 1 ? 1 : max));
  }
  return static_cast<int>(limit);
}

// CreateLogGroup's members Lambkin cannot honour are refused with a 400 naming them, never
// dropped: there is no AWS KMS, one log group class.
Status RefuseUnsupportedGroupMembers(const JsonInput& in) {
  if (in.Has("kmsKeyId")) {
    return Invalid(
        "Lambkin does not support kmsKeyId: there is no AWS KMS; log events are kept in "
        "Lambkin's store");
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string log_class, in.String("logGroupClass", "STANDARD"));
  if (log_class != "STANDARD" && log_class != "INFREQUENT_ACCESS" && log_class != "DELIVERY") {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value '{}' at 'logGroupClass' failed "
                              "to satisfy constraint: Member must satisfy enum value set: "
                              "[STANDARD, INFREQUENT_ACCESS, DELIVERY]",
                              log_class));
  }
  if (log_class != "STANDARD") {
    return Invalid(fmt::format(
        "Lambkin does not support logGroupClass {}: every log group is STANDARD", log_class));
  }
  LAMBKIN_ASSIGN_OR_RETURN(bool protect, in.Bool("deletionProtectionEnabled", false));
  if (protect) return Invalid("Lambkin does not support deletionProtectionEnabled");
  return Status::Ok();
}

Result<json> CreateLogGroup(logs::LogStore* store, const functions::Scope& s, const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  if (group.starts_with("aws/")) return Invalid("Log group names can't start with 'aws/'.");
  LAMBKIN_RETURN_IF_ERROR(RefuseUnsupportedGroupMembers(in));
  LAMBKIN_ASSIGN_OR_RETURN(auto tags, Tags(in, "tags"));
  LAMBKIN_RETURN_IF_ERROR(store->CreateGroup(s, group, tags));
  return json::object();
}

// The log group a tagging call's resourceArn names: exactly logs::LogGroupArn(s, <name>) (a
// trailing :* is taken too), so the group acted on is the one authorisation saw. A log group ARN of
// another account, region or partition names a group that does not exist here.
Result<std::string> GroupOfArn(const functions::Scope& s, const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string arn, in.RequiredString("resourceArn"));
  if (!arn.starts_with("arn:") || arn.find(":logs:") == std::string::npos ||
      arn.find(":log-group:") == std::string::npos) {
    return Invalid(fmt::format("Invalid resourceArn: {}", arn));
  }
  std::string prefix = logs::LogGroupArn(s, "");
  if (!arn.starts_with(prefix)) {
    return Status(StatusCode::kResourceNotFound, "The specified log group does not exist.");
  }
  std::string group = arn.substr(prefix.size());
  if (group.ends_with(":*")) group.resize(group.size() - 2);
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  return group;
}

// Tags added, removed or listed; `keys_member` is where an untagging call takes its keys
// (UntagResource's tagKeys, UntagLogGroup's tags).
Result<json> GroupTagging(logs::LogStore* store, const functions::Scope& s,
                          const std::string& group, std::string_view op, const JsonInput& in,
                          const char* keys_member) {
  if (op.starts_with("ListTags")) {
    LAMBKIN_ASSIGN_OR_RETURN(auto tags, store->GroupTags(s, group));
    return json{{"tags", tags}};
  }
  if (op.starts_with("Tag")) {
    if (!in.Has("tags")) {
      return Status(StatusCode::kValidation,
                    "1 validation error detected: Value null at 'tags' failed to satisfy "
                    "constraint: Member must not be null");
    }
    LAMBKIN_ASSIGN_OR_RETURN(auto tags, Tags(in, "tags"));
    LAMBKIN_RETURN_IF_ERROR(store->TagGroup(s, group, tags, {}));
    return json::object();
  }
  if (!in.Has(keys_member)) {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value null at '{}' failed to "
                              "satisfy constraint: Member must not be null",
                              keys_member));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> keys, in.StringList(keys_member));
  LAMBKIN_RETURN_IF_ERROR(store->TagGroup(s, group, {}, keys));
  return json::object();
}

// TagResource, UntagResource, ListTagsForResource: the group named by resourceArn.
Result<json> TagsByArn(logs::LogStore* store, const functions::Scope& s, std::string_view op,
                       const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, GroupOfArn(s, in));
  return GroupTagging(store, s, group, op, in, "tagKeys");
}

// TagLogGroup, UntagLogGroup, ListTagsLogGroup (deprecated, still answered): by logGroupName.
Result<json> TagsByName(logs::LogStore* store, const functions::Scope& s, std::string_view op,
                        const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  return GroupTagging(store, s, group, op, in, "tags");
}

Result<json> CreateLogStream(logs::LogStore* store, const functions::Scope& s,
                             const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(auto named, NamedStream(in));
  const auto& [group, stream] = named;
  LAMBKIN_RETURN_IF_ERROR(store->CreateStream(s, group, stream));
  return json::object();
}

Result<json> DeleteLogGroup(logs::LogStore* store, const functions::Scope& s, const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  LAMBKIN_RETURN_IF_ERROR(store->DeleteGroup(s, group));
  return json::object();
}

Result<json> DeleteLogStream(logs::LogStore* store, const functions::Scope& s,
                             const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(auto named, NamedStream(in));
  const auto& [group, stream] = named;
  LAMBKIN_RETURN_IF_ERROR(store->DeleteStream(s, group, stream));
  return json::object();
}

Result<json> PutRetentionPolicy(logs::LogStore* store, const functions::Scope& s,
                                const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  if (!in.Has("retentionInDays")) {
    return Status(StatusCode::kValidation,
                  "1 validation error detected: Value null at 'retentionInDays' failed to "
                  "satisfy constraint: Member must not be null");
  }
  LAMBKIN_ASSIGN_OR_RETURN(int64_t days, in.Int("retentionInDays", 0));
  if (!logs::ValidRetentionDays(days)) {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value '{}' at 'retentionInDays' "
                              "failed to satisfy constraint: Member must satisfy enum value set: "
                              "[{}]",
                              days, logs::RetentionDaysList()));
  }
  LAMBKIN_RETURN_IF_ERROR(store->PutRetention(s, group, days));
  return json::object();
}

Result<json> DeleteRetentionPolicy(logs::LogStore* store, const functions::Scope& s,
                                   const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, in.RequiredString("logGroupName"));
  LAMBKIN_RETURN_IF_ERROR(CheckGroup(group));
  LAMBKIN_RETURN_IF_ERROR(store->PutRetention(s, group, std::nullopt));
  return json::object();
}

Result<json> DescribeLogGroups(logs::LogStore* store, const functions::Scope& s,
                               const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string prefix, in.String("logGroupNamePrefix", ""));
  LAMBKIN_ASSIGN_OR_RETURN(std::string pattern, in.String("logGroupNamePattern", ""));
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("nextToken", ""));
  LAMBKIN_ASSIGN_OR_RETURN(int limit, Limit(in, 50, 50));
  if (in.Has("logGroupNamePrefix") && in.Has("logGroupNamePattern")) {
    return Invalid(
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
  }
  if (pattern.size() > 512 || !std::all_of(pattern.begin(), pattern.end(), GroupNameChar)) {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value '{}' at 'logGroupNamePattern' "
                              "failed to satisfy constraint: Member must satisfy regular "
                              "expression pattern: [\\.\\-_/#A-Za-z0-9]*",
                              pattern));
  }
  LAMBKIN_ASSIGN_OR_RETURN(auto groups,
                           store->DescribeGroups(s, prefix, pattern, token, limit + 1));
  json out = {{"logGroups", json::array()}};
  for (size_t i = 0; i < groups.size() && static_cast<int>(i) < limit; ++i) {
    const auto& g = groups[i];
    json item = {{"logGroupName", g.name},
                 {"creationTime", g.creation_time},
                 {"metricFilterCount", 0},
                 {"arn", logs::LogGroupArn(s, g.name) + ":*"},
                 {"logGroupArn", logs::LogGroupArn(s, g.name)},
                 {"logGroupClass", "STANDARD"}};
    // A pattern search answers fewer members, as CloudWatch's.
    if (pattern.empty()) {
      item["storedBytes"] = g.stored_bytes;
      item["deletionProtectionEnabled"] = false;
    }
    // Absent while the events never expire, as CloudWatch answers.
    if (g.retention_days) item["retentionInDays"] = *g.retention_days;
    out["logGroups"].push_back(std::move(item));
  }
  if (static_cast<int>(groups.size()) > limit) out["nextToken"] = groups[limit - 1].name;
  return out;
}

Result<json> DescribeLogStreams(logs::LogStore* store, const functions::Scope& s,
                                const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, GroupOf(in));
  LAMBKIN_ASSIGN_OR_RETURN(std::string prefix, in.String("logStreamNamePrefix", ""));
  LAMBKIN_ASSIGN_OR_RETURN(std::string order, in.String("orderBy", "LogStreamName"));
  LAMBKIN_ASSIGN_OR_RETURN(bool descending, in.Bool("descending", false));
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("nextToken", ""));
  LAMBKIN_ASSIGN_OR_RETURN(int limit, Limit(in, 50, 50));
  if (order != "LogStreamName" && order != "LastEventTime") {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value '{}' at 'orderBy' failed to "
                              "satisfy constraint: Member must satisfy enum value set: "
                              "[LogStreamName, LastEventTime]",
                              order));
  }
  if (order == "LastEventTime" && !prefix.empty()) {
    return Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
  }
  int64_t offset = 0;
  if (!token.empty()) {
    try {
      offset = std::stoll(token);
    } catch (const std::exception&) {
      return Invalid("The specified nextToken is invalid.");
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(
      auto streams, store->DescribeStreams(s, group, prefix, order == "LastEventTime", descending,
                                           offset, limit + 1));
  json out = {{"logStreams", json::array()}};
  for (size_t i = 0; i < streams.size() && static_cast<int>(i) < limit; ++i) {
    const auto& st = streams[i];
    json j = {{"logStreamName", st.name},
              {"creationTime", st.creation_time},
              {"arn", fmt::format("{}:log-stream:{}", logs::LogGroupArn(s, group), st.name)},
              {"storedBytes", st.stored_bytes}};
    if (st.first_event) j["firstEventTimestamp"] = *st.first_event;
    if (st.last_event) j["lastEventTimestamp"] = *st.last_event;
    if (st.last_ingestion) j["lastIngestionTime"] = *st.last_ingestion;
    out["logStreams"].push_back(std::move(j));
  }
  if (static_cast<int>(streams.size()) > limit) out["nextToken"] = std::to_string(offset + limit);
  return out;
}

Result<json> PutLogEvents(logs::LogStore* store, const Clock* clock, const functions::Scope& s,
                          const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(auto named, NamedStream(in));
  const auto& [group, stream] = named;
  if (!in.Has("logEvents") || !in["logEvents"].is_array()) {
    return Status(StatusCode::kValidation,
                  "1 validation error detected: Value null at 'logEvents' failed to satisfy "
                  "constraint: Member must not be null");
  }
  const json& raw = in["logEvents"];
  if (raw.empty() || raw.size() > kMaxBatchEvents) {
    return Status(
        StatusCode::kValidation,
        fmt::format("1 validation error detected: Value '{}' at 'logEvents' failed to "
                    "satisfy constraint: Member must have length {}",
                    raw.size(),
                    raw.empty() ? "greater than or equal to 1" : "less than or equal to 10000"));
  }
  std::vector<logs::LogEvent> events;
  size_t bytes = 0;
  int64_t now = clock->NowMillis();
  std::optional<int64_t> too_new, too_old;
  int64_t prev = INT64_MIN;
  for (size_t i = 0; i < raw.size(); ++i) {
    const json& e = raw[i];
    if (!e.is_object() || !e.contains("timestamp") || !e["timestamp"].is_number_integer() ||
        !e.contains("message") || !e["message"].is_string()) {
      return Status(StatusCode::kInvalidRequestContent,
                    "Each log event needs an integer timestamp and a string message");
    }
    int64_t ts = e["timestamp"].get<int64_t>();
    if (ts < prev) {
      return Invalid("Log events in a single PutLogEvents request must be in chronological order.");
    }
    prev = ts;
    std::string msg = e["message"].get<std::string>();
    bytes += msg.size() + 26;
    if (ts > now + kTwoHoursMs) {
      if (!too_new) too_new = static_cast<int64_t>(i);
      continue;
    }
    if (ts < now - kFourteenDaysMs) {
      too_old = static_cast<int64_t>(i) + 1;
      continue;
    }
    events.push_back({ts, std::move(msg)});
  }
  if (bytes > kMaxBatchBytes) {
    return Invalid(fmt::format("Log events batch size of {} bytes exceeds the maximum of {} bytes.",
                               bytes, kMaxBatchBytes));
  }
  if (raw.back()["timestamp"].get<int64_t>() - raw.front()["timestamp"].get<int64_t>() >
      24LL * 3600 * 1000) {
    return Invalid(
        "The batch of log events in a single PutLogEvents request cannot span more "
        "than 24 hours.");
  }
  LAMBKIN_RETURN_IF_ERROR(store->Append(s, group, stream, events, /*create=*/false));
  json out = {{"nextSequenceToken", "1"}};
  if (too_new || too_old) {
    json info = json::object();
    if (too_new) info["tooNewLogEventStartIndex"] = *too_new;
    if (too_old) info["tooOldLogEventEndIndex"] = *too_old;
    out["rejectedLogEventsInfo"] = info;
  }
  return out;
}

Result<json> GetLogEvents(logs::LogStore* store, const functions::Scope& s, const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, GroupOf(in));
  LAMBKIN_ASSIGN_OR_RETURN(std::string stream, in.RequiredString("logStreamName"));
  LAMBKIN_ASSIGN_OR_RETURN(int64_t start, in.Int("startTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(int64_t end, in.Int("endTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("nextToken", ""));
  LAMBKIN_ASSIGN_OR_RETURN(bool from_head, in.Bool("startFromHead", false));
  LAMBKIN_ASSIGN_OR_RETURN(int limit, Limit(in, 10000, 10000));
  LAMBKIN_ASSIGN_OR_RETURN(auto page,
                           store->GetEvents(s, group, stream, start, end, token, from_head, limit));
  json out = {{"events", json::array()},
              {"nextForwardToken", page.next_forward_token},
              {"nextBackwardToken", page.next_backward_token}};
  for (const auto& e : page.events) {
    out["events"].push_back(
        {{"timestamp", e.timestamp}, {"message", e.message}, {"ingestionTime", e.ingestion_time}});
  }
  return out;
}

Result<json> FilterLogEvents(logs::LogStore* store, const functions::Scope& s,
                             const JsonInput& in) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string group, GroupOf(in));
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<std::string> streams, in.StringList("logStreamNames"));
  LAMBKIN_ASSIGN_OR_RETURN(std::string prefix, in.String("logStreamNamePrefix", ""));
  if (!streams.empty() && !prefix.empty()) {
    return Invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string pattern, in.String("filterPattern", ""));
  if (pattern.size() > 1024) {
    return Status(StatusCode::kValidation,
                  fmt::format("1 validation error detected: Value '{}' at 'filterPattern' failed "
                              "to satisfy constraint: Member must have length less than or equal "
                              "to 1024",
                              pattern));
  }
  LAMBKIN_ASSIGN_OR_RETURN(int64_t start, in.Int("startTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(int64_t end, in.Int("endTime", 0));
  LAMBKIN_ASSIGN_OR_RETURN(std::string token, in.String("nextToken", ""));
  LAMBKIN_ASSIGN_OR_RETURN(int limit, Limit(in, 10000, 10000));
  LAMBKIN_ASSIGN_OR_RETURN(
      auto page, store->Filter(s, group, streams, prefix, pattern, start, end, token, limit));
  json out = {{"events", json::array()}, {"searchedLogStreams", json::array()}};
  for (const auto& e : page.events) {
    out["events"].push_back({{"logStreamName", e.stream},
                             {"timestamp", e.timestamp},
                             {"message", e.message},
                             {"ingestionTime", e.ingestion_time},
                             {"eventId", std::to_string(e.seq)}});
  }
  if (!page.next_token.empty()) out["nextToken"] = page.next_token;
  return out;
}

}  // namespace

std::optional<HttpResponse> LogsApi::Handle(const server::HttpRequest& request) const {
  auto target = request.Header("x-amz-target");
  if (!target || !target->starts_with(kTargetPrefix)) return std::nullopt;
  if (request.method != "POST" || !request.path.empty()) {
    return Error({StatusCode::kNotImplemented, "CloudWatch Logs calls are POST /"});
  }
  Result<iam::Identity> identity = auth_->Authenticate(request, "logs");
  if (!identity.ok()) return Error(identity.status());
  const functions::Scope* scope = &identity->scope;
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    return Error({StatusCode::kInvalidRequestContent, "The request body is not a JSON object"});
  }
  std::string op = target->substr(kTargetPrefix.size());
  // The resource is the log group named (all of them for an operation that names none).
  auto group = body.find("logGroupName");
  std::string resource = logs::LogGroupArn(*scope, group != body.end() && group->is_string()
                                                       ? group->get<std::string>()
                                                       : std::string("*")) +
                         ":*";
  // The tagging calls by ARN name their log group there: the policy sees that ARN, which
  // GroupOfArn then requires to be this account's and region's group (no other operation's
  // resource is taken from it).
  const bool by_arn = op == "TagResource" || op == "UntagResource" || op == "ListTagsForResource";
  if (auto arn = body.find("resourceArn"); by_arn && arn != body.end() && arn->is_string()) {
    resource = arn->get<std::string>();
    if (!resource.ends_with(":*")) resource += ":*";
  }
  if (Status s = identity->Allow("logs:" + op, resource); !s.ok()) return Error(s);
  JsonInput in(std::move(body));
  // Reads see what functions logged; a deletion is not undone by a batch still buffered.
  if (op.starts_with("Describe") || op.starts_with("Get") || op.starts_with("Filter") ||
      op.starts_with("Delete")) {
    writer_->Flush();
  }
  Result<json> out = Status(StatusCode::kNotImplemented,
                            fmt::format("Lambkin does not implement CloudWatch Logs {}", op));
  if (op == "CreateLogGroup") out = CreateLogGroup(store_, *scope, in);
  if (op == "CreateLogStream") out = CreateLogStream(store_, *scope, in);
  if (op == "DeleteLogGroup") out = DeleteLogGroup(store_, *scope, in);
  if (op == "DeleteLogStream") out = DeleteLogStream(store_, *scope, in);
  if (op == "PutRetentionPolicy") out = PutRetentionPolicy(store_, *scope, in);
  if (op == "DeleteRetentionPolicy") out = DeleteRetentionPolicy(store_, *scope, in);
  if (op == "DescribeLogGroups") out = DescribeLogGroups(store_, *scope, in);
  if (op == "DescribeLogStreams") out = DescribeLogStreams(store_, *scope, in);
  if (op == "PutLogEvents") out = PutLogEvents(store_, store_->clock(), *scope, in);
  if (op == "GetLogEvents") out = GetLogEvents(store_, *scope, in);
  if (op == "FilterLogEvents") out = FilterLogEvents(store_, *scope, in);
  if (by_arn) out = TagsByArn(store_, *scope, op, in);
  if (op == "TagLogGroup" || op == "UntagLogGroup" || op == "ListTagsLogGroup") {
    out = TagsByName(store_, *scope, op, in);
  }
  if (!out.ok()) return Error(out.status());
  return Reply(200, *out);
}

}  // namespace lambkin::logsapi
