#include "catalog/catalog.h"

#include <sys/stat.h>
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
#include "common/files.h"
#include "oci/rebase.h"

namespace lambkin::catalog {

namespace fs = std::filesystem;

namespace {
constexpr char kCatalogDdl[] = R"sql(
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
  image TEXT,  -- the OCI image (JSON); NULL for versions from before runtime images
  UNIQUE (runtime, number)
);
CREATE TABLE IF NOT EXISTS runtime_version_regions (
  runtime_version INTEGER NOT NULL REFERENCES runtime_versions (id),
  region TEXT NOT NULL,
  stage INTEGER NOT NULL,  -- ReleaseStage
  PRIMARY KEY (runtime_version, region)
) WITHOUT ROWID;
)sql";
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"catalog", 1, kCatalogDdl, "",
       [](store::Txn& txn) {
         // Stores from before runtime versions were images.
         return store::AddColumnIfMissing(txn, "runtime_versions", "image", "TEXT");
       }},
      // Runtime lifecycles (catalog/lifecycle.h): YYYY-MM-DD dates, NULL when not scheduled.
      {"catalog", 2, R"sql(
CREATE TABLE IF NOT EXISTS runtime_lifecycles (
  runtime TEXT PRIMARY KEY,
  deprecation_date TEXT,
  create_block_date TEXT,
  update_block_date TEXT
);
)sql",
       "", nullptr},
  };
  return kMigrations;
}

