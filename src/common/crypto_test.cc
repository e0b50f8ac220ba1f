#include "common/crypto.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/clock.h"

namespace lambkin {
namespace {

TEST(CryptoTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, Base64RoundTrips) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff", 2)}) {
    auto decoded = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(decoded.has_value()) << s;
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(CryptoTest, Base64RejectsMalformedInput) {
  for (const char* bad : {"Zm9", "Zm9v!mFy", "Z=9v", "Zm9vYmFy\n", "====", "Zg=a"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

TEST(CryptoTest, UuidsAreVersion4AndDistinct) {
  std::string a = RandomUuid(), b = RandomUuid();
  EXPECT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(a, b);
}

TEST(ClockTest, FormatsAwsTimestamps) {
  EXPECT_EQ(FormatAwsTimestamp(0), "1970-01-01T00:00:00.000+0000");
  EXPECT_EQ(FormatAwsTimestamp(1706702400123), "2024-01-31T12:00:00.123+0000");
}

}  // namespace
}  // namespace lambkin
