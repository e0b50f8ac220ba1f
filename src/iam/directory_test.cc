#include "iam/directory.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "iam/authorizer.h"

namespace lambkin::iam {
namespace {

using nlohmann::json;

constexpr char kManagement[] = "999999999999";
constexpr char kMember[] = "111122223333";
constexpr char kOther[] = "444455556666";
constexpr char kFn[] = "arn:aws:lambda:us-east-1:111122223333:function:my-fn";

// The Lambda docs' high-compliance SCP (spec §8 B).
const json kDenyPinning = json::parse(R"({ "Version": "2012-10-17",
  "Statement": [
    { "Sid": "DenyRuntimePinningUnlessApproved", "Effect": "Deny",
      "Action": "lambda:PutRuntimeManagementConfig",
      "Resource": "arn:aws:lambda:*:*:function:*",
      "Condition": {
        "StringNotEquals": { "aws:ResourceTag/runtime-pin-exception": "approved" },
        "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/LambdaRuntimeRollbackBreakGlass" } } } ] })");

const json kAdmin = json::parse(
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})");

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "/iam-" + RandomUuid() + ".db";
    Open();
  }
  void Open() {
    directory_.reset();
    db_.reset();
    auto db = store::Database::Open(path_, Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    directory_ = std::make_unique<Directory>(db_.get());
    ASSERT_TRUE(directory_->Load().ok());
  }
  void Apply(const json& declaration) {
    Status s = directory_->Apply(declaration);
    ASSERT_TRUE(s.ok()) << s.message();
  }
  // The organisation of the high-compliance example: the management account, a Workloads OU
  // with the member account (pinning denied), and an account directly under the root.
  void ApplyOrganisation() {
    Apply(
        {{"organization",
          {{"management_account", kManagement},
           {"root",
            {{"accounts", {kOther}}, {"units", {{"Workloads", {{"accounts", {kMember}}}}}}}},
           {"policies",
            {{"DenyRuntimePinning", {{"document", kDenyPinning}, {"targets", {"Workloads"}}}}}}}},
         {"accounts",
          {{kMember,
            {{"users",
              {{"alice",
                {{"policies", {{"Admin", kAdmin}}},
                 {"access_keys", {{{"id", "AKIAALICE0000000001"}, {"secret", "alice-secret"}}}}}}}},
             {"roles",
              {{"LambdaRuntimeRollbackBreakGlass",
                {{"policies", {{"Admin", kAdmin}}},
                 {"sessions",
                  {{"oncall", {{"id", "ASIABREAKGLASS00001"}, {"secret", "bg-secret"}}}}}}},
               {"Dev",
                {{"policies", {{"Admin", kAdmin}}},
                 {"sessions",
                  {{"alice", {{"id", "ASIADEVALICE0000001"}, {"secret", "dev-secret"}}}}}}}}}}},
           {kManagement,
            {{"users",
              {{"root-admin",
                {{"policies", {{"Admin", kAdmin}}},
                 {"access_keys",
                  {{{"id", "AKIAMANAGEMENT00001"}, {"secret", "m-secret"}}}}}}}}}}}}});
  }
  Status Ask(const std::string& key_id, const std::string& action, const std::string& resource,
             const std::map<std::string, std::string>& keys = {}) {
    auto snap = directory_->snapshot();
    const Snapshot::Key* key = snap->FindKey(key_id);
    EXPECT_NE(key, nullptr) << key_id;
    if (key == nullptr) return Internal("no key");
    RequestContext r;
    r.action = action;
    r.resource = resource;
    for (const auto& [k, v] : keys) r.Set(k, {v});
    return Authorize(*snap, key->caller, r);
  }
  // The same with the function's resource policy `policy` (empty: none) in `owner`'s account.
  Status AskWithPolicy(const std::string& key_id, const std::string& action,
                       const std::string& owner, const std::string& policy, int* loads = nullptr) {
    auto snap = directory_->snapshot();
    const Snapshot::Key* key = snap->FindKey(key_id);
    EXPECT_NE(key, nullptr) << key_id;
    if (key == nullptr) return Internal("no key");
    std::string fn = fmt::format("arn:aws:lambda:us-east-1:{}:function:shared", owner);
    RequestContext r;
    r.action = action;
    r.resource = fn;
    ResourcePolicy resource{owner, fn, [policy, loads]() -> Result<std::optional<Policy>> {
                              if (loads != nullptr) ++*loads;
                              if (policy.empty()) return std::optional<Policy>();
                              LAMBKIN_ASSIGN_OR_RETURN(Policy p,
                                                       Policy::ParseResourcePolicy(policy, 20480));
                              return std::optional<Policy>(std::move(p));
                            }};
    return Authorize(*snap, key->caller, r, &resource);
  }

  std::string path_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(DirectoryTest, KeysNameTheirCallerUsersAndRoleSessions) {
  ApplyOrganisation();
  auto snap = directory_->snapshot();
  const Snapshot::Key* alice = snap->FindKey("AKIAALICE0000000001");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->secret, "alice-secret");
  EXPECT_EQ(alice->caller.arn, "arn:aws:iam::111122223333:user/alice");
  EXPECT_EQ(alice->caller.principal_arn, alice->caller.arn);
  const Snapshot::Key* dev = snap->FindKey("ASIADEVALICE0000001");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->caller.arn, "arn:aws:sts::111122223333:assumed-role/Dev/alice");
  EXPECT_EQ(dev->caller.principal_arn, "arn:aws:iam::111122223333:role/Dev");
  EXPECT_EQ(snap->FindKey("AKIAUNKNOWN00000000"), nullptr);
}

