// Catalog: runtimes and their runtime versions.
//
// A runtime version is a whole runtime — language, libraries, operating-system userland — kept
// as an OCI image (oci/image.h): its manifest, config and layers in the data directory's blob
// store, and its root filesystem unpacked once, read-only, under
// <data>/runtime-versions/<image digest>/rootfs, which every environment of the version mounts
// as its / (nothing of the host's). Publishing takes the image from an OCI layout or a registry
// (the built-in runtimes are layouts `lambkin runtime build` made from pinned Debian packages),
// verifies it, reads its bill of materials (catalog/bom.h) and records the version. Each version
// has a Lambda-style name (python:3.11.v1) and, per region and CPU architecture, its own ARN
// arn:<partition>:lambda:<region>::runtime:<64 hex>, derived from its digest (of the runtime,
// number and image), the region and the architecture.
//
// The catalog keeps its rows in the store (table runtime_versions) and an in-memory index for
// lookups on the request path. Thread-safe; its lookups may be called inside store
// transactions (its own lock is always taken after the store's, never before).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/bom.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "common/status.h"
#include "oci/image.h"
#include "store/database.h"

namespace lambkin::catalog {

enum class Architecture { kX86_64, kArm64 };
std::string_view ArchitectureName(Architecture arch);
std::optional<Architecture> ParseArchitecture(std::string_view name);

enum class RuntimeVersionState { kReleased, kDeprecated, kBlocked };
std::string_view RuntimeVersionStateName(RuntimeVersionState state);

struct RuntimeVersion {
  int64_t id = 0;
  std::string runtime;     // python3.11
  int64_t number = 0;      // 1
  std::string name;        // python:3.11.v1
  std::string digest;      // 64 hex: identifies the version (runtime, number, image)
  std::string rootfs_dir;  // mounted as / of every environment (read-only)
  // The image: its manifest's digest (sha256:…), media type and size, and where it came from.
  std::string image_digest;
  std::string image_media_type;
  int64_t image_size = 0;
  std::string image_source;
  std::vector<std::string> image_env;  // the image config's Env
  // Shared: versions are copied on every lookup (registry requests, cold starts), their
  // bills of materials never.
  std::shared_ptr<const std::vector<BomEntry>> bom = std::make_shared<std::vector<BomEntry>>();
  RuntimeVersionState state = RuntimeVersionState::kReleased;
  std::string severity;
  std::string notes;
  int64_t published_at = 0;
};

// python3.11 -> python:3.11.v<n>; nodejs20.x -> nodejs:20.v<n>; provided.al2023 ->
// provided:al2023.v<n>.
std::string RuntimeVersionName(std::string_view runtime, int64_t number);

// The repository and tag a version is served under by the registry (python:3.11.v1 → python,
// 3.11.v1), and the moving tag of its runtime's newest version (3.11).
std::pair<std::string, std::string> ImageRepositoryAndTag(std::string_view version_name);
std::string MovingTag(std::string_view runtime);

// Adds to an unpacked root filesystem what every environment mounts over it, read-only:
// directories /proc, /dev, /tmp, /var/task, /opt, and files /var/lambkin/init (the sandbox's
// first program) and /etc/resolv.conf. Refuses a root where one of them is a symbolic link.
Status AddMountPoints(const std::string& rootfs);

// The catalog's tables, as numbered migrations.
const store::Migrations& Schema();

// How far a runtime version is released in one region (two-phase rollout). A version without
// a row for a region counts as fully released there (built-in first versions).
enum class ReleaseStage : int {
  kNone = 0,    // not released there: not yet reached, or halted
  kPhase1 = 1,  // applied when functions are created or updated
  kPhase2 = 2,  // the version Auto function versions move to
};

struct PublishRequest {
  std::string runtime;  // runtime identifier (python3.11)
  int64_t number = 0;   // 0: the next one
  // oci:<layout dir>[:<ref>] or a registry reference (oci/registry_client.h FetchImage).
  std::string image;
  std::string severity = "low";
  std::string notes;
  // Publish only if the runtime has no version made from an image yet (a built-in runtime's
  // first version; decided in the publishing transaction, so nodes starting together publish
  // it once). Otherwise kResourceConflict and nothing changes.
  bool only_if_first = false;
};

// Fetches an image named by `source` for `platform` into `blobs` (oci::FetchImage with the
// operator's registry credentials, bound by the server).
using ImageFetcher = std::function<Result<oci::ResolvedImage>(
    std::string_view source, const oci::Platform& platform, oci::BlobStore* blobs)>;

class Catalog {
 public:
  // Loads the catalog from `db`. Images are kept in `blobs`, root filesystems under
  // `data_dir`/runtime-versions.
  static Result<std::unique_ptr<Catalog>> Open(store::Database* db, const RegionSet* regions,
                                               std::string data_dir, const Clock* clock,
                                               oci::BlobStore* blobs, ImageFetcher fetch);

  // Root filesystems already unpacked elsewhere, by image digest: <dir>/<64 hex>/ (the shared
  // store `lambkin runtime build` keeps beside the built-in runtimes' layouts). They are
  // immutable by construction, so versions of those images use them in place.
  void AddSharedRootFilesystems(std::string dir) { shared_rootfs_.push_back(std::move(dir)); }

