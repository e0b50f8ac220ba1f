#include "stsapi/sts_api.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>

#include <fmt/format.h>

#include "common/crypto.h"
#include "server/query_protocol.h"

namespace lambkin::stsapi {

using server::HttpRequest;
using server::HttpResponse;

namespace {

constexpr std::string_view kVersion = "2011-06-15";
constexpr std::string_view kNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

// STS's error codes for what the authenticator reports.
std::pair<int, std::string_view> ErrorCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidSignature:
      return {403, "SignatureDoesNotMatch"};
    case StatusCode::kIncompleteSignature:
      return {400, "IncompleteSignature"};
    case StatusCode::kMissingAuthenticationToken:
      return {403, "MissingAuthenticationToken"};
    case StatusCode::kUnrecognizedClient:
      return {403, "InvalidClientTokenId"};
    case StatusCode::kExpiredToken:
      return {400, "ExpiredToken"};
    case StatusCode::kAccessDenied:
      return {403, "AccessDenied"};
    case StatusCode::kInternal:
      return {500, "InternalFailure"};
    default:
      return {400, "InvalidParameterValue"};
  }
}

HttpResponse Xml(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "text/xml");
  r.body = std::move(body);
  return r;
}

HttpResponse XmlError(int status, std::string_view code, std::string_view message) {
  return Xml(status, fmt::format("<ErrorResponse xmlns=\"{}\"><Error><Type>{}</Type><Code>{}</Code>"
                                 "<Message>{}</Message></Error><RequestId>{}</RequestId>"
                                 "</ErrorResponse>",
                                 kNamespace, status >= 500 ? "Receiver" : "Sender", code,
                                 server::XmlEscape(message), RandomUuid()));
}

// 17 characters of AWS's unique-id alphabet from the principal's ARN.
std::string IdSuffix(std::string_view principal_arn) {
  std::string hex = Sha256Hex(principal_arn).substr(0, 17);
  std::transform(hex.begin(), hex.end(), hex.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return hex;
}

}  // namespace

std::string CallerUserId(const iam::Caller& caller) {
  if (caller.arn == fmt::format("arn:aws:iam::{}:root", caller.account)) return caller.account;
  size_t session = caller.arn.find(":assumed-role/");
  if (session != std::string::npos) {
    // arn:aws:sts::<account>:assumed-role/<role>/<session>
    std::string name = caller.arn.substr(caller.arn.rfind('/') + 1);
    return fmt::format("AROA{}:{}", IdSuffix(caller.principal_arn), name);
  }
  return "AIDA" + IdSuffix(caller.principal_arn);
}

std::optional<HttpResponse> StsApi::Handle(const HttpRequest& request) const {
  // POST / with a form body, or GET /?Action=…: both carry Version=2011-06-15.
  std::function<std::string(std::string_view)> field;
  if (request.method == "POST" && request.path.empty() &&
      request.Header("content-type")
          .value_or("")
          .starts_with("application/x-www-form-urlencoded")) {
    field = [&](std::string_view name) { return server::FormField(request.body, name); };
  } else if (request.method == "GET" && request.path.empty()) {
    field = [&](std::string_view name) { return request.Query(name).value_or(""); };
  } else {
    return std::nullopt;
  }
  if (field("Version") != kVersion) return std::nullopt;
  Result<iam::Identity> identity = auth_->Authenticate(request, "sts");
  if (!identity.ok()) {
    auto [status, code] = ErrorCode(identity.status().code());
    return XmlError(status, code, identity.status().message());
  }
  std::string action = field("Action");
  if (action != "GetCallerIdentity") {
    // STS's operations (2011-06-15) other than GetCallerIdentity.
    static constexpr std::array<std::string_view, 10> kOthers = {"AssumeRole",
                                                                 "AssumeRoleWithSAML",
                                                                 "AssumeRoleWithWebIdentity",
                                                                 "AssumeRoot",
                                                                 "DecodeAuthorizationMessage",
                                                                 "GetAccessKeyInfo",
                                                                 "GetDelegatedAccessToken",
                                                                 "GetFederationToken",
                                                                 "GetSessionToken",
                                                                 "GetWebIdentityToken"};
    const bool known = std::find(kOthers.begin(), kOthers.end(), action) != kOthers.end();
    return XmlError(
        400, "InvalidAction",
        known ? fmt::format("Lambkin does not implement the STS operation {}: it "
                            "serves GetCallerIdentity only",
                            action)
              : fmt::format("Could not find operation {} for version {}", action, kVersion));
  }
  const iam::Caller& caller = identity->session ? *identity->session : *identity->caller;
  return Xml(200, fmt::format("<GetCallerIdentityResponse xmlns=\"{}\"><GetCallerIdentityResult>"
                              "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>"
                              "</GetCallerIdentityResult><ResponseMetadata><RequestId>{}"
                              "</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                              kNamespace, server::XmlEscape(caller.arn),
                              server::XmlEscape(CallerUserId(caller)),
                              server::XmlEscape(caller.account), RandomUuid()));
}

}  // namespace lambkin::stsapi
