// The OCI distribution API client: Beast over Asio, TLS through asio::ssl (OpenSSL).
//
// Each HTTP request uses its own connection and its own io_context, driven synchronously by
// running the context until the one asynchronous operation completes: asynchronous operations
// are the ones beast::tcp_stream's timeouts apply to, so a registry that stops answering fails
// the pull instead of hanging it.
#include "oci/registry_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cctype>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>

#include "common/crypto.h"
#include "common/uri.h"

namespace lambkin::oci {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kDockerHub = "docker.io";
constexpr std::string_view kDockerHubHost = "registry-1.docker.io";
constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
constexpr int kMaxRedirects = 5;
constexpr int kMaxIndexDepth = 4;
// No progress for this long fails the request (a large layer may take much longer in all).
constexpr auto kIdleTimeout = std::chrono::seconds(60);

struct Url {
  bool tls = true;
  std::string host;  // as in the URL (brackets kept off)
  std::string port;
  std::string target;  // path and query

  std::string Authority() const {
    bool default_port = (tls && port == "443") || (!tls && port == "80");
    return default_port ? host : host + ":" + port;
  }
  std::string ToString() const {
    return fmt::format("{}://{}{}", tls ? "https" : "http", Authority(), target);
  }
};

Result<Url> ParseUrl(std::string_view text) {
  Url url;
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    url.tls = false;
    rest.remove_prefix(7);
  } else {
    return InvalidParameter(fmt::format("\"{}\" is not an http(s) URL", text));
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.starts_with('?')) url.target.insert(0, "/");
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    url.host = authority.substr(0, colon);
    url.port = authority.substr(colon + 1);
  } else {
    url.host = authority;
    url.port = url.tls ? "443" : "80";
  }
  if (url.host.empty() || url.port.empty() ||
      url.port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidParameter(fmt::format("\"{}\" is not a valid URL", text));
  }
  return url;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;  // what did not go to the sink (error bodies are capped)

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Where a 2xx response body goes, piece by piece.
using Sink = std::function<Status(std::string_view)>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Runs `initiate(handler)` to completion on `ioc`; the handler's error code.
template <typename Initiate>
boost::system::error_code RunOne(asio::io_context& ioc, Initiate&& initiate) {
  boost::system::error_code result = asio::error::would_block;
  std::forward<Initiate>(initiate)(
      [&result](boost::system::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// One request: its method, extra headers and body (bytes, or a file streamed from disk).
struct Request {
  http::verb method = http::verb::get;
  Headers headers;
  std::string body;       // sent when body_file is empty
  std::string body_file;  // streamed from this file (a blob being uploaded)
};

// "GET http://host/path" for messages.
std::string Describe(const Request& request, const Url& url) {
  return fmt::format("{} {}", std::string_view(http::to_string(request.method)), url.ToString());
}

// Writes `req` piece by piece: the idle timeout applies to each piece, not to the whole upload.
template <typename Stream, typename Body>
boost::system::error_code WriteRequest(asio::io_context& ioc, Stream& stream,
                                       http::request<Body>& req) {
  auto& lowest = beast::get_lowest_layer(stream);
  http::request_serializer<Body> serializer(req);
  boost::system::error_code ec;
  while (!ec && !serializer.is_done()) {
    lowest.expires_after(kIdleTimeout);
    ec = RunOne(
        ioc, [&](auto handler) { http::async_write_some(stream, serializer, std::move(handler)); });
  }
  return ec;
}

template <typename Body>
void SetHeaders(http::request<Body>& req, const Url& url, const Request& request) {
  req.set(http::field::host, url.Authority());
  req.set(http::field::user_agent, "lambkin");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  req.prepare_payload();
}

template <typename Stream>
Result<HttpResult> Exchange(asio::io_context& ioc, Stream& stream, const Url& url,
                            const Request& request, const Sink* sink, size_t body_limit) {
  auto& lowest = beast::get_lowest_layer(stream);
  boost::system::error_code ec;
  if (request.body_file.empty()) {
    http::request<http::string_body> req{request.method, url.target, 11};
    req.body() = request.body;
    SetHeaders(req, url, request);
    ec = WriteRequest(ioc, stream, req);
  } else {
    http::request<http::file_body> req{request.method, url.target, 11};
    req.body().open(request.body_file.c_str(), beast::file_mode::scan, ec);
    if (ec) {
      return Internal(fmt::format("{}: cannot open {}: {}", Describe(request, url),
                                  request.body_file, ec.message()));
    }
    SetHeaders(req, url, request);
    ec = WriteRequest(ioc, stream, req);
  }
  if (ec) return Internal(fmt::format("{}: cannot send: {}", Describe(request, url), ec.message()));

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  // A HEAD answer announces a Content-Length but carries no body.
  if (request.method == http::verb::head) parser.skip(true);
  lowest.expires_after(kIdleTimeout);
  ec = RunOne(ioc, [&](auto handler) {
    http::async_read_header(stream, buffer, parser, std::move(handler));
  });
  if (ec) return Internal(fmt::format("{}: no answer: {}", Describe(request, url), ec.message()));
  HttpResult result;
  result.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    result.headers.emplace(Lower(field.name_string()), std::string(field.value()));
  }
  bool to_sink = sink != nullptr && result.status / 100 == 2;
  size_t limit = result.status / 100 == 2 ? body_limit : kMaxErrorBodyBytes;
  std::string chunk(1 << 16, '\0');
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    lowest.expires_after(kIdleTimeout);
    ec = RunOne(
        ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      return Internal(
          fmt::format("{}: the answer broke off: {}", Describe(request, url), ec.message()));
    }
    std::string_view piece(chunk.data(), chunk.size() - parser.get().body().size);
    if (to_sink) {
      LAMBKIN_RETURN_IF_ERROR((*sink)(piece));
    } else if (result.body.size() + piece.size() > limit) {
      if (result.status / 100 == 2) {
        return InvalidParameter(
            fmt::format("{}: the answer is over {} bytes", Describe(request, url), limit));
      }
      break;  // an error page: its beginning is enough
    } else {
      result.body.append(piece);
    }
  }
  lowest.socket().close(ec);
  return result;
}

// One request on a fresh connection.
Result<HttpResult> Send(const Url& url, const Request& request, const Sink* sink,
                        size_t body_limit) {
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    boost::system::error_code ec = RunOne(ioc, [&](auto handler) {
      resolver.async_resolve(url.host, url.port,
                             [&endpoints, handler = std::move(handler)](
                                 boost::system::error_code e, tcp::resolver::results_type r) {
                               endpoints = std::move(r);
                               handler(e);
                             });
    });
    if (ec) return Internal(fmt::format("cannot resolve {}: {}", url.host, ec.message()));
    if (!url.tls) {
      beast::tcp_stream stream(ioc);
      stream.expires_after(kIdleTimeout);
      ec = RunOne(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
      if (ec) {
        return Internal(fmt::format("cannot connect to {}: {}", url.Authority(), ec.message()));
      }
      return Exchange(ioc, stream, url, request, sink, body_limit);
    }
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_default_verify_paths();
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      return Internal(fmt::format("cannot set the TLS server name {}", url.host));
    }
    auto& lowest = beast::get_lowest_layer(stream);
    lowest.expires_after(kIdleTimeout);
    ec = RunOne(ioc, [&](auto handler) { lowest.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      return Internal(fmt::format("cannot connect to {}: {}", url.Authority(), ec.message()));
    }
    lowest.expires_after(kIdleTimeout);
    ec = RunOne(ioc, [&](auto handler) {
      stream.async_handshake(asio::ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      return Internal(fmt::format("TLS with {} failed (certificate not trusted for this host?): {}",
                                  url.Authority(), ec.message()));
    }
    return Exchange(ioc, stream, url, request, sink, body_limit);
  } catch (const std::exception& e) {
    return Internal(fmt::format("{}: {}", Describe(request, url), e.what()));
  }
}

// The scheme and parameters of a WWW-Authenticate challenge (RFC 7235: token, then
// key=token or key="quoted string" separated by commas).
struct Challenge {
  std::string scheme;                         // lowercase
  std::map<std::string, std::string> params;  // lowercase keys
};

Challenge ParseChallenge(std::string_view text) {
  Challenge c;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ',')) ++i;
  };
  skip_space();
  size_t start = i;
  while (i < text.size() && text[i] != ' ') ++i;
  c.scheme = Lower(text.substr(start, i - start));
  while (i < text.size()) {
    skip_space();
    start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',') ++i;
    std::string key = Lower(text.substr(start, i - start));
    if (i >= text.size() || text[i] != '=') continue;
    ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      while (i < text.size() && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        value += text[i++];
      }
      ++i;
    } else {
      start = i;
      while (i < text.size() && text[i] != ',') ++i;
      value = text.substr(start, i - start);
    }
    if (!key.empty()) c.params[key] = value;
  }
  return c;
}

