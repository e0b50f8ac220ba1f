// OCI images: the minimum of the OCI image and distribution specs Lambkin needs to keep runtime
// versions (and, later, image functions) as images: descriptors, manifests (OCI and Docker v2
// schema 2), indexes (OCI and Docker manifest lists), image configs, the content-addressed blob
// store they live in, OCI layout directories, and applying layers to a root filesystem.
//
// Parsing never trusts its input: every digest is checked for form (sha256:<64 hex>), sizes for
// range, and unknown media types are refused with a message naming them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lambkin::oci {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// "sha256:<64 lowercase hex>" (the only algorithm Lambkin accepts).
bool IsDigest(std::string_view digest);
// "sha256:" + hex SHA-256 of `bytes`.
std::string DigestOf(std::string_view bytes);

struct Platform {
  std::string os;            // linux
  std::string architecture;  // amd64, arm64
  std::string variant;       // v8 (optional)
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
};

// An image manifest (OCI or Docker v2 schema 2): one config and its layers, bottom first.
struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

// An index (OCI image index or Docker manifest list).
struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
};

bool IsManifestMediaType(std::string_view media_type);
bool IsIndexMediaType(std::string_view media_type);

// Parses a manifest. `media_type` is what the registry or descriptor said (may be empty: the
// document's own mediaType member decides).
Result<Manifest> ParseManifest(std::string_view body, std::string_view media_type = {});
Result<Index> ParseIndex(std::string_view body, std::string_view media_type = {});
// The media type a manifest or index document declares (its mediaType member; for an OCI
// document without one, manifest when it has "config", index when it has "manifests").
Result<std::string> DocumentMediaType(std::string_view body);

// The parts of an image config Lambkin uses (OCI image-spec config.md).
struct ImageConfig {
  std::string architecture;  // amd64
  std::string os;            // linux
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;
  std::map<std::string, std::string> labels;
  std::vector<std::string> diff_ids;  // rootfs.diff_ids
};
Result<ImageConfig> ParseImageConfig(std::string_view body);

// The descriptor in `index` for `platform` (os and architecture must match; a variant given in
// `platform` must match too). NotFound naming the platforms the index has otherwise.
Result<Descriptor> SelectPlatform(const Index& index, const Platform& platform);

// InvalidParameter unless `config` is for `platform`'s os and architecture (those given): a
// single-platform image pulled for another architecture is caught before it is run.
Status CheckPlatform(const ImageConfig& config, const Platform& platform);

// Go's GOARCH names used by OCI (amd64, arm64) for Lambda's architectures (x86_64, arm64); the
// OCI names map to themselves; anything else to "".
std::string_view OciArchitecture(std::string_view lambda_architecture);
// The OCI architecture of the machine Lambkin runs on.
std::string_view HostOciArchitecture();

// A content-addressed store of blobs: <dir>/sha256/<hex>, each file named by the SHA-256 of its
// content, written once (to a temporary file, fsynced, renamed) and never changed. Manifests,
// configs and layers all live here, shared by every image that uses them. Thread-safe.
class BlobStore {
 public:
  static Result<std::unique_ptr<BlobStore>> Open(std::string dir);

  const std::string& dir() const { return dir_; }
  bool Has(std::string_view digest) const;
  // Where the blob is (whether or not it exists).
  std::string Path(std::string_view digest) const;
  // Size in bytes, or NotFound.
  Result<int64_t> Size(std::string_view digest) const;
  // The whole blob (for manifests and configs; layers are read through Path()).
  Result<std::string> Read(std::string_view digest) const;
  // Stores `bytes`; returns its digest.
  Result<std::string> Put(std::string_view bytes);

  // A blob arriving in pieces (a registry download). Commit checks the digest (and size when
  // given) and makes the blob visible; a writer destroyed without Commit leaves nothing.
  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    Status Write(std::string_view bytes);
    int64_t written() const { return written_; }
    // `expected`: the digest the blob must have (empty: whatever it is). Returns the digest.
    Result<std::string> Commit(std::string_view expected = {}, int64_t expected_size = -1);

   private:
    friend class BlobStore;
    Writer(BlobStore* store, std::string temp_path, int fd);
    BlobStore* store_;
    std::string temp_path_;
    int fd_;
    int64_t written_ = 0;
    struct Hash;
    std::unique_ptr<Hash> hash_;
  };
  Result<std::unique_ptr<Writer>> NewWriter();

  // Copies the file at `path` in (a hard link when on the same file system); checks `expected`.
  Result<std::string> PutFile(const std::string& path, std::string_view expected = {});

 private:
  explicit BlobStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Applies the layers of `manifest` (from `blobs`, bottom first) to the empty or absent
// directory `dest`: tar, tar+gzip and tar+zstd layers; whiteouts (.wh.<name>) and opaque
// directories (.wh..wh..opq) as the OCI layer spec says; tar streams that end without the two
// end-of-archive blocks; hard links and symlinks kept inside `dest` (an entry whose path or
// link target would leave `dest` is refused). Device nodes are skipped. Owners are kept when
// running as root. Each layer's digest is verified before it is applied; with `diff_ids` (the
// image config's rootfs.diff_ids) each layer's uncompressed stream is hashed while it is
// applied and must have its diff_id, and there must be one diff_id per layer. A refused image
// leaves `dest` partly written: unpack into a staging directory.
Status Unpack(const BlobStore& blobs, const Manifest& manifest, const std::string& dest,
              const std::vector<std::string>* diff_ids = nullptr);

// An OCI image layout directory (image-spec image-layout.md): oci-layout, index.json and
// blobs/sha256/. Resolves `reference` (the org.opencontainers.image.ref.name annotation, or a
// digest; empty: the only manifest) to a manifest for `platform`, copies the blobs it needs into
// `blobs`, and returns the manifest's descriptor.
struct ResolvedImage {
  Descriptor descriptor;  // of the image manifest (after any index was resolved)
  Manifest manifest;
  ImageConfig config;
  // The reference named an index (or Docker manifest list), resolved to the platform's entry.
  bool from_index = false;
};
Result<ResolvedImage> ImportLayout(const std::string& layout_dir, std::string_view reference,
                                   const Platform& platform, BlobStore* blobs);

}  // namespace lambkin::oci
