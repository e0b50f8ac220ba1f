#include "functions/code_package.h"

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "functions/zip_testing.h"

namespace lambkin::functions {
namespace {

using testing::MakeZip;

TEST(InspectZipTest, DescribesAValidPackage) {
  std::string zip = MakeZip({{"index.py", "def handler(e, c):\n  return 1\n"}, {"lib/a.txt", "x"}});
  auto info = InspectZip(zip);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->size, static_cast<int64_t>(zip.size()));
  EXPECT_EQ(info->sha256_base64, Base64Encode(Sha256(zip)));
  EXPECT_EQ(info->entries, 2);
  EXPECT_EQ(info->unzipped_size, 31);
}

TEST(InspectZipTest, RejectsWhatLambdaRejects) {
  const char kCouldNotUnzip[] =
      "Could not unzip uploaded file. Please check your file, then try to upload again.";
  for (const std::string& bad :
       {std::string("not a zip at all, just text......"), MakeZip({{"../escape.py", "x"}}),
        MakeZip({{"/etc/passwd", "x"}}), MakeZip({{"a/../../b", "x"}})}) {
    auto r = InspectZip(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue);
    EXPECT_EQ(r.status().message(), kCouldNotUnzip);
  }
  std::string truncated = MakeZip({{"a.py", std::string(1000, 'a')}});
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(InspectZip(truncated).ok());
  EXPECT_TRUE(InspectZip(MakeZip({{"a/./b/../c.py", "x"}})).ok());
}

TEST(InspectZipTest, EnforcesSizeLimits) {
  std::string big(kMaxZippedBytes + 1, 'x');
  auto r = InspectZip(big);
  EXPECT_EQ(r.status().code(), StatusCode::kRequestEntityTooLarge);
  EXPECT_EQ(r.status().message(), "Zipped size must be smaller than 52428800 bytes");
}

TEST(CodePackageStoreTest, StoresByDigest) {
  std::string dir = ::testing::TempDir() + "/code-" + RandomUuid();
  CodePackageStore store(dir);
  ASSERT_TRUE(store.Init().ok());
  std::string zip = MakeZip({{"a.py", "x"}});
  auto info = InspectZip(zip);
  ASSERT_TRUE(store.Put(*info, zip).ok());
  auto back = store.Get(info->sha256_hex);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, zip);
  store.Remove(info->sha256_hex);
  EXPECT_FALSE(store.Get(info->sha256_hex).ok());
}

}  // namespace
}  // namespace lambkin::functions
