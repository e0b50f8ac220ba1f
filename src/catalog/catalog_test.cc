#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "catalog/testing.h"
#include "common/crypto.h"

namespace lambkin::catalog {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/catalog-" + RandomUuid();
    fs::create_directories(dir_);
    auto db = store::Database::Open(dir_ + "/db", Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    auto blobs = oci::BlobStore::Open(dir_ + "/blobs");
    ASSERT_TRUE(blobs.ok()) << blobs.status().message();
    blobs_ = std::move(*blobs);
    Open();
  }

  void Open() {
    auto c =
        Catalog::Open(db_.get(), &regions_, dir_, &clock_, blobs_.get(), testing::FetchForTest);
    ASSERT_TRUE(c.ok()) << c.status().message();
    catalog_ = std::move(*c);
  }

  // A layout under the test directory; returns its oci: source.
  std::string Image(const std::string& name, const std::string& content, int mode = 0755,
                    const std::string& label = "", const std::string& package_version = "1.0-1") {
    return testing::WriteTestImage(dir_ + "/" + name, {content, mode, label, package_version});
  }

  std::string dir_;
  RegionSet regions_ = RegionSet::Default();
  ManualClock clock_{1700000000000};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<oci::BlobStore> blobs_;
  std::unique_ptr<Catalog> catalog_;
};

TEST(RuntimeVersionNameTest, FollowsLambdaNaming) {
  EXPECT_EQ(RuntimeVersionName("python3.12", 21), "python:3.12.v21");
  EXPECT_EQ(RuntimeVersionName("nodejs20.x", 22), "nodejs:20.v22");
  EXPECT_EQ(RuntimeVersionName("provided.al2023", 10), "provided:al2023.v10");
}