TEST_F(DirectoryTest, HighComplianceScpDeniesPinningExceptBreakGlassTagAndManagement) {
  ApplyOrganisation();
  Status s = Ask("ASIADEVALICE0000001", "lambda:PutRuntimeManagementConfig", kFn);
  EXPECT_EQ(s.code(), StatusCode::kAccessDenied);
  EXPECT_EQ(s.message(),
            "User: arn:aws:sts::111122223333:assumed-role/Dev/alice is not authorized to "
            "perform: lambda:PutRuntimeManagementConfig on resource: "
            "arn:aws:lambda:us-east-1:111122223333:function:my-fn with an explicit deny in a "
            "service control policy");
  EXPECT_EQ(Ask("AKIAALICE0000000001", "lambda:PutRuntimeManagementConfig", kFn).code(),
            StatusCode::kAccessDenied);
  // Reading the configuration is not affected.
  EXPECT_TRUE(Ask("ASIADEVALICE0000001", "lambda:GetRuntimeManagementConfig", kFn).ok());
  // The break-glass role may pin.
  EXPECT_TRUE(Ask("ASIABREAKGLASS00001", "lambda:PutRuntimeManagementConfig", kFn).ok());
  // A function carrying the approved exception tag may be pinned by anyone allowed.
  EXPECT_TRUE(Ask("ASIADEVALICE0000001", "lambda:PutRuntimeManagementConfig", kFn,
                  {{"aws:resourcetag/runtime-pin-exception", "approved"}})
                  .ok());
  // SCPs do not affect the management account.
  EXPECT_TRUE(Ask("AKIAMANAGEMENT00001", "lambda:PutRuntimeManagementConfig",
                  "arn:aws:lambda:us-east-1:999999999999:function:f")
                  .ok());
}

TEST_F(DirectoryTest, EveryLevelOfThePathMustAllowAndIdentityPoliciesMustToo) {
  ApplyOrganisation();
  // Detach FullAWSAccess from the Workloads OU: nothing there allows any more.
  Apply({{"organization",
          {{"policies", {{"FullAWSAccess", {{"targets", {"Root", kMember, kOther}}}}}}}}});
  Status s = Ask("AKIAALICE0000000001", "lambda:GetFunction", kFn);
  EXPECT_EQ(s.code(), StatusCode::kAccessDenied);
  EXPECT_EQ(s.message(),
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: "
            "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:111122223333:function:my-fn "
            "because no service control policy allows the lambda:GetFunction action");
  // An explicit deny still names the SCP that denies.
  EXPECT_NE(Ask("AKIAALICE0000000001", "lambda:PutRuntimeManagementConfig", kFn)
                .message()
                .find("with an explicit deny in a service control policy"),
            std::string::npos);
  // Attach an allowing SCP at the OU again (a narrower one): only what it allows passes.
  Apply({{"organization",
          {{"policies",
            {{"LambdaReadOnly",
              {{"document", json::parse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                  "Action":["lambda:Get*","lambda:List*"],"Resource":"*"}]})")},
               {"targets", {"Workloads"}}}}}}}}});
  EXPECT_TRUE(Ask("AKIAALICE0000000001", "lambda:GetFunction", kFn).ok());
  EXPECT_EQ(Ask("AKIAALICE0000000001", "lambda:DeleteFunction", kFn).code(),
            StatusCode::kAccessDenied);

  // Identity policies: replace alice's admin policy by a narrower one.
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"Logs": {"Version": "2012-10-17",
                            "Statement": {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}}},
      "access_keys": [{"id": "AKIABOB000000000001", "secret": "b"}]}}}}})"));
  EXPECT_TRUE(Ask("AKIABOB000000000001", "logs:GetLogEvents", "*").ok());
  s = Ask("AKIABOB000000000001", "lambda:GetFunction",
          "arn:aws:lambda:us-east-1:444455556666:function:f");
  EXPECT_EQ(s.message(),
            "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: "
            "lambda:GetFunction on resource: arn:aws:lambda:us-east-1:444455556666:function:f "
            "because no identity-based policy allows the lambda:GetFunction action");
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"NoDelete": {"Version": "2012-10-17",
                                "Statement": {"Effect": "Deny", "Action": "logs:Delete*", "Resource": "*"}}}}}}}})"));
  EXPECT_NE(Ask("AKIABOB000000000001", "logs:DeleteLogGroup", "*")
                .message()
                .find("with an explicit deny in an identity-based policy"),
            std::string::npos);
}

