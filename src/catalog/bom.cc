#include "catalog/bom.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::catalog {

namespace fs = std::filesystem;

namespace {

std::string ReadSmall(const fs::path& path, size_t limit = 64 << 20) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string out(limit, '\0');
  in.read(out.data(), static_cast<std::streamsize>(limit));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

// RFC 822-style fields (dpkg status, METADATA, PKG-INFO): stanzas separated by blank lines.
std::vector<std::map<std::string, std::string>> Stanzas(const std::string& text, bool first_only) {
  std::vector<std::map<std::string, std::string>> out(1);
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (first_only) break;
      if (!out.back().empty()) out.emplace_back();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // continuation lines
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out.back().emplace(key, value);
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

void ReadDpkg(const std::string& rootfs, std::vector<BomEntry>* out) {
  std::vector<fs::path> files = {fs::path(rootfs) / "var/lib/dpkg/status"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(rootfs) / "var/lib/dpkg/status.d", ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  for (const auto& file : files) {
    for (auto& s : Stanzas(ReadSmall(file), false)) {
      if (!s.contains("Package") || !s.contains("Version")) continue;
      if (auto st = s.find("Status"); st != s.end() && !st->second.ends_with(" installed"))
        continue;
      std::string source = s.contains("Source") ? s["Source"] : s["Package"];
      source = source.substr(0, source.find(' '));
      out->push_back({"deb", s["Package"], s["Version"], source});
    }
  }
}

void ReadPython(const std::string& rootfs, std::vector<BomEntry>* out) {
  // Every site directory: /usr/lib/python3*/…, /usr/local/lib/…, /var/runtime, /var/lang/lib/….
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const char* base : {"usr/lib", "usr/local/lib", "var/lang/lib"}) {
    for (const auto& e : fs::directory_iterator(fs::path(rootfs) / base, ec)) {
      std::string n = e.path().filename().string();
      if (!n.starts_with("python")) continue;
      dirs.push_back(e.path() / "site-packages");
      dirs.push_back(e.path() / "dist-packages");
    }
  }
  dirs.push_back(fs::path(rootfs) / "var/runtime");
  for (const auto& dir : dirs) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string n = e.path().filename().string();
      fs::path meta;
      if (n.ends_with(".dist-info")) {
        meta = e.path() / "METADATA";
      } else if (n.ends_with(".egg-info")) {
        meta = e.is_directory() ? e.path() / "PKG-INFO" : e.path();
      } else {
        continue;
      }
      auto s = Stanzas(ReadSmall(meta, 1 << 20), true);
      if (s.empty() || !s[0].contains("Name") || !s[0].contains("Version")) continue;
      out->push_back(
          {"python", s[0]["Name"], s[0]["Version"], "/" + fs::relative(dir, rootfs).string()});
    }
  }
}

void ReadNpmDir(const std::string& rootfs, const fs::path& dir, std::vector<BomEntry>* out) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (!e.is_directory() || n.starts_with('.')) continue;
    if (n.starts_with('@')) {
      ReadNpmDir(rootfs, e.path(), out);
      continue;
    }
    nlohmann::json j =
        nlohmann::json::parse(ReadSmall(e.path() / "package.json", 1 << 20), nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("version") ||
        !j["version"].is_string()) {
      continue;
    }
    out->push_back({"npm", j["name"], j["version"], "/" + fs::relative(dir, rootfs).string()});
  }
}

void ReadNpm(const std::string& rootfs, std::vector<BomEntry>* out) {
  for (const char* dir : {"var/runtime/node_modules", "usr/lib/node_modules",
                          "usr/local/lib/node_modules", "usr/share/nodejs", "usr/lib/nodejs"}) {
    ReadNpmDir(rootfs, fs::path(rootfs) / dir, out);
  }
}

}  // namespace

Result<std::vector<BomEntry>> ReadBom(const std::string& rootfs) {
  std::error_code ec;
  if (!fs::is_directory(rootfs, ec)) return NotFound(fmt::format("{} is not a directory", rootfs));
  std::vector<BomEntry> out;
  ReadDpkg(rootfs, &out);
  ReadPython(rootfs, &out);
  ReadNpm(rootfs, &out);
  std::sort(out.begin(), out.end(), [](const BomEntry& a, const BomEntry& b) {
    return std::tie(a.ecosystem, a.name, a.version, a.source) <
           std::tie(b.ecosystem, b.name, b.version, b.source);
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<BomChange> DiffBom(const std::vector<BomEntry>& a, const std::vector<BomEntry>& b) {
  using Key = std::pair<std::string, std::string>;
  std::map<Key, std::string> before, after;
  for (const auto& e : a) before[{e.ecosystem, e.name}] = e.version;
  for (const auto& e : b) after[{e.ecosystem, e.name}] = e.version;
  std::vector<BomChange> out;
  for (const auto& [k, v] : before) {
    auto it = after.find(k);
    if (it == after.end()) {
      out.push_back({k.first, k.second, v, ""});
    } else if (it->second != v) {
      out.push_back({k.first, k.second, v, it->second});
    }
  }
  for (const auto& [k, v] : after) {
    if (!before.contains(k)) out.push_back({k.first, k.second, "", v});
  }
  std::sort(out.begin(), out.end(), [](const BomChange& x, const BomChange& y) {
    return std::tie(x.ecosystem, x.name) < std::tie(y.ecosystem, y.name);
  });
  return out;
}

nlohmann::json BomToJson(const std::vector<BomEntry>& bom) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : bom) {
    out.push_back({{"Ecosystem", e.ecosystem},
                   {"Name", e.name},
                   {"Version", e.version},
                   {"Source", e.source}});
  }
  return out;
}

std::vector<BomEntry> BomFromJson(const nlohmann::json& j) {
  std::vector<BomEntry> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    out.push_back({e.value("Ecosystem", ""), e.value("Name", ""), e.value("Version", ""),
                   e.value("Source", "")});
  }
  return out;
}

}  // namespace lambkin::catalog
