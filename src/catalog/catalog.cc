#include "catalog/catalog.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace lambkin::catalog {

namespace fs = std::filesystem;

const char kCatalogSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS runtime_versions (
  id INTEGER PRIMARY KEY,
  runtime TEXT NOT NULL,
  number INTEGER NOT NULL,
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  bundle_dir TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  notes TEXT NOT NULL,
  published_at INTEGER NOT NULL,
  UNIQUE (runtime, number)
);
CREATE TABLE IF NOT EXISTS runtime_version_regions (
  runtime_version INTEGER NOT NULL REFERENCES runtime_versions (id),
  region TEXT NOT NULL,
  stage INTEGER NOT NULL,  -- ReleaseStage
  PRIMARY KEY (runtime_version, region)
) WITHOUT ROWID;
)sql";

namespace {

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidParameter(fmt::format("cannot read {}", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` and returns its standard output (used to ask interpreters their version).
std::optional<std::string> CommandOutput(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  if (pclose(pipe) != 0) return std::nullopt;
  return out;
}

// "python3" and "nodejs" in a built-in manifest stand for the host's interpreter, whose
// version decides the runtime identifier (python3.11, nodejs20.x).
Result<std::string> ResolveRuntime(const std::string& runtime, const nlohmann::json& manifest) {
  if (runtime != "python3" && runtime != "nodejs") return runtime;
  std::string interpreter = manifest.value("interpreter", "");
  if (interpreter.empty() || access(interpreter.c_str(), X_OK) != 0) {
    return NotFound(
        fmt::format("interpreter {} for runtime {} is not installed", interpreter, runtime));
  }
  auto out = CommandOutput(interpreter + " --version 2>&1");
  if (!out) return NotFound(fmt::format("{} --version failed", interpreter));
  unsigned major = 0, minor = 0;
  if (runtime == "python3") {
    if (std::sscanf(out->c_str(), "Python %u.%u", &major, &minor) != 2 || major != 3) {
      return NotFound(fmt::format("unexpected version from {}: {}", interpreter, *out));
    }
    return fmt::format("python3.{}", minor);
  }
  if (std::sscanf(out->c_str(), "v%u.%u", &major, &minor) != 2) {
    return NotFound(fmt::format("unexpected version from {}: {}", interpreter, *out));
  }
  return fmt::format("nodejs{}.x", major);
}

bool KnownRuntimeShape(std::string_view runtime) {
  auto digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (runtime.starts_with("python3.")) return digits(runtime.substr(8));
  if (runtime.starts_with("nodejs") && runtime.ends_with(".x")) {
    return digits(runtime.substr(6, runtime.size() - 8));
  }
  return runtime == "provided.al2023" || runtime == "provided.al2";
}

RuntimeVersionState ParseState(std::string_view s) {
  if (s == "deprecated") return RuntimeVersionState::kDeprecated;
  if (s == "blocked") return RuntimeVersionState::kBlocked;
  return RuntimeVersionState::kReleased;
}

}  // namespace

std::string_view ArchitectureName(Architecture arch) {
  return arch == Architecture::kArm64 ? "arm64" : "x86_64";
}

std::optional<Architecture> ParseArchitecture(std::string_view name) {
  if (name == "x86_64") return Architecture::kX86_64;
  if (name == "arm64") return Architecture::kArm64;
  return std::nullopt;
}

std::string_view RuntimeVersionStateName(RuntimeVersionState state) {
  switch (state) {
    case RuntimeVersionState::kReleased:
      return "released";
    case RuntimeVersionState::kDeprecated:
      return "deprecated";
    case RuntimeVersionState::kBlocked:
      return "blocked";
  }
  return "released";
}

std::string RuntimeVersionName(std::string_view runtime, int64_t number) {
  std::string family;
  if (runtime.starts_with("python")) {
    family = fmt::format("python:{}", runtime.substr(6));
  } else if (runtime.starts_with("nodejs")) {
    std::string_view major = runtime.substr(6);
    if (major.ends_with(".x")) major.remove_suffix(2);
    family = fmt::format("nodejs:{}", major);
  } else if (runtime.starts_with("provided.")) {
    family = fmt::format("provided:{}", runtime.substr(9));
  } else {
    family = std::string(runtime);
  }
  return fmt::format("{}.v{}", family, number);
}

Result<std::string> BundleDigest(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return InvalidParameter(fmt::format("{} is not a directory", dir));
  std::vector<std::pair<std::string, fs::directory_entry>> entries;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    entries.emplace_back(fs::relative(it->path(), dir).generic_string(), *it);
  }
  if (ec) return Internal(fmt::format("cannot list {}: {}", dir, ec.message()));
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string listing;
  for (const auto& [rel, entry] : entries) {
    fs::file_status st = entry.symlink_status();
    if (fs::is_directory(st)) {
      listing += fmt::format("D {}\n", rel);
    } else if (fs::is_regular_file(st)) {
      LAMBKIN_ASSIGN_OR_RETURN(std::string content, ReadFile(entry.path()));
      bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
      listing +=
          fmt::format("F {} {} {} {}\n", rel, exec ? 755 : 644, content.size(), Sha256Hex(content));
    } else {
      return InvalidParameter(
          fmt::format("bundle entry {} is not a regular file or directory", rel));
    }
  }
  return Sha256Hex(listing);
}

Result<std::unique_ptr<Catalog>> Catalog::Open(store::Database* db, const RegionSet* regions,
                                               std::string data_dir, const Clock* clock) {
  std::unique_ptr<Catalog> c(new Catalog(db, regions, std::move(data_dir), clock));
  LAMBKIN_RETURN_IF_ERROR(c->Load());
  return c;
}

Status Catalog::Load() {
  // Rows are read before taking mu_: elsewhere the store's lock is taken first.
  std::vector<RuntimeVersion> rows;
  Status s = db_->Read([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto stmt, txn.Prepare("SELECT id, runtime, number, name, digest, bundle_dir, state, "
                               "severity, notes, published_at FROM runtime_versions"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      RuntimeVersion v{stmt.ColumnInt(0),
                       stmt.ColumnText(1),
                       stmt.ColumnInt(2),
                       stmt.ColumnText(3),
                       stmt.ColumnText(4),
                       stmt.ColumnText(5),
                       ParseState(stmt.ColumnText(6)),
                       stmt.ColumnText(7),
                       stmt.ColumnText(8),
                       stmt.ColumnInt(9)};
      rows.push_back(std::move(v));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  for (const auto& v : rows) IndexLocked(v);
  return Status::Ok();
}

void Catalog::IndexLocked(const RuntimeVersion& v) {
  versions_[v.id] = v;
  for (const Region& region : regions_->all()) {
    for (Architecture arch : {Architecture::kX86_64, Architecture::kArm64}) {
      by_arn_[Arn(v, region.name, arch)] = ArnTarget{v.id, region.name, arch};
    }
  }
}

std::string Catalog::Arn(const RuntimeVersion& version, std::string_view region,
                         Architecture arch) const {
  std::string seed = fmt::format("{}|{}|{}", version.digest, region, ArchitectureName(arch));
  return fmt::format("arn:{}:lambda:{}::runtime:{}", PartitionOf(region), region, Sha256Hex(seed));
}

std::string Catalog::Arn(int64_t id, std::string_view region, Architecture arch) const {
  std::shared_lock lock(mu_);
  auto it = versions_.find(id);
  return it == versions_.end() ? std::string() : Arn(it->second, region, arch);
}

std::optional<Catalog::ArnTarget> Catalog::ResolveArn(std::string_view arn) const {
  std::shared_lock lock(mu_);
  auto it = by_arn_.find(std::string(arn));
  if (it == by_arn_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Catalog::Runtimes() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, v] : versions_) {
    if (std::find(out.begin(), out.end(), v.runtime) == out.end()) out.push_back(v.runtime);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool Catalog::HasRuntime(std::string_view runtime) const {
  std::shared_lock lock(mu_);
  return std::any_of(versions_.begin(), versions_.end(),
                     [&](const auto& kv) { return kv.second.runtime == runtime; });
}

std::vector<RuntimeVersion> Catalog::List() const {
  std::shared_lock lock(mu_);
  std::vector<RuntimeVersion> out;
  for (const auto& [id, v] : versions_) out.push_back(v);
  std::sort(out.begin(), out.end(), [](const RuntimeVersion& a, const RuntimeVersion& b) {
    return std::tie(a.runtime, a.number) < std::tie(b.runtime, b.number);
  });
  return out;
}

std::optional<RuntimeVersion> Catalog::Get(int64_t id) const {
  std::shared_lock lock(mu_);
  auto it = versions_.find(id);
  if (it == versions_.end()) return std::nullopt;
  return it->second;
}

std::optional<RuntimeVersion> Catalog::Newest(std::string_view runtime) const {
  std::shared_lock lock(mu_);
  const RuntimeVersion* best = nullptr;
  for (const auto& [id, v] : versions_) {
    if (v.runtime != runtime || v.state == RuntimeVersionState::kBlocked) continue;
    if (best == nullptr || v.number > best->number) best = &v;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::optional<RuntimeVersion> Catalog::Find(std::string_view name_or_arn) const {
  std::shared_lock lock(mu_);
  if (auto it = by_arn_.find(std::string(name_or_arn)); it != by_arn_.end()) {
    return versions_.at(it->second.id);
  }
  for (const auto& [id, v] : versions_) {
    if (v.name == name_or_arn) return v;
  }
  return std::nullopt;
}

Result<std::optional<int64_t>> Catalog::NewestReleasedBelow(store::Database::Txn& txn,
                                                            std::string_view runtime,
                                                            std::string_view region,
                                                            ReleaseStage stage,
                                                            int64_t below_number) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT v.id FROM runtime_versions v LEFT JOIN runtime_version_regions "
                           "r ON r.runtime_version = v.id AND r.region = ?2 WHERE v.runtime = ?1 "
                           "AND v.state != 'blocked' AND COALESCE(r.stage, 2) >= ?3 AND "
                           "v.number < ?4 ORDER BY v.number DESC LIMIT 1"));
  st.Bind(1, runtime).Bind(2, region).Bind(3, static_cast<int>(stage)).Bind(4, below_number);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(st.ColumnInt(0));
}

Result<std::optional<int64_t>> Catalog::NewestReleased(store::Database::Txn& txn,
                                                       std::string_view runtime,
                                                       std::string_view region,
                                                       ReleaseStage stage) {
  return NewestReleasedBelow(txn, runtime, region, stage, std::numeric_limits<int64_t>::max());
}

Result<ReleaseStage> Catalog::StageIn(store::Database::Txn& txn, int64_t id,
                                      std::string_view region) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT stage FROM runtime_version_regions WHERE "
                                                "runtime_version = ? AND region = ?"));
  st.Bind(1, id).Bind(2, region);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? static_cast<ReleaseStage>(st.ColumnInt(0)) : ReleaseStage::kPhase2;
}

Status Catalog::SetStage(store::Database::Txn& txn, int64_t id, std::string_view region,
                         ReleaseStage stage) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT OR REPLACE INTO runtime_version_regions "
                                                "(runtime_version, region, stage) VALUES (?,?,?)"));
  st.Bind(1, id).Bind(2, region).Bind(3, static_cast<int>(stage));
  return st.Run();
}

Result<RuntimeVersion> Catalog::SetState(int64_t id, RuntimeVersionState state,
                                         const InTransaction& in_txn) {
  std::optional<RuntimeVersion> v = Get(id);
  if (!v) return NotFound(fmt::format("no runtime version with id {}", id));
  v->state = state;
  Status s = db_->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("UPDATE runtime_versions SET state = ? WHERE id = ?"));
    st.Bind(1, RuntimeVersionStateName(state)).Bind(2, id);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    return in_txn ? in_txn(txn, *v) : Status::Ok();
  });
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  versions_[id].state = state;
  return *v;
}

Result<RuntimeVersion> Catalog::Publish(const PublishRequest& request,
                                        const InTransaction& in_txn) {
  fs::path source(request.bundle_dir);
  LAMBKIN_ASSIGN_OR_RETURN(std::string manifest_text, ReadFile(source / "manifest.json"));
  nlohmann::json manifest = nlohmann::json::parse(manifest_text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return InvalidParameter(
        fmt::format("{}/manifest.json is not a JSON object", request.bundle_dir));
  }
  std::error_code ec;
  fs::path bootstrap = source / "bootstrap";
  if (!fs::is_regular_file(fs::symlink_status(bootstrap, ec)) ||
      access(bootstrap.c_str(), X_OK) != 0) {
    return InvalidParameter(fmt::format("{} has no executable bootstrap file", request.bundle_dir));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string runtime, ResolveRuntime(request.runtime, manifest));
  if (!KnownRuntimeShape(runtime)) {
    return InvalidParameter(fmt::format("unknown runtime {}", runtime));
  }
  if (manifest.contains("runtime")) {
    if (!manifest["runtime"].is_string()) {
      return InvalidParameter("manifest.json: runtime must be a string");
    }
    Result<std::string> declared = ResolveRuntime(manifest["runtime"], manifest);
    if (!declared.ok() || *declared != runtime) {
      return InvalidParameter(fmt::format("the bundle's manifest is for runtime {}, not {}",
                                          manifest["runtime"].get<std::string>(), runtime));
    }
  }
  if (request.number < 1) return InvalidParameter("runtime version numbers start at 1");
  static const std::set<std::string> kSeverities = {"critical", "high", "medium", "low"};
  if (!kSeverities.contains(request.severity)) {
    return InvalidParameter(
        fmt::format("severity {} is not one of critical, high, medium, low", request.severity));
  }

  // Stage a copy carrying the resolved manifest, then move it under its digest.
  fs::path root = fs::path(data_dir_) / "runtime-versions";
  fs::create_directories(root, ec);
  fs::path staging = root / fmt::format(".staging-{}", RandomUuid());
  fs::copy(source, staging, fs::copy_options::recursive, ec);
  if (ec) {
    fs::remove_all(staging, ec);
    return Internal(fmt::format("cannot copy bundle {}: {}", request.bundle_dir, ec.message()));
  }
  manifest["runtime"] = runtime;
  manifest["version"] = request.number;
  manifest["name"] = RuntimeVersionName(runtime, request.number);
  {
    std::ofstream out(staging / "manifest.json", std::ios::trunc);
    out << manifest.dump(2) << "\n";
  }
  Result<std::string> digest = BundleDigest(staging.string());
  if (!digest.ok()) {
    fs::remove_all(staging, ec);
    return digest.status();
  }
  fs::path final_dir = root / *digest;
  if (fs::exists(final_dir, ec)) {
    fs::remove_all(staging, ec);
  } else {
    fs::rename(staging, final_dir, ec);
    if (ec) return Internal(fmt::format("cannot store bundle: {}", ec.message()));
    // Published bundles are read-only from here on.
    for (auto& e : fs::recursive_directory_iterator(final_dir, ec)) {
      fs::permissions(e.path(),
                      fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                      fs::perm_options::remove, ec);
    }
    ::sync();
  }

  RuntimeVersion v;
  v.runtime = runtime;
  v.number = request.number;
  v.name = RuntimeVersionName(runtime, request.number);
  v.digest = *digest;
  v.bundle_dir = final_dir.string();
  v.severity = request.severity;
  v.notes = request.notes;
  v.published_at = clock_->NowMillis();

  // The store serialises publishers (and checks that numbers rise); mu_ is only taken after
  // the commit, because readers of the catalogue run inside store transactions.
  Status s = db_->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto newest, txn.Prepare("SELECT MAX(number) FROM runtime_versions WHERE runtime = ?"));
    newest.Bind(1, v.runtime);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, newest.Step());
    if (row && !newest.ColumnIsNull(0) && newest.ColumnInt(0) >= v.number) {
      return Conflict(
          fmt::format("runtime version {} must be higher than the newest version of {} ({})",
                      v.number, v.runtime, newest.ColumnInt(0)));
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto insert,
        txn.Prepare("INSERT INTO runtime_versions (runtime, number, name, digest, bundle_dir, "
                    "state, severity, notes, published_at) VALUES (?,?,?,?,?,?,?,?,?)"));
    insert.Bind(1, v.runtime).Bind(2, v.number).Bind(3, v.name).Bind(4, v.digest);
    insert.Bind(5, v.bundle_dir).Bind(6, RuntimeVersionStateName(v.state)).Bind(7, v.severity);
    insert.Bind(8, v.notes).Bind(9, v.published_at);
    LAMBKIN_RETURN_IF_ERROR(insert.Run());
    v.id = txn.LastInsertRowId();
    return in_txn ? in_txn(txn, v) : Status::Ok();
  });
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  IndexLocked(v);
  return v;
}

Status Catalog::RegisterBuiltins(const std::string& source_dir) {
  std::error_code ec;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(source_dir, ec)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  if (ec)
    return Internal(
        fmt::format("cannot list built-in runtimes in {}: {}", source_dir, ec.message()));
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    LAMBKIN_ASSIGN_OR_RETURN(std::string text, ReadFile(dir / "manifest.json"));
    nlohmann::json manifest = nlohmann::json::parse(text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object() || !manifest["runtime"].is_string() ||
        !manifest["version"].is_number_integer()) {
      return Internal(fmt::format("{}/manifest.json needs runtime and version", dir.string()));
    }
    Result<std::string> runtime = ResolveRuntime(manifest["runtime"], manifest);
    if (!runtime.ok()) continue;  // interpreter not installed here: no such runtime
    if (HasRuntime(*runtime)) continue;
    Result<RuntimeVersion> v = Publish({manifest["runtime"], manifest["version"].get<int64_t>(),
                                        dir.string(), "low", "built-in first runtime version"});
    if (!v.ok()) return v.status();
  }
  return Status::Ok();
}

}  // namespace lambkin::catalog
