#include "server/request.h"

#include <gtest/gtest.h>

namespace lambkin::server {
namespace {

TEST(ParseTargetTest, SplitsBeforeDecoding) {
  HttpRequest r;
  ASSERT_TRUE(ParseTarget(
      "/2021-07-20/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/"
      "runtime-management-config?Qualifier=%24LATEST",
      r));
  ASSERT_EQ(r.path.size(), 4u);
  EXPECT_EQ(r.path[2], "arn:aws:lambda:us-east-1:123456789012:function:my-fn");
  EXPECT_EQ(r.Query("Qualifier"), "$LATEST");
}

TEST(ParseTargetTest, EncodedSlashDoesNotSplit) {
  HttpRequest r;
  ASSERT_TRUE(ParseTarget("/a/b%2Fc", r));
  ASSERT_EQ(r.path.size(), 2u);
  EXPECT_EQ(r.path[1], "b/c");
}

TEST(ParseTargetTest, PlusStaysLiteral) {
  HttpRequest r;
  ASSERT_TRUE(ParseTarget("/f?x=a+b", r));
  EXPECT_EQ(r.Query("x"), "a+b");
}

TEST(ParseTargetTest, RejectsMalformedEscapes) {
  HttpRequest r;
  EXPECT_FALSE(ParseTarget("/a%2", r));
  EXPECT_FALSE(ParseTarget("/a%zz", r));
  EXPECT_FALSE(ParseTarget("/f?x=%G0", r));
  EXPECT_FALSE(ParseTarget("no-slash", r));
}

TEST(MatchRouteTest, LiteralsAndLabels) {
  struct Case {
    const char* pattern;
    const char* target;
    bool matches;
    const char* label;  // the value of {Name}, when it matches
  };
  const Case cases[] = {
      {"/lambkin/v1/health", "/lambkin/v1/health", true, nullptr},
      {"/lambkin/v1/health", "/lambkin/v1/health/x", false, nullptr},
      {"/lambkin/v1/health", "/lambkin/v1", false, nullptr},
      {"/lambkin/v1/rollouts/{Name}/pause", "/lambkin/v1/rollouts/python%3A3.12.v2/pause", true,
       "python:3.12.v2"},
      {"/lambkin/v1/rollouts/{Name}/pause", "/lambkin/v1/rollouts//pause", false, nullptr},
      {"/lambkin/v1/rollouts/{Name}/pause", "/lambkin/v1/rollouts/a/resume", false, nullptr},
      {"/lambkin/v1/rollouts/{Name}", "/lambkin/v1/rollouts/a%2Fb", true, "a/b"},
  };
  for (const Case& c : cases) {
    HttpRequest r;
    ASSERT_TRUE(ParseTarget(c.target, r)) << c.target;
    std::map<std::string, std::string> labels;
    EXPECT_EQ(MatchRoute(c.pattern, r.path, labels), c.matches) << c.pattern << " " << c.target;
    if (c.matches && c.label != nullptr) {
      EXPECT_EQ(labels["Name"], c.label);
    }
  }
}

}  // namespace
}  // namespace lambkin::server
