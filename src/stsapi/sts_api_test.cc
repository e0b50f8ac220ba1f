#include "stsapi/sts_api.h"

#include <gtest/gtest.h>

namespace lambkin::stsapi {
namespace {

TEST(CallerUserIdTest, AwsShapesDerivedFromThePrincipal) {
  iam::Caller alice{"111122223333", "arn:aws:iam::111122223333:user/alice",
                    "arn:aws:iam::111122223333:user/alice"};
  iam::Caller bob{"111122223333", "arn:aws:iam::111122223333:user/bob",
                  "arn:aws:iam::111122223333:user/bob"};
  std::string id = CallerUserId(alice);
  EXPECT_EQ(id.size(), 21U);
  EXPECT_TRUE(id.starts_with("AIDA")) << id;
  EXPECT_EQ(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), std::string::npos);
  EXPECT_EQ(CallerUserId(alice), id);
  EXPECT_NE(CallerUserId(bob), id);

  iam::Caller session{"111122223333", "arn:aws:sts::111122223333:assumed-role/app/fn",
                      "arn:aws:iam::111122223333:role/app"};
  iam::Caller other{"111122223333", "arn:aws:sts::111122223333:assumed-role/app/other",
                    "arn:aws:iam::111122223333:role/app"};
  std::string s = CallerUserId(session);
  EXPECT_TRUE(s.starts_with("AROA")) << s;
  EXPECT_TRUE(s.ends_with(":fn")) << s;
  // One role, one id: sessions differ only in their names.
  EXPECT_EQ(CallerUserId(other), s.substr(0, 21) + ":other");

  iam::Caller root{"111122223333", "arn:aws:iam::111122223333:root",
                   "arn:aws:iam::111122223333:root"};
  EXPECT_EQ(CallerUserId(root), "111122223333");
}

}  // namespace
}  // namespace lambkin::stsapi
