#include "functions/layers.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/regions.h"
#include "common/crypto.h"
#include "functions/function_policies.h"

namespace lambkin::functions {

namespace {

constexpr char kLayersDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS layers (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  next_version INTEGER NOT NULL,       -- numbers are never reused, also after deletes
  PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS layer_versions (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT NOT NULL,
  license_info TEXT,
  created INTEGER NOT NULL,            -- ms since epoch
  compatible_runtimes TEXT,            -- JSON array, NULL when not given
  compatible_architectures TEXT,       -- JSON array, NULL when not given
  code_sha256 TEXT NOT NULL,           -- hex: the code package
  code_size INTEGER NOT NULL,
  unzipped_size INTEGER NOT NULL,
  policy TEXT,                         -- JSON array of statements, NULL: no policy
  policy_revision TEXT,
  PRIMARY KEY (account, region, name, version),
  FOREIGN KEY (account, region, name) REFERENCES layers ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS layer_versions_by_code ON layer_versions (code_sha256);
CREATE TABLE IF NOT EXISTS function_version_layers (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  position INTEGER NOT NULL,
  layer_arn TEXT NOT NULL,
  code_sha256 TEXT NOT NULL,           -- hex: keeps the package while the version exists
  PRIMARY KEY (account, region, name, version, position),
  FOREIGN KEY (account, region, name, version) REFERENCES function_versions ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS function_version_layers_by_code ON function_version_layers (code_sha256);
)sql";

constexpr char kVersionNotFound[] = "The resource you requested does not exist.";
constexpr char kNoPolicy[] = "No policy is associated with the given resource.";
constexpr char kPolicyRevisionMismatch[] =
    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API "
    "to retrieve the latest Revision Id";
constexpr char kGetLayerVersion[] = "lambda:GetLayerVersion";

using Txn = store::Txn;

constexpr char kVersionColumns[] =
    "account, region, name, version, description, license_info, created, compatible_runtimes, "
    "compatible_architectures, code_sha256, code_size, unzipped_size";

// CodeSha256 (base64) of a package named by its hex digest.
std::string Base64OfHex(std::string_view hex) {
  std::string raw;
  raw.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    raw.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return Base64Encode(raw);
}

std::optional<std::vector<std::string>> OptionalList(const store::Statement& st, int col) {
  if (st.ColumnIsNull(col)) return std::nullopt;
  return nlohmann::json::parse(st.ColumnText(col)).get<std::vector<std::string>>();
}

LayerVersion ReadLayerVersion(const store::Statement& st) {
  LayerVersion v;
  v.owner = Scope{st.ColumnText(0), st.ColumnText(1)};
  v.name = st.ColumnText(2);
  v.version = st.ColumnInt(3);
  v.description = st.ColumnText(4);
  v.license_info = st.ColumnOptionalText(5);
  v.created = st.ColumnInt(6);
  v.compatible_runtimes = OptionalList(st, 7);
  v.compatible_architectures = OptionalList(st, 8);
  v.code_sha256_hex = st.ColumnText(9);
  v.code_size = st.ColumnInt(10);
  v.unzipped_size = st.ColumnInt(11);
  v.code_sha256 = Base64OfHex(v.code_sha256_hex);
  return v;
}

Result<std::optional<LayerVersion>> LoadLayerVersion(Txn& txn, const Scope& owner,
                                                     const std::string& name, int64_t version) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM layer_versions WHERE account = ? AND region = ? AND name = ? AND "
      "version = ?",
      kVersionColumns);
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(kSql));
  st.Bind(1, owner.account).Bind(2, owner.region).Bind(3, name).Bind(4, version);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<LayerVersion>();
  return std::optional<LayerVersion>(ReadLayerVersion(st));
}

struct StoredPolicy {
  nlohmann::ordered_json statements = nlohmann::ordered_json::array();
  std::optional<std::string> revision_id;  // nullopt: no policy
};

Result<StoredPolicy> LoadPolicy(Txn& txn, const Scope& owner, const std::string& name,
                                int64_t version) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT policy, policy_revision FROM layer_versions WHERE account = ? "
                           "AND region = ? AND name = ? AND version = ?"));
  st.Bind(1, owner.account).Bind(2, owner.region).Bind(3, name).Bind(4, version);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    return NotFound(
        fmt::format("Layer version {} does not exist.", LayerArn(owner, name, version)));
  }
  StoredPolicy p;
  if (!st.ColumnIsNull(0)) {
    p.statements = nlohmann::ordered_json::parse(st.ColumnText(0));
    p.revision_id = st.ColumnText(1);
  }
  return p;
}

