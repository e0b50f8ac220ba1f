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

TEST(CryptoTest, Sha256HasherMatchesOneShot) {
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(HexEncode(h.Finish()), Sha256Hex("abc"));
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than a block is hashed first).
TEST(CryptoTest, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexEncode(HmacSha256(std::string(131, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(CryptoTest, PreparedHmacKeySignsManyMessages) {
  HmacSha256Key key("Jefe");
  HmacSha256Key moved(std::move(key));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(HexEncode(moved.Sign("what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  EXPECT_EQ(moved.Sign("Hi There"), HmacSha256("Jefe", "Hi There"));
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
  // The variant bits: 8, 9, a or b.
  EXPECT_NE(std::string_view("89ab").find(a[19]), std::string_view::npos) << a;
}

TEST(CryptoTest, RandomBytesHaveTheLengthAskedAndDiffer) {
  EXPECT_EQ(RandomBytes(0), "");
  std::string a = RandomBytes(32), b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

TEST(ClockTest, FormatsAwsTimestamps) {
  EXPECT_EQ(FormatAwsTimestamp(0), "1970-01-01T00:00:00.000+0000");
  EXPECT_EQ(FormatAwsTimestamp(1706702400123), "2024-01-31T12:00:00.123+0000");
}

}  // namespace
}  // namespace lambkin
