// Parsing of OCI and Docker image documents (descriptors, manifests, indexes, configs) and the
// small helpers around digests and platforms.
#include "oci/image.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace lambkin::oci {

namespace {

using nlohmann::json;

// Registries refuse manifests over 4 MiB; so does Lambkin, for every JSON document it parses.
constexpr size_t kMaxDocumentBytes = 4 << 20;
// JSON numbers above 2^53 do not survive every encoder; no blob is that large.
constexpr int64_t kMaxBlobSize = int64_t{1} << 53;

bool IsConfigMediaType(std::string_view media_type) {
  return media_type == kOciConfig || media_type == kDockerConfig;
}

bool IsLayerMediaType(std::string_view media_type) {
  return media_type == kOciLayerTar || media_type == kOciLayerGzip || media_type == kOciLayerZstd ||
         media_type == kDockerLayerGzip;
}

Result<json> ParseDocument(std::string_view body, std::string_view what) {
  if (body.size() > kMaxDocumentBytes) {
    return InvalidParameter(
        fmt::format("{} is {} bytes, over the limit of {}", what, body.size(), kMaxDocumentBytes));
  }
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidParameter(fmt::format("{} is not valid JSON", what));
  if (!doc.is_object()) return InvalidParameter(fmt::format("{} is not a JSON object", what));
  return doc;
}

// The string member `key` of `obj` ("" when absent or null); an error when of another type.
Result<std::string> OptionalString(const json& obj, const char* key, std::string_view what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return InvalidParameter(fmt::format("{}: {} is not a string", what, key));
  return it->get<std::string>();
}

Result<std::vector<std::string>> OptionalStrings(const json& obj, const char* key,
                                                 std::string_view what) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) {
    return InvalidParameter(fmt::format("{}: {} is not an array of strings", what, key));
  }
  for (const json& v : *it) {
    if (!v.is_string()) {
      return InvalidParameter(fmt::format("{}: {} is not an array of strings", what, key));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> OptionalStringMap(const json& obj, const char* key,
                                                             std::string_view what) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) {
    return InvalidParameter(fmt::format("{}: {} is not a map of strings", what, key));
  }
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) {
      return InvalidParameter(fmt::format("{}: {}[\"{}\"] is not a string", what, key, k));
    }
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

Result<Descriptor> ParseDescriptor(const json& obj, const std::string& what) {
  if (!obj.is_object()) return InvalidParameter(fmt::format("{} is not an object", what));
  Descriptor d;
  LAMBKIN_ASSIGN_OR_RETURN(d.media_type, OptionalString(obj, "mediaType", what));
  if (d.media_type.empty()) return InvalidParameter(fmt::format("{} has no mediaType", what));
  LAMBKIN_ASSIGN_OR_RETURN(d.digest, OptionalString(obj, "digest", what));
  if (!IsDigest(d.digest)) {
    return InvalidParameter(
        fmt::format("{} has digest \"{}\"; expected sha256:<64 lowercase hex>", what, d.digest));
  }
  auto size = obj.find("size");
  if (size == obj.end() || !size->is_number_integer()) {
    return InvalidParameter(fmt::format("{} has no integer size", what));
  }
  if (size->is_number_unsigned() ? size->get<uint64_t>() > static_cast<uint64_t>(kMaxBlobSize)
                                 : (size->get<int64_t>() < 0)) {
    return InvalidParameter(fmt::format("{} has size {} out of range", what, size->dump()));
  }
  d.size = size->get<int64_t>();
  if (auto p = obj.find("platform"); p != obj.end() && !p->is_null()) {
    if (!p->is_object())
      return InvalidParameter(fmt::format("{}: platform is not an object", what));
    Platform platform;
    LAMBKIN_ASSIGN_OR_RETURN(platform.os, OptionalString(*p, "os", what + " platform"));
    LAMBKIN_ASSIGN_OR_RETURN(platform.architecture,
                             OptionalString(*p, "architecture", what + " platform"));
    LAMBKIN_ASSIGN_OR_RETURN(platform.variant, OptionalString(*p, "variant", what + " platform"));
    d.platform = std::move(platform);
  }
  LAMBKIN_ASSIGN_OR_RETURN(d.annotations, OptionalStringMap(obj, "annotations", what));
  return d;
}

