// ImportLayout: an OCI image layout directory into the blob store.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "oci/image.h"

namespace lambkin::oci {

namespace {

constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
// An index may name another index; this far and no further.
constexpr int kMaxIndexDepth = 4;
constexpr size_t kMaxDocumentBytes = 4 << 20;

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot open {}", path));
  std::string out;
  char buf[1 << 14];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > kMaxDocumentBytes) {
      return InvalidParameter(fmt::format("{} is over {} bytes", path, kMaxDocumentBytes));
    }
  }
  return out;
}

std::string LayoutBlobPath(const std::string& layout_dir, std::string_view digest) {
  return fmt::format("{}/blobs/sha256/{}", layout_dir, digest.substr(7));
}

// A document blob of the layout, checked against its descriptor.
Result<std::string> ReadLayoutDocument(const std::string& layout_dir, const Descriptor& d) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string body, ReadSmallFile(LayoutBlobPath(layout_dir, d.digest)));
  if (DigestOf(body) != d.digest || static_cast<int64_t>(body.size()) != d.size) {
    return InvalidParameter(fmt::format("blob {} in the layout {} does not match its descriptor",
                                        d.digest, layout_dir));
  }
  return body;
}

}  // namespace

Result<ResolvedImage> ImportLayout(const std::string& layout_dir, std::string_view reference,
                                   const Platform& platform, BlobStore* blobs) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string marker, ReadSmallFile(layout_dir + "/oci-layout"));
  nlohmann::json layout = nlohmann::json::parse(marker, nullptr, false);
  if (!layout.is_object() || !layout.contains("imageLayoutVersion") ||
      !layout["imageLayoutVersion"].is_string()) {
    return InvalidParameter(
        fmt::format("{} is not an OCI image layout (bad oci-layout file)", layout_dir));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string index_body, ReadSmallFile(layout_dir + "/index.json"));
  Result<Index> top = ParseIndex(index_body, kOciIndex);
  if (!top.ok()) {
    return InvalidParameter(fmt::format("{}/index.json: {}", layout_dir, top.status().message()));
  }

  std::vector<const Descriptor*> matches;
  std::vector<std::string> names;
  for (const Descriptor& d : top->manifests) {
    auto ref = d.annotations.find(std::string(kRefName));
    if (ref != d.annotations.end()) names.push_back(ref->second);
    if (reference.empty() || d.digest == reference ||
        (ref != d.annotations.end() && ref->second == reference)) {
      matches.push_back(&d);
    }
  }
  if (matches.size() != 1) {
    std::string known = names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
    if (matches.empty()) {
      return NotFound(fmt::format("the layout {} has no image \"{}\" (its names: {})", layout_dir,
                                  reference, known));
    }
    return InvalidParameter(fmt::format("the layout {} holds {} images; name one (its names: {})",
                                        layout_dir, matches.size(), known));
  }

  Descriptor descriptor = *matches.front();
  std::string body;
  bool from_index = false;
  for (int depth = 0;; ++depth) {
    LAMBKIN_ASSIGN_OR_RETURN(body, ReadLayoutDocument(layout_dir, descriptor));
    if (IsManifestMediaType(descriptor.media_type)) break;
    if (depth == kMaxIndexDepth) {
      return InvalidParameter(fmt::format("the layout {} nests indexes too deeply", layout_dir));
    }
    LAMBKIN_ASSIGN_OR_RETURN(Index index, ParseIndex(body, descriptor.media_type));
    LAMBKIN_ASSIGN_OR_RETURN(descriptor, SelectPlatform(index, platform));
    from_index = true;
  }
  LAMBKIN_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(body, descriptor.media_type));

  std::string config_path = LayoutBlobPath(layout_dir, manifest.config.digest);
  LAMBKIN_ASSIGN_OR_RETURN(std::string config_digest,
                           blobs->PutFile(config_path, manifest.config.digest));
  LAMBKIN_ASSIGN_OR_RETURN(std::string config_body, blobs->Read(config_digest));
  if (static_cast<int64_t>(config_body.size()) != manifest.config.size) {
    return InvalidParameter(fmt::format("config {} is {} bytes; its descriptor says {}",
                                        config_digest, config_body.size(), manifest.config.size));
  }
  LAMBKIN_ASSIGN_OR_RETURN(ImageConfig config, ParseImageConfig(config_body));
  LAMBKIN_RETURN_IF_ERROR(CheckPlatform(config, platform));
  for (const Descriptor& layer : manifest.layers) {
    LAMBKIN_ASSIGN_OR_RETURN(
        std::string digest, blobs->PutFile(LayoutBlobPath(layout_dir, layer.digest), layer.digest));
    LAMBKIN_ASSIGN_OR_RETURN(int64_t size, blobs->Size(digest));
    if (size != layer.size) {
      return InvalidParameter(fmt::format("layer {} is {} bytes; its descriptor says {}",
                                          layer.digest, size, layer.size));
    }
  }
  // The manifest last: a manifest in the store means everything it names is there too.
  LAMBKIN_ASSIGN_OR_RETURN(std::string manifest_digest, blobs->Put(body));
  (void)manifest_digest;
  return ResolvedImage{std::move(descriptor), std::move(manifest), std::move(config), from_index};
}

}  // namespace lambkin::oci
