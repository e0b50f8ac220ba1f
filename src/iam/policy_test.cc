#include "iam/policy.h"

#include <gtest/gtest.h>

namespace lambkin::iam {
namespace {

constexpr size_t kMax = 10240;

Policy MustParse(std::string_view doc) {
  Result<Policy> p = Policy::Parse(doc, kMax);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return std::move(*p);
}

RequestContext Request(std::string action, std::string resource) {
  RequestContext r;
  r.action = std::move(action);
  r.resource = std::move(resource);
  return r;
}

constexpr char kFn[] = "arn:aws:lambda:us-east-1:111122223333:function:my-fn";
constexpr char kBreakGlass[] = "arn:aws:iam::111122223333:role/LambdaRuntimeRollbackBreakGlass";

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("lambda:Put*", "lambda:PutRuntimeManagementConfig"));
  EXPECT_TRUE(GlobMatch("iam:*AccessKey*", "iam:ListAccessKeys"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_FALSE(GlobMatch("lambda:Put*", "lambda:GetFunction"));
  EXPECT_FALSE(GlobMatch("Lambda:put*", "lambda:PutX"));
  EXPECT_TRUE(GlobMatch("Lambda:put*", "lambda:PutX", /*ignore_case=*/true));
  EXPECT_TRUE(GlobMatch("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaab"));
  EXPECT_FALSE(GlobMatch("*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(Policy, ActionsMatchCaseInsensitivelyWithWildcardsAndNotAction) {
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",
      "Action":["LAMBDA:get*","logs:Describe?ogGroups"],"Resource":"*"}})");
  EXPECT_EQ(p.Evaluate(Request("lambda:GetFunction", kFn)), Decision::kAllow);
  EXPECT_EQ(p.Evaluate(Request("logs:DescribeLogGroups", "*")), Decision::kAllow);
  EXPECT_EQ(p.Evaluate(Request("lambda:PutRuntimeManagementConfig", kFn)),
            Decision::kNotApplicable);

  Policy not_action = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
      "NotAction":"lambda:Get*","Resource":"*"}]})");
  EXPECT_EQ(not_action.Evaluate(Request("lambda:GetFunction", kFn)), Decision::kNotApplicable);
  EXPECT_EQ(not_action.Evaluate(Request("lambda:DeleteFunction", kFn)), Decision::kDeny);
}

TEST(Policy, ResourcesAndNotResource) {
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Action":"lambda:*","Resource":["arn:aws:lambda:*:*:function:my-*"]}]})");
  EXPECT_EQ(p.Evaluate(Request("lambda:GetFunction", kFn)), Decision::kAllow);
  // `*` crosses `:` in Resource (versions and aliases of my-fn match too).
  EXPECT_EQ(p.Evaluate(Request("lambda:GetFunction", std::string(kFn) + ":3")), Decision::kAllow);
  EXPECT_EQ(p.Evaluate(Request("lambda:GetFunction",
                               "arn:aws:lambda:us-east-1:111122223333:function:other")),
            Decision::kNotApplicable);
  // Resource matching is case-sensitive.
  EXPECT_EQ(p.Evaluate(Request("lambda:GetFunction",
                               "arn:aws:lambda:us-east-1:111122223333:function:MY-fn")),
            Decision::kNotApplicable);

  Policy exact = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Action":"lambda:*","Resource":"arn:aws:lambda:us-east-1:111122223333:function:my-fn"}]})");
  EXPECT_EQ(exact.Evaluate(Request("lambda:GetFunction", kFn)), Decision::kAllow);
  EXPECT_EQ(exact.Evaluate(Request("lambda:GetFunction", std::string(kFn) + ":prod")),
            Decision::kNotApplicable);

  Policy not_resource = MustParse(R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
      "Action":"*","NotResource":"arn:aws:lambda:*:*:function:public-*"}]})");
  EXPECT_EQ(not_resource.Evaluate(Request("lambda:GetFunction", kFn)), Decision::kDeny);
  EXPECT_EQ(not_resource.Evaluate(
                Request("lambda:GetFunction", "arn:aws:lambda:us-east-1:1:function:public-api")),
            Decision::kNotApplicable);
}