Status StorePolicy(Txn& txn, const Scope& owner, const std::string& name, int64_t version,
                   const StoredPolicy& p) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("UPDATE layer_versions SET policy = ?, policy_revision = ? WHERE "
                           "account = ? AND region = ? AND name = ? AND version = ?"));
  if (p.statements.empty()) {
    st.BindNull(1).BindNull(2);
  } else {
    st.Bind(1, p.statements.dump()).Bind(2, p.revision_id);
  }
  st.Bind(3, owner.account).Bind(4, owner.region).Bind(5, name).Bind(6, version);
  return st.Run();
}

std::string PolicyDocument(const nlohmann::ordered_json& statements) {
  nlohmann::ordered_json doc;
  doc["Version"] = "2012-10-17";
  doc["Id"] = "default";
  doc["Statement"] = statements;
  return doc.dump();
}

// Whether a statement of the version's policy lets `caller` use it.
bool Grants(const nlohmann::ordered_json& statements, const LayerCaller& caller) {
  for (const auto& s : statements) {
    if (s.value("Effect", "") != "Allow" || s.value("Action", "") != kGetLayerVersion) continue;
    const auto& principal = s["Principal"];
    bool matches = false;
    if (principal.is_string() && principal.get<std::string>() == "*") {
      matches = true;
    } else if (principal.is_object() && principal.contains("AWS")) {
      matches = principal["AWS"].get<std::string>() ==
                fmt::format("arn:aws:iam::{}:root", caller.account);
    }
    if (!matches) continue;
    if (s.contains("Condition")) {
      const auto& cond = s["Condition"]["StringEquals"];
      if (!cond.is_object() || cond.value("aws:PrincipalOrgID", "") != caller.organization_id ||
          caller.organization_id.empty()) {
        continue;
      }
    }
    return true;
  }
  return false;
}

Status NotAuthorised(const LayerCaller& caller, std::string_view arn) {
  return Status(StatusCode::kAccessDenied,
                fmt::format("User: {} is not authorized to perform: {} on resource: {} because no "
                            "resource-based policy allows the {} action",
                            caller.arn, kGetLayerVersion, arn, kGetLayerVersion));
}

// Another account's layer version, when its policy lets `caller` use it.
Status CheckGrant(Txn& txn, const LayerCaller& caller, const Scope& owner, const std::string& name,
                  int64_t version) {
  if (caller.account == owner.account) return Status::Ok();
  Result<StoredPolicy> policy = LoadPolicy(txn, owner, name, version);
  if (!policy.ok() && policy.status().code() != StatusCode::kResourceNotFound) {
    return policy.status();
  }
  // A missing version of another account is as unknown to the caller as a forbidden one.
  if (!policy.ok() || !Grants(policy->statements, caller)) {
    return NotAuthorised(caller, LayerArn(owner, name, version));
  }
  return Status::Ok();
}

bool Contains(const std::optional<std::vector<std::string>>& list, const std::string& value) {
  return value.empty() || (list && std::find(list->begin(), list->end(), value) != list->end());
}

std::string EncodeMarker(std::string_view key) { return Base64Encode(key); }

Result<std::string> DecodeMarker(const std::string& marker) {
  if (marker.empty()) return std::string();
  auto raw = Base64Decode(marker);
  if (!raw) return InvalidParameter(fmt::format("Invalid marker: {}", marker));
  return *raw;
}

}  // namespace

const store::Migrations& LayersSchema() {
  static const store::Migrations kMigrations = {{"layers", 1, kLayersDdl, "", nullptr}};
  return kMigrations;
}

std::string LayerArn(const Scope& owner, std::string_view name, int64_t version) {
  std::string arn = fmt::format("arn:{}:lambda:{}:{}:layer:{}", catalog::PartitionOf(owner.region),
                                owner.region, owner.account, name);
  if (version != 0) arn += fmt::format(":{}", version);
  return arn;
}

std::optional<LayerVersionRef> ParseLayerVersionArn(std::string_view arn) {
  // arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t colon = arn.find(':', start);
    parts.push_back(arn.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "layer") {
    return std::nullopt;
  }
  LayerVersionRef ref;
  ref.owner = Scope{std::string(parts[4]), std::string(parts[3])};
  ref.name = std::string(parts[6]);
  auto [p, ec] = std::from_chars(parts[7].data(), parts[7].data() + parts[7].size(), ref.version);
  if (ec != std::errc() || p != parts[7].data() + parts[7].size() || ref.owner.region.empty() ||
      ref.owner.account.empty() || ref.name.empty()) {
    return std::nullopt;
  }
  return ref;
}

