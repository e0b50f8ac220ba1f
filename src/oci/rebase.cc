// Rebase: the new manifest and config are edits of the image's own JSON documents (ordered, so
// members keep their order), never documents rebuilt from the parsed structs, which know only
// the members Lambkin uses.
#include "oci/rebase.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace lambkin::oci {

namespace {

using Json = nlohmann::ordered_json;

// One image's documents, parsed and as JSON.
struct LoadedImage {
  std::string digest;
  Manifest manifest;
  Json manifest_doc;
  ImageConfig config;
  Json config_doc;
};

Result<LoadedImage> Load(const BlobStore& blobs, const std::string& digest, std::string_view role) {
  LoadedImage image;
  image.digest = digest;
  auto bad = [&](const Status& s) {
    return Status(s.code(), fmt::format("{} {}: {}", role, digest, s.message()));
  };
  Result<std::string> body = blobs.Read(digest);
  if (!body.ok()) return bad(body.status());
  Result<Manifest> manifest = ParseManifest(*body);
  if (!manifest.ok()) return bad(manifest.status());
  image.manifest = std::move(manifest).value();
  Result<std::string> config_body = blobs.Read(image.manifest.config.digest);
  if (!config_body.ok()) return bad(config_body.status());
  Result<ImageConfig> config = ParseImageConfig(*config_body);
  if (!config.ok()) return bad(config.status());
  image.config = std::move(config).value();
  if (image.config.diff_ids.size() != image.manifest.layers.size()) {
    return InvalidParameter(fmt::format("{} {}: its config lists {} diff_ids for {} layers", role,
                                        digest, image.config.diff_ids.size(),
                                        image.manifest.layers.size()));
  }
  // Both parsed above, so both are JSON objects.
  image.manifest_doc = Json::parse(*body, nullptr, /*allow_exceptions=*/false);
  image.config_doc = Json::parse(*config_body, nullptr, /*allow_exceptions=*/false);
  return image;
}

bool SameLayer(const Manifest& a, const ImageConfig& a_config, const Manifest& b,
               const ImageConfig& b_config, size_t i) {
  if (a.layers[i].digest == b.layers[i].digest) return true;
  return a_config.diff_ids.size() == a.layers.size() &&
         b_config.diff_ids.size() == b.layers.size() &&
         a_config.diff_ids[i] == b_config.diff_ids[i];
}

// The media type `layer_type` takes in a manifest of type `manifest_type`.
Result<std::string> LayerMediaTypeIn(std::string_view manifest_type, const Descriptor& layer) {
  bool gzip = layer.media_type == kOciLayerGzip || layer.media_type == kDockerLayerGzip;
  if (manifest_type == kDockerManifest) {
    if (gzip) return std::string(kDockerLayerGzip);
    return InvalidParameter(fmt::format(
        "the new base's layer {} is {}, which a Docker v2 schema 2 manifest cannot carry "
        "(it takes gzip layers only)",
        layer.digest, layer.media_type));
  }
  if (gzip) return std::string(kOciLayerGzip);
  return layer.media_type;
}

bool IsEmptyLayer(const Json& entry) {
  auto it = entry.find("empty_layer");
  return it != entry.end() && it->is_boolean() && it->get<bool>();
}

// The config's history when it has exactly one entry that is not empty_layer per layer.
const Json* LayerHistory(const LoadedImage& image) {
  auto it = image.config_doc.find("history");
  if (it == image.config_doc.end() || !it->is_array()) return nullptr;
  size_t layers = 0;
  for (const Json& entry : *it) {
    if (!entry.is_object()) return nullptr;
    if (!IsEmptyLayer(entry)) ++layers;
  }
  return layers == image.manifest.layers.size() ? &*it : nullptr;
}

// The rebased image's history (see Rebase), or nullopt when it is to be dropped.
std::optional<Json> RebasedHistory(const LoadedImage& image, const LoadedImage& old_base,
                                   const LoadedImage& new_base, size_t replaced) {
  const Json* history = LayerHistory(image);
  const Json* new_history = LayerHistory(new_base);
  if (history == nullptr || new_history == nullptr) return std::nullopt;
  size_t drop = 0;
  const Json* old_history = LayerHistory(old_base);
  if (old_history != nullptr && old_history->size() <= history->size() &&
      std::equal(old_history->begin(), old_history->end(), history->begin())) {
    drop = old_history->size();
  } else {
    for (size_t layers = 0; layers < replaced; ++drop) {
      if (!IsEmptyLayer((*history)[drop])) ++layers;
    }
  }
  Json out = *new_history;
  for (size_t i = drop; i < history->size(); ++i) out.push_back((*history)[i]);
  return out;
}

std::string LayerText(const LoadedImage& image, size_t i) {
  return fmt::format("{} (diff_id {})", image.manifest.layers[i].digest, image.config.diff_ids[i]);
}

}  // namespace