  // Publishes the OCI layouts under `source_dir` (one directory per runtime, named after it,
  // as `lambkin runtime build` writes them) as the first version of their runtime, unless that
  // runtime already has a version made from an image.
  Status RegisterBuiltins(const std::string& source_dir);

  // Runs inside the transaction that records a catalogue change, with the changed version.
  using InTransaction = std::function<Status(store::Database::Txn&, const RuntimeVersion& version)>;

  // Validates and publishes a bundle as a new runtime version. `in_txn` (optional) runs in the
  // same transaction, so what it records (a rollout) commits with the version or not at all.
  Result<RuntimeVersion> Publish(const PublishRequest& request, const InTransaction& in_txn = {});
  // Changes a version's lifecycle state (with `in_txn` in the same transaction).
  Result<RuntimeVersion> SetState(int64_t id, RuntimeVersionState state,
                                  const InTransaction& in_txn = {});

  // The newest non-blocked version of `runtime` released in `region` at least to `stage`,
  // read inside `txn` so that it agrees with the transaction's other reads and writes.
  static Result<std::optional<int64_t>> NewestReleased(store::Database::Txn& txn,
                                                       std::string_view runtime,
                                                       std::string_view region, ReleaseStage stage);
  // The same, limited to versions numbered below `below_number`.
  static Result<std::optional<int64_t>> NewestReleasedBelow(store::Database::Txn& txn,
                                                            std::string_view runtime,
                                                            std::string_view region,
                                                            ReleaseStage stage,
                                                            int64_t below_number);
  static Result<ReleaseStage> StageIn(store::Database::Txn& txn, int64_t id,
                                      std::string_view region);
  static Status SetStage(store::Database::Txn& txn, int64_t id, std::string_view region,
                         ReleaseStage stage);

  std::vector<std::string> Runtimes() const;
  bool HasRuntime(std::string_view runtime) const;
  std::vector<RuntimeVersion> List() const;
  std::optional<RuntimeVersion> Get(int64_t id) const;
  // By name (python:3.12.v2), or by one of its ARNs.
  std::optional<RuntimeVersion> Find(std::string_view name_or_arn) const;
  // The newest version of `runtime` that is not blocked.
  std::optional<RuntimeVersion> Newest(std::string_view runtime) const;

  // Reads the catalogue again (another node published or changed a version).
  Status Reload() { return Load(); }
  // The version's root filesystem on this node: in place when this node has it (a shared
  // store or its own unpacked copy), else its image is fetched again from its source, checked
  // against the recorded digest and unpacked (a version another node published).
  Result<std::string> LocalRootFilesystem(int64_t id);

  // The runtime version an image was built FROM, if Lambkin recognises one: the version whose
  // image digest the image's `org.opencontainers.image.base.digest` annotation names, else the
  // one whose layers (by digest, or by uncompressed diff_id) are the longest prefix of the
  // image's (the newest on a tie). Versions whose image is not in this node's blob store are
  // not considered.
  std::optional<int64_t> RecognizeBase(const oci::ResolvedImage& image) const;
  // Makes sure the version's image (manifest, config, layers) is in this node's blob store,
  // fetching it again from its source (checked against the recorded digest) if not.
  Status EnsureImage(int64_t id);

  std::string Arn(const RuntimeVersion& version, std::string_view region, Architecture arch) const;
  std::string Arn(int64_t id, std::string_view region, Architecture arch) const;

  struct ArnTarget {
    int64_t id;
    std::string region;
    Architecture arch;
  };
  // Which version, region and architecture an ARN names, if any.
  std::optional<ArnTarget> ResolveArn(std::string_view arn) const;

 private:
  Catalog(store::Database* db, const RegionSet* regions, std::string data_dir, const Clock* clock,
          oci::BlobStore* blobs, ImageFetcher fetch)
      : db_(db),
        regions_(regions),
        data_dir_(std::move(data_dir)),
        clock_(clock),
        blobs_(blobs),
        fetch_(std::move(fetch)) {}
  // The unpacked root filesystem of an image (made on first use) and its bill of materials.
  Result<std::string> RootFilesystem(const oci::ResolvedImage& image, std::vector<BomEntry>* bom);
  // The version's image fetched again from its source into the blob store, checked against the
  // digest it was published with.
  Result<oci::ResolvedImage> FetchPublished(const RuntimeVersion& v);
  // The root filesystem of the image with digest sha256:`hex` in a shared store, if one has it.
  std::optional<std::string> SharedRootFilesystem(std::string_view hex) const;
  Status Load();
  void IndexLocked(const RuntimeVersion& v);

  store::Database* db_;
  const RegionSet* regions_;
  std::string data_dir_;
  const Clock* clock_;
  oci::BlobStore* blobs_;
  ImageFetcher fetch_;
  std::mutex unpack_mu_;  // one unpacking at a time
  std::vector<std::string> shared_rootfs_;

  mutable std::shared_mutex mu_;
  std::map<int64_t, RuntimeVersion> versions_;
  std::unordered_map<std::string, ArnTarget> by_arn_;
};

}  // namespace lambkin::catalog