// The registry's own words from an error body ({"errors":[{"code","message"}]}), if any.
std::string RegistryErrorText(const std::string& body) {
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("errors") || !doc["errors"].is_array()) return {};
  std::vector<std::string> parts;
  for (const auto& e : doc["errors"]) {
    if (!e.is_object()) continue;
    std::string code = e.value("code", "");
    std::string message = e.value("message", "");
    parts.push_back(code.empty() ? message : fmt::format("{}: {}", code, message));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

// Where `location` (an absolute URL, an absolute path or a relative one, as in a redirect or
// an upload's Location header) points, seen from `base`.
Result<Url> ResolveLocation(const Url& base, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    return ParseUrl(location);
  }
  Url next = base;
  if (location.starts_with('/')) {
    next.target = location;
  } else {
    std::string_view path = std::string_view(base.target).substr(0, base.target.find('?'));
    next.target = std::string(path.substr(0, path.rfind('/') + 1)) + location;
  }
  return next;
}

// What a session asks the token service for on its repository.
enum class Access { kPull, kPullPush };

// The requests of one pull or push: one registry, one repository, the authorization they
// earned.
class Session {
 public:
  Session(const ImageReference& ref, const RegistryCredentials& credentials, Access access)
      : ref_(ref), access_(access) {
    auto it = credentials.find(ref.registry);
    if (it != credentials.end()) credential_ = it->second;
    insecure_ = credential_ && credential_->insecure;
    host_ = ref.registry == kDockerHub ? std::string(kDockerHubHost) : ref.registry;
    Result<Url> base = ParseUrl(fmt::format("{}://{}/", insecure_ ? "http" : "https", host_));
    if (base.ok()) base_authority_ = base->Authority();
  }

