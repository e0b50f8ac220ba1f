#include <gtest/gtest.h>

#include "oci/image.h"
#include "oci/test_util.h"

namespace lambkin::oci {
namespace {

using testing::MakeTar;
using testing::TempDir;

class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(BlobStore::Open(tmp_.Sub("blobs"))).value();
    testing::LayoutWriter layout(tmp_.Sub("layout"));
    amd64_ = layout.AddImage("amd64", {MakeTar({{"arch", 'f', "amd64"}})});
    arm64_ = layout.AddImage("arm64", {MakeTar({{"arch", 'f', "arm64"}})});
    index_ = layout.AddIndex({amd64_, arm64_});
    layout.WriteTopIndex({{"single", amd64_}, {"multi", index_}});
  }

  TempDir tmp_;
  std::unique_ptr<BlobStore> store_;
  Descriptor amd64_, arm64_, index_;
};

TEST_F(LayoutTest, ByNameDigestAndPlatform) {
  Result<ResolvedImage> single =
      ImportLayout(tmp_.Sub("layout"), "single", {"linux", "amd64", ""}, store_.get());
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ(single->descriptor.digest, amd64_.digest);
  EXPECT_EQ(single->config.working_dir, "/var/task");
  EXPECT_TRUE(store_->Has(amd64_.digest));
  EXPECT_TRUE(store_->Has(single->manifest.config.digest));
  EXPECT_TRUE(store_->Has(single->manifest.layers[0].digest));

  Result<ResolvedImage> multi =
      ImportLayout(tmp_.Sub("layout"), index_.digest, {"linux", "arm64", ""}, store_.get());
  ASSERT_TRUE(multi.ok()) << multi.status().message();
  EXPECT_EQ(multi->descriptor.digest, arm64_.digest);
  EXPECT_EQ(multi->config.architecture, "arm64");
  ASSERT_TRUE(Unpack(*store_, multi->manifest, tmp_.Sub("rootfs")).ok());
  EXPECT_EQ(testing::ReadFile(tmp_.Sub("rootfs/arch")), "arm64");
}

TEST_F(LayoutTest, Refusals) {
  Result<ResolvedImage> ambiguous =
      ImportLayout(tmp_.Sub("layout"), "", {"linux", "amd64", ""}, store_.get());
  EXPECT_EQ(ambiguous.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(ambiguous.status().message().find("single, multi"), std::string::npos);
  EXPECT_EQ(ImportLayout(tmp_.Sub("layout"), "nope", {"linux", "amd64", ""}, store_.get())
                .status()
                .code(),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(ImportLayout(tmp_.Sub("layout"), "single", {"linux", "arm64", ""}, store_.get())
                .status()
                .code(),
            StatusCode::kInvalidParameterValue);
  EXPECT_EQ(ImportLayout(tmp_.Sub("layout"), "multi", {"linux", "s390x", ""}, store_.get())
                .status()
                .code(),
            StatusCode::kResourceNotFound);
  EXPECT_FALSE(ImportLayout(tmp_.Sub("nowhere"), "", {"linux", "amd64", ""}, store_.get()).ok());

  // A damaged layer blob in the layout is not copied in.
  Result<Manifest> m =
      ParseManifest(testing::ReadFile(tmp_.Sub("layout/blobs/sha256/" + amd64_.digest.substr(7))));
  ASSERT_TRUE(m.ok());
  std::string layer = tmp_.Sub("layout/blobs/sha256/" + m->layers[0].digest.substr(7));
  testing::WriteFile(layer, "damaged");
  Result<ResolvedImage> damaged =
      ImportLayout(tmp_.Sub("layout"), "single", {"linux", "amd64", ""}, store_.get());
  EXPECT_EQ(damaged.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_FALSE(store_->Has(m->layers[0].digest));
  EXPECT_FALSE(store_->Has(amd64_.digest));  // the manifest goes in last
}

}  // namespace
}  // namespace lambkin::oci
