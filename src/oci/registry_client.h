// Pulling images from and pushing them to registries that speak the OCI distribution API
// (Docker Hub, ECR, GHCR, Debian's docker-registry, ...), and FetchImage, the one entry point
// for "an image from somewhere": an OCI layout directory or a registry.
//
// HTTPS verifies the peer's certificate against the system store and the host name;
// plain HTTP only for a registry whose credential entry says `insecure`. Authentication: the
// bearer-token flow (a 401 with `WWW-Authenticate: Bearer realm=...` sends Lambkin to the realm
// for a token, with Basic credentials when configured) and plain Basic. Every blob is streamed
// into the BlobStore with its digest and size checked; the manifest's bytes are checked against
// the Docker-Content-Digest header and, when pulling by digest, against that digest.
//
// A push asks the token service for `repository:<name>:pull,push` and uploads from the
// BlobStore only the blobs the repository lacks.
//
// Errors name the registry, the repository and the HTTP status: NotFound (404 on a pull),
// AccessDenied (401/403), InvalidParameter (a malformed reference or document, a digest
// mismatch), Internal (network, TLS, other statuses). Functions are thread-safe (each call uses
// its own connections); they block until done.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "oci/image.h"

namespace lambkin::oci {

// A docker image reference, normalised: "alpine" is docker.io/library/alpine:latest.
struct ImageReference {
  std::string registry;    // host[:port]; "docker.io" for Docker Hub
  std::string repository;  // library/alpine
  std::string tag;         // "latest" when neither tag nor digest was given
  std::string digest;      // sha256:...; when set, pulled by digest (the tag is informative)

  // registry/repository[:tag][@digest]
  std::string ToString() const;
};

// The docker reference grammar: [host[:port]/]path[:tag][@sha256:<hex>]. The first component
// is the registry when it has a '.' or a ':' or is "localhost". Path components are lowercase
// alphanumerics separated by '.', '_', '__' or dashes; tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
Result<ImageReference> ParseImageReference(std::string_view text);

struct RegistryCredential {
  std::string username;  // empty: anonymous (the token flow still runs, without Basic auth)
  std::string password;
  bool insecure = false;  // plain HTTP (a registry on loopback); never for a remote one
};
// Keyed by the registry as references name it: host[:port] ("docker.io" for Docker Hub).
using RegistryCredentials = std::map<std::string, RegistryCredential>;

// Pulls `ref` for `platform` into `blobs` (manifest, config, layers; blobs already there are
// not downloaded again). The manifest blob is stored last.
Result<ResolvedImage> Pull(const ImageReference& ref, const Platform& platform,
                           const RegistryCredentials& credentials, BlobStore* blobs);

// Pushes the image manifest `manifest` (its bytes, config and layers all in `blobs`) to `dest`:
// each blob the manifest names that the repository lacks (HEAD answers 404) is uploaded
// (POST /v2/<name>/blobs/uploads/, then one monolithic PUT of the file to the Location the
// registry answered, with ?digest=), then the manifest's exact bytes are PUT with
// Content-Type = `manifest.media_type` under `dest.tag` (or, without a tag, under its digest).
// A Docker-Content-Digest the registry answers must be the digest sent.
// REQUIRES: `manifest` describes a blob in `blobs` (media_type OCI or Docker v2 schema 2 image
// manifest; indexes are not pushed). `dest.digest`, when set, must be `manifest.digest`.
// Errors: InvalidParameter (an index, a digest that differs, a blob whose size is not the
// manifest's), NotFound (a blob missing from `blobs`), AccessDenied (401/403 after
// authenticating, or a refused token), Internal (any other answer, with the registry's error
// codes and messages; the network).
Status Push(const ImageReference& dest, const Descriptor& manifest, const BlobStore& blobs,
            const RegistryCredentials& credentials);

// "oci:<dir>[:<ref>]": ImportLayout. Anything else, optionally prefixed "docker://": a
// registry reference, pulled.
Result<ResolvedImage> FetchImage(std::string_view source, const Platform& platform,
                                 const RegistryCredentials& credentials, BlobStore* blobs);

}  // namespace lambkin::oci
