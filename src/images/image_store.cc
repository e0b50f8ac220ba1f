#include "images/image_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "common/crypto.h"

namespace lambkin::images {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kStagingPrefix = ".staging-";

// Removes `path` and everything under it, also directories an image made read-only.
void RemoveTree(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return;
  for (auto it = fs::recursive_directory_iterator(path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path, ec);
}

// Flushes the file system holding `path` (the unpacked tree and its directories) and then the
// directory itself, so that a rename after it publishes only complete content.
Status SyncTree(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  bool ok = ::syncfs(fd) == 0 && ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!ok) return Internal(fmt::format("cannot sync {}: {}", path, std::strerror(error)));
  return Status::Ok();
}

Status SyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  bool ok = ::fsync(fd) == 0;
  int error = errno;
  ::close(fd);
  if (!ok) return Internal(fmt::format("cannot sync {}: {}", path, std::strerror(error)));
  return Status::Ok();
}

}  // namespace

ImageStore::ImageStore(oci::BlobStore* blobs, ImageStoreOptions options)
    : blobs_(blobs), options_(std::move(options)) {
  images_dir_ = (fs::path(options_.data_dir) / "images").string();
  std::error_code ec;
  fs::create_directories(images_dir_, ec);
  // Sandboxes' host users walk through to the root filesystems; they need not list them.
  ::chmod(images_dir_.c_str(), 0711);
  // What an unpack interrupted by a crash or a kill left behind.
  for (auto it = fs::directory_iterator(images_dir_, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().starts_with(kStagingPrefix)) RemoveTree(it->path());
  }
}

std::string ImageStore::ImageDir(std::string_view digest) const {
  std::string_view hex = digest.starts_with("sha256:") ? digest.substr(7) : digest;
  return fmt::format("{}/{}", images_dir_, hex);
}

bool ImageStore::IsLocal(std::string_view digest) const {
  if (!oci::IsDigest(digest)) return false;
  {
    std::lock_guard lock(mu_);
    if (local_.contains(digest)) return true;
  }
  std::error_code ec;
  return fs::is_directory(ImageDir(digest) + "/rootfs", ec) && blobs_->Has(digest);
}

Result<PulledImage> ImageStore::Pull(const oci::ImageReference& ref,
                                     const oci::Platform& platform) {
  if (!ref.digest.empty()) {
    // Pinned by digest and complete here: nothing to ask the registry.
    Result<oci::ResolvedImage> stored = Stored(ref.digest, /*layers=*/true);
    if (stored.ok()) {
      if (Status s = oci::CheckPlatform(stored->config, platform); !s.ok()) {
        return InvalidParameter(fmt::format("registry {}, repository {}: manifest {}: {}",
                                            ref.registry, ref.repository, ref.digest, s.message()));
      }
      return PulledImage{std::move(stored).value(), false};
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image,
                           oci::Pull(ref, platform, options_.credentials, blobs_));
  bool from_index = image.from_index;
  return PulledImage{std::move(image), from_index};
}

Result<oci::ResolvedImage> ImageStore::Stored(std::string_view digest, bool layers) const {
  std::string d(digest);
  if (!blobs_->Has(d)) return NotFound(fmt::format("manifest {} is not in the blob store", d));
  LAMBKIN_ASSIGN_OR_RETURN(std::string body, blobs_->Read(d));
  LAMBKIN_ASSIGN_OR_RETURN(std::string media_type, oci::DocumentMediaType(body));
  if (oci::IsIndexMediaType(media_type)) {
    return InvalidParameter(
        fmt::format("{} is an image index; an image function runs the manifest chosen from it", d));
  }
  oci::ResolvedImage image;
  LAMBKIN_ASSIGN_OR_RETURN(image.manifest, oci::ParseManifest(body));
  image.descriptor = oci::Descriptor{
      image.manifest.media_type, d, static_cast<int64_t>(body.size()), std::nullopt, {}};
  const std::string& config_digest = image.manifest.config.digest;
  if (!blobs_->Has(config_digest)) {
    return NotFound(
        fmt::format("config {} of manifest {} is not in the blob store", config_digest, d));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string config, blobs_->Read(config_digest));
  LAMBKIN_ASSIGN_OR_RETURN(image.config, oci::ParseImageConfig(config));
  if (layers) {
    for (const oci::Descriptor& layer : image.manifest.layers) {
      Result<int64_t> size = blobs_->Size(layer.digest);
      if (!size.ok() || *size != layer.size) {
        return NotFound(
            fmt::format("layer {} of manifest {} is not in the blob store", layer.digest, d));
      }
    }
  }
  return image;
}

Result<oci::ResolvedImage> ImageStore::Fetch(std::string_view repository, std::string_view digest,
                                             const oci::Platform& platform, bool layers) {
  Result<oci::ResolvedImage> stored = Stored(digest, layers);
  if (stored.ok() || stored.status().code() != StatusCode::kResourceNotFound) return stored;
  LAMBKIN_ASSIGN_OR_RETURN(oci::ImageReference ref,
                           oci::ParseImageReference(fmt::format("{}@{}", repository, digest)));
  LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image,
                           oci::Pull(ref, platform, options_.credentials, blobs_));
  if (image.descriptor.digest != digest) {
    return InvalidParameter(fmt::format(
        "{} is an image index (resolved to {}); an image function runs the manifest chosen "
        "from it",
        ref.ToString(), image.descriptor.digest));
  }
  return image;
}