Result<LayerVersion> LayerService::Publish(const Scope& scope, PublishLayerVersionCommand cmd) {
  LAMBKIN_ASSIGN_OR_RETURN(CodePackageInfo info, InspectZip(cmd.zip));
  LayerVersion v;
  v.owner = scope;
  v.name = cmd.name;
  v.description = std::move(cmd.description);
  v.license_info = std::move(cmd.license_info);
  v.created = clock_->NowMillis();
  v.compatible_runtimes = std::move(cmd.compatible_runtimes);
  v.compatible_architectures = std::move(cmd.compatible_architectures);
  v.code_sha256 = info.sha256_base64;
  v.code_sha256_hex = info.sha256_hex;
  v.code_size = info.size;
  v.unzipped_size = info.unzipped_size;
  auto list_json = [](const std::optional<std::vector<std::string>>& list) {
    return list ? std::optional<std::string>(nlohmann::json(*list).dump()) : std::nullopt;
  };
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto next, txn.Prepare("INSERT INTO layers (account, region, name, next_version) VALUES "
                               "(?, ?, ?, 2) ON CONFLICT (account, region, name) DO UPDATE SET "
                               "next_version = layers.next_version + 1 RETURNING next_version"));
    next.Bind(1, scope.account).Bind(2, scope.region).Bind(3, v.name);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, next.Step());
    if (!row) return Internal("no layer version number was assigned");
    v.version = next.ColumnInt(0) - 1;
    LAMBKIN_RETURN_IF_ERROR(next.Reset());
    LAMBKIN_RETURN_IF_ERROR(code_->Put(txn, info, cmd.zip));
    LAMBKIN_ASSIGN_OR_RETURN(auto ins,
                             txn.Prepare(fmt::format("INSERT INTO layer_versions ({}) VALUES "
                                                     "(?,?,?,?,?,?,?,?,?,?,?,?)",
                                                     kVersionColumns)));
    ins.Bind(1, scope.account).Bind(2, scope.region).Bind(3, v.name).Bind(4, v.version);
    ins.Bind(5, v.description).Bind(6, v.license_info).Bind(7, v.created);
    ins.Bind(8, list_json(v.compatible_runtimes)).Bind(9, list_json(v.compatible_architectures));
    ins.Bind(10, v.code_sha256_hex).Bind(11, v.code_size).Bind(12, v.unzipped_size);
    return ins.Run();
  });
  if (!s.ok()) return s;
  return v;
}

Result<LayerVersion> LayerService::Get(const LayerCaller& caller, const Scope& owner,
                                       const std::string& name, int64_t version) {
  LayerVersion out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(CheckGrant(txn, caller, owner, name, version));
    LAMBKIN_ASSIGN_OR_RETURN(auto v, LoadLayerVersion(txn, owner, name, version));
    if (!v) return NotFound(kVersionNotFound);
    out = std::move(*v);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Page<LayerVersion>> LayerService::ListVersions(const Scope& scope, const std::string& name,
                                                      const std::string& runtime,
                                                      const std::string& architecture,
                                                      const std::string& marker, int max_items) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string after, DecodeMarker(marker));
  int64_t before = after.empty() ? INT64_MAX : std::atoll(after.c_str());
  Page<LayerVersion> page;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(fmt::format("SELECT {} FROM layer_versions WHERE account = ? AND "
                                         "region = ? AND name = ? AND version < ? "
                                         "ORDER BY version DESC",
                                         kVersionColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, before);
    while (static_cast<int>(page.items.size()) <= max_items) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LayerVersion v = ReadLayerVersion(st);
      if (Contains(v.compatible_runtimes, runtime) &&
          Contains(v.compatible_architectures, architecture)) {
        page.items.push_back(std::move(v));
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (static_cast<int>(page.items.size()) > max_items) {
    page.items.resize(static_cast<size_t>(max_items));
    page.next_marker = EncodeMarker(std::to_string(page.items.back().version));
  }
  return page;
}

Result<Page<LayerVersion>> LayerService::ListLayers(const Scope& scope, const std::string& runtime,
                                                    const std::string& architecture,
                                                    const std::string& marker, int max_items) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string after, DecodeMarker(marker));
  Page<LayerVersion> page;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(fmt::format("SELECT {} FROM layer_versions WHERE account = ? AND "
                                         "region = ? AND name > ? ORDER BY name, version DESC",
                                         kVersionColumns)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, after);
    while (static_cast<int>(page.items.size()) <= max_items) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      // The newest matching version of each layer: the first row of its name that matches.
      if (!page.items.empty() && page.items.back().name == st.ColumnView(2)) continue;
      LayerVersion v = ReadLayerVersion(st);
      if (Contains(v.compatible_runtimes, runtime) &&
          Contains(v.compatible_architectures, architecture)) {
        page.items.push_back(std::move(v));
      }
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