TEST(Policy, DenyWinsWithinAPolicy) {
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"*","Resource":"*"},
      {"Effect":"Deny","Action":"lambda:PutRuntimeManagementConfig","Resource":"*"}]})");
  EXPECT_EQ(p.Evaluate(Request("lambda:PutRuntimeManagementConfig", kFn)), Decision::kDeny);
  EXPECT_EQ(p.Evaluate(Request("lambda:GetRuntimeManagementConfig", kFn)), Decision::kAllow);
}

// The Lambda docs' high-compliance SCP with a break-glass role and an exception tag
// (spec §8 B): the conditions of one Deny are AND-ed.
TEST(Policy, HighComplianceScpWithBreakGlassRoleAndExceptionTag) {
  Policy scp = MustParse(R"({ "Version": "2012-10-17",
    "Statement": [
      { "Sid": "DenyRuntimePinningUnlessApproved", "Effect": "Deny",
        "Action": "lambda:PutRuntimeManagementConfig",
        "Resource": "arn:aws:lambda:*:*:function:*",
        "Condition": {
          "StringNotEquals": { "aws:ResourceTag/runtime-pin-exception": "approved" },
          "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/LambdaRuntimeRollbackBreakGlass" } } },
      { "Sid": "ProtectExceptionTag", "Effect": "Deny",
        "Action": ["lambda:TagResource", "lambda:UntagResource"],
        "Resource": "*",
        "Condition": {
          "ForAnyValue:StringEquals": { "aws:TagKeys": ["runtime-pin-exception"] },
          "ArnNotLike": { "aws:PrincipalArn": "arn:aws:iam::*:role/SecurityAdmin" } } } ] })");
  RequestContext put = Request("lambda:PutRuntimeManagementConfig", kFn);
  put.Set("aws:principalarn", {"arn:aws:iam::111122223333:role/Dev"});
  EXPECT_EQ(scp.Evaluate(put), Decision::kDeny);
  put.Set("aws:resourcetag/runtime-pin-exception", {"approved"});
  EXPECT_EQ(scp.Evaluate(put), Decision::kNotApplicable) << "tagged function";
  put.Set("aws:resourcetag/runtime-pin-exception", {"pending"});
  EXPECT_EQ(scp.Evaluate(put), Decision::kDeny);
  put.Set("aws:principalarn", {kBreakGlass});
  EXPECT_EQ(scp.Evaluate(put), Decision::kNotApplicable) << "break-glass role";

  RequestContext tag = Request("lambda:TagResource", kFn);
  tag.Set("aws:principalarn", {"arn:aws:iam::111122223333:role/Dev"});
  tag.Set("aws:tagkeys", {"team", "runtime-pin-exception"});
  EXPECT_EQ(scp.Evaluate(tag), Decision::kDeny);
  tag.Set("aws:tagkeys", {"team"});
  EXPECT_EQ(scp.Evaluate(tag), Decision::kNotApplicable);
  tag.Set("aws:tagkeys", {"runtime-pin-exception"});
  tag.Set("aws:principalarn", {"arn:aws:iam::111122223333:role/SecurityAdmin"});
  EXPECT_EQ(scp.Evaluate(tag), Decision::kNotApplicable);
}

TEST(Policy, ResourceTagsAreReadOnlyWhenAConditionAsksForThem) {
  Policy scp = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Deny",
      "Action":"lambda:PutRuntimeManagementConfig","Resource":"*",
      "Condition":{"StringNotEquals":{"aws:ResourceTag/runtime-pin-exception":"approved"}}}})");
  int reads = 0;
  RequestContext r = Request("lambda:GetFunction", kFn);
  r.resource_tags = [&reads] {
    ++reads;
    return std::map<std::string, std::string>{{"runtime-pin-exception", "approved"}};
  };
  EXPECT_EQ(scp.Evaluate(r), Decision::kNotApplicable);
  EXPECT_EQ(reads, 0) << "no applicable statement looks at tags";
  r.action = "lambda:PutRuntimeManagementConfig";
  EXPECT_EQ(scp.Evaluate(r), Decision::kNotApplicable);
  EXPECT_EQ(scp.Evaluate(r), Decision::kNotApplicable);
  EXPECT_EQ(reads, 1) << "read once, when first asked";
}

