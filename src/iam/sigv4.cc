#include "iam/sigv4.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <unordered_map>

#include <fmt/format.h>

#include "common/ascii.h"
#include "common/crypto.h"

namespace lambkin::iam {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr int64_t kMaxSkewMs = 15LL * 60 * 1000;
constexpr int64_t kMaxExpiresS = 604800;

Status Incomplete(std::string message) {
  return {StatusCode::kIncompleteSignature, std::move(message)};
}

Status Invalid(std::string message) { return {StatusCode::kInvalidSignature, std::move(message)}; }

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<SigV4Credential> ParseCredential(std::string_view text) {
  auto malformed = [text] {
    return Incomplete(fmt::format(
        "Credential should be <access key>/<yyyymmdd>/<region>/<service>/aws4_request: '{}'",
        text));
  };
  if (std::count(text.begin(), text.end(), '/') != 4) return malformed();  // five parts
  std::array<std::string_view, 5> parts;
  size_t start = 0;
  for (std::string_view& part : parts) {
    size_t slash = text.find('/', start);  // npos for the last part
    part = text.substr(start, slash - start);
    start = slash + 1;
  }
  if (parts[4] != "aws4_request" ||
      std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); })) {
    return malformed();
  }
  return SigV4Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                         std::string(parts[3])};
}

std::vector<std::string> SplitSignedHeaders(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semi = text.find(';', start);
    if (semi == std::string_view::npos) semi = text.size();
    if (semi > start) out.push_back(AsciiLower(text.substr(start, semi - start)));
    start = semi + 1;
  }
  return out;
}

// yyyymmddThhmmssZ -> epoch ms.
std::optional<int64_t> ParseAmzDate(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return std::nullopt;
  std::tm tm{};
  auto num = [&](size_t at, size_t len, int& out) {
    auto [end, ec] = std::from_chars(d.data() + at, d.data() + at + len, out);
    return ec == std::errc() && end == d.data() + at + len;
  };
  if (!num(0, 4, tm.tm_year) || !num(4, 2, tm.tm_mon) || !num(6, 2, tm.tm_mday) ||
      !num(9, 2, tm.tm_hour) || !num(11, 2, tm.tm_min) || !num(13, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

}  // namespace

std::string AmzDate(int64_t ms) {
  auto t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

// Appends `v` trimmed, with each inner run of whitespace one space.
void AppendCanonicalHeaderValue(std::string& out, std::string_view v) {
  bool space = false;
  bool started = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = started;
      continue;
    }
    if (space) out += ' ';
    space = false;
    started = true;
    out += c;
  }
}

// The hash of an empty payload, which every GET and DELETE signs.
constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string PayloadHash(std::string_view body) {
  return body.empty() ? std::string(kEmptyPayloadSha256) : Sha256Hex(body);
}

}  // namespace

std::string SigV4Credential::Scope() const {
  std::string out;
  out.reserve(date.size() + region.size() + service.size() + 16);
  out.append(date).append("/").append(region).append("/").append(service);
  out.append("/aws4_request");
  return out;
}

