#include "functions/function_service.h"

#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/lifecycle.h"
#include "common/crypto.h"
#include "functions/layers.h"

namespace lambkin::functions {

using catalog::Architecture;
using store::Database;

namespace {
constexpr char kFunctionsTableDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS functions (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  tags TEXT NOT NULL,
  next_version INTEGER NOT NULL,
  published_revision TEXT,
  published_version INTEGER,
  reserved_concurrency INTEGER,
  PRIMARY KEY (account, region, name)
);
)sql";
// function_versions as it is since functions migration 3: runtime_version NULL for an image.
// `create` is the statement's head ("CREATE TABLE IF NOT EXISTS function_versions").
std::string FunctionVersionsDdl(std::string_view create) {
  return fmt::format(R"sql(
{} (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,            -- 0 is $LATEST
  config TEXT NOT NULL,
  revision_id TEXT NOT NULL,
  last_modified INTEGER NOT NULL,
  runtime TEXT NOT NULL,               -- '' for an image
  architecture TEXT NOT NULL,
  update_mode TEXT NOT NULL,
  runtime_version INTEGER REFERENCES runtime_versions (id),  -- NULL for an image
  code_sha256 TEXT NOT NULL,           -- hex: the stored package, or the image's manifest digest
  PRIMARY KEY (account, region, name, version),
  FOREIGN KEY (account, region, name) REFERENCES functions ON DELETE CASCADE
);
)sql",
                     create);
}
constexpr char kFunctionVersionsIndexes[] = R"sql(
CREATE INDEX IF NOT EXISTS function_versions_for_sweep
  ON function_versions (region, runtime, update_mode, runtime_version);
CREATE INDEX IF NOT EXISTS function_versions_by_code ON function_versions (code_sha256);
)sql";
constexpr char kOtherTablesDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS aliases (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  alias TEXT NOT NULL,
  function_version TEXT NOT NULL,
  description TEXT NOT NULL,
  routing TEXT,
  revision_id TEXT NOT NULL,
  PRIMARY KEY (account, region, name, alias),
  FOREIGN KEY (account, region, name) REFERENCES functions ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS runtime_version_edits (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  old_runtime_version INTEGER,
  new_runtime_version INTEGER NOT NULL,
  update_mode TEXT NOT NULL,
  cause TEXT NOT NULL,
  batch INTEGER                        -- the phase-2 batch of a sweep migration
);
CREATE INDEX IF NOT EXISTS runtime_version_edits_by_function
  ON runtime_version_edits (account, region, name, seq);
)sql";
std::string FunctionsDdl() {
  return kFunctionsTableDdl + FunctionVersionsDdl("CREATE TABLE IF NOT EXISTS function_versions") +
         "DROP INDEX IF EXISTS function_versions_by_runtime;\n" + kFunctionVersionsIndexes +
         kOtherTablesDdl;
}

// Code packages by digest (functions/code_package.h): used on PostgreSQL, empty on SQLite.
constexpr char kCodePackagesDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS code_packages (
  sha256 TEXT PRIMARY KEY,             -- hex digest of `bytes`
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL                  -- the zip
);
)sql";
// Zips do not compress further; uncompressed out-of-line storage lets substr() read a piece
// without fetching the whole value.
constexpr char kCodePackagesPostgresDdl[] =
    "ALTER TABLE code_packages ALTER COLUMN bytes SET STORAGE EXTERNAL;";
// Image versions have no runtime version: runtime_version becomes nullable (SQLite cannot drop a
// NOT NULL constraint, so the table is rebuilt; nothing references it).
constexpr char kNullableRuntimeVersionCopy[] = R"sql(
INSERT INTO function_versions_v3 (account, region, name, version, config, revision_id,
  last_modified, runtime, architecture, update_mode, runtime_version, code_sha256)
SELECT account, region, name, version, config, revision_id, last_modified, runtime,
  architecture, update_mode, runtime_version, code_sha256 FROM function_versions;
DROP TABLE function_versions;
ALTER TABLE function_versions_v3 RENAME TO function_versions;
)sql";
constexpr char kNullableRuntimeVersionPostgres[] =
    "ALTER TABLE function_versions ALTER COLUMN runtime_version DROP NOT NULL;";
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"functions", 1, FunctionsDdl(), "",
       [](store::Txn& txn) {
         // Stores from before phase-2 batches were recorded.
         return store::AddColumnIfMissing(txn, "runtime_version_edits", "batch", "INTEGER");
       }},
      {"functions", 2, kCodePackagesDdl,
       store::PostgresDdl(kCodePackagesDdl) + kCodePackagesPostgresDdl, nullptr},
      {"functions", 3,
       FunctionVersionsDdl("CREATE TABLE function_versions_v3") + kNullableRuntimeVersionCopy +
           kFunctionVersionsIndexes,
       kNullableRuntimeVersionPostgres, nullptr},
      // When each version's update mode last changed (a Manual pin's age in the compliance
      // report: a pin to the version already running records no runtime version edit).
      {"functions", 4, R"sql(
CREATE TABLE IF NOT EXISTS update_mode_changes (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  update_mode TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (account, region, name, version),
  FOREIGN KEY (account, region, name, version) REFERENCES function_versions ON DELETE CASCADE
);
)sql",
       "", nullptr},
  };
  // Function versions record their layers (layers.h), so the layers subsystem comes with them.
  static const store::Migrations kWithLayers = kMigrations + LayersSchema();
  return kWithLayers;
}