// A function policy as AddPermission writes it, granting `principal` lambda:InvokeFunction.
std::string FunctionPolicy(const std::string& owner, const json& principal) {
  json doc = {
      {"Version", "2012-10-17"},
      {"Id", "default"},
      {"Statement",
       {{{"Sid", "grant"},
         {"Effect", "Allow"},
         {"Principal", principal},
         {"Action", "lambda:InvokeFunction"},
         {"Resource", fmt::format("arn:aws:lambda:us-east-1:{}:function:shared", owner)}}}}};
  return doc.dump();
}

TEST_F(DirectoryTest, ResourcePolicyGrantsCrossAccountOnlyWithIdentityAllowAndDenyWins) {
  ApplyOrganisation();
  // kOther's bob may invoke anything; the function lives in kMember.
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"Invoke": {"Version": "2012-10-17",
                              "Statement": {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}}},
      "access_keys": [{"id": "AKIABOB000000000001", "secret": "b"}]}}}}})"));
  const std::string bob = "AKIABOB000000000001";
  Status s = AskWithPolicy(bob, "lambda:InvokeFunction", kMember, "");
  EXPECT_EQ(s.message(),
            "User: arn:aws:iam::444455556666:user/bob is not authorized to perform: "
            "lambda:InvokeFunction on resource: "
            "arn:aws:lambda:us-east-1:111122223333:function:shared because no resource-based "
            "policy allows the lambda:InvokeFunction action");
  // Granted to bob's account (id or :root ARN), to bob himself or to anyone.
  EXPECT_TRUE(AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                            FunctionPolicy(kMember, {{"AWS", kOther}}))
                  .ok());
  EXPECT_TRUE(AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                            FunctionPolicy(kMember, {{"AWS", "arn:aws:iam::444455556666:root"}}))
                  .ok());
  EXPECT_TRUE(
      AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                    FunctionPolicy(kMember, {{"AWS", "arn:aws:iam::444455556666:user/bob"}}))
          .ok());
  EXPECT_TRUE(
      AskWithPolicy(bob, "lambda:InvokeFunction", kMember, FunctionPolicy(kMember, "*")).ok());
  // Not to another account, another user, a service, or another action.
  EXPECT_FALSE(AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                             FunctionPolicy(kMember, {{"AWS", kManagement}}))
                   .ok());
  EXPECT_FALSE(
      AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                    FunctionPolicy(kMember, {{"AWS", "arn:aws:iam::444455556666:user/eve"}}))
          .ok());
  EXPECT_FALSE(AskWithPolicy(bob, "lambda:InvokeFunction", kMember,
                             FunctionPolicy(kMember, {{"Service", "s3.amazonaws.com"}}))
                   .ok());
  EXPECT_FALSE(
      AskWithPolicy(bob, "lambda:GetFunction", kMember, FunctionPolicy(kMember, "*")).ok());
  // Cross-account, the caller's identity policy must allow too.
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"Invoke": null}}}}}})"));
  s = AskWithPolicy(bob, "lambda:InvokeFunction", kMember, FunctionPolicy(kMember, "*"));
  EXPECT_NE(s.message().find("because no identity-based policy allows"), std::string::npos);
  // An explicit deny in the caller's identity policy or SCP wins over the resource's allow.
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"Invoke": {"Version": "2012-10-17",
                              "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
                                            {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}]}}}}}}})"));
  s = AskWithPolicy(bob, "lambda:InvokeFunction", kMember, FunctionPolicy(kMember, "*"));
  EXPECT_NE(s.message().find("with an explicit deny in an identity-based policy"),
            std::string::npos);
  Apply(json::parse(R"({"accounts": {"444455556666": {"users": {"bob": {
      "policies": {"Invoke": {"Version": "2012-10-17",
                              "Statement": {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}}}}}}}})"));
  EXPECT_TRUE(
      AskWithPolicy(bob, "lambda:InvokeFunction", kMember, FunctionPolicy(kMember, "*")).ok());
  Apply({{"organization",
          {{"policies",
            {{"NoInvoke",
              {{"document", json::parse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                  "Action":"lambda:InvokeFunction","Resource":"*"}]})")},
               {"targets", {kOther}}}}}}}}});
  s = AskWithPolicy(bob, "lambda:InvokeFunction", kMember, FunctionPolicy(kMember, "*"));
  EXPECT_NE(s.message().find("with an explicit deny in a service control policy"),
            std::string::npos);
}