namespace {

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

// The image columns of a version, as JSON in the `image` column.
std::string ImageToJson(const RuntimeVersion& v) {
  nlohmann::json j = {{"Digest", v.image_digest}, {"MediaType", v.image_media_type},
                      {"Size", v.image_size},     {"Source", v.image_source},
                      {"Env", v.image_env},       {"Bom", BomToJson(*v.bom)}};
  return j.dump();
}

void ImageFromJson(const std::string& text, RuntimeVersion* v) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return;
  v->image_digest = j.value("Digest", "");
  v->image_media_type = j.value("MediaType", "");
  v->image_size = j.value("Size", int64_t{0});
  v->image_source = j.value("Source", "");
  v->image_env = j.value("Env", std::vector<std::string>{});
  v->bom = std::make_shared<const std::vector<BomEntry>>(
      BomFromJson(j.value("Bom", nlohmann::json::array())));
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

std::pair<std::string, std::string> ImageRepositoryAndTag(std::string_view version_name) {
  size_t colon = version_name.find(':');
  if (colon == std::string_view::npos) return {std::string(version_name), "latest"};
  return {std::string(version_name.substr(0, colon)), std::string(version_name.substr(colon + 1))};
}

std::string MovingTag(std::string_view runtime) {
  std::string name = RuntimeVersionName(runtime, 1);  // python:3.11.v1
  std::string tag = ImageRepositoryAndTag(name).second;
  return tag.substr(0, tag.rfind(".v"));
}

Result<std::unique_ptr<Catalog>> Catalog::Open(store::Database* db, const RegionSet* regions,
                                               std::string data_dir, const Clock* clock,
                                               oci::BlobStore* blobs, ImageFetcher fetch) {
  std::unique_ptr<Catalog> c(
      new Catalog(db, regions, std::move(data_dir), clock, blobs, std::move(fetch)));
  LAMBKIN_RETURN_IF_ERROR(c->Load());
  return c;
}

Status Catalog::Load() {
  // Rows are read before taking mu_: elsewhere the store's lock is taken first.
  std::vector<RuntimeVersion> rows;
  Status s = db_->Read([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto stmt, txn.Prepare("SELECT id, runtime, number, name, digest, bundle_dir, state, "
                               "severity, notes, published_at, image FROM runtime_versions"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      RuntimeVersion v{stmt.ColumnInt(0),  stmt.ColumnText(1), stmt.ColumnInt(2),
                       stmt.ColumnText(3), stmt.ColumnText(4), stmt.ColumnText(5)};
      v.state = ParseState(stmt.ColumnText(6));
      v.severity = stmt.ColumnText(7);
      v.notes = stmt.ColumnText(8);
      v.published_at = stmt.ColumnInt(9);
      if (!stmt.ColumnIsNull(10)) ImageFromJson(stmt.ColumnText(10), &v);
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
  LAMBKIN_ASSIGN_OR_RETURN(auto st,
                           txn.Prepare("INSERT INTO runtime_version_regions (runtime_version, "
                                       "region, stage) VALUES (?,?,?) ON CONFLICT "
                                       "(runtime_version, region) DO UPDATE SET "
                                       "stage = excluded.stage"));
  st.Bind(1, id).Bind(2, region).Bind(3, static_cast<int>(stage));
  return st.Run();
}

Result<RuntimeVersion> Catalog::SetState(int64_t id, RuntimeVersionState state,
                                         const InTransaction& in_txn) {
  std::optional<RuntimeVersion> v = Get(id);
  if (!v) return NotFound(fmt::format("no runtime version with id {}", id));
  v->state = state;
  Status s = db_->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "catalog"));
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

Status AddMountPoints(const std::string& rootfs) {
  std::error_code ec;
  for (const char* d : {"proc", "dev", "tmp", "var/task", "opt", "var/lambkin", "etc"}) {
    fs::path p = fs::path(rootfs) / d;
    if (fs::is_symlink(p, ec)) {
      return InvalidParameter(fmt::format("the image's /{} is a symbolic link", d));
    }
    fs::create_directories(p, ec);
    if (ec) return Internal(fmt::format("cannot create {}: {}", p.string(), ec.message()));
  }
  for (const char* f : {"var/lambkin/init", "etc/resolv.conf"}) {
    fs::path p = fs::path(rootfs) / f;
    if (fs::is_symlink(p, ec)) fs::remove(p, ec);
    if (!fs::exists(p, ec)) std::ofstream(p.string(), std::ios::trunc);
    if (!fs::is_regular_file(p, ec)) {
      return InvalidParameter(fmt::format("the image's /{} is not a regular file", f));
    }
  }
  return Status::Ok();
}

std::optional<std::string> Catalog::SharedRootFilesystem(std::string_view hex) const {
  std::error_code ec;
  for (const auto& shared : shared_rootfs_) {
    fs::path candidate = fs::path(shared) / hex;
    if (fs::is_directory(candidate / "var/lambkin", ec)) return candidate.string();
  }
  return std::nullopt;
}

Result<std::string> Catalog::RootFilesystem(const oci::ResolvedImage& image,
                                            std::vector<BomEntry>* bom) {
  std::string hex = image.descriptor.digest.substr(7);
  fs::path dir = fs::path(data_dir_) / "runtime-versions" / hex;
  fs::path rootfs = dir / "rootfs";
  std::lock_guard lock(unpack_mu_);
  std::error_code ec;
  if (std::optional<std::string> shared = SharedRootFilesystem(hex)) {
    LAMBKIN_ASSIGN_OR_RETURN(*bom, ReadBom(*shared));
    return *shared;
  }
  if (!fs::exists(dir / "bom.json", ec)) {
    fs::create_directories(dir.parent_path(), ec);
    fs::path staging = dir.parent_path() / fmt::format(".staging-{}", RandomUuid());
    struct Cleanup {
      fs::path p;
      ~Cleanup() {
        std::error_code ignored;
        fs::remove_all(p, ignored);
      }
    } cleanup{staging};
    fs::create_directories(staging, ec);
    LAMBKIN_RETURN_IF_ERROR(oci::Unpack(*blobs_, image.manifest, (staging / "rootfs").string(),
                                        &image.config.diff_ids));
    fs::path bootstrap = staging / "rootfs/var/runtime/bootstrap";
    struct stat st {};
    if (::stat(bootstrap.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
      return InvalidParameter(
          fmt::format("image {} has no executable /var/runtime/bootstrap: a runtime version "
                      "starts its runtime from there",
                      image.descriptor.digest));
    }
    LAMBKIN_RETURN_IF_ERROR(AddMountPoints((staging / "rootfs").string()));
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<BomEntry> read, ReadBom((staging / "rootfs").string()));
    {
      std::ofstream out(staging / "bom.json", std::ios::trunc);
      out << BomToJson(read).dump() << "\n";
      if (!out.flush()) return Internal("cannot write bom.json");
    }
    ::sync();
    fs::remove_all(dir, ec);
    fs::rename(staging, dir, ec);
    if (ec) return Internal(fmt::format("cannot store {}: {}", dir.string(), ec.message()));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile((dir / "bom.json").string()));
  *bom = BomFromJson(nlohmann::json::parse(text, nullptr, false));
  // Written before bills of materials recorded requirements: read the root filesystem again.
  if (std::none_of(bom->begin(), bom->end(),
                   [](const BomEntry& e) { return !e.depends.empty(); })) {
    LAMBKIN_ASSIGN_OR_RETURN(*bom, ReadBom(rootfs.string()));
  }
  return rootfs.string();
}

Status Catalog::EnsureImage(int64_t id) {
  std::optional<RuntimeVersion> v = Get(id);
  if (!v) return NotFound(fmt::format("no runtime version with id {}", id));
  if (v->image_digest.empty()) {
    return InvalidParameter(fmt::format("runtime version {} was not made from an image", v->name));
  }
  if (blobs_->Has(v->image_digest)) return Status::Ok();
  return FetchPublished(*v).status();
}

Result<oci::ResolvedImage> Catalog::FetchPublished(const RuntimeVersion& v) {
  oci::Platform platform{"linux", std::string(oci::HostOciArchitecture()), ""};
  LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image, fetch_(v.image_source, platform, blobs_));
  if (image.descriptor.digest != v.image_digest) {
    return Internal(fmt::format("{} is now {}, not the image {} was published from ({})",
                                v.image_source, image.descriptor.digest, v.name, v.image_digest));
  }
  return image;
}

Result<std::string> Catalog::LocalRootFilesystem(int64_t id) {
  std::optional<RuntimeVersion> v = Get(id);
  if (!v) return NotFound(fmt::format("no runtime version with id {}", id));
  std::error_code ec;
  if (!v->rootfs_dir.empty() && fs::is_directory(fs::path(v->rootfs_dir) / "var/lambkin", ec)) {
    return v->rootfs_dir;
  }
  if (v->image_digest.size() != 71) {
    return Internal(fmt::format("runtime version {} has no root filesystem on this node", v->name));
  }
  std::string hex = v->image_digest.substr(7);
  std::string found = SharedRootFilesystem(hex).value_or("");
  fs::path own = fs::path(data_dir_) / "runtime-versions" / hex;
  if (found.empty() && fs::exists(own / "bom.json", ec)) found = (own / "rootfs").string();
  if (found.empty()) {
    LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image, FetchPublished(*v));
    std::vector<BomEntry> bom;
    LAMBKIN_ASSIGN_OR_RETURN(found, RootFilesystem(image, &bom));
  }
  std::unique_lock lock(mu_);
  versions_[id].rootfs_dir = found;
  return found;
}

Result<RuntimeVersion> Catalog::Publish(const PublishRequest& request,
                                        const InTransaction& in_txn) {
  const std::string& runtime = request.runtime;
  if (!KnownRuntimeShape(runtime)) {
    return InvalidParameter(fmt::format("unknown runtime {}", runtime));
  }
  if (request.number < 0) return InvalidParameter("runtime version numbers start at 1");
  static const std::set<std::string> kSeverities = {"critical", "high", "medium", "low"};
  if (!kSeverities.contains(request.severity)) {
    return InvalidParameter(
        fmt::format("severity {} is not one of critical, high, medium, low", request.severity));
  }
  if (request.image.empty()) return InvalidParameter("an image is required");
  oci::Platform platform{"linux", std::string(oci::HostOciArchitecture()), ""};
  LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image, fetch_(request.image, platform, blobs_));
  LAMBKIN_RETURN_IF_ERROR(oci::CheckPlatform(image.config, platform));
  if (auto it = image.config.labels.find("com.lambkin.runtime");
      it != image.config.labels.end() && it->second != runtime) {
    return InvalidParameter(
        fmt::format("the image is for runtime {}, not {}", it->second, runtime));
  }
  std::vector<BomEntry> bom;
  LAMBKIN_ASSIGN_OR_RETURN(std::string rootfs, RootFilesystem(image, &bom));

