// AWS Signature Version 4: parsing what a request carries and checking its signature, as the
// AWS SDKs sign (../shared/spec/iam-and-auth.md §1).
//
// Header form (Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…) and
// presigned query form (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders,
// X-Amz-Expires, X-Amz-Signature). The canonical request uses the path exactly as received,
// normalised (".", "..", empty segments) and URI-encoded once more (non-S3 services); the query
// re-encoded and sorted; the signed headers trimmed, inner whitespace collapsed, repeats joined
// with ','; the payload hash from x-amz-content-sha256 when signed, else of the body. Pure
// functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/uri.h"
#include "server/request.h"

namespace lambkin::iam {

struct SigV4Credential {
  std::string access_key;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::string Scope() const;  // date/region/service/aws4_request
};

struct SigV4Request {
  SigV4Credential credential;
  std::string amz_date;  // yyyymmddThhmmssZ
  std::vector<std::string> signed_headers;
  std::string signature;  // 64 lowercase hex
  bool presigned = false;
  int64_t expires_s = 0;  // presigned only
  std::optional<std::string> security_token;
};

// What the request carries: nullopt when it has no SigV4 credentials at all;
// kIncompleteSignature (naming the missing or malformed part) when they are malformed.
Result<std::optional<SigV4Request>> ParseSigV4(const server::HttpRequest& request);

// The pieces of the signature, exposed for tests.
std::string CanonicalUri(std::string_view raw_path);
std::string CanonicalQuery(std::string_view raw_query, bool presigned);
// kInvalidSignature when a signed header is missing from the request.
Result<std::string> CanonicalRequest(const server::HttpRequest& request, const SigV4Request& sig);
std::string StringToSign(const SigV4Request& sig, std::string_view canonical_request);
std::string Signature(std::string_view secret_key, const SigV4Credential& credential,
                      std::string_view string_to_sign);

// A client's side: the Authorization header value for a request carrying exactly `headers`
// (lowercase names; all of them signed, x-amz-date among them), signed with the key for
// `credential`. Temporary credentials add their session token as an x-amz-security-token
// header, which is then signed like the others.
std::string SignedAuthorization(std::string_view method, std::string_view target,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                std::string_view body, const SigV4Credential& credential,
                                std::string_view secret_key);
// A client's side, presigned form: the query string that makes `method` on `path` (as sent)
// with the query `query` (as sent, possibly empty) valid for `expires_s` seconds from
// `amz_date` without any header but `host`. It is `query` followed by X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders=host, X-Amz-Expires, X-Amz-Security-Token
// (when `security_token` is given) and X-Amz-Signature, as the AWS SDKs presign.
std::string PresignedQuery(std::string_view method, std::string_view host, std::string_view path,
                           std::string_view query, const SigV4Credential& credential,
                           std::string_view secret_key, std::string_view amz_date,
                           int64_t expires_s, const std::optional<std::string>& security_token);
// yyyymmddThhmmssZ of an epoch-ms time.
std::string AmzDate(int64_t ms);

// Checks the signature against `secret_key`, and the time: within 15 minutes of `now_ms` (real
// wall clock), or, presigned, not past X-Amz-Expires. A security token sent as a header must be
// among the signed headers. kInvalidSignature with AWS's messages.
Status VerifySigV4(const server::HttpRequest& request, const SigV4Request& sig,
                   std::string_view secret_key, int64_t now_ms);

}  // namespace lambkin::iam
