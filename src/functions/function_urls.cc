#include "functions/function_urls.h"

#include <fmt/format.h>

#include "common/crypto.h"
#include "functions/function_service.h"

namespace lambkin::functions {

namespace {

using Txn = store::Database::Txn;

constexpr char kUrlDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS function_urls (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  qualifier TEXT NOT NULL,             -- '' for the function itself, or an alias
  url_id TEXT NOT NULL UNIQUE,
  auth_type TEXT NOT NULL,
  cors TEXT NOT NULL,                  -- the Cors object's JSON text, '' when none
  invoke_mode TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_modified INTEGER NOT NULL,
  alias TEXT,                          -- = qualifier when not '': goes with the alias
  PRIMARY KEY (account, region, name, qualifier),
  FOREIGN KEY (account, region, name) REFERENCES functions ON DELETE CASCADE,
  FOREIGN KEY (account, region, name, alias) REFERENCES aliases ON DELETE CASCADE
);
)sql";

constexpr char kColumns[] =
    "account, region, name, qualifier, url_id, auth_type, cors, invoke_mode, creation_time, "
    "last_modified";

FunctionUrlConfig Row(const store::Statement& st) {
  FunctionUrlConfig c;
  c.scope = Scope{st.ColumnText(0), st.ColumnText(1)};
  c.function_name = st.ColumnText(2);
  c.qualifier = st.ColumnText(3);
  c.url_id = st.ColumnText(4);
  c.auth_type = st.ColumnText(5);
  c.cors = st.ColumnText(6);
  c.invoke_mode = st.ColumnText(7);
  c.creation_time = st.ColumnInt(8);
  c.last_modified = st.ColumnInt(9);
  return c;
}

Status FunctionMissing() { return NotFound("Function does not exist"); }
Status UrlMissing() { return NotFound("The resource you requested does not exist."); }

// Whether the function, and the alias when `qualifier` names one, exist.
Result<bool> TargetExists(Txn& txn, const Scope& scope, const std::string& name,
                          const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare(qualifier.empty()
                      ? "SELECT 1 FROM functions WHERE account = ? AND region = ? AND name = ?"
                      : "SELECT 1 FROM aliases WHERE account = ? AND region = ? AND name = ? "
                        "AND alias = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
  if (!qualifier.empty()) st.Bind(4, qualifier);
  return st.Step();
}

Result<std::optional<FunctionUrlConfig>> Load(Txn& txn, const Scope& scope, const std::string& name,
                                              const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare(fmt::format("SELECT {} FROM function_urls WHERE account = ? AND region = ? AND "
                              "name = ? AND qualifier = ?",
                              kColumns)));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, qualifier);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<FunctionUrlConfig>();
  return std::optional<FunctionUrlConfig>(Row(st));
}

}  // namespace

const store::Migrations& UrlSchema() {
  static const store::Migrations kMigrations = {
      {"function_urls", 1, kUrlDdl, "", nullptr},
  };
  return kMigrations;
}

std::string NewUrlId() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string bytes = RandomBytes(32);
  std::string id;
  id.reserve(32);
  // 256 is not a multiple of 36: the slight bias does not matter for an unguessable name of
  // 32 characters (over 160 bits).
  for (char b : bytes) id += kAlphabet[static_cast<unsigned char>(b) % kAlphabet.size()];
  return id;
}

