#include "catalog/bom.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ascii.h"

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

// One stanza of RFC 822-style fields; a key may repeat (METADATA's Requires-Dist).
struct Stanza {
  std::map<std::string, std::vector<std::string>, std::less<>> fields;

  bool Has(std::string_view key) const { return fields.find(key) != fields.end(); }
  // The first value of `key`, "" when absent.
  std::string Get(std::string_view key) const {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second.front();
  }
  const std::vector<std::string>& All(std::string_view key) const {
    static const std::vector<std::string> kNone;
    auto it = fields.find(key);
    return it == fields.end() ? kNone : it->second;
  }
};

// RFC 822-style fields (dpkg status, METADATA, PKG-INFO): stanzas separated by blank lines.
std::vector<Stanza> Stanzas(std::string_view text, bool first_only) {
  std::vector<Stanza> out(1);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (first_only) break;
      if (!out.back().fields.empty()) out.emplace_back();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') continue;  // continuation lines
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    value.remove_prefix(std::min(value.size(), value.find_first_not_of(" \t")));
    out.back().fields[std::string(line.substr(0, colon))].emplace_back(value);
  }
  if (out.back().fields.empty()) out.pop_back();
  return out;
}

// Whether a PEP 508 environment marker tests the `extra` variable (outside quoted strings).
bool MentionsExtra(std::string_view marker) {
  char quote = 0;
  for (size_t i = 0; i < marker.size();) {
    char c = marker[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      ++i;
    } else if (c == '"' || c == '\'') {
      quote = c;
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
      size_t j = i;
      while (j < marker.size() &&
             (std::isalnum(static_cast<unsigned char>(marker[j])) != 0 || marker[j] == '_')) {
        ++j;
      }
      if (marker.substr(i, j - i) == "extra") return true;
      i = j;
    } else {
      ++i;
    }
  }
  return false;
}

// A PEP 508 requirement ("name[extras] (spec) ; marker", "name[extras]spec; marker" or
// "name[extras] @ url ; marker"); nullopt when it has no name or its marker mentions `extra`.
std::optional<Requirement> ParsePythonRequirement(std::string_view text) {
  std::string_view marker;
  if (size_t semi = text.find(';'); semi != std::string_view::npos) {
    marker = text.substr(semi + 1);
    text = text.substr(0, semi);
  }
  if (MentionsExtra(marker)) return std::nullopt;
  text = AsciiTrim(text);
  size_t end = 0;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) != 0 ||
                               text[end] == '-' || text[end] == '_' || text[end] == '.')) {
    ++end;
  }
  if (end == 0) return std::nullopt;
  Requirement r{NormalizePackageName("python", text.substr(0, end)), ""};
  std::string_view rest = AsciiTrim(text.substr(end));
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    rest = AsciiTrim(rest.substr(close + 1));
  }
  if (rest.starts_with('@')) return r;  // a direct reference: any version
  for (char c : rest) {
    if (c != ' ' && c != '\t' && c != '(' && c != ')') r.spec += c;
  }
  return r;
}

void AddRequirement(Requirement r, std::vector<Requirement>* out) {
  if (std::find(out->begin(), out->end(), r) == out->end()) out->push_back(std::move(r));
}

void ReadDpkg(const std::string& rootfs, std::vector<BomEntry>* out) {
  std::vector<fs::path> files = {fs::path(rootfs) / "var/lib/dpkg/status"};
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(rootfs) / "var/lib/dpkg/status.d", ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  for (const auto& file : files) {
    for (const auto& s : Stanzas(ReadSmall(file), false)) {
      if (!s.Has("Package") || !s.Has("Version")) continue;
      if (s.Has("Status") && !s.Get("Status").ends_with(" installed")) continue;
      std::string source = s.Has("Source") ? s.Get("Source") : s.Get("Package");
      source = source.substr(0, source.find(' '));
      out->push_back({"deb", s.Get("Package"), s.Get("Version"), source});
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
      fs::path meta, requires_txt;
      if (n.ends_with(".dist-info")) {
        meta = e.path() / "METADATA";
      } else if (n.ends_with(".egg-info")) {
        if (e.is_directory()) {
          meta = e.path() / "PKG-INFO";
          requires_txt = e.path() / "requires.txt";
        } else {
          meta = e.path();
        }
      } else {
        continue;
      }
      auto entry = ParsePythonMetadata(
          ReadSmall(meta, 1 << 20),
          requires_txt.empty() ? std::string() : ReadSmall(requires_txt, 1 << 20),
          "/" + fs::relative(dir, rootfs).string());
      if (entry) out->push_back(std::move(*entry));
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
    auto entry = ParsePackageJson(ReadSmall(e.path() / "package.json", 1 << 20),
                                  "/" + fs::relative(dir, rootfs).string());
    if (entry) out->push_back(std::move(*entry));
  }
}

void ReadNpm(const std::string& rootfs, std::vector<BomEntry>* out) {
  for (const char* dir : {"var/runtime/node_modules", "usr/lib/node_modules",
                          "usr/local/lib/node_modules", "usr/share/nodejs", "usr/lib/nodejs"}) {
    ReadNpmDir(rootfs, fs::path(rootfs) / dir, out);
  }
}

}  // namespace

