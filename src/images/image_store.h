// ImageStore: the container images of functions with PackageType Image.
//
// Pull resolves an image reference (a tag, a digest, an index resolved to the function's
// platform) against its registry and brings everything the image needs into the shared
// content-addressed BlobStore, each blob checked against its digest and size; the function
// service calls it when a function is created or its code updated, and records the manifest
// digest it returns. Local turns such a digest into the read-only root filesystem an execution
// environment mounts as / (exec/sandbox.h): unpacked once per digest under
// <data_dir>/images/<hex>/rootfs, verified layer by layer against the config's diff_ids, with
// the sandbox's mount points added. A node that has never seen the image pulls it by digest
// from its repository first, so any node of a cluster can run any image function.
//
// Crash safety: an image is unpacked into <data_dir>/images/.staging-<uuid>, synced to disk and
// renamed into place; a directory <hex> therefore always holds a whole image, and the staging
// directories a crash leaves are removed when the store is constructed.
//
// Errors are the registry client's (oci/registry_client.h): NotFound (no such repository, tag
// or blob), AccessDenied (401/403), InvalidParameter (an unsupported media type, a digest,
// size or diff_id mismatch, another architecture, a malformed document), Internal (network,
// disk). Messages name the registry, repository and digest concerned.
//
// Thread-safe. Callers of Local for the same digest wait for one unpack; different digests
// unpack in parallel. Both methods block (network, disk) for as long as the work takes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "oci/image.h"
#include "oci/registry_client.h"

namespace lambkin::images {

struct PulledImage {
  oci::ResolvedImage image;  // descriptor = the image manifest chosen for the platform
  bool from_index = false;   // the reference named an index (or Docker manifest list) that was
                             // resolved to the platform
};

struct LocalImage {
  std::string rootfs;       // read-only root filesystem, with the sandbox's mount points added
  oci::ImageConfig config;  // Entrypoint, Cmd, WorkingDir, Env, ...
};

struct ImageStoreOptions {
  std::string data_dir;                  // images unpack under <data_dir>/images/<hex>/rootfs
  oci::RegistryCredentials credentials;  // per registry, from the operator's configuration
};

class ImageStore {
 public:
  // REQUIRES: `blobs` outlives the store.
  ImageStore(oci::BlobStore* blobs, ImageStoreOptions options);
  ImageStore(const ImageStore&) = delete;
  ImageStore& operator=(const ImageStore&) = delete;

  // Pulls `ref` for `platform`: manifest (OCI or Docker v2 schema 2; an index resolved to the
  // platform), config, every layer — into the blob store, each verified (digest and size), only
  // what is missing downloaded (a reference by digest whose image is complete in the store
  // needs no registry at all).
  Result<PulledImage> Pull(const oci::ImageReference& ref, const oci::Platform& platform);

  // The unpacked root filesystem of the image whose manifest digest is `digest`
  // (sha256:<hex>), whose blobs come from `repository` ("host[:port]/name", pulled by digest
  // when anything is missing). InvalidParameter when the image is not for `platform`.
  Result<LocalImage> Local(std::string_view repository, std::string_view digest,
                           const oci::Platform& platform);

  // Whether the image `digest` is unpacked on this node (Local needs neither the network nor
  // an unpack). Cheap: callers use it to decide whether Local may run on their own thread.
  bool IsLocal(std::string_view digest) const;

  // Where the image `digest` is (or would be) unpacked: <data_dir>/images/<hex>.
  std::string ImageDir(std::string_view digest) const;

 private:
  // The image `digest` from the blob store: NotFound when its manifest, config or (with
  // `layers`) one of its layers is missing there.
  Result<oci::ResolvedImage> Stored(std::string_view digest, bool layers) const;
  // Stored, else pulled from `repository` by digest.
  Result<oci::ResolvedImage> Fetch(std::string_view repository, std::string_view digest,
                                   const oci::Platform& platform, bool layers);
  // Unpacks `image` into ImageDir (staging, mount points, sync, rename).
  Status UnpackImage(const oci::ResolvedImage& image);

  oci::BlobStore* blobs_;
  ImageStoreOptions options_;
  std::string images_dir_;  // <data_dir>/images

  mutable std::mutex mu_;  // guards what follows
  // One lock per digest being (or once) made local: waiters for the same image queue on it.
  std::map<std::string, std::shared_ptr<std::mutex>> unpacking_;
  // Images known to be local, by digest.
  std::map<std::string, LocalImage, std::less<>> local_;
};

}  // namespace lambkin::images
