// Who the `lambkin` operator verbs sign as, and in which region: found as the AWS CLI and SDKs
// find them, so the same environment works for `aws` and `lambkin`.
//
// Credentials, first found wins:
//   1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment;
//   2. the profile AWS_PROFILE (default "default"): its aws_access_key_id,
//      aws_secret_access_key and aws_session_token in the shared credentials file
//      (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials, sections `[NAME]`), else in the
//      config file (AWS_CONFIG_FILE, default ~/.aws/config, sections `[profile NAME]` and
//      `[default]`);
//   3. when AWS_PROFILE is not set and nothing was found: the README's development key, which
//      only a server in development mode accepts.
// A profile named by AWS_PROFILE that exists nowhere, or that has no static keys, is an error,
// never a silent fallback.
//
// Region: --region, then AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the config
// file, then us-east-1.
//
// The environment and the files are read through CredentialSources, so tests inject them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lambkin::cli {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::optional<std::string> session_token;
  std::string source;        // where they were found, for messages (never the secret)
  bool development = false;  // the README's development key, found by falling back
};

struct ClientIdentity {
  AwsCredentials credentials;
  std::string region;
};

struct CredentialSources {
  // An environment variable; nullopt when unset or empty.
  std::function<std::optional<std::string>(const char* name)> env;
  // A whole file; nullopt when it cannot be read.
  std::function<std::optional<std::string>(const std::string& path)> read_file;
};

// The process environment and the real filesystem.
CredentialSources SystemCredentialSources();

// kInvalidParameterValue naming the variable, profile or file at fault.
Result<ClientIdentity> ResolveClientIdentity(const CredentialSources& sources,
                                             const std::string& region_flag);

// An INI file as the AWS shared files are written: section -> key (lower-cased) -> value.
// `#` and `;` start comment lines; indented lines continue a nested value and are skipped.
using IniFile = std::map<std::string, std::map<std::string, std::string>>;
IniFile ParseIni(std::string_view text);

// The AWS shared-credentials text of one profile holding a key.
std::string CredentialsFileProfile(const std::string& profile, const std::string& access_key_id,
                                   const std::string& secret_access_key);

}  // namespace lambkin::cli
