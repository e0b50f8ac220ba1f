// The function model: functions, their versions ($LATEST and published), aliases, and each
// version's runtime management state (update mode and runtime version).
//
// These are plain values handed between the function service and the API layer; they carry
// no behaviour and no locks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"

namespace lambkin::functions {

inline constexpr std::string_view kLatest = "$LATEST";

enum class UpdateMode { kAuto, kFunctionUpdate, kManual };
std::string_view UpdateModeName(UpdateMode mode);
std::optional<UpdateMode> ParseUpdateMode(std::string_view name);

// Who is asking, and where: every function lives in one account and one region.
struct Scope {
  std::string account;
  std::string region;
};

// How a version's code is deployed: a .zip archive on a managed runtime, or a container image.
enum class PackageType { kZip, kImage };
std::string_view PackageTypeName(PackageType type);

// ImageConfig: what overrides the image config's Entrypoint, Cmd and WorkingDir. Only the
// members given are kept (and echoed); an absent one leaves the image's value.
struct ImageConfigOverrides {
  std::optional<std::vector<std::string>> entry_point;
  std::optional<std::vector<std::string>> command;
  std::optional<std::string> working_directory;
  bool empty() const { return !entry_point && !command && !working_directory; }
};

// A layer version a function version uses (its Layers member), resolved when the function was
// created or configured: the package stays available even if the layer version is deleted.
struct FunctionLayer {
  std::string arn;  // the layer version ARN
  int64_t code_size = 0;
  std::string sha256_hex;  // the layer's code package
  int64_t unzipped_size = 0;
};

// LoggingConfig: how and where the function's environments write its logs. A LoggingConfig in
// a request replaces the whole of it, as AWS's does.
struct LoggingConfig {
  // "" (never set: Text, and no AWS_LAMBDA_LOG_FORMAT in the environment), "Text" or "JSON".
  std::string format;
  std::string application_level;  // JSON only: TRACE, DEBUG, INFO, WARN, ERROR or FATAL
  std::string system_level;       // JSON only: DEBUG, INFO or WARN
  std::string group;              // "" for the function's own /aws/lambda/<name>
  bool Json() const { return format == "JSON"; }
};

// The configuration of one function version (everything a user sets, plus the code).
struct FunctionConfig {
  PackageType package_type = PackageType::kZip;
  std::string runtime;
  catalog::Architecture architecture = catalog::Architecture::kX86_64;
  std::string handler;
  std::string description;
  std::string role;
  int64_t memory_size = 128;
  int64_t timeout = 3;
  int64_t ephemeral_storage = 512;
  std::optional<std::map<std::string, std::string>> environment;
  std::string code_sha256;  // Zip: base64 of the zip's SHA-256; Image: hex of the manifest digest
  int64_t code_size = 0;    // Zip: bytes of the zip; Image: 0, as AWS reports it
  // Image only (runtime and handler are empty; the version has no runtime version):
  std::string image_uri;     // Code.ImageUri as the caller wrote it (tag kept)
  std::string image_digest;  // sha256:<hex>, the manifest the tag resolved to when deployed
  std::optional<ImageConfigOverrides> image_config;
  // The runtime version the image was recognised as built FROM (catalog id), 0 when none.
  int64_t image_base = 0;
  // TracingConfig.Mode: "PassThrough" (AWS's default) or "Active"; stored and echoed.
  std::string tracing_mode = "PassThrough";
  // An (empty) VpcConfig was given: echoed as AWS echoes a function without VPC access once
  // configured. Lambkin has no VPCs, so subnets and security groups are refused.
  bool vpc_config = false;
  LoggingConfig logging;
  // Zip only: the layers extracted in this order into /opt, and the code's unzipped size (for
  // the 250 MB limit of code and layers together; 0 for versions stored before it was kept).
  std::vector<FunctionLayer> layers;
  int64_t code_unzipped_size = 0;
};

// A function's own log group, /aws/lambda/<function_name>.
std::string DefaultLogGroupName(std::string_view function_name);

// The log group the function's environments write to: LoggingConfig.LogGroup, or its own.
std::string LogGroupName(const FunctionConfig& config, std::string_view function_name);

// registry/repository@sha256:<hex>: the image a version runs (GetFunction's ResolvedImageUri).
std::string ResolvedImageUri(const FunctionConfig& config);

// The hex SHA-256 of the config's code package (the name it is stored under).
std::string CodeSha256Hex(const FunctionConfig& config);

// Everything of a configuration an execution environment is built from, as one string: two
// versions with equal fingerprints can share warm environments. (RevisionId is no such key:
// it also changes on tags, policies and publishing, which leave the environment as it was.)
std::string ConfigFingerprint(const FunctionConfig& config);

// A qualifier as the version number it names: 0 for "$LATEST" (and ""), n for "n" (n >= 1),
// nullopt for anything else (an alias name, or not a qualifier at all).
std::optional<int64_t> VersionNumber(std::string_view qualifier);

struct FunctionVersion {
  std::string function_name;
  std::string version;  // "$LATEST" or the decimal version number
  FunctionConfig config;
  std::string revision_id;
  int64_t last_modified = 0;  // ms since epoch
  UpdateMode update_mode = UpdateMode::kAuto;
  int64_t runtime_version = 0;  // catalog id of the version in use
};

struct RoutingConfig {
  std::map<std::string, double> additional_version_weights;
};

struct Alias {
  std::string function_name;
  std::string name;
  std::string function_version;
  std::string description;
  std::optional<RoutingConfig> routing;  // absent when there are no extra weights
  std::string revision_id;
};

struct Function {
  std::string name;
  std::map<std::string, std::string> tags;
};

// One page of a listing; next_marker is empty on the last page.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_marker;
};

}  // namespace lambkin::functions
