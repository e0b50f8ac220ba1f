// FunctionUrls: the function URL configurations (Create/Get/Update/Delete/ListFunctionUrlConfigs),
// one per function (unqualified) or alias, kept in the store: every node serving URLs finds a
// URL's function there. Each URL has a random url-id of 32 lowercase letters and digits, unique
// in the store, its host name's first label (`<url-id>.lambda-url.<region>.<domain>`).
// Configurations go with their function (FOREIGN KEY … ON DELETE CASCADE). Errors carry AWS's
// wording (../shared/spec and the recorded answers in docs/behaviour.md). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "functions/model.h"
#include "store/database.h"

namespace lambkin::functions {

// Its table, as numbered migrations (subsystem "function_urls").
const store::Migrations& UrlSchema();

struct FunctionUrlConfig {
  Scope scope;
  std::string function_name;
  std::string qualifier;  // "" or an alias
  std::string url_id;
  std::string auth_type;      // NONE | AWS_IAM
  std::string cors;           // the Cors object's JSON text, "" when none
  std::string invoke_mode;    // BUFFERED
  int64_t creation_time = 0;  // ms since epoch
  int64_t last_modified = 0;
};

// What an update changes (absent: kept).
struct FunctionUrlUpdate {
  std::optional<std::string> auth_type;
  std::optional<std::string> cors;  // "" removes
  std::optional<std::string> invoke_mode;
};

class FunctionUrls {
 public:
  FunctionUrls(store::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  // kResourceNotFound "Function does not exist" for a missing function or alias;
  // kResourceConflict when the function (or alias) has a URL already.
  Result<FunctionUrlConfig> Create(FunctionUrlConfig config);
  // kResourceNotFound "The resource you requested does not exist." when there is no URL.
  Result<FunctionUrlConfig> Get(const Scope& scope, const std::string& name,
                                const std::string& qualifier);
  Result<FunctionUrlConfig> Update(const Scope& scope, const std::string& name,
                                   const std::string& qualifier, const FunctionUrlUpdate& update);
  Status Delete(const Scope& scope, const std::string& name, const std::string& qualifier);
  // The function's URLs ordered by qualifier (the function's first), from `marker` (the
  // qualifier to start at, "" for the start), at most `max_items`; next_marker when more remain.
  Result<std::pair<std::vector<FunctionUrlConfig>, std::string>> List(const Scope& scope,
                                                                      const std::string& name,
                                                                      const std::string& marker,
                                                                      int max_items);
  // The URL with this url-id (one indexed read), nullopt when none.
  Result<std::optional<FunctionUrlConfig>> Find(const std::string& url_id);

 private:
  store::Database* db_;
  const Clock* clock_;
};

// 32 random lowercase letters and digits.
std::string NewUrlId();

}  // namespace lambkin::functions
