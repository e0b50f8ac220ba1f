// FunctionService: the domain of functions, versions, aliases and runtime management config.
//
// Every operation takes a Scope (account and region, from the caller's credentials), runs in
// one store transaction and either commits all of its effects or none: a refused request
// changes nothing. Writes are serialised by the store, so concurrent updates to one function
// are applied one after the other and never lost; RevisionId preconditions let a client detect
// that someone else changed the function in between.
//
// Runtime management, per function version:
//  - a new version starts in Auto on the newest runtime version of its runtime;
//  - Create/UpdateFunctionCode/UpdateFunctionConfiguration move Auto and FunctionUpdate
//    versions to the newest runtime version; Manual keeps its pin and refuses changes of
//    runtime or architecture;
//  - a published version copies $LATEST's runtime version and update mode;
//  - every change of a version's runtime version is recorded as an edit with its cause.
// In a region without runtime management controls every version is Auto.
//
// Errors carry the AWS wording (the API layer only maps codes to wire errors). Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "functions/code_package.h"
#include "functions/layers.h"
#include "functions/model.h"
#include "store/database.h"

namespace lambkin::functions {

// Its tables, as numbered migrations (store/database.h), followed by LayersSchema().
const store::Migrations& Schema();

// arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
std::string FunctionArn(const Scope& scope, std::string_view name, std::string_view qualifier = {});

// Tags a function may carry (Lambda's quota).
constexpr size_t kMaxTags = 50;

struct CreateFunctionCommand {
  std::string name;
  FunctionConfig config;  // code_sha256/code_size are filled from `zip`
  std::string zip;
  bool publish = false;
  std::string publish_description;
  std::map<std::string, std::string> tags;
  // Layers: layer version ARNs in order (resolved in the create's transaction), and who asks
  // (another account's layer version needs a grant to that caller).
  std::vector<std::string> layers;
  LayerCaller layer_caller;
};

// A container image, resolved and pulled by the caller (lambdaapi) before the command runs.
struct ImageCode {
  std::string uri;     // as the caller wrote it
  std::string digest;  // sha256:<hex> of the manifest it resolved to
  int64_t base = 0;    // the runtime version recognised as its base (catalog id), 0: none
};

struct UpdateCodeCommand {
  std::string zip;
  std::optional<catalog::Architecture> architecture;
  bool publish = false;
  bool dry_run = false;
  std::optional<std::string> revision_id;
  std::optional<ImageCode> image;  // instead of `zip`, for an Image function
  // The cause recorded in the runtime history when the change moves the version to another
  // runtime version (for an image: another recognised base).
  std::string cause = "function-update";
};

struct UpdateConfigurationCommand {
  std::optional<std::string> runtime;
  std::optional<std::string> handler;
  std::optional<std::string> description;
  std::optional<std::string> role;
  std::optional<int64_t> memory_size;
  std::optional<int64_t> timeout;
  std::optional<int64_t> ephemeral_storage;
  std::optional<std::map<std::string, std::string>> environment;
  std::optional<std::string> revision_id;
  // Image functions: replaces the whole ImageConfig (an empty one removes it).
  std::optional<ImageConfigOverrides> image_config;
  std::optional<std::string> tracing_mode;  // TracingConfig.Mode
  bool vpc_config = false;                  // an empty VpcConfig was given
  std::optional<LoggingConfig> logging;     // replaces the whole LoggingConfig
  // Replaces the layers (an empty list removes them); see CreateFunctionCommand.
  std::optional<std::vector<std::string>> layers;
  LayerCaller layer_caller;
};

struct PublishVersionCommand {
  std::optional<std::string> code_sha256;
  std::optional<std::string> description;
  std::optional<std::string> revision_id;
};

struct AliasCommand {
  std::string name;
  std::optional<std::string> function_version;
  std::optional<std::string> description;
  std::optional<RoutingConfig> routing;  // present: replace (empty map clears)
  std::optional<std::string> revision_id;
};

struct RuntimeManagementConfig {
  UpdateMode update_mode = UpdateMode::kAuto;
  std::optional<std::string> runtime_version_arn;  // only in Manual
};

// Told after a change commits that makes a function version's running environments outdated
// (its configuration, code or runtime version changed, or it was deleted).
class FunctionObserver {
 public:
  virtual ~FunctionObserver() = default;
  // `version` is "$LATEST", a number, or nullopt for every version of the function.
  virtual void OnFunctionChanged(const Scope& scope, const std::string& function,
                                 const std::optional<std::string>& version) = 0;
};

// Lambda's quotas per account and region as this server applies them: the code sizes are
// AWS's fixed limits (code_package.h); the concurrency and the code storage are the operator's
// (docs/configuration.md), AWS's defaults unless configured.
struct AccountLimits {
  int64_t total_code_size = 80530636800;  // 75 GB
  int64_t code_size_unzipped = kMaxUnzippedBytes;
  int64_t code_size_zipped = kMaxZippedBytes;
  int64_t concurrent_executions = 1000;
  // Reserved concurrency may never leave less than this unreserved (AWS: 100).
  int64_t min_unreserved_concurrency = 100;
};

// What an account uses in a region (GetAccountSettings' AccountUsage).
struct AccountUsage {
  // The code packages of every version ($LATEST included) and every layer version's archive.
  int64_t total_code_size = 0;
  int64_t function_count = 0;
  int64_t reserved_concurrency = 0;  // summed over the functions
};

// What a create/update returns: the changed $LATEST, and the version published with it.
struct WriteResult {
  FunctionVersion latest;
  std::optional<FunctionVersion> published;
};

class FunctionService {
 public:
  FunctionService(store::Database* db, catalog::Catalog* catalog, const catalog::RegionSet* regions,
                  CodePackageStore* code, const Clock* clock)
      : db_(db), catalog_(catalog), regions_(regions), code_(code), clock_(clock) {}

