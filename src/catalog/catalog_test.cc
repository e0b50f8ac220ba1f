#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/crypto.h"

namespace lambkin::catalog {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/catalog-" + RandomUuid();
    fs::create_directories(dir_);
    auto db = store::Database::Open(dir_ + "/db", kCatalogSchema);
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    auto c = Catalog::Open(db_.get(), &regions_, dir_, &clock_);
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(*c);
  }

  // A bundle directory with a manifest and an executable bootstrap.
  std::string MakeBundle(const std::string& name, const std::string& runtime,
                         const std::string& content) {
    fs::path p = fs::path(dir_) / name;
    fs::create_directories(p);
    std::ofstream(p / "manifest.json") << R"({"runtime":")" << runtime << R"(","version":1})";
    std::ofstream(p / "bootstrap") << "#!/bin/sh\n" << content << "\n";
    fs::permissions(p / "bootstrap", fs::perms::owner_all);
    return p.string();
  }

  std::string dir_;
  RegionSet regions_ = RegionSet::Default();
  ManualClock clock_{1700000000000};
  std::unique_ptr<store::Database> db_;
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

TEST_F(CatalogTest, RegistersBuiltinsOnce) {
  const char* src = std::getenv("LAMBKIN_RUNTIMES_DIR");
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(catalog_->RegisterBuiltins(src).ok());
  EXPECT_TRUE(catalog_->HasRuntime("provided.al2023"));
  auto provided = catalog_->Newest("provided.al2023");
  ASSERT_TRUE(provided.has_value());
  EXPECT_EQ(provided->name, "provided:al2023.v1");
  size_t count = catalog_->List().size();
  ASSERT_TRUE(catalog_->RegisterBuiltins(src).ok());
  EXPECT_EQ(catalog_->List().size(), count);
  // The published copy is read-only and carries the resolved manifest.
  EXPECT_TRUE(fs::exists(fs::path(provided->bundle_dir) / "bootstrap"));
  auto digest = BundleDigest(provided->bundle_dir);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, provided->digest);
}

TEST_F(CatalogTest, ArnsDifferPerRegionAndArchitectureAndResolveBack) {
  auto v = catalog_->Publish({"provided.al2023", 1, MakeBundle("b1", "provided.al2023", "a")});
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
  std::string b = MakeBundle("b", "provided.al2023", "one");
  ASSERT_TRUE(catalog_->Publish({"provided.al2023", 42, b}).ok());
  EXPECT_EQ(catalog_->Publish({"provided.al2023", 42, b}).status().code(),
            StatusCode::kResourceConflict);
  EXPECT_EQ(catalog_->Publish({"provided.al2023", 41, b}).status().code(),
            StatusCode::kResourceConflict);
  auto v45 = catalog_->Publish({"provided.al2023", 45, b});
  ASSERT_TRUE(v45.ok());
  EXPECT_EQ(catalog_->Newest("provided.al2023")->number, 45);
  EXPECT_EQ(catalog_->Publish({"cobol42", 1, b}).status().code(),
            StatusCode::kInvalidParameterValue);
  fs::remove(fs::path(b) / "bootstrap");
  EXPECT_EQ(catalog_->Publish({"provided.al2023", 46, b}).status().code(),
            StatusCode::kInvalidParameterValue);
  EXPECT_EQ(catalog_->List().size(), 2u);
  // Survives a reopen.
  auto reopened = Catalog::Open(db_.get(), &regions_, dir_, &clock_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Newest("provided.al2023")->digest, v45->digest);
}

TEST_F(CatalogTest, DigestCoversContentAndModes) {
  std::string a = MakeBundle("x", "provided.al2023", "echo 1");
  auto d1 = BundleDigest(a);
  std::ofstream(fs::path(a) / "bootstrap", std::ios::app) << "#";
  auto d2 = BundleDigest(a);
  fs::permissions(fs::path(a) / "bootstrap", fs::perms::owner_read | fs::perms::owner_write);
  auto d3 = BundleDigest(a);
  ASSERT_TRUE(d1.ok() && d2.ok() && d3.ok());
  EXPECT_NE(*d1, *d2);
  EXPECT_NE(*d2, *d3);
  fs::create_symlink("/etc/passwd", fs::path(a) / "link");
  EXPECT_FALSE(BundleDigest(a).ok());
}

}  // namespace
}  // namespace lambkin::catalog