Result<std::optional<SigV4Request>> ParseSigV4(const server::HttpRequest& request) {
  SigV4Request sig;
  if (const std::string* auth = request.FindHeader("authorization")) {
    std::string_view a(*auth);
    if (!a.starts_with(kAlgorithm) || a.size() == kAlgorithm.size() ||
        a[kAlgorithm.size()] != ' ') {
      return Incomplete(fmt::format(
          "Authorization header requires the {} algorithm. Authorization={}", kAlgorithm, a));
    }
    a.remove_prefix(kAlgorithm.size() + 1);
    std::optional<std::string_view> credential, signed_headers, signature;
    size_t start = 0;
    while (start < a.size()) {
      size_t comma = a.find(',', start);
      if (comma == std::string_view::npos) comma = a.size();
      std::string_view part = a.substr(start, comma - start);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos) {
        std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
        if (key == "Credential") credential = value;
        if (key == "SignedHeaders") signed_headers = value;
        if (key == "Signature") signature = value;
      }
      start = comma + 1;
    }
    std::string missing;
    for (const auto& [name, v] :
         {std::pair{"Credential", credential}, std::pair{"Signature", signature},
          std::pair{"SignedHeaders", signed_headers}}) {
      if (!v) missing += fmt::format("Authorization header requires '{}' parameter. ", name);
    }
    const std::string* date = request.FindHeader("x-amz-date");
    if (date == nullptr) {
      missing += "Authorization header requires existence of a 'X-Amz-Date' header. ";
    }
    if (!missing.empty()) return Incomplete(fmt::format("{}Authorization={}", missing, *auth));
    LAMBKIN_ASSIGN_OR_RETURN(sig.credential, ParseCredential(*credential));
    sig.signed_headers = SplitSignedHeaders(*signed_headers);
    sig.signature = std::string(*signature);
    sig.amz_date = *date;
    if (const std::string* token = request.FindHeader("x-amz-security-token")) {
      sig.security_token = *token;
    }
  } else if (auto algorithm = request.Query("X-Amz-Algorithm")) {
    if (*algorithm != kAlgorithm) {
      return Incomplete(fmt::format("X-Amz-Algorithm only supports \"{}\"", kAlgorithm));
    }
    std::string missing;
    for (const char* name : {"X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
                             "X-Amz-Signature", "X-Amz-Expires"}) {
      if (!request.Query(name)) missing += fmt::format("'{}' ", name);
    }
    if (!missing.empty()) {
      return Incomplete(fmt::format("A presigned request requires the query parameters {}",
                                    missing.substr(0, missing.size() - 1)));
    }
    LAMBKIN_ASSIGN_OR_RETURN(sig.credential, ParseCredential(*request.Query("X-Amz-Credential")));
    sig.amz_date = *request.Query("X-Amz-Date");
    sig.signed_headers = SplitSignedHeaders(*request.Query("X-Amz-SignedHeaders"));
    sig.signature = *request.Query("X-Amz-Signature");
    std::string expires = *request.Query("X-Amz-Expires");
    auto [end, ec] =
        std::from_chars(expires.data(), expires.data() + expires.size(), sig.expires_s);
    if (ec != std::errc() || end != expires.data() + expires.size() || sig.expires_s < 1 ||
        sig.expires_s > kMaxExpiresS) {
      return Incomplete(
          fmt::format("X-Amz-Expires must be a number of seconds from 1 to {}", kMaxExpiresS));
    }
    sig.presigned = true;
    sig.security_token = request.Query("X-Amz-Security-Token");
  } else {
    return std::optional<SigV4Request>();
  }
  if (!IsHex64(sig.signature)) {
    return Incomplete("The Signature must be 64 lowercase hexadecimal digits.");
  }
  if (!ParseAmzDate(sig.amz_date)) {
    return Incomplete(
        fmt::format("X-Amz-Date '{}' is not of the form yyyymmddThhmmssZ", sig.amz_date));
  }
  if (sig.credential.date != sig.amz_date.substr(0, 8)) {
    return Invalid(fmt::format(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '{}' != '{}', from '{}'.",
        sig.credential.date, sig.amz_date.substr(0, 8), sig.amz_date));
  }
  return std::optional<SigV4Request>(std::move(sig));
}

std::string CanonicalUri(std::string_view raw_path) {
  std::vector<std::string_view> segments;
  segments.reserve(16);
  size_t start = 0;
  while (start <= raw_path.size()) {
    size_t slash = raw_path.find('/', start);
    if (slash == std::string_view::npos) slash = raw_path.size();
    std::string_view seg = raw_path.substr(start, slash - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = slash + 1;
  }
  std::string out;
  out.reserve(raw_path.size() + 8);
  for (auto seg : segments) {
    out += '/';
    AppendUriEncoded(out, seg, false);
  }
  bool trailing = raw_path.size() > 1 && raw_path.back() == '/' && !segments.empty();
  if (out.empty() || trailing) out += '/';
  return out;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lowercase hex is not canonical
}

// Whether `raw` is already as SigV4 encodes it: unreserved characters, and %XX (uppercase) for
// every other byte. Most query strings are, and are then used as they came.
bool CanonicallyEncoded(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (IsUriUnreserved(static_cast<unsigned char>(raw[i]))) continue;
    if (raw[i] != '%' || i + 2 >= raw.size()) return false;
    int hi = HexValue(raw[i + 1]);
    int lo = HexValue(raw[i + 2]);
    if (hi < 0 || lo < 0 || IsUriUnreserved(static_cast<unsigned char>(hi * 16 + lo))) return false;
    i += 2;
  }
  return true;
}