  std::string What() const {
    return fmt::format("registry {}, repository {}", ref_.registry, ref_.repository);
  }

  // The URL of `path` on the registry.
  Result<Url> UrlOf(const std::string& path) const {
    return ParseUrl(fmt::format("{}://{}{}", insecure_ ? "http" : "https", host_, path));
  }

  // GET <registry><path>, authenticating when asked to and following redirects.
  Result<HttpResult> Fetch(const std::string& path, const Headers& extra, const Sink* sink,
                           size_t body_limit) {
    LAMBKIN_ASSIGN_OR_RETURN(Url url, UrlOf(path));
    return Send(url, Request{http::verb::get, extra, {}, {}}, sink, body_limit);
  }

  // `request` to `url`, authenticating when asked to; GET and HEAD follow redirects.
  Result<HttpResult> Send(const Url& url, const Request& request, const Sink* sink,
                          size_t body_limit) {
    for (int attempt = 0;; ++attempt) {
      LAMBKIN_ASSIGN_OR_RETURN(HttpResult res, SendFollowing(url, request, sink, body_limit));
      if (res.status != 401 || attempt == 1) return res;
      LAMBKIN_RETURN_IF_ERROR(Authenticate(res.Header("www-authenticate")));
    }
  }

  // The error for an unexpected answer: AccessDenied for 401 and 403 (the session has already
  // authenticated when it sees them), `not_found` for 404, Internal otherwise; with the
  // registry's own error codes and messages.
  Status Failure(std::string_view what, const HttpResult& res,
                 StatusCode not_found = StatusCode::kResourceNotFound) const {
    std::string detail = RegistryErrorText(res.body);
    std::string message = fmt::format("{}: {}: HTTP {}{}", What(), what, res.status,
                                      detail.empty() ? "" : " (" + detail + ")");
    if (res.status == 404) return Status(not_found, message);
    if (res.status == 401 || res.status == 403) {
      return Status(StatusCode::kAccessDenied, message);
    }
    return Internal(message);
  }

