#include "runtimes/definition.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"

namespace lambkin::runtimes {

namespace {

bool IsHex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

Result<RuntimeDefinition> LoadDefinition(const std::string& dir) {
  std::string path = dir + "/runtime.json";
  LAMBKIN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return InvalidParameter(fmt::format("{} is not a JSON object", path));
  RuntimeDefinition d;
  d.dir = dir;
  try {
    d.runtime = j.at("runtime").get<std::string>();
    d.description = j.value("description", "");
    d.sources = j.at("sources").get<std::vector<std::string>>();
    d.packages = j.at("packages").get<std::vector<std::string>>();
    d.var_runtime = j.value("var_runtime", "");
    d.env = j.value("env", std::vector<std::string>{});
    d.links = j.value("links", std::map<std::string, std::string>{});
    d.configure = j.value("configure", std::vector<std::vector<std::string>>{});
    d.source_date_epoch = j.value("source_date_epoch", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    return InvalidParameter(fmt::format("{}: {}", path, e.what()));
  }
  if (d.runtime.empty() || d.sources.empty() || d.packages.empty()) {
    return InvalidParameter(fmt::format("{} needs runtime, sources and packages", path));
  }
  for (const auto& [link, target] : d.links) {
    if (!link.starts_with("/usr/") || link.find("..") != std::string::npos) {
      return InvalidParameter(fmt::format("{}: links are absolute paths under /usr", path));
    }
  }
  for (const auto& c : d.configure) {
    if (c.empty() || !c[0].starts_with("/")) {
      return InvalidParameter(
          fmt::format("{}: each configure command starts with an absolute path", path));
    }
  }
  return d;
}

std::string VarRuntimeDir(const RuntimeDefinition& definition) {
  if (definition.var_runtime.empty() || definition.var_runtime.starts_with('/')) {
    return definition.var_runtime;
  }
  return definition.dir + "/" + definition.var_runtime;
}

std::string LockPath(const RuntimeDefinition& definition, std::string_view debian_arch) {
  return fmt::format("{}/packages.{}.lock", definition.dir, debian_arch);
}

Result<std::vector<LockedPackage>> ReadLock(const std::string& path) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  std::vector<LockedPackage> out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    LockedPackage p;
    std::string sha;
    if (!(fields >> p.name >> p.version >> p.architecture >> p.size >> sha >> p.url) ||
        !sha.starts_with("sha256:") || !IsHex64(std::string_view(sha).substr(7)) || p.size <= 0 ||
        !(p.url.starts_with("http://") || p.url.starts_with("https://"))) {
      return InvalidParameter(fmt::format(
          "{}:{}: expected 'name version architecture size sha256:<hex> url'", path, number));
    }
    p.sha256 = sha.substr(7);
    out.push_back(std::move(p));
  }
  if (out.empty()) return InvalidParameter(fmt::format("{} lists no packages", path));
  return out;
}

Status WriteLock(const std::string& path, const std::vector<LockedPackage>& packages,
                 std::string_view header) {
  std::string text(header);
  for (const auto& p : packages) {
    text += fmt::format("{} {} {} {} sha256:{} {}\n", p.name, p.version, p.architecture, p.size,
                        p.sha256, p.url);
  }
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return Internal(fmt::format("cannot write {}", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return Internal(fmt::format("cannot write {}", path));
  }
  return Status::Ok();
}

}  // namespace lambkin::runtimes
