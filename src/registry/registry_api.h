// RegistryApi: the pull side of the OCI distribution API under /v2/ (../shared/spec/images.md
// §3.1, §3.2), so skopeo, umoci, crane or any builder can pull a runtime version as an image
// and build FROM it. Read-only: every push or delete method is 405 UNSUPPORTED.
//
// Routes: GET /v2/ (200 `{}`); GET|HEAD /v2/<name>/manifests/<tag-or-digest>; GET|HEAD
// /v2/<name>/blobs/<digest> (Range: bytes=... answered 206, the body streamed from the blob's
// file); GET /v2/<name>/tags/list and GET /v2/_catalog (with `n`/`last` and a Link header to
// the next page); GET /v2/token, the token server. <name> may contain '/'. Every error is the
// spec's `{"errors":[{"code","message","detail"}]}` with its status; every response carries
// Docker-Distribution-API-Version: registry/2.0.
//
// What is served comes from an ImageSource (the catalog's runtime versions); the bytes from an
// oci::BlobStore. A manifest is served as stored, whatever the Accept header asks (never
// rewritten). A blob is served under a repository only when a manifest of that repository
// references it (as config, layer or child manifest) or is it: never arbitrary store content.
// What a manifest references is remembered by its digest (manifests are immutable).
//
// Authentication (docs/iam.md "The runtime-image registry"): a request must carry a bearer
// token from GET /v2/token, or HTTP Basic credentials (an access key id and its secret access
// key); unless anonymous pulls are allowed, a request without either is 401 with
// `WWW-Authenticate: Bearer realm="<scheme>://<host>/v2/token",service="lambkin"[,scope=...]`.
// Pulling repository R is the IAM action lambkin:PullRuntimeImage on
// arn:aws:lambkin:::runtime-image/<R>, decided by iam::Authorize (SCPs and identity policies)
// when a token is issued (a denied repository is left out of it) or on each Basic request.
// Tokens are stateless: their claims sealed with HMAC-SHA256 under a key derived from the
// server secret (iam::Directory::DeriveServerKey); they last kTokenLifetimeMs and die with the
// access key that asked for them.
//
// Thread-safe; Handle() answers at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/crypto.h"
#include "iam/directory.h"
#include "oci/image.h"
#include "server/request.h"

namespace lambkin::registry {

// What the registry serves: repositories (a runtime such as `python`), their tags (`3.11.v2`)
// and the manifest each tag or digest names. Implemented by the catalog. Thread-safe.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // Every repository, sorted.
  virtual std::vector<std::string> Repositories() const = 0;
  // The tags of `repository`, sorted (empty for an unknown repository).
  virtual std::vector<std::string> Tags(std::string_view repository) const = 0;
  // The manifest descriptor (media type, digest, size) a tag or a digest names in
  // `repository`; nullopt when it names none. The manifest's bytes are in the BlobStore.
  virtual std::optional<oci::Descriptor> Resolve(std::string_view repository,
                                                 std::string_view reference) const = 0;
};

// The token service clients are told to ask for, and the lifetime of the tokens it gives.
inline constexpr std::string_view kTokenService = "lambkin";
inline constexpr int64_t kTokenLifetimeMs = int64_t{300} * 1000;
// The IAM action pulling a repository needs.
inline constexpr std::string_view kPullAction = "lambkin:PullRuntimeImage";

// Whether `request` is the registry's: its path is /v2 or starts with /v2/.
bool IsRegistryRequest(const server::HttpRequest& request);
// arn:aws:lambkin:::runtime-image/<repository>: server-wide, like every operator resource.
std::string RepositoryArn(std::string_view repository);
// The distribution spec's repository name grammar (each '/'-separated component
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*), at most 255 characters.
bool IsRepositoryName(std::string_view name);
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool IsTag(std::string_view tag);

// What a pull token grants: the access key that asked (empty: anonymous), the repositories it
// may pull (sorted) and when it expires (epoch ms, real wall clock).
struct PullGrant {
  std::string access_key_id;
  std::vector<std::string> repositories;
  int64_t expiration_ms = 0;
};

// Seals and opens pull tokens under one key. The token is standard base64 of
//   version (1 byte, 1) | expiration_ms (8 bytes, big-endian) | len (1 byte) + access key id
//   | count (2 bytes, big-endian) | count x (len (1 byte) + repository) | HMAC-SHA256 (32 bytes)
// Not encrypted: whoever holds it can read what it grants.
class PullTokens {
 public:
  // `key`: at least 32 random bytes.
  explicit PullTokens(std::string_view key) : mac_(key) {}
  // REQUIRES: each name at most 255 bytes, at most 65535 repositories.
  std::string Seal(const PullGrant& grant) const;
  // The grant of a token this key sealed; nullopt for anything else. Expiry is the caller's to
  // check.
  std::optional<PullGrant> Open(std::string_view token) const;

 private:
  HmacSha256Key mac_;
};

class RegistryApi {
 public:
  struct Deps {
    const ImageSource* images = nullptr;    // null: no repositories
    const oci::BlobStore* blobs = nullptr;  // where manifests and blobs are read; null only with
                                            // `images` null
    // The keys and policies pulls are authorised by, and the server secret tokens are sealed
    // under. REQUIRES: Load() succeeded.
    const iam::Directory* directory = nullptr;
    const Clock* wall_clock = nullptr;  // token issue and expiry: real time
    std::string region;                 // aws:RequestedRegion of pull authorisations
    bool anonymous_pull = false;        // anyone may pull anything, without credentials
  };

  explicit RegistryApi(Deps deps);

  // Answers any request IsRegistryRequest() accepts.
  server::HttpResponse Handle(const server::HttpRequest& request) const;

 private:
  struct Reference {
    std::string digest;
    std::string media_type;
  };
  using References = std::vector<Reference>;

  // What the manifest or index `digest` references (nullptr when it is not in the store).
  std::shared_ptr<const References> ReferencesOf(const std::string& digest) const;
  // Walks the manifests of `repository` (its tags' and, through indexes, their children),
  // until `visit` returns true for one of them or a blob they reference. Returns whether it did.
  template <class Visit>
  bool Walk(std::string_view repository, Visit visit) const;

  Deps d_;
  PullTokens tokens_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const References>> references_;

  friend class Handling;
};

}  // namespace lambkin::registry