// A query name or value decoded, then encoded as SigV4 encodes it.
std::string CanonicalQueryPart(std::string_view raw) {
  if (CanonicallyEncoded(raw)) return std::string(raw);
  return UriEncode(server::PercentDecode(raw).value_or(std::string(raw)), false);
}

}  // namespace

std::string CanonicalQuery(std::string_view raw_query, bool presigned) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < raw_query.size()) {
    size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    std::string_view pair = raw_query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = CanonicalQueryPart(pair.substr(0, eq));
    if (presigned && key == "X-Amz-Signature") continue;
    pairs.emplace_back(std::move(key),
                       CanonicalQueryPart(eq == std::string_view::npos ? std::string_view()
                                                                       : pair.substr(eq + 1)));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  out.reserve(raw_query.size() + 8);
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out.append(k).append("=").append(v);
  }
  return out;
}

Result<std::string> CanonicalRequest(const server::HttpRequest& request, const SigV4Request& sig) {
  std::string_view target(request.target);
  size_t q = target.find('?');
  std::string out;
  out.reserve(512);
  out.append(request.method).append("\n");
  out.append(CanonicalUri(target.substr(0, q))).append("\n");
  out.append(CanonicalQuery(q == std::string_view::npos ? "" : target.substr(q + 1), sig.presigned))
      .append("\n");
  // The SDKs list signed headers sorted already; sort a copy only when they are not.
  std::vector<std::string> sorted;
  const std::vector<std::string>* names = &sig.signed_headers;
  if (!std::is_sorted(names->begin(), names->end())) {
    sorted = sig.signed_headers;
    std::sort(sorted.begin(), sorted.end());
    names = &sorted;
  }
  std::optional<std::string> payload_hash;
  for (const auto& name : *names) {
    out.append(name).append(":");
    size_t value_at = out.size();
    bool found = false;
    for (const auto& [n, v] : request.headers) {
      if (n != name) continue;
      if (found) out += ',';
      AppendCanonicalHeaderValue(out, v);
      found = true;
    }
    if (!found) {
      return Invalid(fmt::format("The header '{}' is listed in SignedHeaders but not sent.", name));
    }
    if (name == "x-amz-content-sha256") {
      // The signature covers the hash; the body must be what was hashed.
      std::string_view sent = std::string_view(out).substr(value_at);
      if (sent != PayloadHash(request.body)) {
        return Invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.");
      }
      payload_hash = std::string(sent);
    }
    out += '\n';
  }
  out += '\n';
  for (size_t i = 0; i < names->size(); ++i) {
    if (i > 0) out += ';';
    out.append((*names)[i]);
  }
  out += '\n';
  out.append(payload_hash ? *payload_hash : PayloadHash(request.body));
  return out;
}

std::string StringToSign(const SigV4Request& sig, std::string_view canonical_request) {
  std::string out;
  out.reserve(160);
  out.append(kAlgorithm).append("\n").append(sig.amz_date).append("\n");
  out.append(sig.credential.Scope()).append("\n").append(Sha256Hex(canonical_request));
  return out;
}

std::string Signature(std::string_view secret_key, const SigV4Credential& credential,
                      std::string_view string_to_sign) {
  // The signing key depends only on the secret and the scope, so each thread keeps the keys it
  // derived (a few per key and day), ready to sign: four HMACs saved on every request, and the
  // key's padded blocks already hashed for the fifth.
  thread_local std::unordered_map<std::string, HmacSha256Key> signing_keys;
  std::string scope = fmt::format("{}\n{}", secret_key, credential.Scope());
  auto it = signing_keys.find(scope);
  if (it == signing_keys.end()) {
    if (signing_keys.size() >= 256) signing_keys.clear();
    std::string key = HmacSha256(fmt::format("AWS4{}", secret_key), credential.date);
    key = HmacSha256(key, credential.region);
    key = HmacSha256(key, credential.service);
    key = HmacSha256(key, "aws4_request");
    it = signing_keys.emplace(std::move(scope), HmacSha256Key(key)).first;
  }
  return HexEncode(it->second.Sign(string_to_sign));
}