  RuntimeVersion v;
  v.runtime = runtime;
  v.number = request.number;
  v.rootfs_dir = rootfs;
  v.image_digest = image.descriptor.digest;
  v.image_media_type = image.descriptor.media_type;
  v.image_size = image.descriptor.size;
  v.image_source = request.image;
  v.image_env = image.config.env;
  v.bom = std::make_shared<const std::vector<BomEntry>>(std::move(bom));
  v.severity = request.severity;
  v.notes = request.notes;
  v.published_at = clock_->NowMillis();

  // The store serialises publishers (and checks that numbers rise); mu_ is only taken after
  // the commit, because readers of the catalogue run inside store transactions.
  Status s = db_->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "catalog"));
    if (request.only_if_first) {
      LAMBKIN_ASSIGN_OR_RETURN(auto has, txn.Prepare("SELECT 1 FROM runtime_versions WHERE "
                                                     "runtime = ? AND image IS NOT NULL"));
      LAMBKIN_ASSIGN_OR_RETURN(bool exists, has.Bind(1, v.runtime).Step());
      if (exists) return Conflict(fmt::format("{} already has an image version", v.runtime));
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto newest, txn.Prepare("SELECT MAX(number) FROM runtime_versions WHERE runtime = ?"));
    newest.Bind(1, v.runtime);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, newest.Step());
    int64_t highest = row && !newest.ColumnIsNull(0) ? newest.ColumnInt(0) : 0;
    if (v.number == 0) v.number = highest + 1;
    if (highest >= v.number) {
      return Conflict(
          fmt::format("runtime version {} must be higher than the newest version of {} ({})",
                      v.number, v.runtime, highest));
    }
    v.name = RuntimeVersionName(runtime, v.number);
    v.digest = Sha256Hex(fmt::format("{}|{}|{}", v.runtime, v.number, v.image_digest));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto insert,
        txn.Prepare("INSERT INTO runtime_versions (runtime, number, name, digest, bundle_dir, "
                    "state, severity, notes, published_at, image) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "RETURNING id"));
    insert.Bind(1, v.runtime).Bind(2, v.number).Bind(3, v.name).Bind(4, v.digest);
    insert.Bind(5, v.rootfs_dir).Bind(6, RuntimeVersionStateName(v.state)).Bind(7, v.severity);
    insert.Bind(8, v.notes).Bind(9, v.published_at).Bind(10, ImageToJson(v));
    LAMBKIN_ASSIGN_OR_RETURN(bool inserted, insert.Step());
    if (!inserted) return Internal("store: INSERT … RETURNING returned no row");
    v.id = insert.ColumnInt(0);
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
    if (e.is_directory() && fs::exists(e.path() / "index.json")) dirs.push_back(e.path());
  }
  if (ec) {
    return Internal(fmt::format(
        "cannot list built-in runtimes in {}: {} (make build builds them with lambkin runtime "
        "build)",
        source_dir, ec.message()));
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    std::string runtime = dir.filename().string();
    if (!KnownRuntimeShape(runtime)) continue;
    bool has_image_version = false;
    {
      std::shared_lock lock(mu_);
      for (const auto& [id, v] : versions_) {
        if (v.runtime == runtime && !v.image_digest.empty()) has_image_version = true;
      }
    }
    if (has_image_version) continue;
    Result<RuntimeVersion> v = Publish({runtime, 0, fmt::format("oci:{}", dir.string()), "low",
                                        "built-in runtime version", /*only_if_first=*/true});
    // Another node published it first: read what it published.
    if (!v.ok() && v.status().code() == StatusCode::kResourceConflict) {
      LAMBKIN_RETURN_IF_ERROR(Load());
      continue;
    }
    if (!v.ok()) return v.status();
  }
  return Status::Ok();
}

}  // namespace lambkin::catalog

