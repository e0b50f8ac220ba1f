#include "exec/event_invoke_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "functions/function_service.h"

namespace lambkin::exec {

namespace {

using Txn = store::Database::Txn;

// One row per function qualifier; NULL members were not given. A version's or an alias's row
// goes with it (`version` or `alias` names what `qualifier` does, for the foreign keys), so a
// deleted version leaves no configuration behind and a re-created alias starts without one.
constexpr char kEventInvokeConfigDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS event_invoke_configs (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  qualifier TEXT NOT NULL,
  maximum_retry_attempts INTEGER,
  maximum_event_age_seconds INTEGER,
  on_success TEXT,
  on_failure TEXT,
  last_modified INTEGER NOT NULL,
  version INTEGER,                     -- the qualifier's version number (0: $LATEST), or NULL
  alias TEXT,                          -- = qualifier when it is an alias, else NULL
  PRIMARY KEY (account, region, name, qualifier),
  FOREIGN KEY (account, region, name) REFERENCES functions ON DELETE CASCADE,
  FOREIGN KEY (account, region, name, version) REFERENCES function_versions ON DELETE CASCADE,
  FOREIGN KEY (account, region, name, alias) REFERENCES aliases ON DELETE CASCADE
);
)sql";

constexpr char kColumns[] =
    "qualifier, maximum_retry_attempts, maximum_event_age_seconds, on_success, on_failure, "
    "last_modified";

EventInvokeConfig ReadConfig(const store::Statement& st) {
  return {st.ColumnText(0),         st.ColumnOptionalInt(1),  st.ColumnOptionalInt(2),
          st.ColumnOptionalText(3), st.ColumnOptionalText(4), st.ColumnInt(5)};
}

Result<std::optional<EventInvokeConfig>> LoadConfig(Txn& txn, const functions::Scope& scope,
                                                    const std::string& function,
                                                    const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare(fmt::format("SELECT {} FROM event_invoke_configs WHERE account = ? AND "
                                       "region = ? AND name = ? AND qualifier = ?",
                                       kColumns)));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, qualifier);
  LAMBKIN_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<EventInvokeConfig>();
  return std::optional<EventInvokeConfig>(ReadConfig(st));
}

Status StoreConfig(Txn& txn, const functions::Scope& scope, const std::string& function,
                   const EventInvokeConfig& c) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare("INSERT INTO event_invoke_configs (account, region, name, qualifier, "
                  "maximum_retry_attempts, maximum_event_age_seconds, on_success, on_failure, "
                  "last_modified, version, alias) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                  "ON CONFLICT (account, region, name, qualifier) DO UPDATE SET "
                  "maximum_retry_attempts = excluded.maximum_retry_attempts, "
                  "maximum_event_age_seconds = excluded.maximum_event_age_seconds, "
                  "on_success = excluded.on_success, on_failure = excluded.on_failure, "
                  "last_modified = excluded.last_modified"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, c.qualifier);
  st.Bind(5, c.maximum_retry_attempts).Bind(6, c.maximum_event_age_seconds);
  st.Bind(7, c.on_success).Bind(8, c.on_failure).Bind(9, c.last_modified_ms);
  std::optional<int64_t> version = functions::VersionNumber(c.qualifier);
  st.Bind(10, version);
  st.Bind(11, version ? std::nullopt : std::optional<std::string>(c.qualifier));
  return st.Run();
}

// A destination member of an update: absent keeps, "" removes, an ARN replaces.
void Merge(std::optional<std::string>& stored, const std::optional<std::string>& given) {
  if (!given) return;
  stored = given->empty() ? std::nullopt : given;
}

// A payload as JSON text inside a record: its own text when it is JSON (members in the order
// the function wrote them, numbers as written), a JSON string of it otherwise, null when empty.
std::string PayloadText(std::string_view payload) {
  size_t first = payload.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "null";
  if (nlohmann::json::accept(payload)) {
    size_t last = payload.find_last_not_of(" \t\r\n");
    return std::string(payload.substr(first, last - first + 1));
  }
  return nlohmann::json(std::string(payload))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

const store::Migrations& EventInvokeConfigSchema() {
  static const store::Migrations kMigrations = {
      {"event_invoke_config", 1, kEventInvokeConfigDdl, ""},
  };
  return kMigrations;
}

std::string ConfigQualifier(std::string_view qualifier) {
  return std::string(qualifier.empty() ? functions::kLatest : qualifier);
}

Status EventInvokeConfigStore::Put(const functions::Scope& scope, const std::string& function,
                                   const EventInvokeConfig& config) const {
  return db_->Transact([&](Txn& txn) -> Status {
    // The function may have been deleted since the caller looked: its configuration would
    // outlive it only until the foreign key refused it, so say so as AWS would.
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT 1 FROM functions WHERE account = ? AND region = ? AND "
                             "name = ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function);
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, st.Step());
    if (!exists) return NotFound("The function doesn't exist.");
    return StoreConfig(txn, scope, function, config);
  });
}