 private:
  Result<HttpResult> SendFollowing(Url url, const Request& request, const Sink* sink,
                                   size_t body_limit) {
    bool follow = request.method == http::verb::get || request.method == http::verb::head;
    for (int redirects = 0;; ++redirects) {
      Request sent = request;
      // Storage a registry redirects to (S3 and the like) gets no registry credentials.
      if (!authorization_.empty() && url.Authority() == base_authority_) {
        sent.headers.emplace_back("authorization", authorization_);
      }
      LAMBKIN_ASSIGN_OR_RETURN(HttpResult res, oci::Send(url, sent, sink, body_limit));
      bool redirect = res.status == 301 || res.status == 302 || res.status == 303 ||
                      res.status == 307 || res.status == 308;
      std::string location = res.Header("location");
      if (!follow || !redirect || location.empty()) return res;
      if (redirects == kMaxRedirects) {
        return Internal(fmt::format("{}: too many redirects (last to {})", What(), location));
      }
      LAMBKIN_ASSIGN_OR_RETURN(Url next, ResolveLocation(url, location));
      if (url.tls && !next.tls) {
        return Internal(fmt::format("{}: refusing a redirect from HTTPS to {}", What(), location));
      }
      url = std::move(next);
    }
  }

  Status Authenticate(const std::string& header) {
    Challenge challenge = ParseChallenge(header);
    bool has_login = credential_ && !credential_->username.empty();
    if (challenge.scheme == "basic") {
      if (!has_login) {
        return Status(StatusCode::kAccessDenied,
                      fmt::format("{}: the registry asks for a login (Basic) and none is "
                                  "configured for {}",
                                  What(), ref_.registry));
      }
      authorization_ = "Basic " + Base64Encode(credential_->username + ":" + credential_->password);
      return Status::Ok();
    }
    if (challenge.scheme != "bearer" || challenge.params["realm"].empty()) {
      return Status(StatusCode::kAccessDenied,
                    fmt::format("{}: unsupported authentication challenge \"{}\"", What(), header));
    }
    LAMBKIN_ASSIGN_OR_RETURN(Url realm, ParseUrl(challenge.params["realm"]));
    if (!realm.tls && !insecure_) {
      return Status(StatusCode::kAccessDenied,
                    fmt::format("{}: refusing the plain-HTTP token realm {} of a registry not "
                                "marked insecure",
                                What(), challenge.params["realm"]));
    }
    // A pull takes the scope the registry names; a push asks for push on its repository from
    // the start (the challenge of its first request, a HEAD, names pull only).
    std::string scope = challenge.params["scope"];
    if (scope.empty() || access_ == Access::kPullPush) {
      scope = fmt::format("repository:{}:{}", ref_.repository,
                          access_ == Access::kPullPush ? "pull,push" : "pull");
    }
    std::string query;
    if (!challenge.params["service"].empty()) {
      query += "service=" + UriEncode(challenge.params["service"], false) + "&";
    }
    query += "scope=" + UriEncode(scope, false);
    realm.target += (realm.target.find('?') == std::string::npos ? "?" : "&") + query;
    Headers headers;
    if (has_login) {
      headers.emplace_back("authorization", "Basic " + Base64Encode(credential_->username + ":" +
                                                                    credential_->password));
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        HttpResult res,
        oci::Send(realm, Request{http::verb::get, headers, {}, {}}, nullptr, kMaxManifestBytes));
    if (res.status != 200) {
      return Status(
          StatusCode::kAccessDenied,
          fmt::format("{}: the token service {} answered HTTP {}{}", What(), realm.Authority(),
                      res.status, has_login ? "" : " (no login is configured for this registry)"));
    }
    nlohmann::json answer = nlohmann::json::parse(res.body, nullptr, false);
    std::string token;
    if (answer.is_object()) {
      if (answer.contains("token") && answer["token"].is_string()) {
        token = answer["token"].get<std::string>();
      } else if (answer.contains("access_token") && answer["access_token"].is_string()) {
        token = answer["access_token"].get<std::string>();
      }
    }
    if (token.empty()) {
      return Status(StatusCode::kAccessDenied, fmt::format("{}: the token service {} gave no token",
                                                           What(), realm.Authority()));
    }
    authorization_ = "Bearer " + token;
    return Status::Ok();
  }