  // REQUIRES: called before the service is used concurrently.
  void SetObserver(FunctionObserver* observer) { observer_ = observer; }
  // REQUIRES: called before the service is used concurrently.
  void SetAccountLimits(const AccountLimits& limits) { limits_ = limits; }
  const AccountLimits& account_limits() const { return limits_; }
  Result<AccountUsage> GetAccountUsage(const Scope& scope);

  Result<WriteResult> CreateFunction(const Scope& scope, CreateFunctionCommand cmd);
  // `qualifier` may be empty ($LATEST), "$LATEST", a version number or an alias name.
  Result<FunctionVersion> GetFunctionVersion(const Scope& scope, const std::string& name,
                                             const std::string& qualifier);
  Result<Function> GetFunction(const Scope& scope, const std::string& name);
  // The version an invocation of `qualifier` runs: the version itself, or an alias's target,
  // or (with `weight_draw` in [0, 1) below its weight) the alias's additional version.
  Result<FunctionVersion> ResolveInvocation(const Scope& scope, const std::string& name,
                                            const std::string& qualifier, double weight_draw);
  // Reserved concurrency (PutFunctionConcurrency); nullopt when unset.
  Result<std::optional<int64_t>> GetReservedConcurrency(const Scope& scope,
                                                        const std::string& name);
  // Adds or replaces tags of a function (`add`), then removes `remove`; at most kMaxTags remain.
  Status TagFunction(const Scope& scope, const std::string& name,
                     const std::map<std::string, std::string>& add,
                     const std::vector<std::string>& remove);
  // Sets (or with nullopt removes) the reserved concurrency. kBelowAccountMinimum when the
  // reservations of the scope's functions would leave less than the minimum unreserved; checked
  // in the write's transaction, so concurrent calls cannot both pass.
  Status PutReservedConcurrency(const Scope& scope, const std::string& name,
                                std::optional<int64_t> reserved);
  // all_versions=false lists $LATEST of each function.
  Result<Page<FunctionVersion>> ListFunctions(const Scope& scope, bool all_versions,
                                              const std::string& marker, int max_items);
  Result<WriteResult> UpdateFunctionCode(const Scope& scope, const std::string& name,
                                         UpdateCodeCommand cmd);
  Result<FunctionVersion> UpdateFunctionConfiguration(const Scope& scope, const std::string& name,
                                                      const UpdateConfigurationCommand& cmd);
  Result<FunctionVersion> PublishVersion(const Scope& scope, const std::string& name,
                                         const PublishVersionCommand& cmd);
  Result<Page<FunctionVersion>> ListVersions(const Scope& scope, const std::string& name,
                                             const std::string& marker, int max_items);
  // Deletes the function (empty qualifier) or one published version.
  Status DeleteFunction(const Scope& scope, const std::string& name, const std::string& qualifier);

  Result<Alias> CreateAlias(const Scope& scope, const std::string& function,
                            const AliasCommand& cmd);
  Result<Alias> GetAlias(const Scope& scope, const std::string& function, const std::string& alias);
  Result<Alias> UpdateAlias(const Scope& scope, const std::string& function,
                            const AliasCommand& cmd);
  Status DeleteAlias(const Scope& scope, const std::string& function, const std::string& alias);
  Result<Page<Alias>> ListAliases(const Scope& scope, const std::string& function,
                                  const std::optional<std::string>& function_version,
                                  const std::string& marker, int max_items);

  Result<RuntimeManagementConfig> GetRuntimeManagementConfig(const Scope& scope,
                                                             const std::string& name,
                                                             const std::string& qualifier);
  Result<RuntimeManagementConfig> PutRuntimeManagementConfig(const Scope& scope,
                                                             const std::string& name,
                                                             const std::string& qualifier,
                                                             const RuntimeManagementConfig& cfg);

  // The runtime version ARN a version reports in RuntimeVersionConfig.
  std::string RuntimeVersionArn(const Scope& scope, const FunctionVersion& v) const;
  // Whether the scope's region supports runtime management controls.
  bool RuntimeManagementControls(const Scope& scope) const;

  struct RuntimeVersionEdit {
    int64_t at = 0;
    std::string version;
    std::optional<int64_t> old_runtime_version;
    int64_t new_runtime_version = 0;
    std::string cause;  // create, function-update, runtime-change, publish, pin, auto, phase2,
                        // revert, block, image-rebase (an image's base: its runtime version)
    std::string update_mode;       // the version's mode after the change
    std::optional<int64_t> batch;  // phase-2 batch (phase2, revert)
  };
  // Every image function version in every account and region, with the runtime version its
  // image was recognised as built FROM (0: none): what staleness reports read.
  struct ImageVersion {
    Scope scope;
    std::string function_name;
    std::string version;
    FunctionConfig config;
  };
  Result<std::vector<ImageVersion>> ListImageVersions();

  // The recorded runtime version changes of one function, oldest first.
  Result<std::vector<RuntimeVersionEdit>> RuntimeVersionHistory(const Scope& scope,
                                                                const std::string& name);

 private:
  Result<int64_t> NewestRuntimeVersion(store::Database::Txn& txn, const Scope& scope,
                                       const std::string& runtime,
                                       catalog::ReleaseStage stage) const;

  store::Database* db_;
  catalog::Catalog* catalog_;
  const catalog::RegionSet* regions_;
  CodePackageStore* code_;
  const Clock* clock_;
  FunctionObserver* observer_ = nullptr;
  AccountLimits limits_;
};

}  // namespace lambkin::functions