TEST(RegionSetTest, DefaultAndConfigured) {
  RegionSet d = RegionSet::Default();
  ASSERT_NE(d.Find("eu-south-1"), nullptr);
  EXPECT_TRUE(d.Find("eu-south-1")->runtime_management_controls);
  ASSERT_NE(d.Find("cn-north-1"), nullptr);
  EXPECT_FALSE(d.Find("cn-north-1")->runtime_management_controls);
  EXPECT_EQ(d.Find("cn-north-1")->partition, "aws-cn");
  EXPECT_EQ(d.all().size(), 24u);
  auto c = RegionSet::FromJson(
      R"({"default_region":"eu-west-1","runtime_management":["eu-west-1"],"without_runtime_management":["us-gov-west-1"]})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->all().size(), 2u);
  EXPECT_EQ(c->Find("us-gov-west-1")->partition, "aws-us-gov");
  EXPECT_FALSE(RegionSet::FromJson(R"({"default_region":"mars-1"})").ok());
  EXPECT_FALSE(RegionSet::FromJson(R"({"runtime_management":["Not A Region"]})").ok());
}

TEST_F(CatalogTest, RegistersBuiltinLayoutsOnce) {
  fs::create_directories(dir_ + "/builtins");
  testing::WriteTestImage(dir_ + "/builtins/provided.al2023");
  testing::WriteTestImage(dir_ + "/builtins/not-a-runtime");
  ASSERT_TRUE(catalog_->RegisterBuiltins(dir_ + "/builtins").ok());
  EXPECT_TRUE(catalog_->HasRuntime("provided.al2023"));
  EXPECT_FALSE(catalog_->HasRuntime("not-a-runtime"));
  auto provided = catalog_->Newest("provided.al2023");
  ASSERT_TRUE(provided.has_value());
  EXPECT_EQ(provided->name, "provided:al2023.v1");
  size_t count = catalog_->List().size();
  ASSERT_TRUE(catalog_->RegisterBuiltins(dir_ + "/builtins").ok());
  EXPECT_EQ(catalog_->List().size(), count);
  // The root filesystem is unpacked once, with the mount points environments need.
  EXPECT_TRUE(fs::exists(fs::path(provided->rootfs_dir) / "var/runtime/bootstrap"));
  for (const char* p :
       {"proc", "dev", "tmp", "var/task", "opt", "var/lambkin/init", "etc/resolv.conf"}) {
    EXPECT_TRUE(fs::exists(fs::path(provided->rootfs_dir) / p)) << p;
  }
  ASSERT_EQ(provided->bom->size(), 1u);
  EXPECT_EQ((*provided->bom)[0].name, "libtest1");
  EXPECT_TRUE(oci::IsDigest(provided->image_digest));
  EXPECT_TRUE(blobs_->Has(provided->image_digest));
}

TEST_F(CatalogTest, ArnsDifferPerRegionAndArchitectureAndResolveBack) {
  auto v = catalog_->Publish({"provided.al2023", 1, Image("b1", "a")});
  ASSERT_TRUE(v.ok()) << v.status().message();
  std::string east = catalog_->Arn(*v, "us-east-1", Architecture::kX86_64);
  std::string east_arm = catalog_->Arn(*v, "us-east-1", Architecture::kArm64);
  std::string west = catalog_->Arn(*v, "us-west-2", Architecture::kX86_64);
  std::string cn = catalog_->Arn(*v, "cn-north-1", Architecture::kX86_64);
  EXPECT_NE(east, east_arm);
  EXPECT_NE(east, west);
  EXPECT_TRUE(east.starts_with("arn:aws:lambda:us-east-1::runtime:"));
  EXPECT_EQ(east.size(), std::string("arn:aws:lambda:us-east-1::runtime:").size() + 64);
  EXPECT_TRUE(cn.starts_with("arn:aws-cn:lambda:cn-north-1::runtime:"));
  auto target = catalog_->ResolveArn(east_arm);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(target->id, v->id);
  EXPECT_EQ(target->region, "us-east-1");
  EXPECT_EQ(target->arch, Architecture::kArm64);
  EXPECT_FALSE(catalog_->ResolveArn(east + "0").has_value());
}

TEST_F(CatalogTest, PublishRulesKeepVersionsImmutableAndRising) {
  std::string b = Image("b", "one");
  ASSERT_TRUE(catalog_->Publish({"provided.al2023", 42, b}).ok());
  EXPECT_EQ(catalog_->Publish({"provided.al2023", 42, b}).status().code(),
            StatusCode::kResourceConflict);
  EXPECT_EQ(catalog_->Publish({"provided.al2023", 41, b}).status().code(),
            StatusCode::kResourceConflict);
  // The same image again is another version, with ARNs of its own; 0 is the next number.
  auto v43 = catalog_->Publish({"provided.al2023", 0, b});
  ASSERT_TRUE(v43.ok()) << v43.status().message();
  EXPECT_EQ(v43->number, 43);
  EXPECT_NE(v43->digest, catalog_->Find("provided:al2023.v42")->digest);
  EXPECT_EQ(v43->rootfs_dir, catalog_->Find("provided:al2023.v42")->rootfs_dir);
  auto v45 = catalog_->Publish({"provided.al2023", 45, Image("c", "two", 0755, "", "2.0-1")});
  ASSERT_TRUE(v45.ok());
  EXPECT_EQ(catalog_->Newest("provided.al2023")->number, 45);
  EXPECT_EQ(catalog_->Publish({"cobol42", 1, b}).status().code(),
            StatusCode::kInvalidParameterValue);
  // An image without an executable /var/runtime/bootstrap is not a runtime.
  auto no_exec = catalog_->Publish({"provided.al2023", 46, Image("d", "three", 0644)});
  EXPECT_EQ(no_exec.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(no_exec.status().message().find("/var/runtime/bootstrap"), std::string::npos);
  // An image labelled for another runtime is refused.
  auto other = catalog_->Publish({"provided.al2023", 46, Image("e", "four", 0755, "nodejs20.x")});
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(catalog_->List().size(), 3u);
  // What changed between two versions.
  auto diff = DiffBom(*v43->bom, *v45->bom);
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0].name, "libtest1");
  EXPECT_EQ(diff[0].from, "1.0-1");
  EXPECT_EQ(diff[0].to, "2.0-1");
  // Survives a reopen, image and bill of materials included.
  Open();
  auto again = catalog_->Newest("provided.al2023");
  EXPECT_EQ(again->digest, v45->digest);
  EXPECT_EQ(again->image_digest, v45->image_digest);
  EXPECT_EQ(*again->bom, *v45->bom);
}

TEST(ImageTagsTest, RepositoryTagAndMovingTag) {
  EXPECT_EQ(ImageRepositoryAndTag("python:3.11.v2"),
            std::make_pair(std::string("python"), std::string("3.11.v2")));
  EXPECT_EQ(MovingTag("python3.11"), "3.11");
  EXPECT_EQ(MovingTag("nodejs20.x"), "20");
  EXPECT_EQ(MovingTag("provided.al2023"), "al2023");
}

}  // namespace
}  // namespace lambkin::catalog
