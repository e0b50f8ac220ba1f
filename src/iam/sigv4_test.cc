#include "iam/sigv4.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

namespace lambkin::iam {
namespace {

// The AWS SigV4 test suite's credentials and time (awslabs/aws-c-auth
// tests/aws-signing-test-suite/v4).
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kNow = 1440938160000;  // 2015-08-30T12:36:00Z
constexpr char kSessionToken[] = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";

// An HTTP/1.1 request as the suite writes it: request line, "Name:value" headers, blank line,
// body.
server::HttpRequest Parse(const std::string& text) {
  server::HttpRequest r;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  size_t sp = line.find(' '), last = line.rfind(' ');
  r.method = line.substr(0, sp);
  r.target = line.substr(sp + 1, last - sp - 1);
  EXPECT_TRUE(server::ParseTarget(r.target, r));
  while (std::getline(in, line) && !line.empty()) {
    size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(name, line.substr(colon + 1));
  }
  std::stringstream rest;
  rest << in.rdbuf();
  r.body = rest.str();
  return r;
}

Status Verify(const server::HttpRequest& r, int64_t now = kNow, const char* secret = kSecret) {
  auto sig = ParseSigV4(r);
  if (!sig.ok()) return sig.status();
  if (!sig->has_value()) return {StatusCode::kUnrecognizedClient, "no credentials"};
  return VerifySigV4(r, **sig, secret, now);
}

const char* const kVectors[] = {
    // get-vanilla-query-unreserved
    "GET "
    "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197\n"
    "X-Amz-Date:20150830T123600Z\n\n",
    // get-utf8
    "GET /\xe1\x88\xb4 HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85\n"
    "X-Amz-Date:20150830T123600Z\n\n",
    // get-header-value-trim
    "GET / HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "My-Header1: value1\n"
    "My-Header2: \"a   b   c\"\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
    "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\n"
    "X-Amz-Date:20150830T123600Z\n\n",
    // get-header-key-duplicate
    "GET / HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "My-Header1:value2\n"
    "My-Header1:value2\n"
    "My-Header1:value1\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;my-header1;x-amz-date, "
    "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\n"
    "X-Amz-Date:20150830T123600Z\n\n",
    // get-slash-dot-slash-normalized
    "GET /./ HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n"
    "X-Amz-Date:20150830T123600Z\n\n",
    // get-vanilla-with-session-token
    "GET / HTTP/1.1\n"
    "Host:example.amazonaws.com\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-security-token, "
    "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8\n"
    "X-Amz-Date:20150830T123600Z\n"
    "X-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\n",
    // post-x-www-form-urlencoded
    "POST / HTTP/1.1\n"
    "Content-Type:application/x-www-form-urlencoded\n"
    "Host:example.amazonaws.com\n"
    "Content-Length:13\n"
    "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
    "Authorization:AWS4-HMAC-SHA256 "
    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, "
    "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\n"
    "X-Amz-Date:20150830T123600Z\n\n"
    "Param1=value1",
};

TEST(SigV4Test, TheAwsTestSuiteVerifies) {
  for (const char* v : kVectors) {
    server::HttpRequest r = Parse(v);
    Status s = Verify(r);
    EXPECT_TRUE(s.ok()) << v << "\n-> " << s.message();
    auto sig = ParseSigV4(r);
    ASSERT_TRUE(sig.ok() && sig->has_value());
    EXPECT_EQ((*sig)->credential.access_key, "AKIDEXAMPLE");
    EXPECT_EQ((*sig)->credential.region, "us-east-1");
    EXPECT_EQ((*sig)->credential.service, "service");
  }
}

TEST(SigV4Test, ATamperedRequestOrWrongKeyIsRefused) {
  for (const char* v : kVectors) {
    server::HttpRequest r = Parse(v);
    EXPECT_EQ(Verify(r, kNow, "another-secret").code(), StatusCode::kInvalidSignature);
    server::HttpRequest body = r;
    body.body += "x";  // covered by the body hash, or checked against x-amz-content-sha256
    EXPECT_EQ(Verify(body).code(), StatusCode::kInvalidSignature) << v;
    server::HttpRequest method = r;
    method.method = r.method == "GET" ? "DELETE" : "GET";
    EXPECT_EQ(Verify(method).code(), StatusCode::kInvalidSignature) << v;
    server::HttpRequest path = Parse(v);
    path.target.insert(1, "x");
    EXPECT_EQ(Verify(path).code(), StatusCode::kInvalidSignature) << v;
  }
  server::HttpRequest r = Parse(kVectors[2]);
  r.headers.erase(std::remove_if(r.headers.begin(), r.headers.end(),
                                 [](const auto& h) { return h.first == "my-header1"; }),
                  r.headers.end());
  Status missing = Verify(r);
  EXPECT_EQ(missing.code(), StatusCode::kInvalidSignature);
  EXPECT_NE(missing.message().find("'my-header1' is listed in SignedHeaders but not sent"),
            std::string::npos);
  EXPECT_EQ(Verify(Parse(kVectors[0]), kNow, "x").message(),
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.");
}

TEST(SigV4Test, FifteenMinutesOfClockSkewEitherWay) {
  server::HttpRequest r = Parse(kVectors[0]);
  EXPECT_TRUE(Verify(r, kNow + 15 * 60000).ok());
  EXPECT_TRUE(Verify(r, kNow - 15 * 60000).ok());
  Status late = Verify(r, kNow + 15 * 60000 + 1000);
  EXPECT_EQ(late.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(late.message(),
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
            "(20150830T125101Z - 15 min.)");
  EXPECT_NE(Verify(r, kNow - 16 * 60000).message().find("Signature not yet current"),
            std::string::npos);
}

TEST(SigV4Test, MalformedCredentialsAreIncomplete) {
  auto with_auth = [](const std::string& auth, bool date = true) {
    server::HttpRequest r;
    r.method = "GET";
    r.target = "/";
    EXPECT_TRUE(server::ParseTarget(r.target, r));
    r.headers.emplace_back("host", "example.amazonaws.com");
    if (date) r.headers.emplace_back("x-amz-date", "20150830T123600Z");
    r.headers.emplace_back("authorization", auth);
    return ParseSigV4(r).status();
  };
  const std::string sig(64, 'a');
  EXPECT_EQ(with_auth("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig).code(),
            StatusCode::kIncompleteSignature);
  EXPECT_NE(with_auth("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig)
                .message()
                .find("Authorization header requires 'Credential' parameter."),
            std::string::npos);
  EXPECT_EQ(with_auth("Bearer abc").code(), StatusCode::kIncompleteSignature);
  EXPECT_EQ(with_auth("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, "
                      "SignedHeaders=host, Signature=" +
                      sig)
                .code(),
            StatusCode::kIncompleteSignature);
  // The credential is exactly five non-empty parts ending in aws4_request.
  for (const char* credential :
       {"AKID/20150830/us-east-1/service/aws4_request/",
        "AKID/20150830/us-east-1/service/x/aws4_request", "AKID/20150830//service/aws4_request",
        "/20150830/us-east-1/service/aws4_request", "AKID/20150830/us-east-1/service/aws4_requests",
        "AKID/20150830/us-east-1/service/"}) {
    EXPECT_EQ(with_auth(fmt::format("AWS4-HMAC-SHA256 Credential={}, SignedHeaders=host, "
                                    "Signature={}",
                                    credential, sig))
                  .code(),
              StatusCode::kIncompleteSignature)
        << credential;
  }
  EXPECT_TRUE(with_auth("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, "
                        "SignedHeaders=host, Signature=" +
                        sig)
                  .ok());
  EXPECT_EQ(with_auth("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, "
                      "SignedHeaders=host, Signature=xyz")
                .code(),
            StatusCode::kIncompleteSignature);
  EXPECT_EQ(with_auth("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, "
                      "SignedHeaders=host, Signature=" +
                          sig,
                      /*date=*/false)
                .code(),
            StatusCode::kIncompleteSignature);
  Status wrong_day = with_auth(
      "AWS4-HMAC-SHA256 Credential=AKID/20150831/us-east-1/service/aws4_request, "
      "SignedHeaders=host, Signature=" +
      sig);
  EXPECT_EQ(wrong_day.code(), StatusCode::kInvalidSignature);
  EXPECT_NE(wrong_day.message().find("'20150831' != '20150830'"), std::string::npos);
  server::HttpRequest none;
  none.method = "GET";
  none.target = "/";
  auto absent = ParseSigV4(none);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

TEST(SigV4Test, CanonicalPathIsNormalisedAndEncodedAgain) {
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("//example//"), "/example/");
  EXPECT_EQ(CanonicalUri("/a/./b/../c"), "/a/c");
  // A Lambda ARN arrives encoded and is signed double-encoded.
  EXPECT_EQ(CanonicalUri("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%"
                         "3Afunction%3Amy-fn/invocations"),
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A123456789012%"
            "253Afunction%253Amy-fn/invocations");
  EXPECT_EQ(CanonicalQuery("b=2&a=x%20y&a=1&c", false), "a=1&a=x%20y&b=2&c=");
  EXPECT_EQ(CanonicalQuery("X-Amz-Signature=abc&Z=1", true), "Z=1");
  // Escapes are normalised: uppercase hex, unreserved characters unescaped, the rest escaped.
  EXPECT_EQ(CanonicalQuery("Qualifier=%24LATEST", false), "Qualifier=%24LATEST");
  EXPECT_EQ(CanonicalQuery("a=%2f%41&b=x+y*&c=%7E", false), "a=%2FA&b=x%2By%2A&c=~");
  EXPECT_EQ(CanonicalQuery("X-Amz-%53ignature=abc&Z=%", true), "Z=%25");
}

TEST(SigV4Test, PresignedRequestsVerifyUntilTheyExpire) {
  // Sign a presigned URL as the SDKs do (every query parameter but the signature), then verify.
  SigV4Request presign;
  presign.credential = {"AKIDEXAMPLE", "20150830", "us-east-1", "service"};
  presign.amz_date = "20150830T123600Z";
  presign.signed_headers = {"host"};
  presign.presigned = true;
  server::HttpRequest r;
  r.method = "GET";
  r.target =
      "/?Action=ListUsers&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%"
      "2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-"
      "SignedHeaders=host";
  r.headers.emplace_back("host", "example.amazonaws.com");
  auto canonical = CanonicalRequest(r, presign);
  ASSERT_TRUE(canonical.ok());
  r.target += "&X-Amz-Signature=" +
              Signature(kSecret, presign.credential, StringToSign(presign, *canonical));
  ASSERT_TRUE(server::ParseTarget(r.target, r));
  auto sig = ParseSigV4(r);
  ASSERT_TRUE(sig.ok() && sig->has_value()) << sig.status().message();
  EXPECT_TRUE((*sig)->presigned);
  EXPECT_EQ((*sig)->expires_s, 60);
  EXPECT_TRUE(Verify(r, kNow + 59000).ok());
  Status expired = Verify(r, kNow + 61000);
  EXPECT_EQ(expired.code(), StatusCode::kInvalidSignature);
  EXPECT_NE(expired.message().find("Request has expired"), std::string::npos);
  server::HttpRequest tampered = r;
  tampered.target.replace(tampered.target.find("ListUsers"), 9, "ListRoles");
  ASSERT_TRUE(server::ParseTarget(tampered.target, tampered));
  EXPECT_EQ(Verify(tampered, kNow).code(), StatusCode::kInvalidSignature);
}

TEST(SigV4Test, TheClientSignerProducesTheSuitesSignature) {
  SigV4Credential credential{"AKIDEXAMPLE", "20150830", "us-east-1", "service"};
  EXPECT_EQ(SignedAuthorization(
                "GET", "/", {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}},
                "", credential, kSecret),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(AmzDate(kNow), "20150830T123600Z");
}

TEST(SigV4Test, TheClientSignerSignsASessionToken) {
  // get-vanilla-with-session-token, header form.
  SigV4Credential credential{"AKIDEXAMPLE", "20150830", "us-east-1", "service"};
  EXPECT_EQ(SignedAuthorization("GET", "/",
                                {{"host", "example.amazonaws.com"},
                                 {"x-amz-date", "20150830T123600Z"},
                                 {"x-amz-security-token", kSessionToken}},
                                "", credential, kSecret),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-security-token, "
            "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
}

TEST(SigV4Test, ThePresignerProducesTheSuitesQuerySignatures) {
  SigV4Credential credential{"AKIDEXAMPLE", "20150830", "us-east-1", "service"};
  const std::string prefix =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%"
      "2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-"
      "Expires=3600";
  // get-vanilla, get-vanilla-query-order-key-case and get-vanilla-with-session-token, query form.
  EXPECT_EQ(
      PresignedQuery("GET", "example.amazonaws.com", "/", "", credential, kSecret,
                     "20150830T123600Z", 3600, std::nullopt),
      prefix + "&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d");
  EXPECT_EQ(
      PresignedQuery("GET", "example.amazonaws.com", "/", "Param2=value2&Param1=value1", credential,
                     kSecret, "20150830T123600Z", 3600, std::nullopt),
      "Param2=value2&Param1=value1&" + prefix +
          "&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5");
  EXPECT_EQ(
      PresignedQuery("GET", "example.amazonaws.com", "/", "", credential, kSecret,
                     "20150830T123600Z", 3600, std::string(kSessionToken)),
      prefix + "&X-Amz-Security-Token=" + kSessionToken +
          "&X-Amz-Signature=7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c");
}

TEST(SigV4Test, APresignedUrlVerifiesAtItsHostUntilItExpires) {
  // A path and query that need encoding: the verifier canonicalises them as the signer did.
  SigV4Credential credential{"AKIDEXAMPLE", "20150830", "us-east-1", "lambkin"};
  std::string query = PresignedQuery("GET", "127.0.0.1:9001", "/lambkin/v1/code/abc",
                                     "FunctionName=my-fn&Qualifier=%24LATEST", credential, kSecret,
                                     AmzDate(kNow), 600, std::string(kSessionToken));
  server::HttpRequest r;
  r.method = "GET";
  r.target = "/lambkin/v1/code/abc?" + query;
  r.headers = {{"host", "127.0.0.1:9001"}};
  ASSERT_TRUE(server::ParseTarget(r.target, r));
  auto sig = ParseSigV4(r);
  ASSERT_TRUE(sig.ok() && sig->has_value()) << sig.status().message();
  EXPECT_EQ((*sig)->security_token, std::optional<std::string>(kSessionToken));
  EXPECT_TRUE(Verify(r, kNow + 599000).ok());
  EXPECT_EQ(Verify(r, kNow + 601000).code(), StatusCode::kInvalidSignature);
  server::HttpRequest elsewhere = r;
  elsewhere.headers = {{"host", "127.0.0.1:9002"}};
  EXPECT_EQ(Verify(elsewhere).code(), StatusCode::kInvalidSignature);
  server::HttpRequest other_function = r;
  other_function.target.replace(other_function.target.find("my-fn"), 5, "other");
  ASSERT_TRUE(server::ParseTarget(other_function.target, other_function));
  EXPECT_EQ(Verify(other_function).code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(Verify(r, kNow, "another-secret").code(), StatusCode::kInvalidSignature);
}

}  // namespace
}  // namespace lambkin::iam