namespace {

constexpr char kImageUriRequired[] =
    "Please provide ImageUri when updating a function with packageType Image.";
constexpr char kImageUriRefused[] =
    "Please don't provide ImageUri when updating a function with packageType Zip.";
constexpr char kImageRuntimeHandler[] =
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType is "
    "Image.";
constexpr char kImageConfigOnZip[] =
    "ImageConfig can only be set on a function with packageType Image.";
constexpr char kImageRuntimeManagement[] =
    "Runtime management configuration is not available for functions with packageType Image: "
    "rebuild the image from the updated base image and redeploy the function.";

constexpr char kRevisionMismatch[] =
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id";

using Txn = Database::Txn;

std::string VersionName(int64_t num) {
  return num == 0 ? std::string(kLatest) : std::to_string(num);
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status PreconditionFailed() { return {StatusCode::kPreconditionFailed, kRevisionMismatch}; }

nlohmann::json ConfigToJson(const FunctionConfig& c) {
  nlohmann::json j = {{"handler", c.handler},
                      {"description", c.description},
                      {"role", c.role},
                      {"memory_size", c.memory_size},
                      {"timeout", c.timeout},
                      {"ephemeral_storage", c.ephemeral_storage},
                      {"code_sha256", c.code_sha256},
                      {"code_size", c.code_size}};
  if (c.environment) j["environment"] = *c.environment;
  if (c.tracing_mode != "PassThrough") j["tracing_mode"] = c.tracing_mode;
  if (c.vpc_config) j["vpc_config"] = true;
  if (!c.logging.format.empty() || !c.logging.group.empty()) {
    j["logging"] = {{"format", c.logging.format},
                    {"application_level", c.logging.application_level},
                    {"system_level", c.logging.system_level},
                    {"group", c.logging.group}};
  }
  if (c.code_unzipped_size != 0) j["code_unzipped_size"] = c.code_unzipped_size;
  if (!c.layers.empty()) {
    nlohmann::json layers = nlohmann::json::array();
    for (const FunctionLayer& l : c.layers) {
      layers.push_back({{"arn", l.arn},
                        {"code_size", l.code_size},
                        {"sha256", l.sha256_hex},
                        {"unzipped_size", l.unzipped_size}});
    }
    j["layers"] = std::move(layers);
  }
  if (c.package_type == PackageType::kImage) {
    j["package_type"] = "Image";
    j["image_uri"] = c.image_uri;
    j["image_digest"] = c.image_digest;
    j["image_base"] = c.image_base;
    if (c.image_config) {
      nlohmann::json ic = nlohmann::json::object();
      if (c.image_config->entry_point) ic["EntryPoint"] = *c.image_config->entry_point;
      if (c.image_config->command) ic["Command"] = *c.image_config->command;
      if (c.image_config->working_directory) {
        ic["WorkingDirectory"] = *c.image_config->working_directory;
      }
      j["image_config"] = std::move(ic);
    }
  }
  return j;
}

FunctionConfig ConfigFromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  FunctionConfig c;
  c.handler = j.value("handler", "");
  c.description = j.value("description", "");
  c.role = j.value("role", "");
  c.memory_size = j.value("memory_size", int64_t{128});
  c.timeout = j.value("timeout", int64_t{3});
  c.ephemeral_storage = j.value("ephemeral_storage", int64_t{512});
  c.code_sha256 = j.value("code_sha256", "");
  c.code_size = j.value("code_size", int64_t{0});
  if (j.contains("environment")) {
    c.environment = j["environment"].get<std::map<std::string, std::string>>();
  }
  c.tracing_mode = j.value("tracing_mode", "PassThrough");
  c.vpc_config = j.value("vpc_config", false);
  if (auto it = j.find("logging"); it != j.end()) {
    c.logging.format = it->value("format", "");
    c.logging.application_level = it->value("application_level", "");
    c.logging.system_level = it->value("system_level", "");
    c.logging.group = it->value("group", "");
  }
  c.code_unzipped_size = j.value("code_unzipped_size", int64_t{0});
  if (auto it = j.find("layers"); it != j.end()) {
    for (const nlohmann::json& l : *it) {
      c.layers.push_back(FunctionLayer{l.value("arn", ""), l.value("code_size", int64_t{0}),
                                       l.value("sha256", ""),
                                       l.value("unzipped_size", int64_t{0})});
    }
  }
  if (j.value("package_type", "Zip") == "Image") {
    c.package_type = PackageType::kImage;
    c.image_uri = j.value("image_uri", "");
    c.image_digest = j.value("image_digest", "");
    c.image_base = j.value("image_base", int64_t{0});
    if (j.contains("image_config")) {
      const nlohmann::json& ic = j["image_config"];
      ImageConfigOverrides o;
      if (ic.contains("EntryPoint")) {
        o.entry_point = ic["EntryPoint"].get<std::vector<std::string>>();
      }
      if (ic.contains("Command")) o.command = ic["Command"].get<std::vector<std::string>>();
      if (ic.contains("WorkingDirectory")) {
        o.working_directory = ic["WorkingDirectory"].get<std::string>();
      }
      c.image_config = std::move(o);
    }
  }
  return c;
}

// The reserved concurrency of all the scope's functions together.
Result<int64_t> ReservedConcurrencySum(Txn& txn, const Scope& scope) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT COALESCE(SUM(reserved_concurrency), 0) "
                                                "FROM functions WHERE account = ? AND region = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region);
  LAMBKIN_RETURN_IF_ERROR(st.Step().status());
  return st.ColumnInt(0);
}

constexpr char kVersionColumns[] =
    "name, version, config, revision_id, last_modified, runtime, architecture, update_mode, "
    "runtime_version";

FunctionVersion ReadVersion(const store::Statement& st) {
  FunctionVersion v;
  v.function_name = st.ColumnText(0);
  v.version = VersionName(st.ColumnInt(1));
  v.config = ConfigFromJson(st.ColumnText(2));
  v.revision_id = st.ColumnText(3);
  v.last_modified = st.ColumnInt(4);
  v.config.runtime = st.ColumnText(5);
  v.config.architecture =
      catalog::ParseArchitecture(st.ColumnText(6)).value_or(Architecture::kX86_64);
  v.update_mode = ParseUpdateMode(st.ColumnText(7)).value_or(UpdateMode::kAuto);
  v.runtime_version = st.ColumnInt(8);
  return v;
}

Result<std::optional<FunctionVersion>> LoadVersion(Txn& txn, const Scope& scope,
                                                   const std::string& name, int64_t num) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM function_versions WHERE account = ? AND region = ? AND name = ? AND "
      "version = ?",
      kVersionColumns);
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(kSql));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, num);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<FunctionVersion>();
  return std::optional<FunctionVersion>(ReadVersion(st));
}

Status StoreVersion(Txn& txn, const Scope& scope, const FunctionVersion& v) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("INSERT INTO function_versions (account, region, name, version, "
                           "config, revision_id, last_modified, runtime, architecture, "
                           "update_mode, runtime_version, code_sha256) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                           "ON CONFLICT (account, region, name, version) DO UPDATE SET "
                           "config = excluded.config, revision_id = excluded.revision_id, "
                           "last_modified = excluded.last_modified, runtime = excluded.runtime, "
                           "architecture = excluded.architecture, "
                           "update_mode = excluded.update_mode, "
                           "runtime_version = excluded.runtime_version, "
                           "code_sha256 = excluded.code_sha256"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, v.function_name);
  st.Bind(4, *VersionNumber(v.version)).Bind(5, ConfigToJson(v.config).dump());
  st.Bind(6, v.revision_id).Bind(7, v.last_modified).Bind(8, v.config.runtime);
  st.Bind(9, catalog::ArchitectureName(v.config.architecture));
  st.Bind(10, UpdateModeName(v.update_mode));
  if (v.config.package_type == PackageType::kImage) {
    st.BindNull(11);
  } else {
    st.Bind(11, v.runtime_version);
  }
  st.Bind(12, CodeSha256Hex(v.config));
  LAMBKIN_RETURN_IF_ERROR(st.Run());
  return StoreFunctionVersionLayers(txn, scope, v.function_name, *VersionNumber(v.version),
                                    v.config.layers);
}

// sha256:<hex> -> <hex>: an image's CodeSha256.
std::string DigestHex(std::string_view digest) {
  return std::string(digest.substr(digest.find(':') + 1));
}

// The runtime version a version's history follows: its own, or for an image the runtime
// version recognised as its base (0: none).
int64_t TrackedRuntimeVersion(const FunctionVersion& v) {
  return v.config.package_type == PackageType::kImage ? v.config.image_base : v.runtime_version;
}

Status RecordEdit(Txn& txn, const Scope& scope, const FunctionVersion& v,
                  std::optional<int64_t> old_rv, std::string_view cause, int64_t now) {
  int64_t new_rv = TrackedRuntimeVersion(v);
  if (new_rv == 0 || (old_rv && *old_rv == new_rv)) return Status::Ok();
  if (old_rv && *old_rv == 0) old_rv.reset();
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("INSERT INTO runtime_version_edits (at, account, region, name, "
                           "version, old_runtime_version, new_runtime_version, update_mode, "
                           "cause) VALUES (?,?,?,?,?,?,?,?,?)"));
  st.Bind(1, now).Bind(2, scope.account).Bind(3, scope.region).Bind(4, v.function_name);
  st.Bind(5, *VersionNumber(v.version)).Bind(6, old_rv).Bind(7, new_rv);
  st.Bind(8, UpdateModeName(v.update_mode)).Bind(9, cause);
  return st.Run();
}

struct FunctionRow {
  std::map<std::string, std::string> tags;
  int64_t next_version = 1;
  std::optional<std::string> published_revision;
  std::optional<int64_t> published_version;
};

