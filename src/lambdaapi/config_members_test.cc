#include "lambdaapi/config_members.h"

#include <gtest/gtest.h>

namespace lambkin::lambdaapi {
namespace {

struct Parsed {
  Status validation;  // the Validator's verdict
  Status refused;     // FeatureMembers::refused
  FeatureMembers members;
};

Parsed Parse(const std::string& json) {
  auto body = Body::Parse(json);
  EXPECT_TRUE(body.ok()) << body.status().message();
  Validator v;
  auto m = ParseFeatureMembers(*body, v);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return {v.ToStatus(), m->refused, *m};
}

TEST(FeatureMembersTest, HonoursWhatLambkinDoes) {
  Parsed p = Parse(
      R"({"TracingConfig":{"Mode":"Active"},"VpcConfig":{"SubnetIds":[],"SecurityGroupIds":[]},
          "LoggingConfig":{"LogFormat":"Text","LogGroup":"/aws/lambda/fn"},
          "SnapStart":{"ApplyOn":"None"},"DeadLetterConfig":{},"KMSKeyArn":"",
          "FileSystemConfigs":[]})");
  EXPECT_TRUE(p.validation.ok()) << p.validation.message();
  EXPECT_TRUE(p.refused.ok()) << p.refused.message();
  EXPECT_EQ(p.members.tracing_mode, "Active");
  EXPECT_TRUE(p.members.vpc_config);
  Parsed none = Parse("{}");
  EXPECT_FALSE(none.members.tracing_mode.has_value());
  EXPECT_FALSE(none.members.vpc_config);
  EXPECT_TRUE(none.refused.ok());
}

TEST(FeatureMembersTest, RefusesWhatLambkinCannotDoNamingTheMember) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"VpcConfig":{"SubnetIds":["subnet-1"]}})", "VpcConfig"},
      {R"({"VpcConfig":{"Ipv6AllowedForDualStack":true}})", "VpcConfig.Ipv6AllowedForDualStack"},
      {R"({"SnapStart":{"ApplyOn":"PublishedVersions"}})", "SnapStart.ApplyOn"},
      {R"({"DeadLetterConfig":{"TargetArn":"arn:aws:sqs:us-east-1:123456789012:q"}})",
       "DeadLetterConfig"},
      {R"({"KMSKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k"})", "KMSKeyArn"},
      {R"({"FileSystemConfigs":[{"Arn":"a","LocalMountPath":"/mnt/a"}]})", "FileSystemConfigs"},
      {R"({"CodeSigningConfigArn":"arn"})", "CodeSigningConfigArn"},
      {R"({"DurableConfig":{}})", "DurableConfig"},
  };
  for (const auto& [json, member] : cases) {
    Parsed p = Parse(json);
    EXPECT_TRUE(p.validation.ok()) << json;
    EXPECT_EQ(p.refused.code(), StatusCode::kInvalidParameterValue) << json;
    EXPECT_NE(p.refused.message().find(std::string("Lambkin does not support ") + member),
              std::string::npos)
        << p.refused.message();
  }
}

TEST(FeatureMembersTest, ALoggingConfigIsWholeWithAwsDefaults) {
  EXPECT_FALSE(Parse("{}").members.logging.has_value());
  Parsed empty = Parse(R"({"LoggingConfig":{}})");
  ASSERT_TRUE(empty.members.logging.has_value());
  EXPECT_EQ(empty.members.logging->format, "Text");
  EXPECT_EQ(empty.members.logging->group, "");
  EXPECT_EQ(empty.members.logging->application_level, "");
  Parsed json = Parse(R"({"LoggingConfig":{"LogFormat":"JSON","SystemLogLevel":"WARN",
                                           "LogGroup":"/custom/group"}})");
  ASSERT_TRUE(json.refused.ok()) << json.refused.message();
  EXPECT_EQ(json.members.logging->format, "JSON");
  EXPECT_EQ(json.members.logging->application_level, "INFO");
  EXPECT_EQ(json.members.logging->system_level, "WARN");
  EXPECT_EQ(json.members.logging->group, "/custom/group");
  // A level without LogFormat JSON (left out means Text) is AWS's InvalidParameterValue.
  for (const char* body : {R"({"LoggingConfig":{"ApplicationLogLevel":"ERROR"}})",
                           R"({"LoggingConfig":{"LogFormat":"Text","SystemLogLevel":"WARN"}})"}) {
    Parsed p = Parse(body);
    EXPECT_TRUE(p.validation.ok()) << body;
    EXPECT_EQ(p.refused.code(), StatusCode::kInvalidParameterValue) << body;
    EXPECT_EQ(p.refused.message(),
              "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel from "
              "your request or change the LogFormat to \"JSON\" and try again.");
  }
  Parsed bad = Parse(R"({"LoggingConfig":{"LogFormat":"XML","ApplicationLogLevel":"LOUD"}})");
  EXPECT_EQ(bad.validation.message(),
            "2 validation errors detected: Value 'XML' at 'loggingConfig.logFormat' failed to "
            "satisfy constraint: Member must satisfy enum value set: [JSON, Text]; Value 'LOUD' at "
            "'loggingConfig.applicationLogLevel' failed to satisfy constraint: Member must "
            "satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
}

TEST(FeatureMembersTest, ModelConstraintsComeFirstWithAwsText) {
  Parsed p = Parse(R"({"TracingConfig":{"Mode":"Sometimes"},"SnapStart":{"ApplyOn":"x"},
                      "VpcConfig":{"SecurityGroupIds":["bad"]}})");
  EXPECT_EQ(p.validation.message(),
            "3 validation errors detected: Value 'Sometimes' at 'tracingConfig.mode' failed to "
            "satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]; "
            "Value '[bad]' at 'vpcConfig.securityGroupIds' failed to satisfy constraint: Member "
            "must satisfy constraint: [Member must have length less than or equal to 1024, Member "
            "must have length greater than or equal to 0, Member must satisfy regular expression "
            "pattern: sg-[0-9a-zA-Z]*]; Value 'x' at 'snapStart.applyOn' failed to satisfy "
            "constraint: Member must satisfy enum value set: [PublishedVersions, None]");
  auto body = Body::Parse(R"({"TracingConfig":{"Mode":1}})");
  Validator v;
  EXPECT_EQ(ParseFeatureMembers(*body, v).status().code(), StatusCode::kInvalidRequestContent);
}

}  // namespace
}  // namespace lambkin::lambdaapi