std::string NormalizePackageName(std::string_view ecosystem, std::string_view name) {
  if (ecosystem != "python") return std::string(name);
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (out.empty() || out.back() != '-') out += '-';
    } else {
      out += AsciiLower(c);
    }
  }
  return out;
}

std::optional<BomEntry> ParsePythonMetadata(std::string_view metadata,
                                            std::string_view requires_txt, std::string source) {
  auto stanzas = Stanzas(metadata, true);
  if (stanzas.empty() || !stanzas[0].Has("Name") || !stanzas[0].Has("Version")) {
    return std::nullopt;
  }
  const Stanza& s = stanzas[0];
  BomEntry entry{"python", s.Get("Name"), s.Get("Version"), std::move(source)};
  for (const auto& line : s.All("Requires-Dist")) {
    if (auto r = ParsePythonRequirement(line)) AddRequirement(std::move(*r), &entry.depends);
  }
  // setuptools' requires.txt: unconditional lines first, then [extra], [extra:marker] and
  // [:marker] sections.
  bool unconditional = true;
  size_t pos = 0;
  while (pos < requires_txt.size()) {
    size_t eol = requires_txt.find('\n', pos);
    if (eol == std::string_view::npos) eol = requires_txt.size();
    std::string_view line = AsciiTrim(requires_txt.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line.starts_with('#')) continue;
    if (line.starts_with('[')) {
      std::string_view section = line.substr(1, line.find(']') - 1);
      unconditional = AsciiTrim(section.substr(0, section.find(':'))).empty();
      continue;
    }
    if (!unconditional) continue;
    if (auto r = ParsePythonRequirement(line)) AddRequirement(std::move(*r), &entry.depends);
  }
  return entry;
}

std::optional<BomEntry> ParsePackageJson(std::string_view json, std::string source) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto name = j.find("name");
  auto version = j.find("version");
  if (name == j.end() || !name->is_string() || version == j.end() || !version->is_string()) {
    return std::nullopt;
  }
  BomEntry entry{"npm", name->get<std::string>(), version->get<std::string>(), std::move(source)};
  for (const char* key : {"dependencies", "peerDependencies"}) {
    auto deps = j.find(key);
    if (deps == j.end() || !deps->is_object()) continue;
    for (const auto& [dep, range] : deps->items()) {
      if (!range.is_string()) continue;
      AddRequirement({dep, range.get<std::string>()}, &entry.depends);
    }
  }
  return entry;
}

void SortBom(std::vector<BomEntry>* bom) {
  auto key = [](const BomEntry& e) { return std::tie(e.ecosystem, e.name, e.version, e.source); };
  std::sort(bom->begin(), bom->end(),
            [&](const BomEntry& a, const BomEntry& b) { return key(a) < key(b); });
  bom->erase(std::unique(bom->begin(), bom->end(),
                         [&](const BomEntry& a, const BomEntry& b) { return key(a) == key(b); }),
             bom->end());
}

Result<std::vector<BomEntry>> ReadBom(const std::string& rootfs) {
  std::error_code ec;
  if (!fs::is_directory(rootfs, ec)) return NotFound(fmt::format("{} is not a directory", rootfs));
  std::vector<BomEntry> out;
  ReadDpkg(rootfs, &out);
  ReadPython(rootfs, &out);
  ReadNpm(rootfs, &out);
  SortBom(&out);
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
    nlohmann::json entry = {
        {"Ecosystem", e.ecosystem}, {"Name", e.name}, {"Version", e.version}, {"Source", e.source}};
    if (!e.depends.empty()) {
      nlohmann::json& requires_json = entry["Requires"] = nlohmann::json::array();
      for (const auto& r : e.depends) requires_json.push_back({{"Name", r.name}, {"Spec", r.spec}});
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<BomEntry> BomFromJson(const nlohmann::json& j) {
  std::vector<BomEntry> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    BomEntry entry{e.value("Ecosystem", ""), e.value("Name", ""), e.value("Version", ""),
                   e.value("Source", "")};
    if (auto r = e.find("Requires"); r != e.end() && r->is_array()) {
      for (const auto& dep : *r) {
        if (dep.is_object())
          entry.depends.push_back({dep.value("Name", ""), dep.value("Spec", "")});
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace lambkin::catalog