Result<std::optional<FunctionRow>> LoadFunction(Txn& txn, const Scope& scope,
                                                const std::string& name) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT tags, next_version, published_revision, published_version "
                           "FROM functions WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<FunctionRow>();
  FunctionRow f;
  f.tags = nlohmann::json::parse(st.ColumnText(0)).get<std::map<std::string, std::string>>();
  f.next_version = st.ColumnInt(1);
  f.published_revision = st.ColumnOptionalText(2);
  f.published_version = st.ColumnOptionalInt(3);
  return std::optional<FunctionRow>(std::move(f));
}

Result<std::optional<Alias>> LoadAlias(Txn& txn, const Scope& scope, const std::string& function,
                                       const std::string& alias) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT alias, function_version, description, routing, revision_id "
                           "FROM aliases WHERE account = ? AND region = ? AND name = ? AND "
                           "alias = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, alias);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<Alias>();
  Alias a;
  a.function_name = function;
  a.name = st.ColumnText(0);
  a.function_version = st.ColumnText(1);
  a.description = st.ColumnText(2);
  if (auto r = st.ColumnOptionalText(3)) {
    a.routing = RoutingConfig{nlohmann::json::parse(*r).get<std::map<std::string, double>>()};
  }
  a.revision_id = st.ColumnText(4);
  return std::optional<Alias>(std::move(a));
}

Status StoreAlias(Txn& txn, const Scope& scope, const Alias& a) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("INSERT INTO aliases (account, region, name, alias, "
                           "function_version, description, routing, revision_id) "
                           "VALUES (?,?,?,?,?,?,?,?) "
                           "ON CONFLICT (account, region, name, alias) DO UPDATE SET "
                           "function_version = excluded.function_version, "
                           "description = excluded.description, routing = excluded.routing, "
                           "revision_id = excluded.revision_id"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, a.function_name).Bind(4, a.name);
  st.Bind(5, a.function_version).Bind(6, a.description);
  if (a.routing) {
    st.Bind(7, nlohmann::json(a.routing->additional_version_weights).dump());
  } else {
    st.BindNull(7);
  }
  st.Bind(8, a.revision_id);
  return st.Run();
}

// Markers are opaque to clients: base64 of the sort key of the last item returned.
std::string EncodeMarker(std::string_view key) { return Base64Encode(key); }

Result<std::string> DecodeMarker(const std::string& marker) {
  if (marker.empty()) return std::string();
  auto raw = Base64Decode(marker);
  if (!raw) return InvalidParameter(fmt::format("Invalid marker: {}", marker));
  return *raw;
}

}  // namespace

std::string_view PackageTypeName(PackageType type) {
  return type == PackageType::kImage ? "Image" : "Zip";
}

std::string ResolvedImageUri(const FunctionConfig& config) {
  std::string_view uri = config.image_uri;
  if (size_t at = uri.find('@'); at != std::string_view::npos) {
    uri = uri.substr(0, at);
  } else if (size_t colon = uri.rfind(':'); colon != std::string_view::npos &&
                                            uri.find('/', colon) == std::string_view::npos &&
                                            colon > uri.find('/')) {
    uri = uri.substr(0, colon);  // the tag (a port is before the first '/')
  }
  return fmt::format("{}@{}", uri, config.image_digest);
}

std::optional<int64_t> VersionNumber(std::string_view q) {
  if (q.empty() || q == kLatest) return 0;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(q.data(), q.data() + q.size(), n);
  if (ec != std::errc() || p != q.data() + q.size() || n < 1) return std::nullopt;
  return n;
}

std::string ConfigFingerprint(const FunctionConfig& config) { return ConfigToJson(config).dump(); }

std::string DefaultLogGroupName(std::string_view function_name) {
  return fmt::format("/aws/lambda/{}", function_name);
}

std::string LogGroupName(const FunctionConfig& config, std::string_view function_name) {
  if (!config.logging.group.empty()) return config.logging.group;
  return DefaultLogGroupName(function_name);
}

std::string CodeSha256Hex(const FunctionConfig& config) {
  if (config.package_type == PackageType::kImage) return config.code_sha256;
  auto raw = Base64Decode(config.code_sha256);
  return raw ? HexEncode(*raw) : std::string();
}

std::string_view UpdateModeName(UpdateMode mode) {
  switch (mode) {
    case UpdateMode::kAuto:
      return "Auto";
    case UpdateMode::kFunctionUpdate:
      return "FunctionUpdate";
    case UpdateMode::kManual:
      return "Manual";
  }
  return "Auto";
}

std::optional<UpdateMode> ParseUpdateMode(std::string_view name) {
  if (name == "Auto") return UpdateMode::kAuto;
  if (name == "FunctionUpdate") return UpdateMode::kFunctionUpdate;
  if (name == "Manual") return UpdateMode::kManual;
  return std::nullopt;
}

std::string FunctionArn(const Scope& scope, std::string_view name, std::string_view qualifier) {
  std::string arn =
      fmt::format("arn:{}:lambda:{}:{}:function:{}", catalog::PartitionOf(scope.region),
                  scope.region, scope.account, name);
  if (!qualifier.empty()) arn += fmt::format(":{}", qualifier);
  return arn;
}

namespace {

Status FunctionNotFound(const Scope& scope, std::string_view name, std::string_view qualifier) {
  return NotFound(fmt::format("Function not found: {}", FunctionArn(scope, name, qualifier)));
}

// Resolves a qualifier (empty, $LATEST, a number or an alias) to a version number.
Result<int64_t> ResolveQualifier(Txn& txn, const Scope& scope, const std::string& name,
                                 const std::string& qualifier) {
  if (auto num = VersionNumber(qualifier)) return *num;
  if (IsAllDigits(qualifier)) return FunctionNotFound(scope, name, qualifier);
  LAMBKIN_ASSIGN_OR_RETURN(auto alias, LoadAlias(txn, scope, name, qualifier));
  if (!alias) return FunctionNotFound(scope, name, qualifier);
  return *VersionNumber(alias->function_version);
}

// Loads a version or fails with AWS's not-found error.
Result<FunctionVersion> RequireVersion(Txn& txn, const Scope& scope, const std::string& name,
                                       const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(int64_t num, ResolveQualifier(txn, scope, name, qualifier));
  LAMBKIN_ASSIGN_OR_RETURN(auto v, LoadVersion(txn, scope, name, num));
  if (!v) return FunctionNotFound(scope, name, qualifier);
  return *v;
}

Status RequireFunction(Txn& txn, const Scope& scope, const std::string& name) {
  LAMBKIN_ASSIGN_OR_RETURN(auto f, LoadFunction(txn, scope, name));
  if (!f) return FunctionNotFound(scope, name, {});
  return Status::Ok();
}

}  // namespace

bool FunctionService::RuntimeManagementControls(const Scope& scope) const {
  return regions_->HasRuntimeManagementControls(scope.region);
}

std::string FunctionService::RuntimeVersionArn(const Scope& scope, const FunctionVersion& v) const {
  return catalog_->Arn(v.runtime_version, scope.region, v.config.architecture);
}

Result<int64_t> FunctionService::NewestRuntimeVersion(Txn& txn, const Scope& scope,
                                                      const std::string& runtime,
                                                      catalog::ReleaseStage stage) const {
  LAMBKIN_ASSIGN_OR_RETURN(auto newest,
                           catalog::Catalog::NewestReleased(txn, runtime, scope.region, stage));
  if (!newest) {
    return InvalidParameter(
        fmt::format("No runtime version of {} is available in {}", runtime, scope.region));
  }
  return *newest;
}