Status CheckSchemaVersion(const json& doc, std::string_view what) {
  auto v = doc.find("schemaVersion");
  if (v == doc.end() || !v->is_number_integer() || v->get<int64_t>() != 2) {
    return InvalidParameter(fmt::format("{} does not have schemaVersion 2", what));
  }
  return Status::Ok();
}

// The media type the document is taken as: what the caller was told (which must agree with the
// document's own member when it has one), else the member, else `fallback` (OCI allows none).
Result<std::string> EffectiveMediaType(const json& doc, std::string_view told,
                                       std::string_view fallback, std::string_view what) {
  LAMBKIN_ASSIGN_OR_RETURN(std::string declared, OptionalString(doc, "mediaType", what));
  if (!told.empty() && !declared.empty() && told != declared) {
    return InvalidParameter(
        fmt::format("{} was served as {} but declares mediaType {}", what, told, declared));
  }
  if (!told.empty()) return std::string(told);
  if (!declared.empty()) return declared;
  return std::string(fallback);
}

std::string PlatformName(const Platform& p) {
  std::string out = p.os + "/" + p.architecture;
  if (!p.variant.empty()) out += "/" + p.variant;
  return out;
}

}  // namespace

bool IsDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  if (digest.size() != kPrefix.size() + 64 || !digest.starts_with(kPrefix)) return false;
  for (char c : digest.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string DigestOf(std::string_view bytes) { return "sha256:" + Sha256Hex(bytes); }

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kOciManifest || media_type == kDockerManifest;
}

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kOciIndex || media_type == kDockerManifestList;
}

Result<Manifest> ParseManifest(std::string_view body, std::string_view media_type) {
  constexpr std::string_view kWhat = "image manifest";
  LAMBKIN_ASSIGN_OR_RETURN(json doc, ParseDocument(body, kWhat));
  LAMBKIN_RETURN_IF_ERROR(CheckSchemaVersion(doc, kWhat));
  Manifest m;
  LAMBKIN_ASSIGN_OR_RETURN(m.media_type, EffectiveMediaType(doc, media_type, kOciManifest, kWhat));
  if (!IsManifestMediaType(m.media_type)) {
    return InvalidParameter(fmt::format("media type {} is not an image manifest", m.media_type));
  }
  auto config = doc.find("config");
  if (config == doc.end()) return InvalidParameter("image manifest has no config");
  LAMBKIN_ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, "image manifest config"));
  if (!IsConfigMediaType(m.config.media_type)) {
    return InvalidParameter(
        fmt::format("image manifest config has media type {}; expected {} or {}",
                    m.config.media_type, kOciConfig, kDockerConfig));
  }
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) {
    return InvalidParameter("image manifest has no layers array");
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    LAMBKIN_ASSIGN_OR_RETURN(
        Descriptor layer, ParseDescriptor((*layers)[i], fmt::format("image manifest layer {}", i)));
    if (!IsLayerMediaType(layer.media_type)) {
      return InvalidParameter(fmt::format("image manifest layer {} has unsupported media type {}",
                                          i, layer.media_type));
    }
    m.layers.push_back(std::move(layer));
  }
  LAMBKIN_ASSIGN_OR_RETURN(m.annotations, OptionalStringMap(doc, "annotations", kWhat));
  return m;
}

Result<Index> ParseIndex(std::string_view body, std::string_view media_type) {
  constexpr std::string_view kWhat = "image index";
  LAMBKIN_ASSIGN_OR_RETURN(json doc, ParseDocument(body, kWhat));
  LAMBKIN_RETURN_IF_ERROR(CheckSchemaVersion(doc, kWhat));
  Index index;
  LAMBKIN_ASSIGN_OR_RETURN(index.media_type, EffectiveMediaType(doc, media_type, kOciIndex, kWhat));
  if (!IsIndexMediaType(index.media_type)) {
    return InvalidParameter(fmt::format("media type {} is not an image index", index.media_type));
  }
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array()) {
    return InvalidParameter("image index has no manifests array");
  }
  for (size_t i = 0; i < manifests->size(); ++i) {
    LAMBKIN_ASSIGN_OR_RETURN(
        Descriptor d, ParseDescriptor((*manifests)[i], fmt::format("image index entry {}", i)));
    if (!IsManifestMediaType(d.media_type) && !IsIndexMediaType(d.media_type)) {
      return InvalidParameter(
          fmt::format("image index entry {} has unsupported media type {}", i, d.media_type));
    }
    index.manifests.push_back(std::move(d));
  }
  return index;
}