TEST(Policy, ArnOperatorsMatchEachComponentOnItsOwn) {
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*",
      "Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Ops*"}}}})");
  RequestContext r = Request("lambda:GetFunction", kFn);
  r.Set("aws:principalarn", {"arn:aws:iam::111122223333:role/OpsTeam"});
  EXPECT_EQ(p.Evaluate(r), Decision::kAllow);
  // StringLike's `*` would cross the colon; ArnLike's does not.
  Policy q = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*",
      "Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:*:role/Ops"}}}})");
  r.Set("aws:principalarn", {"arn:aws:iam::111122223333:role/Ops"});
  EXPECT_EQ(q.Evaluate(r), Decision::kNotApplicable);
  Policy s = MustParse(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*",
      "Resource":"*","Condition":{"StringLike":{"aws:PrincipalArn":"arn:aws:*:role/Ops"}}}})");
  EXPECT_EQ(s.Evaluate(r), Decision::kAllow);
  r.Set("aws:principalarn", {"not-an-arn"});
  EXPECT_EQ(p.Evaluate(r), Decision::kNotApplicable);
}

TEST(Policy, StringOperatorsAndMissingKeys) {
  auto eval = [](std::string_view condition, const RequestContext& r) {
    std::string doc = std::string(R"({"Version":"2012-10-17","Statement":{"Effect":"Allow",)") +
                      R"("Action":"*","Resource":"*","Condition":)" + std::string(condition) + "}}";
    return MustParse(doc).Evaluate(r);
  };
  RequestContext r = Request("lambda:GetFunction", kFn);
  r.Set("aws:requestedregion", {"eu-west-1"});
  EXPECT_EQ(eval(R"({"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}})", r),
            Decision::kAllow);
  EXPECT_EQ(eval(R"({"StringEquals":{"AWS:REQUESTEDREGION":"EU-west-1"}})", r),
            Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"StringEqualsIgnoreCase":{"aws:RequestedRegion":"EU-west-1"}})", r),
            Decision::kAllow);
  EXPECT_EQ(eval(R"({"StringNotEqualsIgnoreCase":{"aws:RequestedRegion":"EU-WEST-1"}})", r),
            Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"StringNotEquals":{"aws:RequestedRegion":"us-east-1"}})", r),
            Decision::kAllow);
  EXPECT_EQ(eval(R"({"StringLike":{"aws:RequestedRegion":"eu-*"}})", r), Decision::kAllow);
  EXPECT_EQ(eval(R"({"StringNotLike":{"aws:RequestedRegion":"eu-*"}})", r),
            Decision::kNotApplicable);
  // Keys and operators AND.
  EXPECT_EQ(eval(R"({"StringLike":{"aws:RequestedRegion":"eu-*"},
                     "StringEquals":{"lambda:FunctionArn":"x"}})",
                 r),
            Decision::kNotApplicable);
  // A missing key: positive operators false, negated ones true, IfExists true.
  EXPECT_EQ(eval(R"({"StringEquals":{"aws:ResourceTag/team":"a"}})", r), Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"StringNotEquals":{"aws:ResourceTag/team":"a"}})", r), Decision::kAllow);
  EXPECT_EQ(eval(R"({"StringEqualsIfExists":{"aws:ResourceTag/team":"a"}})", r), Decision::kAllow);
  r.Set("aws:resourcetag/team", {"b"});
  EXPECT_EQ(eval(R"({"StringEqualsIfExists":{"aws:ResourceTag/team":"a"}})", r),
            Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"Null":{"aws:ResourceTag/team":"true"}})", r), Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"Null":{"aws:ResourceTag/team":false}})", r), Decision::kAllow);
  EXPECT_EQ(eval(R"({"Null":{"aws:ResourceTag/other":"true"}})", r), Decision::kAllow);
  r.Set("aws:securetransport", {"false"});
  EXPECT_EQ(eval(R"({"Bool":{"aws:SecureTransport":"false"}})", r), Decision::kAllow);
  EXPECT_EQ(eval(R"({"Bool":{"aws:SecureTransport":true}})", r), Decision::kNotApplicable);
  // ForAllValues holds for an absent key; ForAnyValue does not.
  EXPECT_EQ(eval(R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}})", r), Decision::kAllow);
  EXPECT_EQ(eval(R"({"ForAnyValue:StringEquals":{"aws:TagKeys":["a"]}})", r),
            Decision::kNotApplicable);
  r.Set("aws:tagkeys", {"a", "b"});
  EXPECT_EQ(eval(R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}})", r),
            Decision::kNotApplicable);
  EXPECT_EQ(eval(R"({"ForAllValues:StringEquals":{"aws:TagKeys":["a","b","c"]}})", r),
            Decision::kAllow);
}