namespace {

// Removes the packages of `codes` that no function version uses any more. This runs under the
// store's write lock, which also covers every CodePackageStore::Put(), so a package cannot
// vanish under a new user.
Status RemoveUnusedPackages(Txn& txn, CodePackageStore* code, const std::set<std::string>& codes,
                            CodePackageStore::Local local) {
  for (const auto& sha : codes) {
    LAMBKIN_RETURN_IF_ERROR(RemoveUnusedPackage(txn, code, sha, local));
  }
  return Status::Ok();
}

// Publishes $LATEST as a new version inside `txn` (or returns the existing one if $LATEST has
// not changed since the last publish). `latest` takes $LATEST's new RevisionId.
Result<FunctionVersion> PublishLocked(Txn& txn, const Scope& scope, FunctionVersion& latest,
                                      const std::optional<std::string>& description, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(auto fn, LoadFunction(txn, scope, latest.function_name));
  if (fn->published_revision == latest.revision_id && fn->published_version) {
    LAMBKIN_ASSIGN_OR_RETURN(auto existing,
                             LoadVersion(txn, scope, latest.function_name, *fn->published_version));
    if (existing) return *existing;
  }
  FunctionVersion v = latest;
  v.version = std::to_string(fn->next_version);
  v.revision_id = RandomUuid();
  v.last_modified = now;
  if (description) v.config.description = *description;
  LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, v));
  LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, v, std::nullopt, "publish", now));
  // Publishing from $LATEST changes its metadata: AWS gives it a new RevisionId (and the
  // published version its own). The new one is what "unchanged since the last publish" compares.
  latest.revision_id = RandomUuid();
  LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, latest));
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("UPDATE functions SET next_version = ?, published_revision = ?, "
                           "published_version = ? WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, fn->next_version + 1).Bind(2, latest.revision_id).Bind(3, fn->next_version);
  st.Bind(4, scope.account).Bind(5, scope.region).Bind(6, latest.function_name);
  LAMBKIN_RETURN_IF_ERROR(st.Run());
  return v;
}

}  // namespace

Result<WriteResult> FunctionService::CreateFunction(const Scope& scope, CreateFunctionCommand cmd) {
  const bool image = cmd.config.package_type == PackageType::kImage;
  CodePackageInfo info;
  if (image) {
    if (!cmd.layers.empty()) return InvalidParameter(kImageRuntimeHandler);
    cmd.config.runtime.clear();
    cmd.config.handler.clear();
    info.sha256_base64 = DigestHex(cmd.config.image_digest);  // CodeSha256; size 0
  } else {
    LAMBKIN_ASSIGN_OR_RETURN(info, InspectZip(cmd.zip));
    if (!catalog_->HasRuntime(cmd.config.runtime)) {
      return InvalidParameter(fmt::format("Runtime {} is not available", cmd.config.runtime));
    }
  }
  int64_t now = clock_->NowMillis();
  FunctionVersion latest;
  latest.function_name = cmd.name;
  latest.version = std::string(kLatest);
  latest.config = std::move(cmd.config);
  latest.config.code_sha256 = info.sha256_base64;
  latest.config.code_size = info.size;
  latest.config.code_unzipped_size = info.unzipped_size;
  latest.revision_id = RandomUuid();
  latest.last_modified = now;
  latest.update_mode = UpdateMode::kAuto;

  WriteResult result;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    // AWS checks the layers before whether the name is taken (its recorded answers: a layer
    // of another region is refused even when the function exists).
    if (!image) {
      LAMBKIN_ASSIGN_OR_RETURN(
          latest.config.layers,
          ResolveFunctionLayers(txn, scope, cmd.layer_caller, cmd.layers, info.unzipped_size));
    }
    LAMBKIN_ASSIGN_OR_RETURN(auto existing, LoadFunction(txn, scope, cmd.name));
    if (existing) return Conflict(fmt::format("Function already exist: {}", cmd.name));
    if (!image) {
      LAMBKIN_RETURN_IF_ERROR(catalog::CheckLifecycle(txn, latest.config.runtime,
                                                      catalog::LifecycleGate::kCreate, now));
      LAMBKIN_ASSIGN_OR_RETURN(
          latest.runtime_version,
          NewestRuntimeVersion(txn, scope, latest.config.runtime, catalog::ReleaseStage::kPhase1));
      LAMBKIN_RETURN_IF_ERROR(code_->Put(txn, info, cmd.zip));
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("INSERT INTO functions (account, region, name, tags, next_version) "
                             "VALUES (?,?,?,?,1)"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, cmd.name);
    st.Bind(4, nlohmann::json(cmd.tags).dump());
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, latest));
    LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, latest, std::nullopt, "create", now));
    result.latest = latest;
    if (cmd.publish) {
      LAMBKIN_ASSIGN_OR_RETURN(result.published,
                               PublishLocked(txn, scope, result.latest, std::nullopt, now));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

Result<FunctionVersion> FunctionService::GetFunctionVersion(const Scope& scope,
                                                            const std::string& name,
                                                            const std::string& qualifier) {
  FunctionVersion out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(out, RequireVersion(txn, scope, name, qualifier));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<FunctionVersion> FunctionService::ResolveInvocation(const Scope& scope,
                                                           const std::string& name,
                                                           const std::string& qualifier,
                                                           double weight_draw) {
  FunctionVersion out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    std::string target = qualifier;
    if (!VersionNumber(qualifier) && !IsAllDigits(qualifier)) {
      LAMBKIN_ASSIGN_OR_RETURN(auto alias, LoadAlias(txn, scope, name, qualifier));
      if (alias) {
        target = alias->function_version;
        if (alias->routing) {
          for (const auto& [version, weight] : alias->routing->additional_version_weights) {
            if (weight_draw < weight) target = version;
          }
        }
      }
    }
    LAMBKIN_ASSIGN_OR_RETURN(out, RequireVersion(txn, scope, name, target));
    return Status::Ok();
  });
  if (!s.ok()) {
    // Invoke always names the qualified ARN, $LATEST included.
    if (s.code() == StatusCode::kResourceNotFound) {
      return FunctionNotFound(scope, name, qualifier.empty() ? kLatest : qualifier);
    }
    return s;
  }
  return out;
}

Result<std::optional<int64_t>> FunctionService::GetReservedConcurrency(const Scope& scope,
                                                                       const std::string& name) {
  std::optional<int64_t> out;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT reserved_concurrency FROM functions WHERE account = ? AND "
                             "region = ? AND name = ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return FunctionNotFound(scope, name, {});  // AWS names no qualifier here
    out = st.ColumnOptionalInt(0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status FunctionService::PutReservedConcurrency(const Scope& scope, const std::string& name,
                                               std::optional<int64_t> reserved) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE functions SET reserved_concurrency = ? WHERE account = ? "
                             "AND region = ? AND name = ?"));
    st.Bind(1, reserved).Bind(2, scope.account).Bind(3, scope.region).Bind(4, name);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    if (txn.Changes() == 0) return FunctionNotFound(scope, name, kLatest);
    if (!reserved) return Status::Ok();
    // The sum includes the new value; write transactions are serialised, so no other
    // reservation can commit between this check and ours.
    LAMBKIN_ASSIGN_OR_RETURN(int64_t total, ReservedConcurrencySum(txn, scope));
    if (limits_.concurrent_executions - total < limits_.min_unreserved_concurrency) {
      return Status(StatusCode::kBelowAccountMinimum,
                    fmt::format("Specified ReservedConcurrentExecutions for function decreases "
                                "account's UnreservedConcurrentExecution below its minimum value "
                                "of [{}].",
                                limits_.min_unreserved_concurrency));
    }
    return Status::Ok();
  });
}

