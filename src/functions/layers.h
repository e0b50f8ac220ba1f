// Lambda layers: zip archives published as numbered, immutable layer versions, which functions
// name (up to 5, in order) and find extracted into /opt of their execution environments.
//
// A layer lives in one account and region: arn:<partition>:lambda:<region>:<account>:layer:<name>,
// its versions <layer ARN>:<n>. Version numbers rise per layer and are never reused, also after
// every version was deleted (the `layers` row keeps the next number). A layer version's zip is a
// code package (code_package.h): stored once per digest, shared with functions and other layers
// that have the same bytes, on PostgreSQL in the store so every node can fetch it.
//
// Function versions record the layer versions they use (their FunctionConfig::layers, and one
// `function_version_layers` row each, which DeleteFunction cascades away). Deleting a layer
// version does not affect them: its package stays while any function version names it, as AWS
// keeps a deleted layer version's content for the functions that use it.
//
// Permissions: a layer version's owner may grant lambda:GetLayerVersion to another account, to
// every account (`*`), or to every account of an organization (`*` with OrganizationId); the
// policy document is kept with the version. Another account's layer version is readable, and
// usable in a function, only when its policy grants the caller's account.
//
// Every operation runs in one store transaction; errors carry AWS's wording. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "functions/code_package.h"
#include "functions/model.h"
#include "store/database.h"

namespace lambkin::functions {

// The layers subsystem's tables. functions::Schema() includes them (function_version_layers
// references function_versions, and every stored function version writes it).
const store::Migrations& LayersSchema();

// Layers a function may name (Lambda's quota).
inline constexpr size_t kMaxFunctionLayers = 5;

// arn:<partition>:lambda:<region>:<account>:layer:<name>[:<version>] (version 0: none).
std::string LayerArn(const Scope& owner, std::string_view name, int64_t version = 0);

// A layer version ARN taken apart; nullopt when `arn` is not one.
struct LayerVersionRef {
  Scope owner;
  std::string name;
  int64_t version = 0;
};
std::optional<LayerVersionRef> ParseLayerVersionArn(std::string_view arn);

struct LayerVersion {
  Scope owner;
  std::string name;
  int64_t version = 0;
  std::string description;
  std::optional<std::string> license_info;
  int64_t created = 0;  // ms since epoch
  // Absent when the publisher gave none (AWS then omits the member; an empty list is echoed).
  std::optional<std::vector<std::string>> compatible_runtimes;
  std::optional<std::vector<std::string>> compatible_architectures;
  std::string code_sha256;  // base64, as CodeSha256
  std::string code_sha256_hex;
  int64_t code_size = 0;
  int64_t unzipped_size = 0;

  std::string arn() const { return LayerArn(owner, name, version); }
};

struct PublishLayerVersionCommand {
  std::string name;
  std::string zip;
  std::string description;
  std::optional<std::string> license_info;
  std::optional<std::vector<std::string>> compatible_runtimes;
  std::optional<std::vector<std::string>> compatible_architectures;
};

struct AddLayerPermissionCommand {
  std::string statement_id;
  std::string action;     // lambda:GetLayerVersion
  std::string principal;  // an account id, "*", or arn:aws:iam::<account>:root
  std::optional<std::string> organization_id;
  std::optional<std::string> revision_id;
};

// The policy of a layer version: the document as AWS writes it, and its revision.
struct LayerPolicy {
  std::string document;
  std::string revision_id;
};

// Who asks for another account's layer version: their account and organization (empty when
// none), and the ARN AccessDenied messages name.
struct LayerCaller {
  std::string account;
  std::string organization_id;
  std::string arn;
};

class LayerService {
 public:
  LayerService(store::Database* db, CodePackageStore* code, const Clock* clock)
      : db_(db), code_(code), clock_(clock) {}

  Result<LayerVersion> Publish(const Scope& scope, PublishLayerVersionCommand cmd);
  // The version in `owner`'s account, read by `caller` (another account needs a grant).
  Result<LayerVersion> Get(const LayerCaller& caller, const Scope& owner, const std::string& name,
                           int64_t version);
  // Newest first; `runtime`/`architecture` filter on the compatibilities (empty: any).
  Result<Page<LayerVersion>> ListVersions(const Scope& scope, const std::string& name,
                                          const std::string& runtime,
                                          const std::string& architecture,
                                          const std::string& marker, int max_items);
  // Each layer with its newest version matching the filters, by name.
  Result<Page<LayerVersion>> ListLayers(const Scope& scope, const std::string& runtime,
                                        const std::string& architecture, const std::string& marker,
                                        int max_items);
  // Deleting a missing version succeeds, as on AWS.
  Status Delete(const Scope& scope, const std::string& name, int64_t version);

  // Returns the statement added (its JSON text) and the policy's new revision.
  Result<LayerPolicy> AddPermission(const Scope& scope, const std::string& name, int64_t version,
                                    const AddLayerPermissionCommand& cmd);
  Status RemovePermission(const Scope& scope, const std::string& name, int64_t version,
                          const std::string& statement_id,
                          const std::optional<std::string>& revision_id);
  Result<LayerPolicy> GetPolicy(const Scope& scope, const std::string& name, int64_t version);

 private:
  store::Database* db_;
  CodePackageStore* code_;
  const Clock* clock_;
};

// Resolves a function's Layers (layer version ARNs, in order) inside the function's write
// transaction, with AWS's checks: at most 5, one version per layer, in the function's region,
// existing, usable by `caller` (another account's needs a grant), and with the function's own
// unzipped code at most 250 MB together.
Result<std::vector<FunctionLayer>> ResolveFunctionLayers(store::Txn& txn, const Scope& scope,
                                                         const LayerCaller& caller,
                                                         const std::vector<std::string>& arns,
                                                         int64_t function_unzipped_size);

// The function's unzipped code and its layers' together within 250 MB, or AWS's error.
Status CheckCombinedSize(int64_t function_unzipped_size, const std::vector<FunctionLayer>& layers);

// Records the layers of a stored function version (replacing what it had), so their packages
// stay while the version exists.
Status StoreFunctionVersionLayers(store::Txn& txn, const Scope& scope, const std::string& function,
                                  int64_t version, const std::vector<FunctionLayer>& layers);
// The packages of the layers a function (every version, or one) uses.
Result<std::set<std::string>> FunctionLayerPackages(store::Txn& txn, const Scope& scope,
                                                    const std::string& function,
                                                    std::optional<int64_t> version);
// Removes a code package in `txn` unless a function version's code, a layer version or a
// function version's layer still uses it. Run it under the store's write lock (Transact()),
// which also covers every CodePackageStore::Put(), so a package cannot vanish under a new user.
Status RemoveUnusedPackage(store::Txn& txn, CodePackageStore* code, std::string_view sha256_hex,
                           CodePackageStore::Local local);

}  // namespace lambkin::functions