  ImageReference ref_;
  Access access_;
  std::optional<RegistryCredential> credential_;
  bool insecure_ = false;
  std::string host_;
  std::string base_authority_;  // host_ as URLs spell it (no default port)
  std::string authorization_;
};

Status FetchBlob(Session& session, const ImageReference& ref, const Descriptor& d,
                 BlobStore* blobs) {
  if (blobs->Has(d.digest)) {
    Result<int64_t> size = blobs->Size(d.digest);
    if (size.ok() && *size == d.size) return Status::Ok();
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<BlobStore::Writer> writer, blobs->NewWriter());
  Sink sink = [&](std::string_view piece) -> Status {
    if (writer->written() + static_cast<int64_t>(piece.size()) > d.size) {
      return InvalidParameter(
          fmt::format("{}: blob {} is larger than the {} bytes its "
                      "descriptor says",
                      session.What(), d.digest, d.size));
    }
    return writer->Write(piece);
  };
  LAMBKIN_ASSIGN_OR_RETURN(
      HttpResult res,
      session.Fetch(fmt::format("/v2/{}/blobs/{}", ref.repository, d.digest), {}, &sink, 0));
  if (res.status != 200) return session.Failure(fmt::format("GET blob {}", d.digest), res);
  Result<std::string> committed = writer->Commit(d.digest, d.size);
  if (!committed.ok()) {
    return InvalidParameter(fmt::format("{}: blob {} does not match its descriptor: {}",
                                        session.What(), d.digest, committed.status().message()));
  }
  return Status::Ok();
}

// Checks the Docker-Content-Digest a registry answered a push with, when it sent one.
Status CheckAnnouncedDigest(const Session& session, std::string_view what, const HttpResult& res,
                            const std::string& digest) {
  std::string announced = res.Header("docker-content-digest");
  if (!announced.empty() && announced != digest) {
    return Internal(fmt::format("{}: {}: the registry stored {}, not {}", session.What(), what,
                                announced, digest));
  }
  return Status::Ok();
}