Result<AccountUsage> FunctionService::GetAccountUsage(const Scope& scope) {
  AccountUsage usage;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto count, txn.Prepare("SELECT COUNT(*) FROM functions WHERE account = ? AND region = ?"));
    count.Bind(1, scope.account).Bind(2, scope.region);
    LAMBKIN_RETURN_IF_ERROR(count.Step().status());
    usage.function_count = count.ColumnInt(0);
    LAMBKIN_ASSIGN_OR_RETURN(usage.reserved_concurrency, ReservedConcurrencySum(txn, scope));
    // Every version keeps its own package, as Lambda counts it (a publish adds its size again).
    LAMBKIN_ASSIGN_OR_RETURN(
        auto configs,
        txn.Prepare("SELECT config FROM function_versions WHERE account = ? AND region = ?"));
    configs.Bind(1, scope.account).Bind(2, scope.region);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, configs.Step());
      if (!row) break;
      usage.total_code_size += ConfigFromJson(configs.ColumnText(0)).code_size;
    }
    // Layer archives count too ("deployment packages and layer archives").
    LAMBKIN_ASSIGN_OR_RETURN(
        auto layers, txn.Prepare("SELECT COALESCE(SUM(code_size), 0) FROM layer_versions WHERE "
                                 "account = ? AND region = ?"));
    layers.Bind(1, scope.account).Bind(2, scope.region);
    LAMBKIN_RETURN_IF_ERROR(layers.Step().status());
    usage.total_code_size += layers.ColumnInt(0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return usage;
}

Status FunctionService::TagFunction(const Scope& scope, const std::string& name,
                                    const std::map<std::string, std::string>& add,
                                    const std::vector<std::string>& remove) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto f, LoadFunction(txn, scope, name));
    if (!f) return FunctionNotFound(scope, name, {});
    for (const auto& [k, v] : add) f->tags[k] = v;
    for (const std::string& k : remove) f->tags.erase(k);
    if (f->tags.size() > kMaxTags) {
      return InvalidParameter("Number of tags exceeds resource tag limit.");
    }
    // Tags are metadata of $LATEST for RevisionId purposes: AWS issues it a new one. A tag
    // change alone is not a change worth a new version, so "published" follows the bump.
    LAMBKIN_ASSIGN_OR_RETURN(auto latest, LoadVersion(txn, scope, name, 0));
    if (!latest) return FunctionNotFound(scope, name, {});
    std::string revision = RandomUuid();
    if (f->published_revision == latest->revision_id) f->published_revision = revision;
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("UPDATE functions SET tags = ?, published_revision = ? "
                                         "WHERE account = ? AND region = ? AND name = ?"));
    st.Bind(1, nlohmann::json(f->tags).dump()).Bind(2, f->published_revision);
    st.Bind(3, scope.account).Bind(4, scope.region).Bind(5, name);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    LAMBKIN_ASSIGN_OR_RETURN(
        auto bump, txn.Prepare("UPDATE function_versions SET revision_id = ? WHERE account = ? "
                               "AND region = ? AND name = ? AND version = 0"));
    bump.Bind(1, revision).Bind(2, scope.account).Bind(3, scope.region).Bind(4, name);
    return bump.Run();
  });
}

Result<Function> FunctionService::GetFunction(const Scope& scope, const std::string& name) {
  Function out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto f, LoadFunction(txn, scope, name));
    if (!f) return FunctionNotFound(scope, name, {});
    out.name = name;
    out.tags = f->tags;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Page<FunctionVersion>> FunctionService::ListFunctions(const Scope& scope, bool all_versions,
                                                             const std::string& marker,
                                                             int max_items) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string after, DecodeMarker(marker));
  std::string after_name;
  int64_t after_version = -1;
  if (!after.empty()) {
    size_t sep = after.find('\n');
    after_name = after.substr(0, sep);
    if (sep != std::string::npos) after_version = std::stoll(after.substr(sep + 1));
  }
  Page<FunctionVersion> page;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(fmt::format(
                     "SELECT {} FROM function_versions WHERE account = ? AND region = ? AND "
                     "(? = 1 OR version = 0) AND (name > ? OR (name = ? AND version > ?)) "
                     "ORDER BY name, version LIMIT ?",
                     kVersionColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, all_versions ? 1 : 0);
    st.Bind(4, after_name).Bind(5, after_name).Bind(6, after.empty() ? -1 : after_version);
    st.Bind(7, max_items + 1);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      page.items.push_back(ReadVersion(st));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (static_cast<int>(page.items.size()) > max_items) {
    page.items.resize(static_cast<size_t>(max_items));
    const auto& last = page.items.back();
    page.next_marker =
        EncodeMarker(fmt::format("{}\n{}", last.function_name, *VersionNumber(last.version)));
  }
  return page;
}

Result<WriteResult> FunctionService::UpdateFunctionCode(const Scope& scope, const std::string& name,
                                                        UpdateCodeCommand cmd) {
  CodePackageInfo info;
  if (!cmd.image) {
    LAMBKIN_ASSIGN_OR_RETURN(info, InspectZip(cmd.zip));
  }
  int64_t now = clock_->NowMillis();
  WriteResult result;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(FunctionVersion latest, RequireVersion(txn, scope, name, ""));
    if (latest.config.package_type == PackageType::kImage) {
      if (!cmd.image) return InvalidParameter(kImageUriRequired);
      if (cmd.revision_id && *cmd.revision_id != latest.revision_id) return PreconditionFailed();
      std::optional<int64_t> old_base = TrackedRuntimeVersion(latest);
      if (cmd.architecture) latest.config.architecture = *cmd.architecture;
      latest.config.image_uri = cmd.image->uri;
      latest.config.image_digest = cmd.image->digest;
      latest.config.image_base = cmd.image->base;
      latest.config.code_sha256 = DigestHex(cmd.image->digest);
      latest.config.code_size = 0;
      if (cmd.dry_run) {
        result.latest = latest;
        return Status::Ok();
      }
      latest.revision_id = RandomUuid();
      latest.last_modified = now;
      LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, latest));
      LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, latest, old_base, cmd.cause, now));
      result.latest = latest;
      if (cmd.publish) {
        LAMBKIN_ASSIGN_OR_RETURN(result.published,
                                 PublishLocked(txn, scope, result.latest, std::nullopt, now));
      }
      return Status::Ok();
    }
    if (cmd.image) return InvalidParameter(kImageUriRefused);
    if (cmd.revision_id && *cmd.revision_id != latest.revision_id) return PreconditionFailed();
    LAMBKIN_RETURN_IF_ERROR(
        catalog::CheckLifecycle(txn, latest.config.runtime, catalog::LifecycleGate::kUpdate, now));
    bool arch_change = cmd.architecture && *cmd.architecture != latest.config.architecture;
    if (arch_change && latest.update_mode == UpdateMode::kManual) {
      return InvalidParameter(fmt::format(
          "You can't change the architecture of function {} while its runtime update mode is "
          "Manual. Change the runtime update mode of $LATEST to Auto or FunctionUpdate first.",
          FunctionArn(scope, name)));
    }
    int64_t old_rv = latest.runtime_version;
    std::string old_code = CodeSha256Hex(latest.config);
    if (cmd.architecture) latest.config.architecture = *cmd.architecture;
    latest.config.code_sha256 = info.sha256_base64;
    latest.config.code_size = info.size;
    latest.config.code_unzipped_size = info.unzipped_size;
    // The new code must still fit beside the layers.
    LAMBKIN_RETURN_IF_ERROR(CheckCombinedSize(info.unzipped_size, latest.config.layers));
    if (latest.update_mode != UpdateMode::kManual) {
      LAMBKIN_ASSIGN_OR_RETURN(
          latest.runtime_version,
          NewestRuntimeVersion(txn, scope, latest.config.runtime, catalog::ReleaseStage::kPhase1));
    }
    if (cmd.dry_run) {
      result.latest = latest;
      return Status::Ok();
    }
    latest.revision_id = RandomUuid();
    latest.last_modified = now;
    LAMBKIN_RETURN_IF_ERROR(code_->Put(txn, info, cmd.zip));
    LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, latest));
    // The replaced package, if nothing else uses it. Environments may still run it, so this
    // node's copy stays (on SQLite, the only copy: there nothing is removed).
    if (!old_code.empty() && old_code != info.sha256_hex) {
      LAMBKIN_RETURN_IF_ERROR(
          RemoveUnusedPackages(txn, code_, {old_code}, CodePackageStore::Local::kKeep));
    }
    LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, latest, old_rv, cmd.cause, now));
    result.latest = latest;
    if (cmd.publish) {
      LAMBKIN_ASSIGN_OR_RETURN(result.published,
                               PublishLocked(txn, scope, result.latest, std::nullopt, now));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!cmd.dry_run && observer_ != nullptr) {
    observer_->OnFunctionChanged(scope, name, std::string(kLatest));
  }
  return result;
}

