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

}  // namespace
}  // namespace lambkin::server
