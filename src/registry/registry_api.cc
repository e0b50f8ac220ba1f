#include "registry/registry_api.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <ctime>
#include <set>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/sealed_token.h"
#include "iam/authenticator.h"

namespace lambkin::registry {

namespace {

using nlohmann::json;

// ---- The wire errors: one table (distribution-spec "Error Codes"). ----

enum class Error {
  kBlobUnknown,
  kDigestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kPaginationNumberInvalid,
  kRangeInvalid,
};

struct WireError {
  Error error;
  std::string_view code;
  int status;
  std::string_view message;
};

constexpr WireError kWireErrors[] = {
    {Error::kBlobUnknown, "BLOB_UNKNOWN", 404, "blob unknown to registry"},
    {Error::kDigestInvalid, "DIGEST_INVALID", 400, "provided digest is not a sha256 digest"},
    {Error::kManifestUnknown, "MANIFEST_UNKNOWN", 404, "manifest unknown"},
    {Error::kNameInvalid, "NAME_INVALID", 400, "invalid repository name"},
    {Error::kNameUnknown, "NAME_UNKNOWN", 404, "repository name not known to registry"},
    {Error::kUnauthorized, "UNAUTHORIZED", 401, "authentication required"},
    {Error::kDenied, "DENIED", 403, "requested access to the resource is denied"},
    {Error::kUnsupported, "UNSUPPORTED", 405,
     "the operation is unsupported: this registry is read-only"},
    // Not in the spec's list; the reference registry's codes for these cases.
    {Error::kPaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", 400,
     "invalid number of results requested"},
    {Error::kRangeInvalid, "RANGE_INVALID", 416, "requested range not satisfiable"},
};

constexpr std::string_view kApiVersionHeader = "Docker-Distribution-API-Version";
constexpr std::string_view kApiVersion = "registry/2.0";
constexpr std::string_view kTokenKeyPurpose = "lambkin/registry-pull-token/v1";
// Far more than a page of any listing a client asks for.
constexpr int kMaxPage = 10000;

server::HttpResponse NewResponse(int status) {
  server::HttpResponse r;
  r.status = status;
  r.SetHeader(std::string(kApiVersionHeader), std::string(kApiVersion));
  return r;
}

// `status` 0: the table's.
server::HttpResponse ErrorResponse(Error error, json detail = nullptr, std::string message = {},
                                   int status = 0) {
  const WireError* wire = nullptr;
  for (const WireError& w : kWireErrors) {
    if (w.error == error) wire = &w;
  }
  assert(wire != nullptr);
  server::HttpResponse r = NewResponse(status != 0 ? status : wire->status);
  r.SetHeader("Content-Type", "application/json");
  if (message.empty()) message = std::string(wire->message);
  r.body = json{{"errors", json::array({json{{"code", std::string(wire->code)},
                                             {"message", message},
                                             {"detail", std::move(detail)}}})}}
               .dump();
  return r;
}

server::HttpResponse JsonResponse(const json& body) {
  server::HttpResponse r = NewResponse(200);
  r.SetHeader("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool IsNameComponent(std::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// RFC 3339 in UTC: 2024-01-31T12:00:00Z.
std::string Rfc3339(int64_t millis) {
  std::time_t t = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {buf, n};
}

// Percent-encodes a query value (RFC 3986 unreserved characters stay).
std::string QueryEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~';
    if (keep) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::optional<int> ParsePageSize(const std::optional<std::string>& n) {
  if (!n) return kMaxPage;
  int value = 0;
  auto [end, ec] = std::from_chars(n->data(), n->data() + n->size(), value);
  if (ec != std::errc() || end != n->data() + n->size() || value < 0) return std::nullopt;
  return std::min(value, kMaxPage);
}

// The page of sorted `items` after `last` with at most `n` entries, and whether more follow.
std::pair<std::vector<std::string>, bool> Page(const std::vector<std::string>& items,
                                               const std::optional<std::string>& last, int n) {
  auto it = last ? std::upper_bound(items.begin(), items.end(), *last) : items.begin();
  std::vector<std::string> page;
  while (it != items.end() && static_cast<int>(page.size()) < n) page.push_back(*it++);
  return {std::move(page), it != items.end()};
}

// One `Range: bytes=` range against a body of `size` bytes (RFC 9110 §14.1.2).
struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};
enum class RangeParse { kNone, kRange, kUnsatisfiable };

std::optional<uint64_t> ParseU64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// kNone for no header, a malformed one or several ranges (the whole body is sent then).
RangeParse ParseRange(const std::string* header, uint64_t size, ByteRange& out) {
  if (header == nullptr) return RangeParse::kNone;
  std::string_view h = *header;
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (!h.starts_with("bytes=")) return RangeParse::kNone;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return RangeParse::kNone;
  size_t dash = h.find('-');
  if (dash == std::string_view::npos) return RangeParse::kNone;
  std::string_view a = h.substr(0, dash);
  std::string_view b = h.substr(dash + 1);
  if (a.empty()) {  // bytes=-N: the last N bytes
    std::optional<uint64_t> n = ParseU64(b);
    if (!n) return RangeParse::kNone;
    if (*n == 0 || size == 0) return RangeParse::kUnsatisfiable;
    out.length = std::min(*n, size);
    out.first = size - out.length;
    return RangeParse::kRange;
  }
  std::optional<uint64_t> first = ParseU64(a);
  if (!first) return RangeParse::kNone;
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    std::optional<uint64_t> l = ParseU64(b);
    if (!l || *l < *first) return RangeParse::kNone;
    last = std::min(*l, last);
  }
  if (*first >= size) return RangeParse::kUnsatisfiable;
  out.first = *first;
  out.length = last - *first + 1;
  return RangeParse::kRange;
}

// The blobs a manifest (config, layers) or an index (manifests) document references.
std::vector<std::pair<std::string, std::string>> DocumentReferences(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return out;
  auto add = [&](const json& d) {
    if (!d.is_object()) return;
    auto digest = d.find("digest");
    if (digest == d.end() || !digest->is_string() || !oci::IsDigest(digest->get<std::string>())) {
      return;
    }
    auto media_type = d.find("mediaType");
    out.emplace_back(digest->get<std::string>(), media_type != d.end() && media_type->is_string()
                                                     ? media_type->get<std::string>()
                                                     : std::string());
  };
  if (auto config = doc.find("config"); config != doc.end()) add(*config);
  for (std::string_view list : {"layers", "manifests"}) {
    auto items = doc.find(list);
    if (items == doc.end() || !items->is_array()) continue;
    for (const json& d : *items) add(d);
  }
  return out;
}

bool IsManifestType(std::string_view t) {
  return t == oci::kOciManifest || t == oci::kOciIndex || t == oci::kDockerManifest ||
         t == oci::kDockerManifestList;
}

// A parsed scope "repository:<name>:pull,push" (resource type may carry a class: "(plugin)").
struct Scope {
  std::string type;
  std::string name;
  std::vector<std::string> actions;
};

std::optional<Scope> ParseScope(std::string_view s) {
  size_t first = s.find(':');
  size_t last = s.rfind(':');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  Scope scope;
  std::string_view type = s.substr(0, first);
  if (size_t paren = type.find('('); paren != std::string_view::npos) type = type.substr(0, paren);
  scope.type = std::string(type);
  scope.name = std::string(s.substr(first + 1, last - first - 1));
  std::string_view actions = s.substr(last + 1);
  while (!actions.empty()) {
    size_t comma = actions.find(',');
    scope.actions.emplace_back(actions.substr(0, comma));
    actions = comma == std::string_view::npos ? std::string_view() : actions.substr(comma + 1);
  }
  return scope;
}

constexpr unsigned char kTokenVersion = 1;
// A header Beast reads whole is at most 64 KiB.
constexpr size_t kMaxTokenChars = size_t{64} * 1024;

}  // namespace

bool IsRegistryRequest(const server::HttpRequest& request) {
  return request.raw_path == "/v2" || request.raw_path.starts_with("/v2/");
}

std::string RepositoryArn(std::string_view repository) {
  return fmt::format("arn:aws:lambkin:::runtime-image/{}", repository);
}

bool IsRepositoryName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  while (true) {
    size_t slash = name.find('/');
    if (!IsNameComponent(name.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    name.remove_prefix(slash + 1);
  }
}

bool IsTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    char c = tag[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (i > 0 && (c == '.' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

std::string PullTokens::Seal(const PullGrant& grant) const {
  TokenWriter body;
  body.U8(kTokenVersion);
  body.U64(static_cast<uint64_t>(grant.expiration_ms));
  body.Field(grant.access_key_id);
  body.U16(grant.repositories.size());
  for (const std::string& r : grant.repositories) body.Field(r);
  return SealToken(mac_, body.bytes());
}

std::optional<PullGrant> PullTokens::Open(std::string_view token) const {
  std::optional<std::string> body = OpenToken(mac_, token, kMaxTokenChars);
  if (!body) return std::nullopt;
  TokenReader r(*body);
  uint8_t version = 0;
  uint64_t expiration = 0;
  size_t count = 0;
  PullGrant grant;
  if (!r.U8(&version) || version != kTokenVersion || !r.U64(&expiration) ||
      !r.Field(&grant.access_key_id) || !r.U16(&count)) {
    return std::nullopt;
  }
  grant.expiration_ms = static_cast<int64_t>(expiration);
  grant.repositories.resize(count);
  for (std::string& repository : grant.repositories) {
    if (!r.Field(&repository)) return std::nullopt;
  }
  if (!r.AtEnd()) return std::nullopt;
  return grant;
}

RegistryApi::RegistryApi(Deps deps)
    : d_(std::move(deps)),
      tokens_(d_.directory != nullptr ? d_.directory->DeriveServerKey(kTokenKeyPurpose)
                                      : RandomBytes(32)) {}

std::shared_ptr<const RegistryApi::References> RegistryApi::ReferencesOf(
    const std::string& digest) const {
  {
    std::lock_guard lock(mu_);
    auto it = references_.find(digest);
    if (it != references_.end()) return it->second;
  }
  if (d_.blobs == nullptr) return nullptr;
  Result<std::string> body = d_.blobs->Read(digest);
  if (!body.ok() || oci::DigestOf(*body) != digest) return nullptr;
  auto refs = std::make_shared<References>();
  for (auto& [d, t] : DocumentReferences(*body)) refs->push_back({std::move(d), std::move(t)});
  std::lock_guard lock(mu_);
  return references_.emplace(digest, std::move(refs)).first->second;
}

template <class Visit>
bool RegistryApi::Walk(std::string_view repository, Visit visit) const {
  if (d_.images == nullptr) return false;
  std::vector<Reference> pending;
  for (const std::string& tag : d_.images->Tags(repository)) {
    if (std::optional<oci::Descriptor> m = d_.images->Resolve(repository, tag)) {
      pending.push_back({m->digest, m->media_type});
    }
  }
  std::set<std::string> seen;
  while (!pending.empty()) {
    Reference manifest = std::move(pending.back());
    pending.pop_back();
    if (!seen.insert(manifest.digest).second) continue;
    if (visit(manifest)) return true;
    std::shared_ptr<const References> refs = ReferencesOf(manifest.digest);
    if (refs == nullptr) continue;
    for (const Reference& r : *refs) {
      if (IsManifestType(r.media_type)) {
        pending.push_back(r);
      } else if (visit(r)) {
        return true;
      }
    }
  }
  return false;
}

// One request being answered.
class Handling {
 public:
  Handling(const RegistryApi& api, const server::HttpRequest& request)
      : api_(api), d_(api.d_), request_(request) {}

  server::HttpResponse Answer() {
    const std::string& method = request_.method;
    if (method != "GET" && method != "HEAD") {
      server::HttpResponse r =
          ErrorResponse(Error::kUnsupported, json{{"Method", method}},
                        fmt::format("{} is unsupported: this registry is read-only", method));
      r.SetHeader("Allow", "GET, HEAD");
      return r;
    }
    head_ = method == "HEAD";
    const std::vector<std::string>& p = request_.path;
    if (p.size() == 1) return Base();
    if (p.size() == 2 && p[1] == "token") return Token();
    if (p.size() == 2 && p[1] == "_catalog") return Catalog();
    if (p.size() >= 4) {
      std::string name = p[1];
      for (size_t i = 2; i + 2 < p.size(); ++i) name += "/" + p[i];
      const std::string& kind = p[p.size() - 2];
      const std::string& arg = p.back();
      if (kind == "manifests") return Manifest(name, arg);
      if (kind == "blobs") return Blob(name, arg);
      if (kind == "tags" && arg == "list") return TagsList(name);
    }
    return ErrorResponse(Error::kUnsupported, json{{"Path", request_.raw_path}},
                         "no such registry endpoint", 404);
  }

 private:
  enum class Kind { kAnonymous, kBasic, kToken };
  // Who is asking.
  struct Principal {
    Kind kind = Kind::kAnonymous;
    std::optional<iam::Identity> identity;  // kBasic
    std::vector<std::string> granted;       // kToken, sorted
  };

  // Each segment of the name checked on its own: a decoded %2F never passes.
  bool ValidName(std::string_view name) const {
    for (size_t i = 1; i + 2 < request_.path.size(); ++i) {
      if (request_.path[i].find('/') != std::string::npos) return false;
    }
    return IsRepositoryName(name);
  }

  std::string Realm() const {
    const std::string* host = request_.FindHeader("host");
    const std::string* proto = request_.FindHeader("x-forwarded-proto");
    std::string scheme = proto != nullptr && *proto == "https" ? "https" : "http";
    return fmt::format("{}://{}/v2/token", scheme, host != nullptr ? *host : "127.0.0.1");
  }

  // 401 with the challenge that sends the client to the token server.
  server::HttpResponse Challenge(Error error, std::string_view scope, std::string_view why,
                                 std::string message = {}, json detail = nullptr) const {
    server::HttpResponse r = ErrorResponse(error, std::move(detail), std::move(message), 401);
    std::string value = fmt::format(R"(Bearer realm="{}",service="{}")", Realm(), kTokenService);
    if (!scope.empty()) value += fmt::format(R"(,scope="{}")", scope);
    if (!why.empty()) value += fmt::format(R"(,error="{}")", why);
    r.SetHeader("WWW-Authenticate", value);
    return r;
  }

  std::optional<std::pair<std::string, std::string>> BasicCredentials() const {
    const std::string* h = request_.FindHeader("authorization");
    if (h == nullptr || h->size() < 6 || !AsciiPrefix(*h, "basic ")) return std::nullopt;
    std::optional<std::string> decoded = Base64Decode(std::string_view(*h).substr(6));
    if (!decoded) return std::pair<std::string, std::string>{};
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return std::pair<std::string, std::string>{};
    return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
  }

  static bool AsciiPrefix(std::string_view s, std::string_view lower_prefix) {
    if (s.size() < lower_prefix.size()) return false;
    for (size_t i = 0; i < lower_prefix.size(); ++i) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != lower_prefix[i]) return false;
    }
    return true;
  }

  // The identity of an access key and its secret; nullopt when either is wrong.
  std::optional<iam::Identity> CheckKey(const std::string& id, const std::string& secret) const {
    if (d_.directory == nullptr) return std::nullopt;
    std::shared_ptr<const iam::Snapshot> snapshot = d_.directory->snapshot();
    const iam::Snapshot::Key* key = snapshot->FindKey(id);
    // A role session's key (ASIA...) cannot sign here: Basic auth has no room for its token.
    if (key == nullptr || !ConstantTimeEquals(key->secret, secret)) return std::nullopt;
    return iam::Identity{&key->caller, functions::Scope{key->caller.account, d_.region},
                         std::move(snapshot)};
  }

  // The principal, or the 401 to answer. `scope` goes into the challenge.
  std::variant<Principal, server::HttpResponse> Authenticate(std::string_view scope) const {
    const std::string* h = request_.FindHeader("authorization");
    if (h == nullptr) {
      if (d_.anonymous_pull) return Principal{};
      return Challenge(Error::kUnauthorized, scope, "");
    }
    if (AsciiPrefix(*h, "bearer ")) {
      std::optional<PullGrant> grant = api_.tokens_.Open(std::string_view(*h).substr(7));
      if (!grant) return Challenge(Error::kUnauthorized, scope, "invalid_token", "invalid token");
      if (d_.wall_clock->NowMillis() >= grant->expiration_ms) {
        return Challenge(Error::kUnauthorized, scope, "invalid_token", "token expired");
      }
      // A token dies with the key that asked for it.
      if (!grant->access_key_id.empty() &&
          (d_.directory == nullptr ||
           d_.directory->snapshot()->FindKey(grant->access_key_id) == nullptr)) {
        return Challenge(Error::kUnauthorized, scope, "invalid_token", "invalid token");
      }
      return Principal{Kind::kToken, std::nullopt, std::move(grant->repositories)};
    }
    if (std::optional<std::pair<std::string, std::string>> basic = BasicCredentials()) {
      if (std::optional<iam::Identity> identity = CheckKey(basic->first, basic->second)) {
        return Principal{Kind::kBasic, std::move(identity), {}};
      }
      return Challenge(Error::kUnauthorized, scope, "", "invalid credentials");
    }
    return Challenge(Error::kUnauthorized, scope, "", "unsupported authorization scheme");
  }

  // Whether a Basic caller may pull `repository` (IAM).
  static bool Allowed(const iam::Identity& identity, std::string_view repository) {
    return identity.Allow(std::string(kPullAction), RepositoryArn(repository)).ok();
  }

  bool MayPull(const Principal& who, std::string_view repository) const {
    if (d_.anonymous_pull) return true;
    switch (who.kind) {
      case Kind::kAnonymous:
        return false;
      case Kind::kBasic:
        return Allowed(*who.identity, repository);
      case Kind::kToken:
        return std::binary_search(who.granted.begin(), who.granted.end(), repository);
    }
    return false;
  }

  std::vector<std::string> Repositories() const {
    return d_.images != nullptr ? d_.images->Repositories() : std::vector<std::string>{};
  }

  bool Exists(std::string_view repository) const {
    std::vector<std::string> all = Repositories();
    return std::binary_search(all.begin(), all.end(), repository);
  }

  // Checks name, credentials and permission for a repository route; nullopt when it may go on.
  std::optional<server::HttpResponse> Admit(const std::string& name) const {
    if (!ValidName(name)) return ErrorResponse(Error::kNameInvalid, json{{"Name", name}});
    std::string scope = fmt::format("repository:{}:pull", name);
    auto who = Authenticate(scope);
    if (auto* refused = std::get_if<server::HttpResponse>(&who)) return std::move(*refused);
    const Principal& principal = std::get<Principal>(who);
    if (!MayPull(principal, name)) {
      std::string message = fmt::format("pulling {} is denied", name);
      if (principal.kind == Kind::kToken) {
        return Challenge(Error::kDenied, scope, "insufficient_scope", message,
                         json{{"Name", name}});
      }
      if (principal.kind == Kind::kAnonymous) {
        return Challenge(Error::kUnauthorized, scope, "");
      }
      return ErrorResponse(Error::kDenied, json{{"Name", name}}, message);
    }
    if (!Exists(name)) return ErrorResponse(Error::kNameUnknown, json{{"Name", name}});
    return std::nullopt;
  }

  server::HttpResponse Base() const {
    auto who = Authenticate("");
    if (auto* refused = std::get_if<server::HttpResponse>(&who)) return std::move(*refused);
    return JsonResponse(json::object());
  }

  server::HttpResponse Manifest(const std::string& name, const std::string& reference) const {
    if (auto refused = Admit(name)) return std::move(*refused);
    bool by_digest = reference.find(':') != std::string::npos;
    if (by_digest && !oci::IsDigest(reference)) {
      return ErrorResponse(Error::kDigestInvalid, json{{"Digest", reference}});
    }
    json detail = by_digest ? json{{"Digest", reference}} : json{{"Tag", reference}};
    if (!by_digest && !IsTag(reference)) {
      return ErrorResponse(Error::kManifestUnknown, detail, "invalid tag");
    }
    std::string digest;
    std::string media_type;
    if (std::optional<oci::Descriptor> m = d_.images->Resolve(name, reference)) {
      digest = m->digest;
      media_type = m->media_type;
    } else if (by_digest) {
      // A child of one of the repository's indexes.
      api_.Walk(name, [&](const RegistryApi::Reference& r) {
        if (r.digest != reference || !IsManifestType(r.media_type)) return false;
        digest = r.digest;
        media_type = r.media_type;
        return true;
      });
    }
    if (digest.empty()) return ErrorResponse(Error::kManifestUnknown, detail);
    Result<std::string> body = d_.blobs->Read(digest);
    if (!body.ok() || oci::DigestOf(*body) != digest) {
      return ErrorResponse(Error::kManifestUnknown, detail);
    }
    if (media_type.empty()) {
      json doc = json::parse(*body, nullptr, false);
      media_type = doc.is_object() && doc.contains("mediaType") && doc["mediaType"].is_string()
                       ? doc["mediaType"].get<std::string>()
                       : std::string(oci::kOciManifest);
    }
    // Served as stored, whatever Accept lists: a client that takes neither this type nor an
    // index of it still gets it (as most registries do), never a rewritten document.
    server::HttpResponse r = NewResponse(200);
    r.SetHeader("Content-Type", media_type);
    r.SetHeader("Docker-Content-Digest", digest);
    r.SetHeader("ETag", fmt::format("\"{}\"", digest));
    if (head_) {
      r.head_length = body->size();
    } else {
      r.body = std::move(*body);
    }
    return r;
  }

  server::HttpResponse Blob(const std::string& name, const std::string& digest) const {
    if (!ValidName(name)) return ErrorResponse(Error::kNameInvalid, json{{"Name", name}});
    if (!oci::IsDigest(digest)) {
      return ErrorResponse(Error::kDigestInvalid, json{{"Digest", digest}});
    }
    if (auto refused = Admit(name)) return std::move(*refused);
    bool reachable =
        api_.Walk(name, [&](const RegistryApi::Reference& r) { return r.digest == digest; });
    Result<int64_t> size = reachable ? d_.blobs->Size(digest) : Result<int64_t>(NotFound(""));
    if (!size.ok()) return ErrorResponse(Error::kBlobUnknown, json{{"Digest", digest}});
    auto total = static_cast<uint64_t>(*size);
    server::HttpResponse r = NewResponse(200);
    r.SetHeader("Content-Type", "application/octet-stream");
    r.SetHeader("Docker-Content-Digest", digest);
    r.SetHeader("ETag", fmt::format("\"{}\"", digest));
    r.SetHeader("Accept-Ranges", "bytes");
    r.SetHeader("Cache-Control", "max-age=31536000");
    ByteRange range{0, total};
    if (!head_) {
      switch (ParseRange(request_.FindHeader("range"), total, range)) {
        case RangeParse::kNone:
          break;
        case RangeParse::kRange:
          r.status = 206;
          r.SetHeader("Content-Range", fmt::format("bytes {}-{}/{}", range.first,
                                                   range.first + range.length - 1, total));
          break;
        case RangeParse::kUnsatisfiable: {
          server::HttpResponse e = ErrorResponse(Error::kRangeInvalid, json{{"Digest", digest}});
          e.SetHeader("Content-Range", fmt::format("bytes */{}", total));
          return e;
        }
      }
    }
    if (head_) {
      r.head_length = total;
    } else {
      r.file = server::HttpResponse::FileBody{d_.blobs->Path(digest), range.first, range.length};
    }
    return r;
  }

  // A page of a sorted listing (`n` and `last` as the request gives them), with the Link to
  // the next page when a page size was asked and more follow; or the error to answer.
  struct Listing {
    std::vector<std::string> page;
    std::string link;
  };
  std::variant<Listing, server::HttpResponse> Paginate(const std::vector<std::string>& items,
                                                       std::string_view path) const {
    std::optional<std::string> n_text = request_.Query("n");
    std::optional<int> n = ParsePageSize(n_text);
    if (!n) return ErrorResponse(Error::kPaginationNumberInvalid, json{{"n", *n_text}});
    auto [page, more] = Page(items, request_.Query("last"), *n);
    Listing listing{std::move(page), {}};
    if (more && n_text && !listing.page.empty()) {
      listing.link = fmt::format("<{}?n={}&last={}>; rel=\"next\"", path, *n,
                                 QueryEscape(listing.page.back()));
    }
    return listing;
  }

  server::HttpResponse ListingResponse(std::variant<Listing, server::HttpResponse> listing,
                                       json body, const char* member) const {
    if (auto* refused = std::get_if<server::HttpResponse>(&listing)) return std::move(*refused);
    Listing& l = std::get<Listing>(listing);
    body[member] = std::move(l.page);
    server::HttpResponse r = JsonResponse(body);
    if (!l.link.empty()) r.SetHeader("Link", std::move(l.link));
    return r;
  }

  server::HttpResponse TagsList(const std::string& name) const {
    if (auto refused = Admit(name)) return std::move(*refused);
    return ListingResponse(Paginate(d_.images->Tags(name), fmt::format("/v2/{}/tags/list", name)),
                           json{{"name", name}}, "tags");
  }

  server::HttpResponse Catalog() const {
    auto who = Authenticate("registry:catalog:*");
    if (auto* refused = std::get_if<server::HttpResponse>(&who)) return std::move(*refused);
    const Principal& principal = std::get<Principal>(who);
    // Only what the caller may pull is listed.
    std::vector<std::string> visible;
    for (std::string& repository : Repositories()) {
      if (MayPull(principal, repository)) visible.push_back(std::move(repository));
    }
    return ListingResponse(Paginate(visible, "/v2/_catalog"), json::object(), "repositories");
  }

  // GET /v2/token?service=lambkin&scope=repository:<name>:pull[&scope=...]
  server::HttpResponse Token() const {
    std::optional<std::string> service = request_.Query("service");
    if (service && *service != kTokenService) {
      return ErrorResponse(
          Error::kUnsupported, json{{"service", *service}},
          fmt::format("unknown service {}; this registry is {}", *service, kTokenService), 400);
    }
    std::optional<iam::Identity> identity;
    std::string key_id;
    if (std::optional<std::pair<std::string, std::string>> basic = BasicCredentials()) {
      identity = CheckKey(basic->first, basic->second);
      if (!identity) return TokenRefusal("invalid credentials");
      key_id = basic->first;
    } else if (request_.FindHeader("authorization") != nullptr) {
      return TokenRefusal("the token server takes HTTP Basic credentials");
    } else if (!d_.anonymous_pull) {
      return TokenRefusal("authentication required");
    }
    // What is asked: every scope parameter, each possibly several scopes apart by spaces.
    std::set<std::string> asked;
    for (const auto& [k, v] : request_.query) {
      if (k != "scope") continue;
      std::string_view rest = v;
      while (!rest.empty()) {
        size_t space = rest.find(' ');
        std::optional<Scope> scope = ParseScope(rest.substr(0, space));
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
        if (!scope) continue;
        bool pull =
            std::find(scope->actions.begin(), scope->actions.end(), "pull") != scope->actions.end();
        if (scope->type == "repository" && pull && IsRepositoryName(scope->name)) {
          asked.insert(scope->name);
        } else if (scope->type == "registry" && scope->name == "catalog") {
          // The catalog lists what the token may pull: everything the caller may.
          for (std::string& r : Repositories()) asked.insert(std::move(r));
        }
      }
    }
    PullGrant grant;
    grant.access_key_id = key_id;
    int64_t now = d_.wall_clock->NowMillis();
    grant.expiration_ms = now + kTokenLifetimeMs;
    // A denied repository is left out (a partial grant is no error), as Docker's token servers do.
    for (const std::string& r : asked) {
      if (grant.repositories.size() == 0xffff) break;
      if (d_.anonymous_pull || (identity && Allowed(*identity, r))) grant.repositories.push_back(r);
    }
    std::string token = api_.tokens_.Seal(grant);
    return JsonResponse(json{{"token", token},
                             {"access_token", token},
                             {"expires_in", kTokenLifetimeMs / 1000},
                             {"issued_at", Rfc3339(now)}});
  }

  server::HttpResponse TokenRefusal(std::string message) const {
    server::HttpResponse r = ErrorResponse(Error::kUnauthorized, nullptr, std::move(message));
    r.SetHeader("WWW-Authenticate", fmt::format(R"(Basic realm="{}")", kTokenService));
    return r;
  }

  const RegistryApi& api_;
  const RegistryApi::Deps& d_;
  const server::HttpRequest& request_;
  bool head_ = false;
};

server::HttpResponse RegistryApi::Handle(const server::HttpRequest& request) const {
  return Handling(*this, request).Answer();
}

}  // namespace lambkin::registry