Result<FunctionVersion> FunctionService::UpdateFunctionConfiguration(
    const Scope& scope, const std::string& name, const UpdateConfigurationCommand& cmd) {
  if (cmd.runtime && !catalog_->HasRuntime(*cmd.runtime)) {
    return InvalidParameter(fmt::format("Runtime {} is not available", *cmd.runtime));
  }
  int64_t now = clock_->NowMillis();
  FunctionVersion out;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(FunctionVersion latest, RequireVersion(txn, scope, name, ""));
    if (cmd.revision_id && *cmd.revision_id != latest.revision_id) return PreconditionFailed();
    const bool image = latest.config.package_type == PackageType::kImage;
    if (image && (cmd.runtime || cmd.handler || (cmd.layers && !cmd.layers->empty()))) {
      return InvalidParameter(kImageRuntimeHandler);
    }
    if (!image && cmd.image_config) return InvalidParameter(kImageConfigOnZip);
    bool runtime_change = cmd.runtime && *cmd.runtime != latest.config.runtime;
    // A runtime past its update block takes no more updates, except the one that moves the
    // function to a runtime still taking new functions (the way off a deprecated runtime).
    LAMBKIN_RETURN_IF_ERROR(catalog::CheckLifecycle(
        txn, runtime_change ? *cmd.runtime : latest.config.runtime,
        runtime_change ? catalog::LifecycleGate::kCreate : catalog::LifecycleGate::kUpdate, now));
    if (runtime_change && latest.update_mode == UpdateMode::kManual) {
      return InvalidParameter(fmt::format(
          "You can't change the runtime of function {} while its runtime update mode is "
          "Manual. Change the runtime update mode of $LATEST to Auto or FunctionUpdate first.",
          FunctionArn(scope, name)));
    }
    int64_t old_rv = latest.runtime_version;
    FunctionConfig& c = latest.config;
    if (cmd.runtime) c.runtime = *cmd.runtime;
    if (cmd.handler) c.handler = *cmd.handler;
    if (cmd.description) c.description = *cmd.description;
    if (cmd.role) c.role = *cmd.role;
    if (cmd.memory_size) c.memory_size = *cmd.memory_size;
    if (cmd.timeout) c.timeout = *cmd.timeout;
    if (cmd.ephemeral_storage) c.ephemeral_storage = *cmd.ephemeral_storage;
    if (cmd.environment) c.environment = *cmd.environment;
    if (cmd.tracing_mode) c.tracing_mode = *cmd.tracing_mode;
    if (cmd.vpc_config) c.vpc_config = true;
    if (cmd.logging) c.logging = *cmd.logging;
    if (cmd.image_config) {
      c.image_config = cmd.image_config->empty() ? std::nullopt : cmd.image_config;
    }
    std::set<std::string> old_layers;
    if (cmd.layers) {
      for (const FunctionLayer& l : c.layers) old_layers.insert(l.sha256_hex);
      LAMBKIN_ASSIGN_OR_RETURN(c.layers, ResolveFunctionLayers(txn, scope, cmd.layer_caller,
                                                               *cmd.layers, c.code_unzipped_size));
    }
    if (!image && latest.update_mode != UpdateMode::kManual) {
      LAMBKIN_ASSIGN_OR_RETURN(
          latest.runtime_version,
          NewestRuntimeVersion(txn, scope, c.runtime, catalog::ReleaseStage::kPhase1));
    }
    latest.revision_id = RandomUuid();
    latest.last_modified = now;
    LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, latest));
    LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, latest, old_rv,
                                       runtime_change ? "runtime-change" : "function-update", now));
    // Layers no longer used, as replaced code is (this node's copy stays for running
    // environments).
    LAMBKIN_RETURN_IF_ERROR(
        RemoveUnusedPackages(txn, code_, old_layers, CodePackageStore::Local::kKeep));
    out = latest;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (observer_ != nullptr) observer_->OnFunctionChanged(scope, name, std::string(kLatest));
  return out;
}

Result<std::vector<FunctionService::ImageVersion>> FunctionService::ListImageVersions() {
  std::vector<ImageVersion> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    out.clear();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT account, region, name, version, config FROM "
                             "function_versions WHERE runtime = '' ORDER BY account, region, "
                             "name, version"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ImageVersion v;
      v.scope = Scope{st.ColumnText(0), st.ColumnText(1)};
      v.function_name = st.ColumnText(2);
      v.version = VersionName(st.ColumnInt(3));
      v.config = ConfigFromJson(st.ColumnText(4));
      if (v.config.package_type == PackageType::kImage) out.push_back(std::move(v));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<FunctionVersion> FunctionService::PublishVersion(const Scope& scope, const std::string& name,
                                                        const PublishVersionCommand& cmd) {
  int64_t now = clock_->NowMillis();
  FunctionVersion out;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(FunctionVersion latest, RequireVersion(txn, scope, name, ""));
    if (cmd.code_sha256 && *cmd.code_sha256 != latest.config.code_sha256) {
      return InvalidParameter(fmt::format(
          "CodeSHA256 ({}) is different from current CodeSHA256 in $LATEST ({}). Please try "
          "again with the CodeSHA256 in $LATEST.",
          *cmd.code_sha256, latest.config.code_sha256));
    }
    if (cmd.revision_id && *cmd.revision_id != latest.revision_id) return PreconditionFailed();
    LAMBKIN_ASSIGN_OR_RETURN(out, PublishLocked(txn, scope, latest, cmd.description, now));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Page<FunctionVersion>> FunctionService::ListVersions(const Scope& scope,
                                                            const std::string& name,
                                                            const std::string& marker,
                                                            int max_items) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string after, DecodeMarker(marker));
  int64_t after_version = after.empty() ? -1 : std::atoll(after.c_str());
  Page<FunctionVersion> page;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, name));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(fmt::format("SELECT {} FROM function_versions WHERE account = ? "
                                         "AND region = ? AND name = ? AND version > ? "
                                         "ORDER BY version LIMIT ?",
                                         kVersionColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, after_version);
    st.Bind(5, max_items + 1);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      page.items.push_back(ReadVersion(st));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (static_cast<int>(page.items.size()) > max_items) {
    page.items.resize(static_cast<size_t>(max_items));
    page.next_marker = EncodeMarker(std::to_string(*VersionNumber(page.items.back().version)));
  }
  return page;
}