std::string SignedAuthorization(std::string_view method, std::string_view target,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::string_view body, const SigV4Credential& credential,
                                std::string_view secret_key) {
  server::HttpRequest r;
  r.method = std::string(method);
  r.target = std::string(target);
  r.headers = headers;
  r.body = std::string(body);
  SigV4Request sig;
  sig.credential = credential;
  for (const auto& [name, value] : headers) {
    sig.signed_headers.push_back(name);
    if (name == "x-amz-date") sig.amz_date = value;
  }
  Result<std::string> canonical = CanonicalRequest(r, sig);  // every header is present
  std::sort(sig.signed_headers.begin(), sig.signed_headers.end());
  std::string names;
  for (const auto& n : sig.signed_headers) names += (names.empty() ? "" : ";") + n;
  return fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                     credential.access_key, credential.Scope(), names,
                     Signature(secret_key, credential, StringToSign(sig, *canonical)));
}

std::string PresignedQuery(std::string_view method, std::string_view host, std::string_view path,
                           std::string_view query, const SigV4Credential& credential,
                           std::string_view secret_key, std::string_view amz_date,
                           int64_t expires_s, const std::optional<std::string>& security_token) {
  std::string out(query);
  auto add = [&out](std::string_view name, std::string_view value) {
    if (!out.empty()) out += '&';
    out.append(name).append("=");
    AppendUriEncoded(out, value, false);
  };
  add("X-Amz-Algorithm", kAlgorithm);
  add("X-Amz-Credential", fmt::format("{}/{}", credential.access_key, credential.Scope()));
  add("X-Amz-Date", amz_date);
  add("X-Amz-SignedHeaders", "host");
  add("X-Amz-Expires", std::to_string(expires_s));
  if (security_token) add("X-Amz-Security-Token", *security_token);
  server::HttpRequest r;
  r.method = std::string(method);
  r.target = fmt::format("{}?{}", path, out);
  r.headers = {{"host", std::string(host)}};
  SigV4Request sig;
  sig.credential = credential;
  sig.amz_date = std::string(amz_date);
  sig.signed_headers = {"host"};
  sig.presigned = true;
  Result<std::string> canonical = CanonicalRequest(r, sig);  // host is present
  add("X-Amz-Signature", Signature(secret_key, credential, StringToSign(sig, *canonical)));
  return out;
}

Status VerifySigV4(const server::HttpRequest& request, const SigV4Request& sig,
                   std::string_view secret_key, int64_t now_ms) {
  // The SDKs sign the session token like any header (a presigned one is in the query, which is
  // always signed): a token added after signing could be swapped.
  if (sig.security_token && !sig.presigned &&
      std::find(sig.signed_headers.begin(), sig.signed_headers.end(), "x-amz-security-token") ==
          sig.signed_headers.end()) {
    return Invalid("'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::string canonical, CanonicalRequest(request, sig));
  std::string expected = Signature(secret_key, sig.credential, StringToSign(sig, canonical));
  if (!ConstantTimeEquals(expected, sig.signature)) {
    return Invalid(
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.");
  }
  int64_t signed_at = *ParseAmzDate(sig.amz_date);
  if (sig.presigned) {
    if (now_ms > signed_at + sig.expires_s * 1000) {
      return Invalid(fmt::format("Request has expired: signed at {}, valid for {} seconds.",
                                 sig.amz_date, sig.expires_s));
    }
    if (signed_at - now_ms > kMaxSkewMs) {
      return Invalid(
          fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)",
                      sig.amz_date, AmzDate(now_ms + kMaxSkewMs), AmzDate(now_ms)));
    }
    return Status::Ok();
  }
  if (signed_at < now_ms - kMaxSkewMs) {
    return Invalid(fmt::format("Signature expired: {} is now earlier than {} ({} - 15 min.)",
                               sig.amz_date, AmzDate(now_ms - kMaxSkewMs), AmzDate(now_ms)));
  }
  if (signed_at > now_ms + kMaxSkewMs) {
    return Invalid(
        fmt::format("Signature not yet current: {} is still later than {} ({} + 15 min.)",
                    sig.amz_date, AmzDate(now_ms + kMaxSkewMs), AmzDate(now_ms)));
  }
  return Status::Ok();
}

}  // namespace lambkin::iam