Status ImageStore::UnpackImage(const oci::ResolvedImage& image) {
  const std::string& digest = image.descriptor.digest;
  std::string staging = fmt::format("{}/{}{}", images_dir_, kStagingPrefix, RandomUuid());
  struct Cleanup {
    std::string path;
    ~Cleanup() { RemoveTree(path); }
  } cleanup{staging};
  if (::mkdir(staging.c_str(), 0755) != 0) {
    return Internal(fmt::format("cannot create {}: {}", staging, std::strerror(errno)));
  }
  ::chmod(staging.c_str(), 0755);
  std::string rootfs = staging + "/rootfs";
  Status unpacked = oci::Unpack(*blobs_, image.manifest, rootfs, &image.config.diff_ids);
  if (!unpacked.ok()) {
    return Status(unpacked.code(), fmt::format("image {}: {}", digest, unpacked.message()));
  }
  Status mount_points = catalog::AddMountPoints(rootfs);
  if (!mount_points.ok()) {
    return Status(mount_points.code(), fmt::format("image {}: {}", digest, mount_points.message()));
  }
  LAMBKIN_RETURN_IF_ERROR(SyncTree(staging));
  std::string dir = ImageDir(digest);
  if (::rename(staging.c_str(), dir.c_str()) != 0) {
    return Internal(fmt::format("cannot move {} to {}: {}", staging, dir, std::strerror(errno)));
  }
  cleanup.path.clear();
  return SyncDir(images_dir_);
}

Result<LocalImage> ImageStore::Local(std::string_view repository, std::string_view digest,
                                     const oci::Platform& platform) {
  if (!oci::IsDigest(digest)) {
    return InvalidParameter(
        fmt::format("\"{}\" is not an image digest (sha256:<64 lowercase hex>)", digest));
  }
  std::shared_ptr<std::mutex> unpacking;
  {
    std::lock_guard lock(mu_);
    if (auto it = local_.find(digest); it != local_.end()) {
      if (Status s = oci::CheckPlatform(it->second.config, platform); !s.ok()) {
        return InvalidParameter(fmt::format("image {}: {}", digest, s.message()));
      }
      return it->second;
    }
    auto& slot = unpacking_[std::string(digest)];
    if (!slot) slot = std::make_shared<std::mutex>();
    unpacking = slot;
  }
  // One caller per digest from here; the others wait and then find it local.
  std::lock_guard one(*unpacking);
  {
    std::lock_guard lock(mu_);
    if (auto it = local_.find(digest); it != local_.end()) {
      if (Status s = oci::CheckPlatform(it->second.config, platform); !s.ok()) {
        return InvalidParameter(fmt::format("image {}: {}", digest, s.message()));
      }
      return it->second;
    }
  }
  std::string dir = ImageDir(digest);
  std::error_code ec;
  bool unpacked = fs::is_directory(dir + "/rootfs", ec);
  // An unpacked image still needs its manifest and config (the Entrypoint, Cmd, Env it runs).
  LAMBKIN_ASSIGN_OR_RETURN(oci::ResolvedImage image,
                           Fetch(repository, digest, platform, /*layers=*/!unpacked));
  if (Status s = oci::CheckPlatform(image.config, platform); !s.ok()) {
    return InvalidParameter(fmt::format("image {}: {}", digest, s.message()));
  }
  if (!unpacked) LAMBKIN_RETURN_IF_ERROR(UnpackImage(image));
  LocalImage local{dir + "/rootfs", std::move(image.config)};
  std::lock_guard lock(mu_);
  local_.emplace(std::string(digest), local);
  return local;
}

}  // namespace lambkin::images