Status LayerService::Delete(const Scope& scope, const std::string& name, int64_t version) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto v, LoadLayerVersion(txn, scope, name, version));
    if (!v) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto del, txn.Prepare("DELETE FROM layer_versions WHERE account = ? AND region = ? AND "
                              "name = ? AND version = ?"));
    del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, version);
    LAMBKIN_RETURN_IF_ERROR(del.Run());
    // Function versions that name it keep its package.
    return RemoveUnusedPackage(txn, code_, v->code_sha256_hex, CodePackageStore::Local::kRemove);
  });
}

Result<LayerPolicy> LayerService::AddPermission(const Scope& scope, const std::string& name,
                                                int64_t version,
                                                const AddLayerPermissionCommand& cmd) {
  LayerPolicy out;
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(StoredPolicy p, LoadPolicy(txn, scope, name, version));
    if (cmd.revision_id && (!p.revision_id || *cmd.revision_id != *p.revision_id)) {
      return Status(StatusCode::kPreconditionFailed, kPolicyRevisionMismatch);
    }
    for (const auto& st : p.statements) {
      if (st.value("Sid", "") == cmd.statement_id) {
        return Conflict(fmt::format(
            "The statement id ({}) provided already exists. Please provide a new statement id, "
            "or remove the existing statement.",
            cmd.statement_id));
      }
    }
    nlohmann::ordered_json st;
    st["Sid"] = cmd.statement_id;
    st["Effect"] = "Allow";
    if (cmd.principal == "*") {
      st["Principal"] = "*";
    } else {
      // An account id is written as its root principal, as AWS writes it.
      std::string account = cmd.principal;
      if (account.starts_with("arn:")) account = account.substr(account.find("::") + 2, 12);
      st["Principal"] = {{"AWS", fmt::format("arn:aws:iam::{}:root", account)}};
    }
    st["Action"] = cmd.action;
    st["Resource"] = LayerArn(scope, name, version);
    if (cmd.organization_id) {
      st["Condition"] = {{"StringEquals", {{"aws:PrincipalOrgID", *cmd.organization_id}}}};
    }
    p.statements.push_back(st);
    LAMBKIN_RETURN_IF_ERROR(CheckPolicyLength(PolicyDocument(p.statements)));
    p.revision_id = RandomUuid();
    LAMBKIN_RETURN_IF_ERROR(StorePolicy(txn, scope, name, version, p));
    out = LayerPolicy{st.dump(), *p.revision_id};
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status LayerService::RemovePermission(const Scope& scope, const std::string& name, int64_t version,
                                      const std::string& statement_id,
                                      const std::optional<std::string>& revision_id) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(StoredPolicy p, LoadPolicy(txn, scope, name, version));
    auto it = std::find_if(p.statements.begin(), p.statements.end(),
                           [&](const auto& st) { return st.value("Sid", "") == statement_id; });
    if (it == p.statements.end()) {
      return NotFound(fmt::format("Statement {} is not found in resource policy.", statement_id));
    }
    if (revision_id && *revision_id != *p.revision_id) {
      return Status(StatusCode::kPreconditionFailed, kPolicyRevisionMismatch);
    }
    p.statements.erase(it);
    p.revision_id = RandomUuid();
    return StorePolicy(txn, scope, name, version, p);
  });
}