Result<std::string> DocumentMediaType(std::string_view body) {
  LAMBKIN_ASSIGN_OR_RETURN(json doc, ParseDocument(body, "image document"));
  LAMBKIN_ASSIGN_OR_RETURN(std::string declared,
                           OptionalString(doc, "mediaType", "image document"));
  if (!declared.empty()) return declared;
  if (doc.contains("config")) return std::string(kOciManifest);
  if (doc.contains("manifests")) return std::string(kOciIndex);
  return InvalidParameter("image document has no mediaType and is neither a manifest nor an index");
}

Result<ImageConfig> ParseImageConfig(std::string_view body) {
  constexpr std::string_view kWhat = "image config";
  LAMBKIN_ASSIGN_OR_RETURN(json doc, ParseDocument(body, kWhat));
  ImageConfig c;
  LAMBKIN_ASSIGN_OR_RETURN(c.architecture, OptionalString(doc, "architecture", kWhat));
  LAMBKIN_ASSIGN_OR_RETURN(c.os, OptionalString(doc, "os", kWhat));
  if (c.architecture.empty() || c.os.empty()) {
    return InvalidParameter("image config must name its os and architecture");
  }
  if (auto cfg = doc.find("config"); cfg != doc.end() && !cfg->is_null()) {
    if (!cfg->is_object()) return InvalidParameter("image config: config is not an object");
    LAMBKIN_ASSIGN_OR_RETURN(c.env, OptionalStrings(*cfg, "Env", kWhat));
    LAMBKIN_ASSIGN_OR_RETURN(c.entrypoint, OptionalStrings(*cfg, "Entrypoint", kWhat));
    LAMBKIN_ASSIGN_OR_RETURN(c.cmd, OptionalStrings(*cfg, "Cmd", kWhat));
    LAMBKIN_ASSIGN_OR_RETURN(c.working_dir, OptionalString(*cfg, "WorkingDir", kWhat));
    LAMBKIN_ASSIGN_OR_RETURN(c.user, OptionalString(*cfg, "User", kWhat));
    LAMBKIN_ASSIGN_OR_RETURN(c.labels, OptionalStringMap(*cfg, "Labels", kWhat));
  }
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) {
    return InvalidParameter("image config has no rootfs");
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string type, OptionalString(*rootfs, "type", kWhat));
  if (type != "layers") {
    return InvalidParameter(fmt::format("image config rootfs has type \"{}\", not layers", type));
  }
  LAMBKIN_ASSIGN_OR_RETURN(c.diff_ids, OptionalStrings(*rootfs, "diff_ids", kWhat));
  for (const std::string& id : c.diff_ids) {
    if (!IsDigest(id))
      return InvalidParameter(fmt::format("image config diff_id {} is not a digest", id));
  }
  return c;
}

Result<Descriptor> SelectPlatform(const Index& index, const Platform& platform) {
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    if (!d.platform) continue;
    const Platform& p = *d.platform;
    if (p.os == "unknown") continue;  // attestations (buildx) carry unknown/unknown
    if (p.os == platform.os && p.architecture == platform.architecture &&
        (platform.variant.empty() || p.variant == platform.variant)) {
      return d;
    }
    offered.push_back(PlatformName(p));
  }
  return NotFound(
      fmt::format("the image has no manifest for {} (it has: {})", PlatformName(platform),
                  offered.empty() ? "none" : fmt::format("{}", fmt::join(offered, ", "))));
}

Status CheckPlatform(const ImageConfig& config, const Platform& platform) {
  if ((!platform.os.empty() && config.os != platform.os) ||
      (!platform.architecture.empty() && config.architecture != platform.architecture)) {
    return InvalidParameter(fmt::format("the image is for {}/{}, not {}", config.os,
                                        config.architecture, PlatformName(platform)));
  }
  return Status::Ok();
}

std::string_view OciArchitecture(std::string_view lambda_architecture) {
  if (lambda_architecture == "x86_64" || lambda_architecture == "amd64") return "amd64";
  if (lambda_architecture == "arm64" || lambda_architecture == "aarch64") return "arm64";
  return {};
}

std::string_view HostOciArchitecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
#error "Lambkin runs on x86_64 and arm64 only"
#endif
}

}  // namespace lambkin::oci