std::optional<size_t> BaseLayerCount(const Manifest& image, const ImageConfig& image_config,
                                     const Manifest& base, const ImageConfig& base_config) {
  if (base.layers.size() > image.layers.size()) return std::nullopt;
  for (size_t i = 0; i < base.layers.size(); ++i) {
    if (!SameLayer(image, image_config, base, base_config, i)) return std::nullopt;
  }
  return base.layers.size();
}

Result<RebasedImage> Rebase(BlobStore* blobs, const RebaseRequest& request) {
  LAMBKIN_ASSIGN_OR_RETURN(LoadedImage image, Load(*blobs, request.image, "image"));
  LAMBKIN_ASSIGN_OR_RETURN(LoadedImage old_base, Load(*blobs, request.old_base, "old base"));
  LAMBKIN_ASSIGN_OR_RETURN(LoadedImage new_base, Load(*blobs, request.new_base, "new base"));

  // Is the image built on the old base?
  size_t replaced = old_base.manifest.layers.size();
  if (replaced == 0) {
    return InvalidParameter(fmt::format(
        "the old base {} has no layers: no image can be told to be built on it", old_base.digest));
  }
  if (replaced > image.manifest.layers.size()) {
    return InvalidParameter(
        fmt::format("image {} is not built on base {}: it has {} layers, the base {}", image.digest,
                    old_base.digest, image.manifest.layers.size(), replaced));
  }
  for (size_t i = 0; i < replaced; ++i) {
    if (!SameLayer(image.manifest, image.config, old_base.manifest, old_base.config, i)) {
      return InvalidParameter(fmt::format(
          "image {} is not built on base {}: its layer {} is {}, the base's is {}", image.digest,
          old_base.digest, i, LayerText(image, i), LayerText(old_base, i)));
    }
  }
  if (new_base.config.os != image.config.os ||
      new_base.config.architecture != image.config.architecture) {
    return InvalidParameter(fmt::format(
        "the new base {} is for {}/{}, the image {} for {}/{}", new_base.digest, new_base.config.os,
        new_base.config.architecture, image.digest, image.config.os, image.config.architecture));
  }

  // The layers: the new base's, then the image's own.
  const std::string& manifest_type = image.manifest.media_type;
  Json layers = Json::array();
  Json diff_ids = Json::array();
  for (size_t i = 0; i < new_base.manifest.layers.size(); ++i) {
    Json layer = new_base.manifest_doc["layers"][i];
    LAMBKIN_ASSIGN_OR_RETURN(layer["mediaType"],
                             LayerMediaTypeIn(manifest_type, new_base.manifest.layers[i]));
    layers.push_back(std::move(layer));
    diff_ids.push_back(new_base.config.diff_ids[i]);
  }
  for (size_t i = replaced; i < image.manifest.layers.size(); ++i) {
    layers.push_back(image.manifest_doc["layers"][i]);
    diff_ids.push_back(image.config.diff_ids[i]);
  }

  // The config.
  Json config = image.config_doc;
  config["rootfs"]["diff_ids"] = std::move(diff_ids);
  if (std::optional<Json> history = RebasedHistory(image, old_base, new_base, replaced)) {
    config["history"] = std::move(*history);
  } else {
    config.erase("history");
  }
  std::string config_bytes = config.dump();

  // The manifest.
  Json manifest = image.manifest_doc;
  manifest["config"]["digest"] = DigestOf(config_bytes);
  manifest["config"]["size"] = config_bytes.size();
  manifest["config"].erase("data");  // the old config's bytes, when embedded
  manifest["layers"] = std::move(layers);
  if (manifest_type == kOciManifest) {
    Json& annotations = manifest["annotations"];
    if (!annotations.is_object()) annotations = Json::object();
    annotations[std::string(kBaseDigestAnnotation)] = new_base.digest;
    annotations.erase(std::string(kBaseNameAnnotation));
    if (!request.new_base_name.empty()) {
      annotations[std::string(kBaseNameAnnotation)] = request.new_base_name;
    }
  }
  std::string manifest_bytes = manifest.dump();

  RebasedImage out;
  LAMBKIN_ASSIGN_OR_RETURN(out.manifest, ParseManifest(manifest_bytes, manifest_type));
  LAMBKIN_ASSIGN_OR_RETURN(out.config, ParseImageConfig(config_bytes));
  // A manifest in the store means everything it names is there too.
  for (const Descriptor& layer : out.manifest.layers) {
    if (!blobs->Has(layer.digest)) {
      return NotFound(
          fmt::format("layer {} of the rebased image is not in the blob store", layer.digest));
    }
  }
  LAMBKIN_RETURN_IF_ERROR(blobs->Put(config_bytes).status());
  LAMBKIN_ASSIGN_OR_RETURN(std::string digest, blobs->Put(manifest_bytes));
  out.descriptor =
      Descriptor{manifest_type, digest, static_cast<int64_t>(manifest_bytes.size()), {}, {}};
  out.manifest_bytes = std::move(manifest_bytes);
  out.replaced_layers = replaced;
  return out;
}

}  // namespace lambkin::oci