Status FunctionService::DeleteFunction(const Scope& scope, const std::string& name,
                                       const std::string& qualifier) {
  if (qualifier == kLatest) {
    return InvalidParameter("$LATEST version cannot be deleted without deleting the function.");
  }
  Status deleted = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, name));
    std::set<std::string> codes;
    {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("SELECT DISTINCT code_sha256 FROM function_versions WHERE "
                               "account = ? AND region = ? AND name = ?"));
      st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        codes.insert(st.ColumnText(0));
      }
      LAMBKIN_ASSIGN_OR_RETURN(std::set<std::string> layers,
                               FunctionLayerPackages(txn, scope, name, std::nullopt));
      codes.insert(layers.begin(), layers.end());
    }
    if (qualifier.empty()) {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto del, txn.Prepare("DELETE FROM functions WHERE account = ? AND region = ? AND "
                                "name = ?"));
      del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
      LAMBKIN_RETURN_IF_ERROR(del.Run());
    } else {
      auto num = VersionNumber(qualifier);
      if (!num) {
        return InvalidParameter(
            fmt::format("Deletion of alias {} is not supported by DeleteFunction. Use DeleteAlias.",
                        qualifier));
      }
      // An alias that routes to the version keeps it alive.
      LAMBKIN_ASSIGN_OR_RETURN(
          auto refs, txn.Prepare("SELECT alias, function_version, routing FROM aliases WHERE "
                                 "account = ? AND region = ? AND name = ?"));
      refs.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, refs.Step());
        if (!row) break;
        bool routed = false;
        if (auto r = refs.ColumnOptionalText(2)) {
          routed = nlohmann::json::parse(*r).contains(qualifier);
        }
        if (refs.ColumnText(1) == qualifier || routed) {
          return Conflict(fmt::format(
              "Unable to delete version {} of function {} because alias {} routes to it. "
              "Update or delete the alias first.",
              qualifier, FunctionArn(scope, name), refs.ColumnText(0)));
        }
      }
      LAMBKIN_ASSIGN_OR_RETURN(
          auto del, txn.Prepare("DELETE FROM function_versions WHERE account = ? AND region = ? "
                                "AND name = ? AND version = ?"));
      del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, *num);
      LAMBKIN_RETURN_IF_ERROR(del.Run());
    }
    return RemoveUnusedPackages(txn, code_, codes, CodePackageStore::Local::kRemove);
  });
  if (deleted.ok() && observer_ != nullptr) {
    observer_->OnFunctionChanged(
        scope, name, qualifier.empty() ? std::nullopt : std::optional<std::string>(qualifier));
  }
  return deleted;
}

namespace {

// Checks that the alias target and weighted versions exist and are consistent.
Status CheckAliasTargets(Txn& txn, const Scope& scope, const std::string& function,
                         const Alias& a) {
  if (a.routing && !a.routing->additional_version_weights.empty()) {
    if (a.function_version == kLatest) {
      return InvalidParameter(
          "$LATEST is not supported for an alias pointing to more than 1 version");
    }
    if (a.routing->additional_version_weights.size() > 1) {
      return InvalidParameter(
          "Number of items in AdditionalVersionWeights cannot be greater than 1");
    }
    if (a.routing->additional_version_weights.contains(a.function_version)) {
      return InvalidParameter(fmt::format(
          "Invalid function version {0}. Function version {0} is already included in routing "
          "configuration.",
          a.function_version));
    }
  }
  std::vector<std::string> versions = {a.function_version};
  if (a.routing) {
    for (const auto& [v, w] : a.routing->additional_version_weights) versions.push_back(v);
  }
  for (const auto& v : versions) {
    LAMBKIN_ASSIGN_OR_RETURN(auto fv, LoadVersion(txn, scope, function, *VersionNumber(v)));
    if (!fv) return FunctionNotFound(scope, function, v);
  }
  return Status::Ok();
}

}  // namespace

Result<Alias> FunctionService::CreateAlias(const Scope& scope, const std::string& function,
                                           const AliasCommand& cmd) {
  Alias a;
  a.function_name = function;
  a.name = cmd.name;
  a.function_version = cmd.function_version.value_or(std::string(kLatest));
  a.description = cmd.description.value_or("");
  if (cmd.routing && !cmd.routing->additional_version_weights.empty()) a.routing = cmd.routing;
  a.revision_id = RandomUuid();
  Status s = db_->Transact([&](Txn& txn) -> Status {
    // AWS names the version the alias would point to.
    LAMBKIN_ASSIGN_OR_RETURN(auto fn, LoadFunction(txn, scope, function));
    if (!fn) return FunctionNotFound(scope, function, a.function_version);
    LAMBKIN_ASSIGN_OR_RETURN(auto existing, LoadAlias(txn, scope, function, cmd.name));
    if (existing) {
      return Conflict(
          fmt::format("Alias already exists: {}", FunctionArn(scope, function, cmd.name)));
    }
    LAMBKIN_RETURN_IF_ERROR(CheckAliasTargets(txn, scope, function, a));
    return StoreAlias(txn, scope, a);
  });
  if (!s.ok()) return s;
  return a;
}

Result<Alias> FunctionService::GetAlias(const Scope& scope, const std::string& function,
                                        const std::string& alias) {
  Alias out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, function));
    LAMBKIN_ASSIGN_OR_RETURN(auto a, LoadAlias(txn, scope, function, alias));
    if (!a) {
      return NotFound(
          fmt::format("Cannot find alias arn: {}", FunctionArn(scope, function, alias)));
    }
    out = *a;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Alias> FunctionService::UpdateAlias(const Scope& scope, const std::string& function,
                                           const AliasCommand& cmd) {
  Alias out;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, function));
    LAMBKIN_ASSIGN_OR_RETURN(auto a, LoadAlias(txn, scope, function, cmd.name));
    if (!a) {
      return NotFound(fmt::format("Alias not found: {}", FunctionArn(scope, function, cmd.name)));
    }
    if (cmd.revision_id && *cmd.revision_id != a->revision_id) return PreconditionFailed();
    if (cmd.function_version) a->function_version = *cmd.function_version;
    if (cmd.description) a->description = *cmd.description;
    if (cmd.routing) {
      a->routing = cmd.routing->additional_version_weights.empty()
                       ? std::nullopt
                       : std::optional<RoutingConfig>(cmd.routing);
    }
    a->revision_id = RandomUuid();
    LAMBKIN_RETURN_IF_ERROR(CheckAliasTargets(txn, scope, function, *a));
    LAMBKIN_RETURN_IF_ERROR(StoreAlias(txn, scope, *a));
    out = *a;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status FunctionService::DeleteAlias(const Scope& scope, const std::string& function,
                                    const std::string& alias) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, function));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto del, txn.Prepare("DELETE FROM aliases WHERE account = ? AND region = ? AND name = ? "
                              "AND alias = ?"));
    del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, alias);
    return del.Run();  // deleting a missing alias succeeds, as on AWS
  });
}

Result<Page<Alias>> FunctionService::ListAliases(const Scope& scope, const std::string& function,
                                                 const std::optional<std::string>& function_version,
                                                 const std::string& marker, int max_items) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string after, DecodeMarker(marker));
  Page<Alias> page;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(RequireFunction(txn, scope, function));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare("SELECT alias FROM aliases WHERE account = ? AND region = ? AND "
                    "name = ? AND alias > ? AND (CAST(? AS TEXT) IS NULL OR function_version = ?) "
                    "ORDER BY alias LIMIT ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, after);
    st.Bind(5, function_version).Bind(6, function_version).Bind(7, max_items + 1);
    std::vector<std::string> names;
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      names.push_back(st.ColumnText(0));
    }
    for (const auto& n : names) {
      LAMBKIN_ASSIGN_OR_RETURN(auto a, LoadAlias(txn, scope, function, n));
      if (a) page.items.push_back(std::move(*a));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (static_cast<int>(page.items.size()) > max_items) {
    page.items.resize(static_cast<size_t>(max_items));
    page.next_marker = EncodeMarker(page.items.back().name);
  }
  return page;
}

