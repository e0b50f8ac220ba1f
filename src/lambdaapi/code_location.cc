// GetFunction's Code.Location: a link to the operator API's code route, presigned by the caller.

#include <fmt/format.h>

#include "iam/sigv4.h"
#include "lambdaapi/api.h"

namespace lambkin::lambdaapi {

namespace {

// As long as AWS's presigned S3 links to a function's code.
constexpr int64_t kCodeLinkSeconds = 600;
// The operator API serves the link, so it is signed for that API's service
// (admin::kSigningService; admin builds on lambdaapi, not the other way round).
constexpr char kOperatorService[] = "lambkin";

// `path` with `query` on this server, presigned by the caller for the operator API.
std::string PresignedOperatorLink(const ApiContext& ctx, const Call& call, const std::string& path,
                                  const std::string& query) {
  std::string host = call.request.Header("host").value_or("localhost");
  // Signed with the key the caller signed this request with, and its session token.
  std::string access_key = iam::kDevelopmentAccessKey;
  std::string secret = iam::kDevelopmentSecretKey;
  std::optional<std::string> token;
  if (call.identity != nullptr && call.identity->authorises()) {
    Result<std::optional<iam::SigV4Request>> sig = iam::ParseSigV4(call.request);
    if (!sig.ok() || !*sig) return fmt::format("http://{}{}?{}", host, path, query);
    if (call.identity->session) {
      secret = call.identity->session_secret;
    } else {
      // The request was verified with a key of this snapshot, so it is there.
      const iam::Snapshot::Key* key =
          call.identity->snapshot->FindKey((*sig)->credential.access_key);
      if (key == nullptr) return fmt::format("http://{}{}?{}", host, path, query);
      secret = key->secret;
    }
    access_key = (*sig)->credential.access_key;
    token = (*sig)->security_token;
  }
  std::string date = iam::AmzDate(ctx.wall_clock->NowMillis());
  iam::SigV4Credential credential{access_key, date.substr(0, 8), call.scope.region,
                                  kOperatorService};
  return fmt::format("http://{}{}?{}", host, path,
                     iam::PresignedQuery("GET", host, path, query, credential, secret, date,
                                         kCodeLinkSeconds, token));
}

}  // namespace

std::string CodeLocation(const ApiContext& ctx, const Call& call, const FunctionRef& ref,
                         std::string_view sha256_hex) {
  std::string query = fmt::format("FunctionName={}", UriEncode(ref.name, false));
  if (!ref.qualifier.empty()) {
    query += fmt::format("&Qualifier={}", UriEncode(ref.qualifier, false));
  }
  return PresignedOperatorLink(ctx, call, fmt::format("/lambkin/v1/code/{}", sha256_hex), query);
}

std::string LayerCodeLocation(const ApiContext& ctx, const Call& call,
                              std::string_view layer_version_arn, std::string_view sha256_hex) {
  return PresignedOperatorLink(
      ctx, call, fmt::format("/lambkin/v1/layer-code/{}", sha256_hex),
      fmt::format("LayerVersionArn={}", UriEncode(layer_version_arn, true)));
}

}  // namespace lambkin::lambdaapi