TEST_F(DirectoryTest, ResourcePolicyAloneGrantsWithinItsAccountAndIsReadOnlyWhenNeeded) {
  ApplyOrganisation();
  Apply(json::parse(R"({"accounts": {"111122223333": {"users": {"carol": {
      "access_keys": [{"id": "AKIACAROL0000000001", "secret": "c"}]}}}}})"));
  const std::string carol = "AKIACAROL0000000001";
  EXPECT_FALSE(AskWithPolicy(carol, "lambda:InvokeFunction", kMember, "").ok());
  EXPECT_TRUE(
      AskWithPolicy(carol, "lambda:InvokeFunction", kMember,
                    FunctionPolicy(kMember, {{"AWS", "arn:aws:iam::111122223333:user/carol"}}))
          .ok());
  // alice's identity policy allows: the function policy is not read at all.
  int loads = 0;
  EXPECT_TRUE(
      AskWithPolicy("AKIAALICE0000000001", "lambda:InvokeFunction", kMember, "", &loads).ok());
  EXPECT_EQ(loads, 0);
}

TEST(ResourcePolicy, AnonymousCallersMatchOnlyAnyoneAndConditionsApply) {
  std::string fn = "arn:aws:lambda:us-east-1:111122223333:function:f";
  json doc = {{"Version", "2012-10-17"},
              {"Statement",
               {{{"Sid", "url"},
                 {"Effect", "Allow"},
                 {"Principal", "*"},
                 {"Action", "lambda:InvokeFunctionUrl"},
                 {"Resource", fn},
                 {"Condition", {{"StringEquals", {{"lambda:FunctionUrlAuthType", "NONE"}}}}}}}}};
  auto load = [&doc]() -> Result<std::optional<Policy>> {
    LAMBKIN_ASSIGN_OR_RETURN(Policy p, Policy::ParseResourcePolicy(doc.dump(), 20480));
    return std::optional<Policy>(std::move(p));
  };
  ResourcePolicy resource{"111122223333", fn, load};
  RequestContext r;
  r.action = "lambda:InvokeFunctionUrl";
  r.resource = fn;
  r.Set("lambda:FunctionUrlAuthType", {"NONE"});
  EXPECT_TRUE(AuthorizeAnonymous(r, resource).ok());
  r.Set("lambda:FunctionUrlAuthType", {"AWS_IAM"});
  EXPECT_EQ(AuthorizeAnonymous(r, resource).code(), StatusCode::kAccessDenied);
  doc["Statement"][0]["Principal"] = {{"AWS", "111122223333"}};
  r.Set("lambda:FunctionUrlAuthType", {"NONE"});
  EXPECT_EQ(AuthorizeAnonymous(r, resource).code(), StatusCode::kAccessDenied);
  // Identity policies may not name a principal; resource policies must.
  EXPECT_FALSE(Policy::Parse(doc.dump(), 20480).ok());
  doc["Statement"][0].erase("Principal");
  EXPECT_FALSE(Policy::ParseResourcePolicy(doc.dump(), 20480).ok());
}