Result<LayerPolicy> LayerService::GetPolicy(const Scope& scope, const std::string& name,
                                            int64_t version) {
  LayerPolicy out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(StoredPolicy p, LoadPolicy(txn, scope, name, version));
    if (!p.revision_id) return NotFound(kNoPolicy);
    out = LayerPolicy{PolicyDocument(p.statements), *p.revision_id};
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<FunctionLayer>> ResolveFunctionLayers(Txn& txn, const Scope& scope,
                                                         const LayerCaller& caller,
                                                         const std::vector<std::string>& arns,
                                                         int64_t function_unzipped_size) {
  if (arns.size() > kMaxFunctionLayers) {
    return InvalidParameter(
        fmt::format("Cannot reference more than {} layers.", kMaxFunctionLayers));
  }
  std::vector<LayerVersionRef> refs;
  for (const std::string& arn : arns) {
    std::optional<LayerVersionRef> ref = ParseLayerVersionArn(arn);
    if (!ref) return InvalidParameter(fmt::format("Layer version {} does not exist.", arn));
    for (size_t i = 0; i < refs.size(); ++i) {
      if (refs[i].owner.account == ref->owner.account &&
          refs[i].owner.region == ref->owner.region && refs[i].name == ref->name) {
        return InvalidParameter(fmt::format(
            "Two different versions of the same layer are not allowed to be referenced in the "
            "same function. {} and {} are versions of the same layer.",
            arns[i], arn));
      }
    }
    refs.push_back(std::move(*ref));
  }
  for (const LayerVersionRef& ref : refs) {
    if (ref.owner.region != scope.region) {
      return InvalidParameter(fmt::format(
          "Layers are not in the same region as the function. Layers are expected to be in "
          "region {}.",
          scope.region));
    }
  }
  std::vector<FunctionLayer> out;
  for (size_t i = 0; i < refs.size(); ++i) {
    const LayerVersionRef& ref = refs[i];
    LAMBKIN_RETURN_IF_ERROR(CheckGrant(txn, caller, ref.owner, ref.name, ref.version));
    LAMBKIN_ASSIGN_OR_RETURN(auto v, LoadLayerVersion(txn, ref.owner, ref.name, ref.version));
    if (!v) return InvalidParameter(fmt::format("Layer version {} does not exist.", arns[i]));
    out.push_back(FunctionLayer{v->arn(), v->code_size, v->code_sha256_hex, v->unzipped_size});
  }
  LAMBKIN_RETURN_IF_ERROR(CheckCombinedSize(function_unzipped_size, out));
  return out;
}

Status CheckCombinedSize(int64_t function_unzipped_size, const std::vector<FunctionLayer>& layers) {
  int64_t total = function_unzipped_size;
  for (const FunctionLayer& l : layers) total += l.unzipped_size;
  if (total <= kMaxUnzippedBytes) return Status::Ok();
  return InvalidParameter(fmt::format(
      "Function code combined with layers exceeds the maximum allowed size of {} bytes. The "
      "actual size is {} bytes.",
      kMaxUnzippedBytes, total));
}

Status StoreFunctionVersionLayers(Txn& txn, const Scope& scope, const std::string& function,
                                  int64_t version, const std::vector<FunctionLayer>& layers) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto del, txn.Prepare("DELETE FROM function_version_layers WHERE account = ? AND region = ? "
                            "AND name = ? AND version = ?"));
  del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, version);
  LAMBKIN_RETURN_IF_ERROR(del.Run());
  for (size_t i = 0; i < layers.size(); ++i) {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto ins, txn.Prepare("INSERT INTO function_version_layers (account, region, name, "
                              "version, position, layer_arn, code_sha256) VALUES (?,?,?,?,?,?,?)"));
    ins.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function).Bind(4, version);
    ins.Bind(5, static_cast<int64_t>(i)).Bind(6, layers[i].arn).Bind(7, layers[i].sha256_hex);
    LAMBKIN_RETURN_IF_ERROR(ins.Run());
  }
  return Status::Ok();
}

Result<std::set<std::string>> FunctionLayerPackages(Txn& txn, const Scope& scope,
                                                    const std::string& function,
                                                    std::optional<int64_t> version) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT DISTINCT code_sha256 FROM function_version_layers WHERE "
                           "account = ? AND region = ? AND name = ? AND "
                           "(CAST(? AS INTEGER) IS NULL OR version = ?)"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, function);
  st.Bind(4, version).Bind(5, version);
  std::set<std::string> out;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.insert(st.ColumnText(0));
  }
  return out;
}

Status RemoveUnusedPackage(Txn& txn, CodePackageStore* code, std::string_view sha256_hex,
                           CodePackageStore::Local local) {
  for (const char* sql : {"SELECT 1 FROM function_versions WHERE code_sha256 = ? LIMIT 1",
                          "SELECT 1 FROM layer_versions WHERE code_sha256 = ? LIMIT 1",
                          "SELECT 1 FROM function_version_layers WHERE code_sha256 = ? LIMIT 1"}) {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
    st.Bind(1, sha256_hex);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) return Status::Ok();
  }
  return code->Remove(txn, sha256_hex, local);
}

}  // namespace lambkin::functions
