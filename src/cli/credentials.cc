#include "cli/credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/ascii.h"
#include "iam/authenticator.h"

namespace lambkin::cli {

namespace {

constexpr char kDefaultRegion[] = "us-east-1";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<std::string> Find(const IniFile& ini, const std::string& section,
                                const std::string& key) {
  auto s = ini.find(section);
  if (s == ini.end()) return std::nullopt;
  auto k = s->second.find(key);
  if (k == s->second.end() || k->second.empty()) return std::nullopt;
  return k->second;
}

// A path of the AWS shared files: the variable, else under the home directory.
std::optional<std::string> SharedFile(const CredentialSources& sources, const char* variable,
                                      const char* under_home) {
  if (auto path = sources.env(variable)) {
    if (path->starts_with("~/")) {
      if (auto home = sources.env("HOME")) return *home + path->substr(1);
    }
    return path;
  }
  if (auto home = sources.env("HOME")) return fmt::format("{}/{}", *home, under_home);
  return std::nullopt;
}

struct SharedFiles {
  std::optional<std::string> credentials_path, config_path;
  IniFile credentials, config;
};

SharedFiles ReadSharedFiles(const CredentialSources& sources) {
  SharedFiles f;
  f.credentials_path = SharedFile(sources, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
  f.config_path = SharedFile(sources, "AWS_CONFIG_FILE", ".aws/config");
  if (f.credentials_path) {
    if (auto text = sources.read_file(*f.credentials_path)) f.credentials = ParseIni(*text);
  }
  if (f.config_path) {
    if (auto text = sources.read_file(*f.config_path)) f.config = ParseIni(*text);
  }
  return f;
}

// The config file's section of a profile: `[default]` (or `[profile default]`), else
// `[profile NAME]`.
std::string ConfigSection(const IniFile& config, const std::string& profile) {
  if (profile == "default" && config.contains("default")) return "default";
  return "profile " + profile;
}

// The keys of `section` in `ini`, when it has any.
Result<std::optional<AwsCredentials>> KeysIn(const IniFile& ini, const std::string& section,
                                             const std::string& profile, const std::string& path) {
  if (!ini.contains(section)) return std::optional<AwsCredentials>();
  std::optional<std::string> id = Find(ini, section, "aws_access_key_id");
  std::optional<std::string> secret = Find(ini, section, "aws_secret_access_key");
  if (!id && !secret) return std::optional<AwsCredentials>();
  if (!id || !secret) {
    return InvalidParameter(fmt::format("profile {} in {} has {} but not {}", profile, path,
                                        id ? "aws_access_key_id" : "aws_secret_access_key",
                                        id ? "aws_secret_access_key" : "aws_access_key_id"));
  }
  return std::optional<AwsCredentials>(
      AwsCredentials{*id, *secret, Find(ini, section, "aws_session_token"),
                     fmt::format("profile {} in {}", profile, path)});
}

Result<AwsCredentials> FindCredentials(const CredentialSources& sources, const SharedFiles& files,
                                       const std::string& profile, bool profile_named) {
  std::optional<std::string> id = sources.env("AWS_ACCESS_KEY_ID");
  std::optional<std::string> secret = sources.env("AWS_SECRET_ACCESS_KEY");
  if (id || secret) {
    if (!id || !secret) {
      return InvalidParameter(fmt::format("{} is set but {} is not",
                                          id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                                          id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID"));
    }
    return AwsCredentials{*id, *secret, sources.env("AWS_SESSION_TOKEN"),
                          "the environment (AWS_ACCESS_KEY_ID)"};
  }
  if (files.credentials_path) {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<AwsCredentials> found,
                             KeysIn(files.credentials, profile, profile, *files.credentials_path));
    if (found) return std::move(*found);
  }
  if (files.config_path) {
    LAMBKIN_ASSIGN_OR_RETURN(
        std::optional<AwsCredentials> found,
        KeysIn(files.config, ConfigSection(files.config, profile), profile, *files.config_path));
    if (found) return std::move(*found);
  }
  if (profile_named) {
    bool exists = files.credentials.contains(profile) ||
                  files.config.contains(ConfigSection(files.config, profile));
    if (exists) {
      return InvalidParameter(fmt::format(
          "profile {} (AWS_PROFILE) has no aws_access_key_id and aws_secret_access_key; lambkin "
          "signs with static keys only",
          profile));
    }
    return InvalidParameter(
        fmt::format("the profile {} (AWS_PROFILE) could not be found in {} or {}", profile,
                    files.credentials_path.value_or("~/.aws/credentials"),
                    files.config_path.value_or("~/.aws/config")));
  }
  return AwsCredentials{iam::kDevelopmentAccessKey, iam::kDevelopmentSecretKey, std::nullopt,
                        "the development key (no AWS credentials were found)", true};
}

}  // namespace

IniFile ParseIni(std::string_view text) {
  IniFile ini;
  std::map<std::string, std::string>* keys = nullptr;  // of the current section
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (raw.front() == ' ' || raw.front() == '\t') continue;  // a nested value's line
    if (line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string_view::npos) {
        keys = nullptr;
        continue;
      }
      keys = &ini[std::string(Trim(line.substr(1, close - 1)))];
      continue;
    }
    size_t eq = line.find('=');
    if (keys == nullptr || eq == std::string_view::npos) continue;
    (*keys)[AsciiLower(Trim(line.substr(0, eq)))] = std::string(Trim(line.substr(eq + 1)));
  }
  return ini;
}

std::string CredentialsFileProfile(const std::string& profile, const std::string& access_key_id,
                                   const std::string& secret_access_key) {
  return fmt::format("[{}]\naws_access_key_id = {}\naws_secret_access_key = {}\n", profile,
                     access_key_id, secret_access_key);
}

CredentialSources SystemCredentialSources() {
  return {[](const char* name) -> std::optional<std::string> {
            const char* v = std::getenv(name);
            if (v == nullptr || *v == '\0') return std::nullopt;
            return std::string(v);
          },
          [](const std::string& path) -> std::optional<std::string> {
            std::ifstream in(path, std::ios::binary);
            if (!in) return std::nullopt;
            std::ostringstream out;
            out << in.rdbuf();
            return out.str();
          }};
}

Result<ClientIdentity> ResolveClientIdentity(const CredentialSources& sources,
                                             const std::string& region_flag) {
  std::optional<std::string> named = sources.env("AWS_PROFILE");
  std::string profile = named.value_or("default");
  SharedFiles files = ReadSharedFiles(sources);
  LAMBKIN_ASSIGN_OR_RETURN(AwsCredentials credentials,
                           FindCredentials(sources, files, profile, named.has_value()));
  std::string region = region_flag;
  if (region.empty()) region = sources.env("AWS_REGION").value_or("");
  if (region.empty()) region = sources.env("AWS_DEFAULT_REGION").value_or("");
  if (region.empty()) {
    region = Find(files.config, ConfigSection(files.config, profile), "region").value_or("");
  }
  if (region.empty()) region = kDefaultRegion;
  return ClientIdentity{std::move(credentials), std::move(region)};
}

}  // namespace lambkin::cli
