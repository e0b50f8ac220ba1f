// Role sessions end to end within IAM: minted by the Directory, signed by a client with SigV4,
// verified by the Authenticator and authorised as the assumed role under the account's SCPs.
#include "iam/role_sessions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/regions.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "iam/authenticator.h"
#include "iam/directory.h"
#include "iam/sigv4.h"

namespace lambkin::iam {
namespace {

using nlohmann::json;

constexpr char kMember[] = "111122223333";
constexpr char kRole[] = "arn:aws:iam::111122223333:role/FunctionRole";
constexpr char kFn[] = "arn:aws:lambda:us-east-1:111122223333:function:my-fn";
constexpr int64_t kNow = 1796083200000;  // 2026-12-01T00:00:00Z
constexpr char kInvalid[] = "The security token included in the request is invalid.";

// The member account sits in an OU whose SCP denies reading functions named secret-*; the
// function role may read (GetFunction) its account's functions and nothing else.
const json kDeclaration = json::parse(R"({
  "organization": {
    "management_account": "999999999999",
    "root": {"units": {"Workloads": {"accounts": ["111122223333"]}}},
    "policies": {"NoSecrets": {"targets": ["Workloads"], "document": {"Version": "2012-10-17",
      "Statement": [{"Effect": "Deny", "Action": "lambda:GetFunction",
                     "Resource": "arn:aws:lambda:*:*:function:secret-*"}]}}}
  },
  "accounts": {"111122223333": {"roles": {
    "FunctionRole": {"policies": {"Read": {"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "lambda:GetFunction",
       "Resource": "arn:aws:lambda:*:111122223333:function:*"}]}}},
    "Stored": {"policies": {"Read": {"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}]}},
      "sessions": {"oncall": {"id": "ASIASTORED000000001", "secret": "stored-secret"}}}
  }}}
})");

// How a request carries the session token.
enum class Token { kSigned, kAddedAfterSigning, kNone };

// A GET signed by `creds` at `at_ms`.
server::HttpRequest Signed(const RoleCredentials& creds, int64_t at_ms,
                           Token token = Token::kSigned) {
  server::HttpRequest r;
  r.method = "GET";
  r.target = "/2015-03-31/functions/my-fn";
  EXPECT_TRUE(server::ParseTarget(r.target, r));
  std::string date = AmzDate(at_ms);
  r.headers = {{"host", "lambkin.test"}, {"x-amz-date", date}};
  if (token == Token::kSigned) r.headers.emplace_back("x-amz-security-token", creds.session_token);
  SigV4Credential credential{creds.access_key_id, date.substr(0, 8), "us-east-1", "lambda"};
  std::string authorization =
      SignedAuthorization("GET", r.target, r.headers, "", credential, creds.secret_access_key);
  if (token == Token::kAddedAfterSigning) {
    r.headers.emplace_back("x-amz-security-token", creds.session_token);
  }
  r.headers.emplace_back("authorization", authorization);
  return r;
}

void SetHeader(server::HttpRequest& r, std::string_view name, std::string value) {
  for (auto& [n, v] : r.headers) {
    if (n == name) v = std::move(value);
  }
}

class RoleSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/role-sessions-" + RandomUuid() + ".db";
    Open();
    Status s = directory_->Apply(kDeclaration);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  // Opens the store and a new directory over it, as a server does when it starts.
  void Open() {
    auth_.reset();
    directory_.reset();
    db_.reset();
    auto db = store::Database::Open(path_, Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    directory_ = std::make_unique<Directory>(db_.get());
    ASSERT_TRUE(directory_->Load().ok());
    auth_ = std::make_unique<Authenticator>(&regions_, &clock_, directory_.get(), AuthMode::kSigV4,
                                            kMember);
  }
  RoleCredentials Mint(const std::string& session = "my-fn",
                       int64_t duration_ms = kDefaultRoleSessionMs) {
    Result<RoleCredentials> creds =
        directory_->MintRoleSession(kRole, session, clock_.NowMillis(), duration_ms);
    EXPECT_TRUE(creds.ok()) << creds.status().message();
    return creds.ok() ? *creds : RoleCredentials{};
  }
  Result<Identity> Authenticate(const server::HttpRequest& r) const {
    return auth_->Authenticate(r, "lambda");
  }
  // The status of authenticating `r`, which must fail.
  Status Refusal(const server::HttpRequest& r) const {
    Result<Identity> id = Authenticate(r);
    EXPECT_FALSE(id.ok());
    return id.ok() ? Status::Ok() : id.status();
  }

  catalog::RegionSet regions_ = catalog::RegionSet::Default();
  ManualClock clock_{kNow};
  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(RoleSessionsTest, MintedCredentialsLookLikeAwsTemporaryCredentials) {
  RoleCredentials a = Mint();
  RoleCredentials b = Mint();
  EXPECT_TRUE(std::regex_match(a.access_key_id, std::regex("ASIA[A-Z2-7]{16}"))) << a.access_key_id;
  EXPECT_EQ(a.secret_access_key.size(), 40U);
  EXPECT_TRUE(Base64Decode(a.session_token).has_value());
  EXPECT_EQ(a.expiration_ms, kNow + kDefaultRoleSessionMs);
  // Every session is its own: key, secret and token.
  EXPECT_NE(a.access_key_id, b.access_key_id);
  EXPECT_NE(a.secret_access_key, b.secret_access_key);
  EXPECT_NE(a.session_token, b.session_token);
  // The secret is not in the token.
  EXPECT_EQ(Base64Decode(a.session_token)->find(a.secret_access_key), std::string::npos);
}

TEST_F(RoleSessionsTest, MintingRefusesUnknownRolesBadNamesAndDurations) {
  auto code = [&](const std::string& role, const std::string& session, int64_t duration) {
    return directory_->MintRoleSession(role, session, kNow, duration).status().code();
  };
  EXPECT_EQ(code("arn:aws:iam::111122223333:role/Nobody", "s1", kDefaultRoleSessionMs),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(code("arn:aws:iam::444455556666:role/FunctionRole", "s1", kDefaultRoleSessionMs),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(code("FunctionRole", "s1", kDefaultRoleSessionMs), StatusCode::kResourceNotFound);
  for (const std::string& bad :
       std::vector<std::string>{"", "has space", "slash/", "a:b", std::string(65, 'a')}) {
    EXPECT_EQ(code(kRole, bad, kDefaultRoleSessionMs), StatusCode::kInvalidParameterValue) << bad;
  }
  // Every function name can name a session.
  EXPECT_EQ(code(kRole, "f", kDefaultRoleSessionMs), StatusCode::kOk);
  EXPECT_EQ(code(kRole, std::string(64, 'a'), kDefaultRoleSessionMs), StatusCode::kOk);
  EXPECT_EQ(code(kRole, "my-fn_2+=,.@", kDefaultRoleSessionMs), StatusCode::kOk);
  EXPECT_EQ(code(kRole, "s1", kMinRoleSessionMs - 1), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(code(kRole, "s1", kMaxRoleSessionMs + 1), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(code(kRole, "s1", kMinRoleSessionMs), StatusCode::kOk);
}

TEST_F(RoleSessionsTest, ASignedRequestIsTheAssumedRoleUnderItsPoliciesAndTheScps) {
  RoleCredentials creds = Mint();
  Result<Identity> id = Authenticate(Signed(creds, kNow));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->caller->arn, "arn:aws:sts::111122223333:assumed-role/FunctionRole/my-fn");
  EXPECT_EQ(id->caller->principal_arn, kRole);
  EXPECT_EQ(id->caller->account, kMember);
  EXPECT_EQ(id->scope.account, kMember);
  EXPECT_EQ(id->scope.region, "us-east-1");

  // The identity owns its session caller: copies outlive the original.
  std::optional<Identity> copy = *id;
  id = Status(StatusCode::kInternal, "gone");
  EXPECT_TRUE(copy->Allow("lambda:GetFunction", kFn).ok());
  Status s = copy->Allow("lambda:DeleteFunction", kFn);
  EXPECT_EQ(s.code(), StatusCode::kAccessDenied);
  EXPECT_EQ(s.message(),
            "User: arn:aws:sts::111122223333:assumed-role/FunctionRole/my-fn is not authorized to "
            "perform: lambda:DeleteFunction on resource: "
            "arn:aws:lambda:us-east-1:111122223333:function:my-fn because no identity-based "
            "policy allows the lambda:DeleteFunction action");
  // Another account's functions are outside the role's policy.
  EXPECT_EQ(
      copy->Allow("lambda:GetFunction", "arn:aws:lambda:us-east-1:444455556666:function:f").code(),
      StatusCode::kAccessDenied);
  // The OU's SCP applies to the session, matched on aws:PrincipalArn's account like any caller.
  s = copy->Allow("lambda:GetFunction", "arn:aws:lambda:us-east-1:111122223333:function:secret-x");
  EXPECT_EQ(s.message(),
            "User: arn:aws:sts::111122223333:assumed-role/FunctionRole/my-fn is not authorized to "
            "perform: lambda:GetFunction on resource: "
            "arn:aws:lambda:us-east-1:111122223333:function:secret-x with an explicit deny in a "
            "service control policy");
  // aws:PrincipalArn is the role, so a condition on it sees the role's ARN.
  RequestContext request;
  request.action = "lambda:GetFunction";
  request.resource = kFn;
  ASSERT_TRUE(copy->Allow(request).ok());
  ASSERT_NE(request.Find("aws:principalarn"), nullptr);
  EXPECT_EQ(*request.Find("aws:principalarn"), std::vector<std::string>{kRole});
}

TEST_F(RoleSessionsTest, BadTokensAreRefusedAsAwsRefusesThem) {
  RoleCredentials creds = Mint();
  RoleCredentials other = Mint("other-fn");

  // Garbled, or with one bit of the claims flipped (the MAC no longer matches).
  server::HttpRequest r = Signed(creds, kNow);
  SetHeader(r, "x-amz-security-token", "not a token");
  EXPECT_EQ(Refusal(r).message(), kInvalid);
  std::string bytes = *Base64Decode(creds.session_token);
  bytes[12] = static_cast<char>(bytes[12] ^ 1);
  RoleCredentials tampered = creds;
  tampered.session_token = Base64Encode(bytes);
  Status s = Refusal(Signed(tampered, kNow));
  EXPECT_EQ(s.code(), StatusCode::kUnrecognizedClient);
  EXPECT_EQ(s.message(), kInvalid);

  // A session key without its token is an unknown key.
  s = Refusal(Signed(creds, kNow, Token::kNone));
  EXPECT_EQ(s.code(), StatusCode::kUnrecognizedClient);
  EXPECT_EQ(s.message(), kInvalid);

  // Another session's token with this session's key id and the other's secret: the key id must
  // be the token's.
  RoleCredentials swapped = other;
  swapped.access_key_id = creds.access_key_id;
  s = Refusal(Signed(swapped, kNow));
  EXPECT_EQ(s.code(), StatusCode::kUnrecognizedClient);
  EXPECT_EQ(s.message(), kInvalid);

  // The right token signed with a wrong secret.
  RoleCredentials wrong_secret = creds;
  wrong_secret.secret_access_key = other.secret_access_key;
  s = Refusal(Signed(wrong_secret, kNow));
  EXPECT_EQ(s.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(s.message().rfind("The request signature we calculated does not match", 0), 0U);

  // The token must be signed; swapping a signed one breaks the signature or the MAC.
  s = Refusal(Signed(creds, kNow, Token::kAddedAfterSigning));
  EXPECT_EQ(s.code(), StatusCode::kInvalidSignature);
  EXPECT_EQ(s.message(),
            "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
  r = Signed(creds, kNow);
  SetHeader(r, "x-amz-security-token", other.session_token);
  EXPECT_EQ(Refusal(r).code(), StatusCode::kUnrecognizedClient);

  // A token sealed by another server (another store, another secret).
  std::string other_path = ::testing::TempDir() + "/role-sessions-other-" + RandomUuid() + ".db";
  auto other_db = store::Database::Open(other_path, Schema());
  ASSERT_TRUE(other_db.ok());
  Directory other_server(other_db->get());
  ASSERT_TRUE(other_server.Load().ok());
  ASSERT_TRUE(other_server.Apply(kDeclaration).ok());
  Result<RoleCredentials> foreign =
      other_server.MintRoleSession(kRole, "my-fn", kNow, kDefaultRoleSessionMs);
  ASSERT_TRUE(foreign.ok());
  s = Refusal(Signed(*foreign, kNow));
  EXPECT_EQ(s.code(), StatusCode::kUnrecognizedClient);
  EXPECT_EQ(s.message(), kInvalid);

  // Still fine as minted.
  EXPECT_TRUE(Authenticate(Signed(creds, kNow)).ok());
}

TEST_F(RoleSessionsTest, TokensExpireByTheWallClock) {
  RoleCredentials creds = Mint("my-fn", kMinRoleSessionMs);
  clock_.Advance(kMinRoleSessionMs - 1);
  EXPECT_TRUE(Authenticate(Signed(creds, clock_.NowMillis())).ok());
  clock_.Advance(1);
  Status s = Refusal(Signed(creds, clock_.NowMillis()));
  EXPECT_EQ(s.code(), StatusCode::kExpiredToken);
  EXPECT_EQ(s.message(), "The security token included in the request is expired");
  // A forged token is invalid, not expired, whatever it claims.
  server::HttpRequest r = Signed(creds, clock_.NowMillis());
  SetHeader(r, "x-amz-security-token", creds.session_token.substr(4));
  EXPECT_EQ(Refusal(r).code(), StatusCode::kUnrecognizedClient);
}

TEST_F(RoleSessionsTest, ARoleLeavingTheDirectoryEndsItsSessions) {
  RoleCredentials creds = Mint();
  ASSERT_TRUE(Authenticate(Signed(creds, kNow)).ok());
  ASSERT_TRUE(
      directory_->Apply({{"accounts", {{kMember, {{"roles", {{"FunctionRole", nullptr}}}}}}}})
          .ok());
  Status s = Refusal(Signed(creds, kNow));
  EXPECT_EQ(s.code(), StatusCode::kUnrecognizedClient);
  EXPECT_EQ(s.message(), kInvalid);
  EXPECT_EQ(
      directory_->MintRoleSession(kRole, "my-fn", kNow, kDefaultRoleSessionMs).status().code(),
      StatusCode::kResourceNotFound);
  // A role of the same name declared again has a new identity in AWS; here the old sessions work
  // again only because the role is known by its ARN, which the docs say.
  ASSERT_TRUE(directory_->Apply(kDeclaration).ok());
  EXPECT_TRUE(Authenticate(Signed(creds, kNow)).ok());
}

TEST_F(RoleSessionsTest, TokensSurviveARestartAndTheSecretIsNeverShown) {
  RoleCredentials creds = Mint();
  Open();  // a new Directory and Authenticator over the same store
  Result<Identity> id = Authenticate(Signed(creds, kNow));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->caller->arn, "arn:aws:sts::111122223333:assumed-role/FunctionRole/my-fn");

  std::string secret;
  ASSERT_TRUE(db_->Read([&](store::Database::Txn& txn) -> Status {
                   LAMBKIN_ASSIGN_OR_RETURN(
                       store::Statement st,
                       txn.Prepare("SELECT secret FROM iam_server_secrets WHERE name = "
                                   "'role-sessions'"));
                   LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
                   if (row) secret = st.ColumnText(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(secret.size(), 64U);
  Result<json> described = directory_->Describe();
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->dump().find(secret), std::string::npos);
}

TEST_F(RoleSessionsTest, PresignedRequestsCarryTheTokenInTheSignedQuery) {
  RoleCredentials creds = Mint();
  std::string date = AmzDate(kNow);
  SigV4Request presign;
  presign.credential = {creds.access_key_id, date.substr(0, 8), "us-east-1", "lambda"};
  presign.amz_date = date;
  presign.signed_headers = {"host"};
  presign.presigned = true;
  server::HttpRequest r;
  r.method = "GET";
  r.target = fmt::format(
      "/2015-03-31/functions/my-fn?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-"
      "Date={}&X-Amz-Expires=60&X-Amz-Security-Token={}&X-Amz-SignedHeaders=host",
      UriEncode(creds.access_key_id + "/" + presign.credential.Scope(), false), date,
      UriEncode(creds.session_token, false));
  r.headers.emplace_back("host", "lambkin.test");
  ASSERT_TRUE(server::ParseTarget(r.target, r));
  Result<std::string> canonical = CanonicalRequest(r, presign);
  ASSERT_TRUE(canonical.ok());
  EXPECT_NE(canonical->find("X-Amz-Security-Token="), std::string::npos);
  server::HttpRequest signed_r = r;
  signed_r.target += "&X-Amz-Signature=" + Signature(creds.secret_access_key, presign.credential,
                                                     StringToSign(presign, *canonical));
  ASSERT_TRUE(server::ParseTarget(signed_r.target, signed_r));
  Result<Identity> id = Authenticate(signed_r);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->caller->arn, "arn:aws:sts::111122223333:assumed-role/FunctionRole/my-fn");

  // Another session's token in the URL: the key id no longer matches.
  RoleCredentials other = Mint("other-fn");
  server::HttpRequest swapped = signed_r;
  size_t at = swapped.target.find(UriEncode(creds.session_token, false));
  swapped.target.replace(at, UriEncode(creds.session_token, false).size(),
                         UriEncode(other.session_token, false));
  ASSERT_TRUE(server::ParseTarget(swapped.target, swapped));
  EXPECT_EQ(Refusal(swapped).message(), kInvalid);
}

TEST_F(RoleSessionsTest, StoredRoleSessionKeysKeepWorking) {
  RoleCredentials stored{"ASIASTORED000000001", "stored-secret", "", 0};
  Result<Identity> id = Authenticate(Signed(stored, kNow, Token::kNone));
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->caller->arn, "arn:aws:sts::111122223333:assumed-role/Stored/oncall");
  EXPECT_EQ(id->session, nullptr);
}

// Not a benchmark harness, a figure for the record and a guard: minting must stay far from
// anything that touches the disk (one fsync is milliseconds).
TEST_F(RoleSessionsTest, MintingAndVerifyingAreCheap) {
  constexpr int kRounds = 2000;
  std::vector<RoleCredentials> minted;
  minted.reserve(kRounds);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) minted.push_back(Mint("my-fn"));
  auto minted_at = std::chrono::steady_clock::now();
  std::vector<server::HttpRequest> requests;
  requests.reserve(kRounds);
  for (const RoleCredentials& c : minted) requests.push_back(Signed(c, kNow));
  auto verify_start = std::chrono::steady_clock::now();
  int ok = 0;
  for (const server::HttpRequest& r : requests) ok += Authenticate(r).ok() ? 1 : 0;
  auto end = std::chrono::steady_clock::now();
  EXPECT_EQ(ok, kRounds);
  double mint_us = std::chrono::duration<double, std::micro>(minted_at - start).count() / kRounds;
  double verify_us =
      std::chrono::duration<double, std::micro>(end - verify_start).count() / kRounds;
  std::printf(
      "role sessions: mint %.1f us (%.0f/s); authenticate a request signed by a new session "
      "%.1f us (%.0f/s)\n",
      mint_us, 1e6 / mint_us, verify_us, 1e6 / verify_us);
  EXPECT_LT(mint_us, 1000);
}

}  // namespace
}  // namespace lambkin::iam
