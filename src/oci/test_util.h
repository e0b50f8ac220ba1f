// Helpers the oci tests share: temporary directories, layers built with libarchive, and OCI
// layout directories written by hand. Test-only.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "oci/image.h"

namespace lambkin::oci::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "oci-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    // Directories a test made read-only must be writable again to be removed.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ec);
      }
    }
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct TarEntry {
  std::string path;
  char type = 'f';       // f: file, d: directory, l: symlink, h: hard link, c: char device
  std::string contents;  // a file's data
  std::string link;      // a symlink's or hard link's target
  int mode = 0644;
};

enum class Compression { kNone, kGzip, kZstd };

// A tar stream of `entries`; without its two end-of-archive blocks when `end_blocks` is false.
inline std::string MakeTar(const std::vector<TarEntry>& entries,
                           Compression compression = Compression::kNone, bool end_blocks = true) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(a);
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  std::vector<char> buf(1 << 22);
  size_t used = 0;
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const TarEntry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_perm(entry, e.mode);
    archive_entry_set_mtime(entry, 1700000000, 0);
    switch (e.type) {
      case 'd':
        archive_entry_set_filetype(entry, AE_IFDIR);
        break;
      case 'l':
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case 'h':
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.link.c_str());
        break;
      case 'c':
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_rdev(entry, 0x0103);
        break;
      default:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.contents.size()));
    }
    archive_write_header(a, entry);
    if (e.type == 'f') archive_write_data(a, e.contents.data(), e.contents.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  std::string out(buf.data(), used);
  if (!end_blocks) {
    // The two 512-byte zero blocks that end a tar archive.
    if (out.size() >= 1024 && out.find_last_not_of('\0') < out.size() - 1024)
      out.resize(out.size() - 1024);
  }
  return out;
}

// The digest of `layer` decompressed (gzip, zstd or none): its diff_id.
inline std::string UncompressedDigest(const std::string& layer) {
  struct archive* a = archive_read_new();
  archive_read_support_format_raw(a);
  archive_read_support_filter_all(a);
  archive_read_open_memory(a, layer.data(), layer.size());
  std::string out;
  struct archive_entry* entry = nullptr;
  if (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    char buf[1 << 16];
    for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<size_t>(n));
    }
  }
  archive_read_free(a);
  return DigestOf(out);
}

inline void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// An OCI image layout written by hand (the way skopeo or buildah would write one).
class LayoutWriter {
 public:
  explicit LayoutWriter(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ + "/blobs/sha256");
    WriteFile(dir_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  }
  const std::string& dir() const { return dir_; }

  Descriptor AddBlob(const std::string& bytes, std::string media_type) {
    std::string digest = DigestOf(bytes);
    WriteFile(dir_ + "/blobs/sha256/" + digest.substr(7), bytes);
    return Descriptor{std::move(media_type), digest, static_cast<int64_t>(bytes.size())};
  }

  static std::string ConfigJson(const std::string& arch, const std::vector<std::string>& diffs,
                                const nlohmann::json& labels = nlohmann::json::object()) {
    nlohmann::json config = {
        {"architecture", arch},
        {"os", "linux"},
        {"config",
         {{"Env", {"PATH=/usr/local/bin:/usr/bin:/bin"}},
          {"Entrypoint", {"/bootstrap"}},
          {"WorkingDir", "/var/task"},
          {"Labels", labels}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", diffs}}},
    };
    return config.dump();
  }

  // An image manifest for `arch` with `layers` (uncompressed tars, stored as given media type).
  Descriptor AddImage(const std::string& arch, const std::vector<std::string>& layers,
                      std::string_view layer_type = kOciLayerTar,
                      const nlohmann::json& labels = nlohmann::json::object()) {
    nlohmann::json layer_list = nlohmann::json::array();
    std::vector<std::string> diffs;
    for (const std::string& layer : layers) {
      Descriptor d = AddBlob(layer, std::string(layer_type));
      layer_list.push_back({{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
      diffs.push_back(UncompressedDigest(layer));
    }
    Descriptor config = AddBlob(ConfigJson(arch, diffs, labels), std::string(kOciConfig));
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", kOciManifest},
        {"config",
         {{"mediaType", config.media_type}, {"digest", config.digest}, {"size", config.size}}},
        {"layers", layer_list},
    };
    Descriptor d = AddBlob(manifest.dump(), std::string(kOciManifest));
    d.platform = Platform{"linux", arch, ""};
    return d;
  }

  Descriptor AddIndex(const std::vector<Descriptor>& manifests) {
    std::string body = IndexJson(manifests, {});
    return AddBlob(body, std::string(kOciIndex));
  }

  // index.json: `entries` named by the ref.name annotation.
  void WriteTopIndex(const std::vector<std::pair<std::string, Descriptor>>& entries) {
    std::vector<Descriptor> list;
    std::vector<std::string> names;
    for (const auto& [name, d] : entries) {
      list.push_back(d);
      names.push_back(name);
    }
    WriteFile(dir_ + "/index.json", IndexJson(list, names));
  }

 private:
  static std::string IndexJson(const std::vector<Descriptor>& manifests,
                               const std::vector<std::string>& names) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = 0; i < manifests.size(); ++i) {
      const Descriptor& d = manifests[i];
      nlohmann::json entry = {{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}};
      if (d.platform && d.media_type != kOciIndex) {
        entry["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
      }
      if (i < names.size()) {
        entry["annotations"] = {{"org.opencontainers.image.ref.name", names[i]}};
      }
      list.push_back(entry);
    }
    return nlohmann::json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", list}}
        .dump();
  }

  std::string dir_;
};

}  // namespace lambkin::oci::testing