Result<FunctionUrlConfig> FunctionUrls::Create(FunctionUrlConfig config) {
  config.url_id = NewUrlId();
  config.creation_time = config.last_modified = clock_->NowMillis();
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        bool exists, TargetExists(txn, config.scope, config.function_name, config.qualifier));
    if (!exists) return FunctionMissing();
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement st,
        txn.Prepare(fmt::format("INSERT INTO function_urls ({}, alias) VALUES (?, ?, ?, ?, ?, ?, "
                                "?, ?, ?, ?, ?) ON CONFLICT (account, region, name, qualifier) "
                                "DO NOTHING",
                                kColumns)));
    st.Bind(1, config.scope.account).Bind(2, config.scope.region).Bind(3, config.function_name);
    st.Bind(4, config.qualifier).Bind(5, config.url_id).Bind(6, config.auth_type);
    st.Bind(7, config.cors).Bind(8, config.invoke_mode).Bind(9, config.creation_time);
    st.Bind(10, config.last_modified);
    st.Bind(11, config.qualifier.empty() ? std::optional<std::string>()
                                         : std::optional<std::string>(config.qualifier));
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    if (txn.Changes() == 0) {
      return Conflict(fmt::format(
          "Failed to create function url config for [functionArn = {}]. Error message:  "
          "FunctionUrlConfig exists for this Lambda function",
          FunctionArn(config.scope, config.function_name, config.qualifier)));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return config;
}

Result<FunctionUrlConfig> FunctionUrls::Get(const Scope& scope, const std::string& name,
                                            const std::string& qualifier) {
  std::optional<FunctionUrlConfig> out;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(out, Load(txn, scope, name, qualifier));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!out) return UrlMissing();
  return *out;
}

Result<FunctionUrlConfig> FunctionUrls::Update(const Scope& scope, const std::string& name,
                                               const std::string& qualifier,
                                               const FunctionUrlUpdate& update) {
  FunctionUrlConfig out;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, TargetExists(txn, scope, name, qualifier));
    if (!exists) return FunctionMissing();
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<FunctionUrlConfig> current,
                             Load(txn, scope, name, qualifier));
    if (!current) return UrlMissing();
    out = std::move(*current);
    if (update.auth_type) out.auth_type = *update.auth_type;
    if (update.cors) out.cors = *update.cors;
    if (update.invoke_mode) out.invoke_mode = *update.invoke_mode;
    out.last_modified = clock_->NowMillis();
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement st,
        txn.Prepare("UPDATE function_urls SET auth_type = ?, cors = ?, invoke_mode = ?, "
                    "last_modified = ? WHERE account = ? AND region = ? AND name = ? AND "
                    "qualifier = ?"));
    st.Bind(1, out.auth_type).Bind(2, out.cors).Bind(3, out.invoke_mode);
    st.Bind(4, out.last_modified).Bind(5, scope.account).Bind(6, scope.region).Bind(7, name);
    st.Bind(8, qualifier);
    return st.Run();
  });
  if (!s.ok()) return s;
  return out;
}

Status FunctionUrls::Delete(const Scope& scope, const std::string& name,
                            const std::string& qualifier) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement st,
        txn.Prepare("DELETE FROM function_urls WHERE account = ? AND region = ? AND name = ? AND "
                    "qualifier = ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, qualifier);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    if (txn.Changes() == 0) return UrlMissing();
    return Status::Ok();
  });
}

Result<std::pair<std::vector<FunctionUrlConfig>, std::string>> FunctionUrls::List(
    const Scope& scope, const std::string& name, const std::string& marker, int max_items) {
  std::pair<std::vector<FunctionUrlConfig>, std::string> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, TargetExists(txn, scope, name, ""));
    if (!exists) return FunctionMissing();
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement st,
        txn.Prepare(fmt::format("SELECT {} FROM function_urls WHERE account = ? AND region = ? "
                                "AND name = ? AND qualifier >= ? ORDER BY qualifier LIMIT ?",
                                kColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, marker);
    st.Bind(5, static_cast<int64_t>(max_items) + 1);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      if (static_cast<int>(out.first.size()) == max_items) {
        out.second = st.ColumnText(3);
        break;
      }
      out.first.push_back(Row(st));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<FunctionUrlConfig>> FunctionUrls::Find(const std::string& url_id) {
  std::optional<FunctionUrlConfig> out;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement st,
        txn.Prepare(fmt::format("SELECT {} FROM function_urls WHERE url_id = ?", kColumns)));
    st.Bind(1, url_id);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) out = Row(st);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace lambkin::functions