namespace {

// Runtime management config is kept per $LATEST or published version, never per alias.
Result<int64_t> RuntimeConfigVersion(const Scope& scope, const std::string& name,
                                     const std::string& qualifier) {
  auto num = VersionNumber(qualifier);
  if (!num) {
    if (IsAllDigits(qualifier)) return FunctionNotFound(scope, name, qualifier);
    return InvalidParameter(fmt::format(
        "Runtime management configuration applies to $LATEST or a published version; {} is an "
        "alias or not a version. Specify $LATEST or a version number.",
        qualifier));
  }
  return *num;
}

RuntimeManagementConfig ConfigOf(const FunctionService& svc, const Scope& scope,
                                 const FunctionVersion& v) {
  RuntimeManagementConfig c;
  c.update_mode = v.update_mode;
  if (v.update_mode == UpdateMode::kManual) c.runtime_version_arn = svc.RuntimeVersionArn(scope, v);
  return c;
}

}  // namespace

Result<RuntimeManagementConfig> FunctionService::GetRuntimeManagementConfig(
    const Scope& scope, const std::string& name, const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(int64_t num, RuntimeConfigVersion(scope, name, qualifier));
  // Only the runtime management columns: this is the hot read of the API.
  RuntimeManagementConfig out;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT update_mode, runtime_version, architecture, runtime FROM "
                             "function_versions WHERE account = ? AND region = ? AND name = ? "
                             "AND version = ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, num);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return FunctionNotFound(scope, name, qualifier);
    if (st.ColumnView(3).empty()) return InvalidParameter(kImageRuntimeManagement);
    out.update_mode = ParseUpdateMode(st.ColumnText(0)).value_or(UpdateMode::kAuto);
    if (out.update_mode == UpdateMode::kManual) {
      out.runtime_version_arn = catalog_->Arn(
          st.ColumnInt(1), scope.region,
          catalog::ParseArchitecture(st.ColumnText(2)).value_or(Architecture::kX86_64));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<RuntimeManagementConfig> FunctionService::PutRuntimeManagementConfig(
    const Scope& scope, const std::string& name, const std::string& qualifier,
    const RuntimeManagementConfig& cfg) {
  LAMBKIN_ASSIGN_OR_RETURN(int64_t num, RuntimeConfigVersion(scope, name, qualifier));
  bool controls = RuntimeManagementControls(scope);
  if (cfg.update_mode == UpdateMode::kManual && !cfg.runtime_version_arn) {
    return InvalidParameter("RuntimeVersionArn is required when UpdateRuntimeOn is Manual.");
  }
  if (cfg.update_mode != UpdateMode::kManual && cfg.runtime_version_arn) {
    return InvalidParameter(fmt::format(
        "RuntimeVersionArn can only be specified when UpdateRuntimeOn is Manual, not {}.",
        UpdateModeName(cfg.update_mode)));
  }
  if (!controls && cfg.update_mode != UpdateMode::kAuto) {
    return InvalidParameter(fmt::format(
        "Runtime management controls are not supported in region {}: every function there uses "
        "the Auto runtime update mode.",
        scope.region));
  }
  int64_t now = clock_->NowMillis();
  RuntimeManagementConfig out;
  bool changed = false;  // the version's runtime version changed
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto found, LoadVersion(txn, scope, name, num));
    if (!found) return FunctionNotFound(scope, name, qualifier);
    FunctionVersion v = *found;
    if (v.config.package_type == PackageType::kImage) {
      return InvalidParameter(kImageRuntimeManagement);
    }
    int64_t old_rv = v.runtime_version;
    std::string cause;
    switch (cfg.update_mode) {
      case UpdateMode::kManual: {
        auto target = catalog_->ResolveArn(*cfg.runtime_version_arn);
        auto rv = target ? catalog_->Get(target->id) : std::nullopt;
        if (!target || !rv || rv->runtime != v.config.runtime || target->region != scope.region ||
            target->arch != v.config.architecture) {
          return InvalidParameter(fmt::format(
              "Runtime version ARN {} is not a runtime version of {} for architecture {} in "
              "region {}.",
              *cfg.runtime_version_arn, v.config.runtime,
              catalog::ArchitectureName(v.config.architecture), scope.region));
        }
        // A pin is a rollback to a known-good version: not to one an operator withdrew, nor to
        // one not released here yet. Re-stating the current pin always works.
        if (rv->id != v.runtime_version || v.update_mode != UpdateMode::kManual) {
          if (rv->state != catalog::RuntimeVersionState::kReleased) {
            return InvalidParameter(fmt::format(
                "Runtime version {} ({}) is {} and cannot be chosen for Manual mode.",
                *cfg.runtime_version_arn, rv->name, catalog::RuntimeVersionStateName(rv->state)));
          }
          LAMBKIN_ASSIGN_OR_RETURN(auto stage,
                                   catalog::Catalog::StageIn(txn, rv->id, scope.region));
          if (stage == catalog::ReleaseStage::kNone) {
            return InvalidParameter(
                fmt::format("Runtime version {} ({}) is not yet released in region {}.",
                            *cfg.runtime_version_arn, rv->name, scope.region));
          }
        }
        v.runtime_version = rv->id;
        cause = "pin";
        break;
      }
      case UpdateMode::kAuto:
        // Back to Auto: at once to the newest version that has reached phase 2 here (what the
        // sweep would give it), unless the version already runs a newer good one.
        if (controls || v.update_mode != UpdateMode::kAuto) {
          LAMBKIN_ASSIGN_OR_RETURN(
              int64_t target,
              NewestRuntimeVersion(txn, scope, v.config.runtime, catalog::ReleaseStage::kPhase2));
          auto current = catalog_->Get(v.runtime_version);
          auto chosen = catalog_->Get(target);
          bool keep = current && chosen && current->number > chosen->number &&
                      current->state != catalog::RuntimeVersionState::kBlocked;
          if (!keep) v.runtime_version = target;
        }
        cause = "auto";
        break;
      case UpdateMode::kFunctionUpdate:
        break;
    }
    v.update_mode = cfg.update_mode;
    changed = v.runtime_version != old_rv;
    if (v.update_mode != found->update_mode || changed) {
      LAMBKIN_RETURN_IF_ERROR(StoreVersion(txn, scope, v));
      LAMBKIN_RETURN_IF_ERROR(RecordEdit(txn, scope, v, old_rv, cause, now));
    }
    if (v.update_mode != found->update_mode) {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto mode, txn.Prepare("INSERT INTO update_mode_changes (account, region, name, "
                                 "version, update_mode, at) VALUES (?,?,?,?,?,?) ON CONFLICT "
                                 "(account, region, name, version) DO UPDATE SET update_mode = "
                                 "excluded.update_mode, at = excluded.at"));
      mode.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, num);
      mode.Bind(5, UpdateModeName(v.update_mode)).Bind(6, now);
      LAMBKIN_RETURN_IF_ERROR(mode.Run());
    }
    out = ConfigOf(*this, scope, v);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (changed && observer_ != nullptr) observer_->OnFunctionChanged(scope, name, VersionName(num));
  return out;
}

Result<std::vector<FunctionService::RuntimeVersionEdit>> FunctionService::RuntimeVersionHistory(
    const Scope& scope, const std::string& name) {
  std::vector<RuntimeVersionEdit> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT at, version, old_runtime_version, new_runtime_version, "
                             "cause, update_mode, batch FROM runtime_version_edits WHERE account "
                             "= ? AND region = ? AND name = ? ORDER BY seq"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnInt(0), VersionName(st.ColumnInt(1)), st.ColumnOptionalInt(2),
                     st.ColumnInt(3), st.ColumnText(4), st.ColumnText(5), st.ColumnOptionalInt(6)});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace lambkin::functions