namespace lambkin::catalog {

std::optional<int64_t> Catalog::RecognizeBase(const oci::ResolvedImage& image) const {
  std::shared_lock lock(mu_);
  if (auto it = image.manifest.annotations.find(std::string(oci::kBaseDigestAnnotation));
      it != image.manifest.annotations.end()) {
    std::optional<int64_t> named;
    for (const auto& [id, v] : versions_) {
      if (v.image_digest == it->second && (!named || versions_.at(*named).number < v.number)) {
        named = id;
      }
    }
    if (named) return named;
  }
  std::optional<int64_t> best;
  size_t best_layers = 0;
  for (const auto& [id, v] : versions_) {
    if (v.image_digest.empty() || !blobs_->Has(v.image_digest)) continue;
    Result<std::string> body = blobs_->Read(v.image_digest);
    if (!body.ok()) continue;
    Result<oci::Manifest> base = oci::ParseManifest(*body, v.image_media_type);
    if (!base.ok()) continue;
    oci::ImageConfig base_config;
    if (Result<std::string> cfg = blobs_->Read(base->config.digest); cfg.ok()) {
      if (Result<oci::ImageConfig> parsed = oci::ParseImageConfig(*cfg); parsed.ok()) {
        base_config = std::move(parsed).value();
      }
    }
    size_t shared =
        oci::BaseLayerCount(image.manifest, image.config, *base, base_config).value_or(0);
    if (shared == 0) continue;
    if (!best || shared > best_layers ||
        (shared == best_layers && versions_.at(*best).number < v.number)) {
      best = id;
      best_layers = shared;
    }
  }
  return best;
}

}  // namespace lambkin::catalog