TEST(Policy, MalformedDocumentsAreRefusedWithTheReason) {
  struct Case {
    const char* doc;
    const char* message;
  };
  const Case cases[] = {
      {"{", "Syntax errors in policy."},
      {"[]", "The policy document must be a JSON object."},
      {R"({"Version":"2012-10-17"})", "Missing required field Statement"},
      {R"({"Version":"2012-10-18","Statement":[]})",
       "The policy version \"2012-10-18\" is not supported: use 2012-10-17."},
      {R"({"Statement":[]})", "Statement must be an object or a non-empty array of objects"},
      {R"({"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}})",
       "Statement 1: Effect must be Allow or Deny, not \"Maybe\""},
      {R"({"Statement":{"Effect":"Allow","Resource":"*"}})",
       "Missing required field Action (Statement 1)"},
      {R"({"Statement":{"Effect":"Allow","Action":"*"}})",
       "Missing required field Resource (Statement 1)"},
      {R"({"Statement":{"Action":"*","Resource":"*"}})",
       "Missing required field Effect (Statement 1)"},
      {R"({"Statement":{"Effect":"Allow","Action":"*","NotAction":"a:b","Resource":"*"}})",
       "Statement 1 has both Action and NotAction"},
      {R"({"Statement":{"Effect":"Allow","Action":"lambda","Resource":"*"}})",
       "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: lambda"},
      {R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"my-fn"}})",
       "Resource my-fn must be in ARN format or \"*\"."},
      {R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}})",
       "Policy document should not specify a principal."},
      {R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*",
          "Condition":{"StringSorta":{"aws:PrincipalArn":"x"}}}})",
       "Invalid Condition type : StringSorta"},
      {R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*",
          "Condition":{"NullIfExists":{"aws:PrincipalArn":"true"}}}})",
       "Invalid Condition type : NullIfExists"},
      {R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*",
          "Condition":{"Bool":{"aws:SecureTransport":"yes"}}}})",
       "Condition Bool aws:SecureTransport takes true or false, not \"yes\""},
      {R"({"Statement":{"Sid":"not ok","Effect":"Allow","Action":"*","Resource":"*"}})",
       "Statement IDs (SID) must be alpha-numeric: not ok"},
      {R"({"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}})",
       "Statement 1: Action must be a string or a non-empty array of strings"},
      {R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}})",
       "Statement 1 has an unknown field Extra"},
  };
  for (const Case& c : cases) {
    Result<Policy> p = Policy::Parse(c.doc, kMax);
    ASSERT_FALSE(p.ok()) << c.doc;
    EXPECT_EQ(p.status().code(), StatusCode::kMalformedPolicyDocument) << c.doc;
    EXPECT_EQ(p.status().message(), c.message) << c.doc;
  }
  Result<Policy> big =
      Policy::Parse(R"({"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})", 20);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kLimitExceeded);
  EXPECT_EQ(big.status().message(), "Cannot exceed quota for PolicySize: 20");
}

}  // namespace
}  // namespace lambkin::iam