TEST_F(DirectoryTest, RefusedDeclarationsChangeNothing) {
  ApplyOrganisation();
  json before = *directory_->Describe();
  struct Case {
    json declaration;
    StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {{{"organization", {{"policies", {{"Bad", {{"document", "{\"Statement\":{}}"}}}}}}}},
       StatusCode::kMalformedPolicyDocument,
       "SCP Bad: Missing required field Effect (Statement 1)"},
      {json::parse(R"({"accounts": {"111122223333": {"users": {"carol": {"policies": {"P":
           {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}}}}}}})"),
       StatusCode::kMalformedPolicyDocument,
       "User arn:aws:iam::111122223333:user/carol policy P: Policy document should not specify "
       "a principal."},
      {{{"accounts", {{"12345", json::object()}}}},
       StatusCode::kInvalidParameterValue,
       "'12345' is not an account id (12 digits)"},
      {{{"organization", {{"management_account", kMember}}}},
       StatusCode::kInvalidParameterValue,
       "The organization's management account is 999999999999; it cannot change"},
      {{{"organization",
         {{"policies", {{"X", {{"document", kAdmin}, {"targets", {"Nowhere"}}}}}}}}},
       StatusCode::kInvalidParameterValue,
       "No OU or account 'Nowhere' to attach a policy to"},
      {{{"organization", {{"root", {{"units", {{"Workloads", nullptr}}}}}}}},
       StatusCode::kResourceConflict,
       "The OU Root/Workloads still holds accounts or OUs"},
      {json::parse(R"({"accounts": {"444455556666": {"users": {"mallory":
           {"access_keys": [{"id": "AKIAALICE0000000001", "secret": "x"}]}}}}})"),
       StatusCode::kResourceConflict,
       "User arn:aws:iam::444455556666:user/mallory: access key AKIAALICE0000000001 belongs to "
       "another principal"},
      {{{"organization", {{"policies", {{"FullAWSAccess", nullptr}}}}}},
       StatusCode::kInvalidParameterValue,
       "FullAWSAccess is AWS managed: it cannot be deleted"},
      {{{"users", json::object()}},
       StatusCode::kInvalidParameterValue,
       "The declaration has an unknown field users"},
  };
  for (const Case& c : cases) {
    Status s = directory_->Apply(c.declaration);
    EXPECT_EQ(s.code(), c.code) << c.declaration.dump();
    EXPECT_EQ(s.message(), c.message) << c.declaration.dump();
  }
  EXPECT_EQ(*directory_->Describe(), before);
}

TEST_F(DirectoryTest, DerivedServerKeysDifferByPurposeAndSurviveReopening) {
  std::string registry = directory_->DeriveServerKey("lambkin/registry-token/v1");
  EXPECT_EQ(registry.size(), 32u);
  EXPECT_NE(registry, directory_->DeriveServerKey("lambkin/other/v1"));
  Open();
  EXPECT_EQ(registry, directory_->DeriveServerKey("lambkin/registry-token/v1"));
}

TEST_F(DirectoryTest, SurvivesReopeningAndNullRemoves) {
  ApplyOrganisation();
  Result<NewAccessKey> key = directory_->CreateAccessKey(kMember, "role", "Dev", "bob");
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_TRUE(key->id.starts_with("ASIA"));
  EXPECT_EQ(key->id.size(), 20U);
  EXPECT_EQ(key->caller.arn, "arn:aws:sts::111122223333:assumed-role/Dev/bob");
  EXPECT_EQ(directory_->CreateAccessKey(kMember, "user", "nobody", "").status().code(),
            StatusCode::kResourceNotFound);
  Open();
  auto snap = directory_->snapshot();
  ASSERT_NE(snap->FindKey(key->id), nullptr);
  EXPECT_EQ(snap->FindKey(key->id)->secret, key->secret);
  EXPECT_EQ(Ask("ASIADEVALICE0000001", "lambda:PutRuntimeManagementConfig", kFn).code(),
            StatusCode::kAccessDenied);
  json described = *directory_->Describe();
  EXPECT_EQ(described["organization"]["management_account"], kManagement);
  EXPECT_EQ(described["organization"]["root"]["units"]["Workloads"]["accounts"], json({kMember}));
  EXPECT_EQ(described["organization"]["policies"]["DenyRuntimePinning"]["targets"],
            json({"Root/Workloads"}));
  EXPECT_EQ(described.dump().find("secret"), std::string::npos) << "secrets are never shown";

  // Moving the account out of the OU lifts the SCP; null deletes a user with its keys.
  Apply({{"organization", {{"root", {{"accounts", {kMember}}}}}},
         {"accounts", {{kMember, {{"users", {{"alice", nullptr}}}}}}}});
  EXPECT_TRUE(Ask("ASIADEVALICE0000001", "lambda:PutRuntimeManagementConfig", kFn).ok());
  EXPECT_EQ(directory_->snapshot()->FindKey("AKIAALICE0000000001"), nullptr);
  ASSERT_TRUE(directory_->DeleteAccessKey(key->id).ok());
  EXPECT_EQ(directory_->DeleteAccessKey(key->id).code(), StatusCode::kResourceNotFound);
  Apply({{"organization", {{"root", {{"units", {{"Workloads", nullptr}}}}}}}});
  EXPECT_FALSE((*directory_->Describe())["organization"]["root"].contains("units"));
}

}  // namespace
}  // namespace lambkin::iam