// Uploads blob `d` from `blobs` unless the repository has it: HEAD, then POST to open an
// upload and one monolithic PUT of the bytes to the Location it answered.
Status PushBlob(Session& session, const ImageReference& ref, const Descriptor& d,
                const BlobStore& blobs) {
  LAMBKIN_ASSIGN_OR_RETURN(Url blob_url,
                           session.UrlOf(fmt::format("/v2/{}/blobs/{}", ref.repository, d.digest)));
  LAMBKIN_ASSIGN_OR_RETURN(
      HttpResult head,
      session.Send(blob_url, Request{http::verb::head, {}, {}, {}}, nullptr, kMaxManifestBytes));
  if (head.status == 200) return Status::Ok();
  if (head.status != 404) {
    return session.Failure(fmt::format("HEAD blob {}", d.digest), head, StatusCode::kInternal);
  }

  LAMBKIN_ASSIGN_OR_RETURN(Url uploads,
                           session.UrlOf(fmt::format("/v2/{}/blobs/uploads/", ref.repository)));
  LAMBKIN_ASSIGN_OR_RETURN(
      HttpResult started,
      session.Send(uploads, Request{http::verb::post, {}, {}, {}}, nullptr, kMaxManifestBytes));
  std::string location = started.Header("location");
  if (started.status != 202 || location.empty()) {
    return session.Failure(fmt::format("POST an upload for blob {}{}", d.digest,
                                       started.status == 202 ? " (answer without Location)" : ""),
                           started, StatusCode::kInternal);
  }
  LAMBKIN_ASSIGN_OR_RETURN(Url upload, ResolveLocation(uploads, location));
  if (uploads.tls && !upload.tls) {
    return Internal(
        fmt::format("{}: refusing the plain-HTTP upload location {}", session.What(), location));
  }
  upload.target += upload.target.find('?') == std::string::npos ? "?" : "&";
  upload.target += "digest=" + UriEncode(d.digest, false);
  Request put{
      http::verb::put, {{"content-type", "application/octet-stream"}}, {}, blobs.Path(d.digest)};
  LAMBKIN_ASSIGN_OR_RETURN(HttpResult done, session.Send(upload, put, nullptr, kMaxManifestBytes));
  if (done.status != 201) {
    return session.Failure(fmt::format("PUT blob {}", d.digest), done, StatusCode::kInternal);
  }
  return CheckAnnouncedDigest(session, fmt::format("PUT blob {}", d.digest), done, d.digest);
}

bool MatchesAll(const std::string& text, const char* pattern) {
  return std::regex_match(text, std::regex(pattern));
}

std::string StripParameters(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}

}  // namespace

