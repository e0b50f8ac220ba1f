// Rebasing an image: replacing the layers of the base image it was built FROM with those of
// another base (a newer runtime version), keeping its own layers on top. This is what
// `lambkin image rebase` does for a function image, which is otherwise never patched.
//
// Which layers are the base's is decided layer by layer, bottom first: a layer of the image and
// the base's layer at the same position are the same layer when their manifest digests are
// equal or, failing that, when the configs' rootfs.diff_ids at that position are equal (the
// same uncompressed tar compressed differently: a base that was re-pushed with another
// compression). A layer's bytes are never read; both checks are of digests the documents give.
//
// Everything works on documents already in a BlobStore (pull the three images first). Functions
// are thread-safe as far as the BlobStore is; errors are values (see each function).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "common/status.h"
#include "oci/image.h"

namespace lambkin::oci {

inline constexpr std::string_view kBaseNameAnnotation = "org.opencontainers.image.base.name";
inline constexpr std::string_view kBaseDigestAnnotation = "org.opencontainers.image.base.digest";

// How many leading layers `image` shares with `base` when all of `base`'s layers are the
// bottom of `image` (same digest, or same diff_id, as above; a config's diff_ids count only when
// it has exactly one per layer of its manifest): base.layers.size(). nullopt when `base` is not
// a prefix of `image` (including when it has more layers). A base without layers gives 0.
std::optional<size_t> BaseLayerCount(const Manifest& image, const ImageConfig& image_config,
                                     const Manifest& base, const ImageConfig& base_config);

struct RebaseRequest {
  std::string image;     // digest of the image manifest to rebase
  std::string old_base;  // digest of the manifest of the base it was built FROM
  std::string new_base;  // digest of the manifest of the base to move it to
  // The new base's reference for the org.opencontainers.image.base.name annotation
  // ("host/python:3.11.v8"); empty: the annotation is left out.
  std::string new_base_name;
};

struct RebasedImage {
  Descriptor descriptor;       // of the new manifest (digest, media type, size)
  std::string manifest_bytes;  // exactly the bytes stored under descriptor.digest
  Manifest manifest;
  ImageConfig config;
  size_t replaced_layers = 0;  // how many of the image's bottom layers were the old base's
};

// Builds and stores (config, then manifest) the image `request.image` rebased from
// `request.old_base` onto `request.new_base`, all three manifests and configs being in `blobs`:
// - layers: the new base's, then the image's above the old base's; layer media types follow
//   the image manifest's family (a Docker gzip layer becomes OCI tar+gzip in an OCI manifest
//   and the other way round; an uncompressed or zstd layer cannot go into a Docker manifest).
// - config: the image's config as JSON, every member and its order kept, except
//   rootfs.diff_ids (replaced the same way) and `history`: the entries of the old base (its own
//   history when that is the prefix of the image's, else the entries up to its last layer)
//   are replaced by the new base's. When the image's or the new base's history does not have
//   exactly one non-empty_layer entry per layer, `history` is dropped rather than made wrong.
// - manifest: the image's manifest, every other member kept, media type family unchanged;
//   an OCI manifest's annotations get org.opencontainers.image.base.digest = the new base's
//   manifest digest and .base.name = `request.new_base_name` (Docker v2 schema 2 manifests
//   have no annotations).
// Errors: NotFound (a document or a layer of the result missing from `blobs`);
// InvalidParameter (a document that does not parse, a config whose diff_ids do not match its
// layers, an old base without layers, an image not built on the old base, a new base of
// another os or architecture, a layer media type the image's manifest family cannot carry);
// Internal (the store).
Result<RebasedImage> Rebase(BlobStore* blobs, const RebaseRequest& request);

}  // namespace lambkin::oci
