#include "lambdaapi/names.h"

#include <gtest/gtest.h>

namespace lambkin::lambdaapi {
namespace {

const functions::Scope kScope{"123456789012", "us-east-1"};

struct Case {
  const char* raw;
  std::optional<std::string> query;
  StatusCode code;
  const char* name;
  const char* qualifier;
};

TEST(ResolveFunctionTest, AcceptsEveryNameForm) {
  const Case cases[] = {
      {"my-fn", std::nullopt, StatusCode::kOk, "my-fn", ""},
      {"my-fn:prod", std::nullopt, StatusCode::kOk, "my-fn", "prod"},
      {"my-fn", "$LATEST", StatusCode::kOk, "my-fn", "$LATEST"},
      {"123456789012:function:my-fn", std::nullopt, StatusCode::kOk, "my-fn", ""},
      {"us-east-1:123456789012:function:my-fn:3", std::nullopt, StatusCode::kOk, "my-fn", "3"},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn", std::nullopt, StatusCode::kOk,
       "my-fn", ""},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn:7", "7", StatusCode::kOk, "my-fn",
       "7"},
      {"arn:aws:lambda:us-east-1:123456789012:function:my-fn:7", "8",
       StatusCode::kInvalidParameterValue, "", ""},
      {"arn:aws:lambda:us-west-2:123456789012:function:my-fn", std::nullopt,
       StatusCode::kResourceNotFound, "", ""},
      {"arn:aws:lambda:us-east-1:999999999999:function:my-fn", std::nullopt,
       StatusCode::kAccessDenied, "", ""},
      {"invalid:function:name", std::nullopt, StatusCode::kValidation, "", ""},
      {"my-fn", "bad?qualifier", StatusCode::kValidation, "", ""},
      {"my fn", std::nullopt, StatusCode::kValidation, "", ""},
      // Names that look like the start of an ARN (found by the fuzzer).
      {"arn:awsa", std::nullopt, StatusCode::kOk, "arn", "awsa"},
      {"function:f", std::nullopt, StatusCode::kOk, "f", ""},  // the grammar takes the prefix
      {"123456789012:f", std::nullopt, StatusCode::kOk, "f", ""},
      {"123456789012:function:f:live", std::nullopt, StatusCode::kOk, "f", "live"},
      {"arn:aws:lambda:us-east-1:123456789012:f", std::nullopt, StatusCode::kOk, "f", ""},
  };
  for (const Case& c : cases) {
    auto r = ResolveFunction(c.raw, shapes::kNamespacedFunctionName, kScope, c.query);
    EXPECT_EQ(r.status().code(), c.code) << c.raw << " " << r.status().message();
    if (r.ok()) {
      EXPECT_EQ(r->name, c.name) << c.raw;
      EXPECT_EQ(r->qualifier, c.qualifier) << c.raw;
    }
  }
}

TEST(ResolveFunctionTest, ValidationMessagesAreAws) {
  auto r = ResolveFunction("invalid:function:name", shapes::kFunctionName, kScope, std::nullopt);
  EXPECT_EQ(
      r.status().message(),
      "1 validation error detected: Value 'invalid:function:name' at 'functionName' failed "
      "to satisfy constraint: Member must satisfy regular expression pattern: "
      "(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:"
      ")?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
  std::string long_name(65, 'a');
  auto l = ResolveFunction(long_name, shapes::kFunctionName, kScope, std::nullopt);
  EXPECT_EQ(l.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(l.status().message(),
            "1 validation error detected: Value '" + long_name +
                "' at 'functionName' failed to satisfy constraint: Member must have length less "
                "than or equal to 64");
  auto m = ResolveFunction("f", shapes::kFunctionName, kScope, std::string("a", 0));
  EXPECT_EQ(m.status().code(), StatusCode::kValidation);
}

TEST(ValidatorTest, AliasPatternRejectsAllDigitNames) {
  EXPECT_FALSE(MatchesPattern(shapes::kAlias, "2024"));
  EXPECT_TRUE(MatchesPattern(shapes::kAlias, "v2024"));
  EXPECT_TRUE(MatchesPattern(shapes::kAlias, "prod_live-1"));
}

TEST(ValidatorTest, CountsSeveralErrors) {
  Validator v;
  v.Range("memorySize", 64, 128, 10240);
  v.Enum("updateRuntimeOn", "Sometimes", {"Auto", "Manual", "FunctionUpdate"});
  EXPECT_EQ(v.ToStatus().message(),
            "2 validation errors detected: Value '64' at 'memorySize' failed to satisfy "
            "constraint: Member must have value greater than or equal to 128; Value 'Sometimes' "
            "at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value "
            "set: [Auto, Manual, FunctionUpdate]");
}

}  // namespace
}  // namespace lambkin::lambdaapi