Result<std::optional<EventInvokeConfig>> EventInvokeConfigStore::Update(
    const functions::Scope& scope, const std::string& function, const std::string& qualifier,
    const EventInvokeConfigUpdate& update, int64_t now_ms) const {
  std::optional<EventInvokeConfig> result;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(result, LoadConfig(txn, scope, function, qualifier));
    if (!result) return Status::Ok();
    if (update.maximum_retry_attempts) {
      result->maximum_retry_attempts = update.maximum_retry_attempts;
    }
    if (update.maximum_event_age_seconds) {
      result->maximum_event_age_seconds = update.maximum_event_age_seconds;
    }
    Merge(result->on_success, update.on_success);
    Merge(result->on_failure, update.on_failure);
    result->last_modified_ms = now_ms;
    return StoreConfig(txn, scope, function, *result);
  });
  if (!s.ok()) return s;
  return result;
}

Result<std::optional<EventInvokeConfig>> EventInvokeConfigStore::Get(
    const functions::Scope& scope, const std::string& function,
    const std::string& qualifier) const {
  std::optional<EventInvokeConfig> config;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(config, LoadConfig(txn, scope, function, qualifier));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return config;
}

Result<bool> EventInvokeConfigStore::Delete(const functions::Scope& scope,
                                            const std::string& function,
                                            const std::string& qualifier) const {
  bool deleted = false;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("DELETE FROM event_invoke_configs WHERE account = ? AND region = ? "
                             "AND name = ? AND qualifier = ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, qualifier);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    deleted = txn.Changes() == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted;
}

Result<std::vector<EventInvokeConfig>> EventInvokeConfigStore::List(const functions::Scope& scope,
                                                                    const std::string& function,
                                                                    const std::string& after,
                                                                    int limit) const {
  std::vector<EventInvokeConfig> configs;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare(fmt::format("SELECT {} FROM event_invoke_configs WHERE account = ? AND "
                                "region = ? AND name = ? AND qualifier > ? ORDER BY qualifier "
                                "LIMIT ?",
                                kColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, after);
    st.Bind(5, static_cast<int64_t>(limit));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      configs.push_back(ReadConfig(st));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return configs;
}

AsyncPolicy PolicyOf(const std::optional<EventInvokeConfig>& config, int64_t default_retries) {
  AsyncPolicy policy;
  policy.maximum_retry_attempts = default_retries;
  if (!config) return policy;
  if (config->maximum_retry_attempts) {
    policy.maximum_retry_attempts = *config->maximum_retry_attempts;
  }
  if (config->maximum_event_age_seconds) {
    policy.maximum_event_age_ms = *config->maximum_event_age_seconds * 1000;
  }
  policy.on_success = config->on_success;
  policy.on_failure = config->on_failure;
  return policy;
}

std::optional<FunctionDestination> ParseFunctionDestination(std::string_view arn) {
  // arn : partition : lambda : region : account : function : name [: qualifier]
  std::vector<std::string_view> parts;
  while (true) {
    size_t colon = arn.find(':');
    parts.push_back(arn.substr(0, colon));
    if (colon == std::string_view::npos) break;
    arn.remove_prefix(colon + 1);
  }
  if (parts.size() < 7 || parts.size() > 8 || parts[0] != "arn" || parts[2] != "lambda" ||
      parts[5] != "function" || parts[6].empty()) {
    return std::nullopt;
  }
  FunctionDestination d{{std::string(parts[4]), std::string(parts[3])}, std::string(parts[6]), ""};
  if (parts.size() == 8) d.qualifier = std::string(parts[7]);
  return d;
}

std::string InvocationRecord(std::string_view request_id, std::string_view function_arn,
                             std::string_view condition, int64_t invoke_count,
                             std::string_view request_payload,
                             const std::optional<InvocationResult>& response, int64_t now_ms) {
  // Members in AWS's order (its recorded records): version, timestamp, requestContext,
  // requestPayload, then responseContext and responsePayload.
  auto dump = [](const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  nlohmann::ordered_json head = {
      {"version", "1.0"},
      {"timestamp", FormatIsoTimestamp(now_ms)},
      {"requestContext",
       {{"requestId", request_id},
        {"functionArn", function_arn},
        {"condition", condition},
        {"approximateInvokeCount", invoke_count}}},
  };
  std::string record = dump(head);
  record.pop_back();  // the closing brace: the payloads follow as their own text
  record += ",\"requestPayload\":" + PayloadText(request_payload);
  if (response) {
    nlohmann::ordered_json context = {{"statusCode", 200},
                                      {"executedVersion", response->executed_version}};
    if (response->function_error) context["functionError"] = *response->function_error;
    record += ",\"responseContext\":" + dump(context);
    record += ",\"responsePayload\":" + PayloadText(response->payload);
  }
  record += '}';
  return record;
}

}  // namespace lambkin::exec