std::string ImageReference::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<ImageReference> ParseImageReference(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidParameter(fmt::format("image reference \"{}\" is malformed: {}", text, why));
  };
  if (text.empty()) return bad("it is empty");
  ImageReference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!IsDigest(ref.digest)) return bad("the digest is not sha256:<64 lowercase hex>");
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!MatchesAll(ref.tag, "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")) {
      return bad("the tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
  }
  std::string name(rest);
  size_t first_slash = name.find('/');
  if (first_slash != std::string::npos) {
    std::string first = name.substr(0, first_slash);
    if (first.find_first_of(".:") != std::string::npos || first == "localhost") {
      ref.registry = first;
      name = name.substr(first_slash + 1);
      if (!MatchesAll(ref.registry,
                      "[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]*"
                      "[a-zA-Z0-9])?)*(:[0-9]{1,5})?")) {
        return bad("the registry must be a host name with an optional :port");
      }
    }
  }
  if (ref.registry.empty() || ref.registry == "index.docker.io" ||
      ref.registry == "registry-1.docker.io") {
    ref.registry = kDockerHub;
    if (name.find('/') == std::string::npos) name = "library/" + name;
  }
  if (name.empty()) return bad("it names no repository");
  if (name.size() > 255) return bad("the repository name is over 255 characters");
  if (Lower(name) != name) return bad("repository names must be lowercase");
  if (!MatchesAll(name,
                  "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*")) {
    return bad(
        "each repository path component is lowercase letters and digits separated by '.', "
        "'_', '__' or dashes");
  }
  ref.repository = std::move(name);
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

Result<ResolvedImage> Pull(const ImageReference& ref, const Platform& platform,
                           const RegistryCredentials& credentials, BlobStore* blobs) {
  Session session(ref, credentials, Access::kPull);
  std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
  std::string expected_digest = ref.digest;
  int64_t expected_size = -1;
  bool from_index = false;
  const Headers accept = {{"accept", fmt::format("{}, {}, {}, {}", kOciManifest, kOciIndex,
                                                 kDockerManifest, kDockerManifestList)}};
  for (int depth = 0;; ++depth) {
    std::string path = fmt::format("/v2/{}/manifests/{}", ref.repository, reference);
    LAMBKIN_ASSIGN_OR_RETURN(HttpResult res,
                             session.Fetch(path, accept, nullptr, kMaxManifestBytes));
    if (res.status != 200) return session.Failure(fmt::format("GET manifest {}", reference), res);
    std::string body = std::move(res.body);
    std::string digest = DigestOf(body);
    std::string announced = res.Header("docker-content-digest");
    if (!announced.empty() && announced != digest) {
      return InvalidParameter(
          fmt::format("{}: manifest {} hashes to {}, not the {} the registry announced",
                      session.What(), reference, digest, announced));
    }
    if (!expected_digest.empty() && digest != expected_digest) {
      return InvalidParameter(
          fmt::format("{}: manifest {} hashes to {}", session.What(), expected_digest, digest));
    }
    if (expected_size >= 0 && static_cast<int64_t>(body.size()) != expected_size) {
      return InvalidParameter(fmt::format("{}: manifest {} is {} bytes; its index says {}",
                                          session.What(), digest, body.size(), expected_size));
    }
    std::string media_type = StripParameters(res.Header("content-type"));
    if (!IsManifestMediaType(media_type) && !IsIndexMediaType(media_type)) {
      // Some registries answer application/json; the document says what it is.
      Result<std::string> declared = DocumentMediaType(body);
      if (!declared.ok()) {
        return InvalidParameter(fmt::format("{}: manifest {} (served as \"{}\"): {}",
                                            session.What(), reference, media_type,
                                            declared.status().message()));
      }
      media_type = *declared;
    }
    if (IsIndexMediaType(media_type)) {
      if (depth == kMaxIndexDepth) {
        return InvalidParameter(fmt::format("{}: indexes nested too deeply", session.What()));
      }
      Result<Index> index = ParseIndex(body, media_type);
      if (!index.ok()) {
        return InvalidParameter(
            fmt::format("{}: index {}: {}", session.What(), digest, index.status().message()));
      }
      // An index without the platform is an image that cannot run here (like a single
      // manifest of another architecture), not a missing one.
      Result<Descriptor> chosen = SelectPlatform(*index, platform);
      if (!chosen.ok()) {
        return InvalidParameter(
            fmt::format("{}: {}: {}", session.What(), reference, chosen.status().message()));
      }
      reference = expected_digest = chosen->digest;
      expected_size = chosen->size;
      from_index = true;
      continue;
    }
    Result<Manifest> manifest = ParseManifest(body, media_type);
    if (!manifest.ok()) {
      return InvalidParameter(
          fmt::format("{}: manifest {}: {}", session.What(), digest, manifest.status().message()));
    }
    LAMBKIN_RETURN_IF_ERROR(FetchBlob(session, ref, manifest->config, blobs));
    LAMBKIN_ASSIGN_OR_RETURN(std::string config_body, blobs->Read(manifest->config.digest));
    Result<ImageConfig> config = ParseImageConfig(config_body);
    if (!config.ok()) {
      return InvalidParameter(fmt::format("{}: config {} of manifest {}: {}", session.What(),
                                          manifest->config.digest, digest,
                                          config.status().message()));
    }
    if (Status platform_ok = CheckPlatform(*config, platform); !platform_ok.ok()) {
      return InvalidParameter(
          fmt::format("{}: manifest {}: {}", session.What(), digest, platform_ok.message()));
    }
    for (const Descriptor& layer : manifest->layers) {
      LAMBKIN_RETURN_IF_ERROR(FetchBlob(session, ref, layer, blobs));
    }
    // The manifest last: a manifest in the store means everything it names is there too.
    LAMBKIN_ASSIGN_OR_RETURN(std::string stored, blobs->Put(body));
    Descriptor descriptor{media_type, stored, static_cast<int64_t>(body.size())};
    return ResolvedImage{std::move(descriptor), std::move(manifest).value(),
                         std::move(config).value(), from_index};
  }
}

Status Push(const ImageReference& dest, const Descriptor& manifest, const BlobStore& blobs,
            const RegistryCredentials& credentials) {
  if (!IsManifestMediaType(manifest.media_type)) {
    return InvalidParameter(
        fmt::format("cannot push {}: only image manifests ({} or {}) are pushed",
                    manifest.media_type, kOciManifest, kDockerManifest));
  }
  if (!dest.digest.empty() && dest.digest != manifest.digest) {
    return InvalidParameter(fmt::format("cannot push manifest {} as {}: the digests differ",
                                        manifest.digest, dest.ToString()));
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string body, blobs.Read(manifest.digest));
  LAMBKIN_ASSIGN_OR_RETURN(Manifest parsed, ParseManifest(body, manifest.media_type));
  Session session(dest, credentials, Access::kPullPush);
  std::vector<const Descriptor*> needed = {&parsed.config};
  for (const Descriptor& layer : parsed.layers) needed.push_back(&layer);
  // Every blob at hand before the first request.
  for (const Descriptor* d : needed) {
    LAMBKIN_ASSIGN_OR_RETURN(int64_t size, blobs.Size(d->digest));
    if (size != d->size) {
      return InvalidParameter(fmt::format("blob {} is {} bytes in the store; the manifest says {}",
                                          d->digest, size, d->size));
    }
  }
  std::set<std::string> pushed;
  for (const Descriptor* d : needed) {
    if (!pushed.insert(d->digest).second) continue;
    LAMBKIN_RETURN_IF_ERROR(PushBlob(session, dest, *d, blobs));
  }
  // The manifest last: the registry refuses one whose blobs it does not have.
  std::string reference = dest.tag.empty() ? manifest.digest : dest.tag;
  std::string what = fmt::format("PUT manifest {}", reference);
  LAMBKIN_ASSIGN_OR_RETURN(
      Url url, session.UrlOf(fmt::format("/v2/{}/manifests/{}", dest.repository, reference)));
  Request put{http::verb::put, {{"content-type", manifest.media_type}}, std::move(body), {}};
  LAMBKIN_ASSIGN_OR_RETURN(HttpResult res, session.Send(url, put, nullptr, kMaxManifestBytes));
  if (res.status != 201) return session.Failure(what, res, StatusCode::kInternal);
  return CheckAnnouncedDigest(session, what, res, manifest.digest);
}

Result<ResolvedImage> FetchImage(std::string_view source, const Platform& platform,
                                 const RegistryCredentials& credentials, BlobStore* blobs) {
  if (source.starts_with("oci:")) {
    std::string_view rest = source.substr(4);
    std::string_view dir = rest;
    std::string_view reference;
    if (size_t d = rest.find(":sha256:"); d != std::string_view::npos) {
      dir = rest.substr(0, d);
      reference = rest.substr(d + 1);
    } else if (size_t c = rest.rfind(':');
               c != std::string_view::npos && rest.find('/', c) == std::string_view::npos) {
      dir = rest.substr(0, c);
      reference = rest.substr(c + 1);
    }
    if (dir.empty()) return InvalidParameter(fmt::format("\"{}\" names no directory", source));
    return ImportLayout(std::string(dir), reference, platform, blobs);
  }
  std::string_view reference = source;
  if (reference.starts_with("docker://")) reference.remove_prefix(9);
  LAMBKIN_ASSIGN_OR_RETURN(ImageReference ref, ParseImageReference(reference));
  return Pull(ref, platform, credentials, blobs);
}

}  // namespace lambkin::oci
