#include "functions/function_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "catalog/testing.h"
#include "common/crypto.h"
#include "functions/function_policies.h"
#include "functions/zip_testing.h"
#include "store/postgres_testing.h"

namespace lambkin::functions {
namespace {

namespace fs = std::filesystem;
using catalog::Architecture;

// Every test runs on SQLite and, when LAMBKIN_TEST_POSTGRES names a server, on PostgreSQL.
class FunctionServiceTest : public ::testing::TestWithParam<store::Engine> {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/functions-" + RandomUuid();
    fs::create_directories(dir_);
    auto location = store::testing::StoreLocation(GetParam(), dir_ + "/db", &pg_);
    ASSERT_TRUE(location.ok()) << location.status().message();
    if (location->empty()) GTEST_SKIP() << "LAMBKIN_TEST_POSTGRES is not set";
    location_ = *location;
    auto db = store::Database::Open(*location, catalog::Schema() + Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    blobs_ = std::move(oci::BlobStore::Open(dir_ + "/blobs")).value();
    catalog_ = std::move(catalog::Catalog::Open(db_.get(), &regions_, dir_, &clock_, blobs_.get(),
                                                catalog::testing::FetchForTest))
                   .value();
    v1_ = Publish(1);
    code_ = std::make_unique<CodePackageStore>(db_.get(), dir_ + "/code");
    ASSERT_TRUE(code_->Init().ok());
    svc_ = std::make_unique<FunctionService>(db_.get(), catalog_.get(), &regions_, code_.get(),
                                             &clock_);
  }

  catalog::RuntimeVersion Publish(int64_t number, const std::string& runtime = "provided.al2023") {
    std::string image = catalog::testing::WriteTestImage(
        (fs::path(dir_) / fmt::format("image-{}-{}", runtime, number)).string());
    auto v = catalog_->Publish({runtime, number, image});
    EXPECT_TRUE(v.ok()) << v.status().message();
    return *v;
  }

  void TearDown() override {
    svc_.reset();
    code_.reset();
    catalog_.reset();
    db_.reset();
    pg_.reset();
  }

  Result<WriteResult> Create(const std::string& name, bool publish = false,
                             Architecture arch = Architecture::kX86_64,
                             std::string zip = testing::MakeZip({{"bootstrap", "#!/bin/sh\n"}})) {
    CreateFunctionCommand cmd;
    cmd.name = name;
    cmd.config.runtime = "provided.al2023";
    cmd.config.handler = "function.handler";
    cmd.config.role = "arn:aws:iam::123456789012:role/r";
    cmd.config.architecture = arch;
    cmd.zip = std::move(zip);
    cmd.publish = publish;
    return svc_->CreateFunction(scope_, std::move(cmd));
  }

  std::string ArnOf(const catalog::RuntimeVersion& v, Architecture arch = Architecture::kX86_64) {
    return catalog_->Arn(v, scope_.region, arch);
  }

  std::unique_ptr<store::testing::TestPostgresDatabase> pg_;
  std::string location_;
  std::string dir_;
  catalog::RegionSet regions_ = catalog::RegionSet::Default();
  ManualClock clock_{1700000000000};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<oci::BlobStore> blobs_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<CodePackageStore> code_;
  std::unique_ptr<FunctionService> svc_;
  catalog::RuntimeVersion v1_;
  Scope scope_{"123456789012", "us-east-1"};
};

TEST_P(FunctionServiceTest, NewFunctionIsAutoOnNewestRuntimeVersion) {
  auto v2 = Publish(2);
  auto r = Create("f");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->latest.update_mode, UpdateMode::kAuto);
  EXPECT_EQ(r->latest.runtime_version, v2.id);
  auto cfg = svc_->GetRuntimeManagementConfig(scope_, "f", "");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->update_mode, UpdateMode::kAuto);
  EXPECT_FALSE(cfg->runtime_version_arn.has_value());
  EXPECT_EQ(Create("f").status().code(), StatusCode::kResourceConflict);
}

TEST_P(FunctionServiceTest, ManualPinsAnOlderVersionAndBlocksRuntimeChanges) {
  ASSERT_TRUE(Create("f").ok());
  auto v2 = Publish(2);
  // Auto on update moves to the newest.
  UpdateConfigurationCommand touch;
  touch.description = "touched";
  auto updated = svc_->UpdateFunctionConfiguration(scope_, "f", touch);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->runtime_version, v2.id);
  // Roll back by pinning v1.
  auto pinned =
      svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kManual, ArnOf(v1_)});
  ASSERT_TRUE(pinned.ok()) << pinned.status().message();
  EXPECT_EQ(pinned->runtime_version_arn, ArnOf(v1_));
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "")->runtime_version, v1_.id);
  // Updates keep the pin.
  ASSERT_TRUE(svc_->UpdateFunctionConfiguration(scope_, "f", touch).ok());
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "")->runtime_version, v1_.id);
  // Architecture change is refused while Manual and changes nothing.
  UpdateCodeCommand code{testing::MakeZip({{"x", "y"}}), Architecture::kArm64};
  auto refused = svc_->UpdateFunctionCode(scope_, "f", code);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidParameterValue);
  auto after = svc_->GetFunctionVersion(scope_, "f", "");
  EXPECT_EQ(after->config.architecture, Architecture::kX86_64);
  EXPECT_EQ(after->config.description, "touched");
  // Back to Auto: newest again.
  auto autod = svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kAuto, {}});
  ASSERT_TRUE(autod.ok());
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "")->runtime_version, v2.id);
  auto history = svc_->RuntimeVersionHistory(scope_, "f");
  ASSERT_TRUE(history.ok());
  std::vector<std::string> causes;
  for (const auto& e : *history) causes.push_back(e.cause);
  EXPECT_EQ(causes, (std::vector<std::string>{"create", "function-update", "pin", "auto"}));
}

TEST_P(FunctionServiceTest, ManualRejectsArnsOfOtherRegionsArchitecturesOrRuntimes) {
  ASSERT_TRUE(Create("f").ok());
  auto node = Publish(1, "nodejs20.x");
  const std::string bad[] = {catalog_->Arn(v1_, "us-west-2", Architecture::kX86_64),
                             ArnOf(v1_, Architecture::kArm64), ArnOf(node),
                             "arn:aws:lambda:us-east-1::runtime:" + std::string(64, 'a')};
  for (const auto& arn : bad) {
    auto r = svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kManual, arn});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue) << arn;
  }
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(scope_, "f", "")->update_mode, UpdateMode::kAuto);
  EXPECT_EQ(
      svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kManual, {}}).status().code(),
      StatusCode::kInvalidParameterValue);
  EXPECT_EQ(svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kAuto, ArnOf(v1_)})
                .status()
                .code(),
            StatusCode::kInvalidParameterValue);
}

TEST_P(FunctionServiceTest, PublishedVersionsKeepRuntimeVersionAndMode) {
  ASSERT_TRUE(Create("f").ok());
  ASSERT_TRUE(
      svc_->PutRuntimeManagementConfig(scope_, "f", "", {UpdateMode::kFunctionUpdate, {}}).ok());
  auto p1 = svc_->PublishVersion(scope_, "f", {});
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->version, "1");
  EXPECT_EQ(p1->update_mode, UpdateMode::kFunctionUpdate);
  // Unchanged $LATEST publishes nothing new.
  EXPECT_EQ(svc_->PublishVersion(scope_, "f", {})->version, "1");
  auto v2 = Publish(2);
  UpdateConfigurationCommand touch;
  touch.timeout = 10;
  ASSERT_TRUE(svc_->UpdateFunctionConfiguration(scope_, "f", touch).ok());
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "$LATEST")->runtime_version, v2.id);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "1")->runtime_version, v1_.id);
  auto p2 = svc_->PublishVersion(scope_, "f", {});
  EXPECT_EQ(p2->version, "2");
  EXPECT_EQ(p2->runtime_version, v2.id);
  // Per-version config round-trips by number; aliases are not versions.
  ASSERT_TRUE(svc_->PutRuntimeManagementConfig(scope_, "f", "1", {UpdateMode::kAuto, {}}).ok());
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(scope_, "f", "1")->update_mode, UpdateMode::kAuto);
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(scope_, "f", "2")->update_mode,
            UpdateMode::kFunctionUpdate);
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(scope_, "f", "9").status().code(),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(scope_, "f", "prod").status().code(),
            StatusCode::kInvalidParameterValue);
}

TEST_P(FunctionServiceTest, RegionsWithoutControlsAreAlwaysAuto) {
  Scope cn{"123456789012", "cn-north-1"};
  CreateFunctionCommand cmd;
  cmd.name = "f";
  cmd.config.runtime = "provided.al2023";
  cmd.zip = testing::MakeZip({{"bootstrap", "x"}});
  ASSERT_TRUE(svc_->CreateFunction(cn, cmd).ok());
  EXPECT_TRUE(svc_->PutRuntimeManagementConfig(cn, "f", "", {UpdateMode::kAuto, {}}).ok());
  auto r = svc_->PutRuntimeManagementConfig(cn, "f", "", {UpdateMode::kFunctionUpdate, {}});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(r.status().message().find("cn-north-1"), std::string::npos);
  EXPECT_EQ(svc_->GetRuntimeManagementConfig(cn, "f", "")->update_mode, UpdateMode::kAuto);
  EXPECT_TRUE(svc_->RuntimeVersionArn(cn, *svc_->GetFunctionVersion(cn, "f", ""))
                  .starts_with("arn:aws-cn:lambda:cn-north-1::runtime:"));
}

TEST_P(FunctionServiceTest, ConcurrentUpdatesAreNeverLost) {
  ASSERT_TRUE(Create("f").ok());
  // Four writers, each owning one member; every update is read-modify-write of $LATEST.
  constexpr int kEach = 25;
  std::mutex mu;
  std::set<std::string> revisions;
  auto writer = [&](int which) {
    for (int i = 1; i <= kEach; ++i) {
      UpdateConfigurationCommand c;
      if (which == 0) c.timeout = i;
      if (which == 1) c.memory_size = 128 + i;
      if (which == 2) c.description = fmt::format("d{}", i);
      if (which == 3) c.handler = fmt::format("h{}", i);
      auto r = svc_->UpdateFunctionConfiguration(scope_, "f", c);
      ASSERT_TRUE(r.ok());
      std::lock_guard lock(mu);
      revisions.insert(r->revision_id);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(writer, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(revisions.size(), 4u * kEach);
  auto latest = svc_->GetFunctionVersion(scope_, "f", "");
  EXPECT_EQ(latest->config.timeout, kEach);
  EXPECT_EQ(latest->config.memory_size, 128 + kEach);
  EXPECT_EQ(latest->config.description, fmt::format("d{}", kEach));
  EXPECT_EQ(latest->config.handler, fmt::format("h{}", kEach));
}

TEST_P(FunctionServiceTest, AliasesGuardTheirVersionsAndRouteWeights) {
  ASSERT_TRUE(Create("f", /*publish=*/true).ok());
  UpdateConfigurationCommand touch;
  touch.timeout = 5;
  ASSERT_TRUE(svc_->UpdateFunctionConfiguration(scope_, "f", touch).ok());
  ASSERT_TRUE(svc_->PublishVersion(scope_, "f", {}).ok());
  AliasCommand a{"live", "1", "", RoutingConfig{{{"2", 0.25}}}};
  auto alias = svc_->CreateAlias(scope_, "f", a);
  ASSERT_TRUE(alias.ok()) << alias.status().message();
  EXPECT_EQ(svc_->CreateAlias(scope_, "f", a).status().code(), StatusCode::kResourceConflict);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "live")->version, "1");
  EXPECT_EQ(svc_->DeleteFunction(scope_, "f", "2").code(), StatusCode::kResourceConflict);
  AliasCommand shift{"live", "2", {}, RoutingConfig{}};
  auto shifted = svc_->UpdateAlias(scope_, "f", shift);
  ASSERT_TRUE(shifted.ok());
  EXPECT_FALSE(shifted->routing.has_value());
  EXPECT_TRUE(svc_->DeleteFunction(scope_, "f", "1").ok());
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "1").status().code(),
            StatusCode::kResourceNotFound);
  AliasCommand bad{"x", "2", {}, RoutingConfig{{{"2", 0.5}}}};
  EXPECT_EQ(svc_->CreateAlias(scope_, "f", bad).status().message(),
            "Invalid function version 2. Function version 2 is already included in routing "
            "configuration.");
  EXPECT_TRUE(svc_->DeleteFunction(scope_, "f", "").ok());
  EXPECT_EQ(svc_->GetFunction(scope_, "f").status().message(),
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f");
}

// Where packages live: rows on PostgreSQL, files on SQLite.
TEST_P(FunctionServiceTest, APackageGoesWithTheLastVersionThatUsesIt) {
  bool shared = GetParam() == store::Engine::kPostgres;
  auto stored = [&](const std::string& sha) {
    if (!shared) return fs::exists(code_->PathOf(sha));
    bool row = false;
    EXPECT_TRUE(db_->ReadOne([&](store::Txn& txn) -> Status {
                     LAMBKIN_ASSIGN_OR_RETURN(
                         auto st, txn.Prepare("SELECT 1 FROM code_packages WHERE sha256 = ?"));
                     st.Bind(1, sha);
                     LAMBKIN_ASSIGN_OR_RETURN(row, st.Step());
                     return Status::Ok();
                   })
                    .ok());
    return row;
  };
  std::string x = testing::MakeZip({{"bootstrap", "#!/bin/sh\necho x\n"}});
  std::string y = testing::MakeZip({{"bootstrap", "#!/bin/sh\necho y\n"}});
  std::string xs = Sha256Hex(x);
  std::string ys = Sha256Hex(y);
  ASSERT_TRUE(Create("a", /*publish=*/true, Architecture::kX86_64, x).ok());
  ASSERT_TRUE(Create("b", false, Architecture::kX86_64, x).ok());
  EXPECT_TRUE(stored(xs));
  if (shared) {
    // Another node, with a directory of its own, runs it.
    CodePackageStore other(db_.get(), dir_ + "/other");
    ASSERT_TRUE(other.Init().ok());
    auto unpacked = other.Unpacked(xs);
    ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
    EXPECT_TRUE(fs::exists(*unpacked + "/bootstrap"));
  }
  ASSERT_TRUE(svc_->UpdateFunctionCode(scope_, "a", {y}).ok());
  EXPECT_TRUE(stored(xs));  // a:1 and b use it
  EXPECT_TRUE(stored(ys));
  ASSERT_TRUE(code_->Unpacked(ys).ok());  // an environment runs it on this node
  ASSERT_TRUE(svc_->DeleteFunction(scope_, "b", "").ok());
  EXPECT_TRUE(stored(xs));  // a:1
  ASSERT_TRUE(svc_->DeleteFunction(scope_, "a", "1").ok());
  EXPECT_FALSE(stored(xs));
  EXPECT_EQ(code_->Get(xs).status().code(), StatusCode::kResourceNotFound);
  // Replacing $LATEST's code drops the replaced package from the store; this node's copy stays
  // for the environments that may still run it.
  ASSERT_TRUE(svc_->UpdateFunctionCode(scope_, "a", {x}).ok());
  EXPECT_TRUE(stored(xs));
  EXPECT_EQ(stored(ys), !shared);
  EXPECT_TRUE(code_->Get(ys).ok());
  EXPECT_TRUE(fs::exists(code_->PathOf(ys)));
  ASSERT_TRUE(svc_->DeleteFunction(scope_, "a", "").ok());
  EXPECT_FALSE(stored(xs));
}

// A PostgreSQL store from before the table: each node uploads the packages it has.
TEST_P(FunctionServiceTest, NodesUploadPackagesTheTableLacks) {
  if (GetParam() != store::Engine::kPostgres) GTEST_SKIP() << "PostgreSQL only";
  std::string zip = testing::MakeZip({{"bootstrap", "#!/bin/sh\necho old\n"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Create("f", false, Architecture::kX86_64, zip).ok());
  ASSERT_TRUE(db_->Transact([&](store::Txn& txn) -> Status {
                   LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("DELETE FROM code_packages"));
                   return st.Run();
                 })
                  .ok());
  CodePackageStore without(db_.get(), dir_ + "/without");
  ASSERT_TRUE(without.Init().ok());
  EXPECT_EQ(without.Get(sha).status().code(), StatusCode::kResourceNotFound);
  fs::create_directories(dir_ + "/with");
  {
    std::ofstream out(dir_ + "/with/" + sha + ".zip", std::ios::binary);
    out << zip;
  }
  CodePackageStore with(db_.get(), dir_ + "/with");
  ASSERT_TRUE(with.Init().ok());
  auto got = without.Get(sha);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, zip);
}

// An image function: no runtime version (so no sweep ever moves it), code is the image digest,
// ImageConfig replaced whole, runtime management refused, the recognised base in the history.
TEST_P(FunctionServiceTest, ImageFunctionsHaveNoRuntimeVersionAndFollowTheirBase) {
  CreateFunctionCommand cmd;
  cmd.name = "img";
  cmd.config.package_type = PackageType::kImage;
  cmd.config.role = "arn:aws:iam::123456789012:role/r";
  cmd.config.image_uri = "registry.example:5000/fn:v1";
  cmd.config.image_digest = "sha256:" + std::string(64, 'a');
  cmd.config.image_base = v1_.id;
  cmd.config.image_config = ImageConfigOverrides{std::vector<std::string>{"/bin/sh"},
                                                 std::vector<std::string>{"-c", "x"}, "/app"};
  auto created = svc_->CreateFunction(scope_, std::move(cmd));
  ASSERT_TRUE(created.ok()) << created.status().message();
  auto latest = svc_->GetFunctionVersion(scope_, "img", "");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->config.package_type, PackageType::kImage);
  EXPECT_EQ(latest->runtime_version, 0);
  EXPECT_EQ(latest->config.runtime, "");
  EXPECT_EQ(ResolvedImageUri(latest->config),
            "registry.example:5000/fn@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(latest->config.image_config->working_directory, "/app");

  // Runtime management is refused, and refused calls change nothing.
  auto get = svc_->GetRuntimeManagementConfig(scope_, "img", "");
  EXPECT_EQ(get.status().code(), StatusCode::kInvalidParameterValue);
  auto put = svc_->PutRuntimeManagementConfig(scope_, "img", "", {});
  EXPECT_EQ(put.status().code(), StatusCode::kInvalidParameterValue);
  UpdateCodeCommand zip{testing::MakeZip({{"bootstrap", "#!/bin/sh\n"}})};
  auto refused = svc_->UpdateFunctionCode(scope_, "img", zip);
  EXPECT_EQ(refused.status().message(),
            "Please provide ImageUri when updating a function with packageType Image.");
  UpdateConfigurationCommand runtime;
  runtime.runtime = "provided.al2023";
  EXPECT_EQ(svc_->UpdateFunctionConfiguration(scope_, "img", runtime).status().code(),
            StatusCode::kInvalidParameterValue);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "img", "")->revision_id, latest->revision_id);

  // ImageConfig is replaced whole; an empty one removes it.
  UpdateConfigurationCommand replace;
  replace.image_config = ImageConfigOverrides{std::nullopt, std::vector<std::string>{"h"}, {}};
  auto replaced = svc_->UpdateFunctionConfiguration(scope_, "img", replace);
  ASSERT_TRUE(replaced.ok()) << replaced.status().message();
  EXPECT_FALSE(replaced->config.image_config->entry_point);
  UpdateConfigurationCommand clear;
  clear.image_config = ImageConfigOverrides{};
  EXPECT_FALSE(svc_->UpdateFunctionConfiguration(scope_, "img", clear)->config.image_config);

  // A new image on a newer base: recorded as the cause says; published versions keep theirs.
  ASSERT_TRUE(svc_->PublishVersion(scope_, "img", {}).ok());
  catalog::RuntimeVersion v2 = Publish(2);
  UpdateCodeCommand rebase;
  rebase.image =
      ImageCode{"registry.example:5000/fn:v1-rebased", "sha256:" + std::string(64, 'b'), v2.id};
  rebase.cause = "image-rebase";
  auto updated = svc_->UpdateFunctionCode(scope_, "img", rebase);
  ASSERT_TRUE(updated.ok()) << updated.status().message();
  EXPECT_EQ(updated->latest.config.code_sha256, std::string(64, 'b'));
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "img", "1")->config.image_digest,
            "sha256:" + std::string(64, 'a'));
  auto history = svc_->RuntimeVersionHistory(scope_, "img");
  ASSERT_TRUE(history.ok());
  ASSERT_FALSE(history->empty());
  EXPECT_EQ(history->back().cause, "image-rebase");
  EXPECT_EQ(history->back().new_runtime_version, v2.id);
  EXPECT_EQ(history->back().old_runtime_version, v1_.id);

  // A Zip function is refused an image, and an image function is listed as one.
  ASSERT_TRUE(Create("zip").ok());
  UpdateCodeCommand to_image;
  to_image.image = rebase.image;
  EXPECT_EQ(svc_->UpdateFunctionCode(scope_, "zip", to_image).status().message(),
            "Please don't provide ImageUri when updating a function with packageType Zip.");
  auto images = svc_->ListImageVersions();
  ASSERT_TRUE(images.ok());
  EXPECT_EQ(images->size(), 2u);  // $LATEST and 1
}

// RevisionId changes as AWS's does: publishing gives the new version its own and $LATEST a new
// one; tagging gives $LATEST a new one; a publish with nothing changed changes nothing.
TEST_P(FunctionServiceTest, RevisionIdChangesWhereAwsChangesIt) {
  ASSERT_TRUE(Create("f").ok());
  auto revision = [&](const std::string& qualifier) {
    auto v = svc_->GetFunctionVersion(scope_, "f", qualifier);
    EXPECT_TRUE(v.ok()) << v.status().message();
    return v.ok() ? v->revision_id : std::string();
  };
  std::string created = revision("");
  auto v1 = svc_->PublishVersion(scope_, "f", {std::nullopt, std::nullopt, created});
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  std::string after_publish = revision("");
  EXPECT_NE(after_publish, created);
  EXPECT_NE(v1->revision_id, created);
  EXPECT_NE(v1->revision_id, after_publish);
  EXPECT_EQ(revision("1"), v1->revision_id);
  // The revision $LATEST had before publishing is stale now.
  EXPECT_EQ(
      svc_->PublishVersion(scope_, "f", {std::nullopt, std::nullopt, created}).status().code(),
      StatusCode::kPreconditionFailed);

  // Nothing changed: the same version, and no new RevisionId anywhere.
  auto again = svc_->PublishVersion(scope_, "f", {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version, "1");
  EXPECT_EQ(again->revision_id, v1->revision_id);
  EXPECT_EQ(revision(""), after_publish);

  ASSERT_TRUE(svc_->TagFunction(scope_, "f", {{"team", "a"}}, {}).ok());
  std::string after_tag = revision("");
  EXPECT_NE(after_tag, after_publish);
  EXPECT_EQ(revision("1"), v1->revision_id);
  ASSERT_TRUE(svc_->TagFunction(scope_, "f", {}, {"team"}).ok());
  EXPECT_NE(revision(""), after_tag);
  // A tag change is no reason for a new version.
  EXPECT_EQ(svc_->PublishVersion(scope_, "f", {})->version, "1");

  // Create with Publish: $LATEST and version 1 each have their own, stored.
  auto g = Create("g", true);
  ASSERT_TRUE(g.ok() && g->published);
  EXPECT_NE(g->published->revision_id, g->latest.revision_id);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "g", "")->revision_id, g->latest.revision_id);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "g", "1")->revision_id, g->published->revision_id);
}

// Layers (layers.h): the layer service over the same store and code packages.

PublishLayerVersionCommand LayerCommand(const std::string& name, std::string zip) {
  PublishLayerVersionCommand cmd;
  cmd.name = name;
  cmd.zip = std::move(zip);
  return cmd;
}

TEST_P(FunctionServiceTest, LayerVersionNumbersAreNeverReused) {
  LayerService layers(db_.get(), code_.get(), &clock_);
  std::string zip = testing::MakeZip({{"python/m.py", "x = 1\n"}});
  auto v1 = layers.Publish(scope_, LayerCommand("lib", zip));
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  auto v2 = layers.Publish(scope_, LayerCommand("lib", zip));
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->arn(), "arn:aws:lambda:us-east-1:123456789012:layer:lib:2");
  EXPECT_EQ(v1->code_sha256, Base64Encode(Sha256(zip)));
  auto listed = layers.ListVersions(scope_, "lib", "", "", "", 50);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 2u);
  EXPECT_EQ(listed->items[0].version, 2);  // newest first
  ASSERT_TRUE(layers.Delete(scope_, "lib", 1).ok());
  ASSERT_TRUE(layers.Delete(scope_, "lib", 2).ok());
  ASSERT_TRUE(layers.Delete(scope_, "lib", 2).ok());  // deleting again succeeds
  EXPECT_TRUE(layers.ListVersions(scope_, "lib", "", "", "", 50)->items.empty());
  auto v3 = layers.Publish(scope_, LayerCommand("lib", zip));
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3);
  LayerCaller me{scope_.account, "", "arn:aws:iam::123456789012:user/me"};
  EXPECT_EQ(layers.Get(me, scope_, "lib", 1).status().code(), StatusCode::kResourceNotFound);
}

TEST_P(FunctionServiceTest, ListLayersShowsTheNewestMatchingVersion) {
  LayerService layers(db_.get(), code_.get(), &clock_);
  std::string zip = testing::MakeZip({{"a", "a"}});
  auto py = LayerCommand("a", zip);
  py.compatible_runtimes = std::vector<std::string>{"python3.12"};
  ASSERT_TRUE(layers.Publish(scope_, py).ok());
  auto node = LayerCommand("a", zip);
  node.compatible_runtimes = std::vector<std::string>{"nodejs20.x"};
  ASSERT_TRUE(layers.Publish(scope_, node).ok());
  ASSERT_TRUE(layers.Publish(scope_, LayerCommand("b", zip)).ok());
  auto all = layers.ListLayers(scope_, "", "", "", 50);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 2u);
  EXPECT_EQ(all->items[0].version, 2);
  auto python = layers.ListLayers(scope_, "python3.12", "", "", 50);
  ASSERT_EQ(python->items.size(), 1u);
  EXPECT_EQ(python->items[0].name, "a");
  EXPECT_EQ(python->items[0].version, 1);
  auto first = layers.ListLayers(scope_, "", "", "", 1);
  ASSERT_EQ(first->items.size(), 1u);
  auto second = layers.ListLayers(scope_, "", "", first->next_marker, 1);
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_EQ(second->items[0].name, "b");
  EXPECT_TRUE(second->next_marker.empty());
}

TEST_P(FunctionServiceTest, FunctionLayersAreCheckedKeptAndPublished) {
  LayerService layers(db_.get(), code_.get(), &clock_);
  std::string zip = testing::MakeZip({{"lib/only-in-layer", "layer"}});
  auto lib = layers.Publish(scope_, LayerCommand("lib", zip));
  ASSERT_TRUE(lib.ok());
  auto lib2 = layers.Publish(scope_, LayerCommand("lib", zip));
  ASSERT_TRUE(lib2.ok());
  LayerCaller me{scope_.account, "", "arn:aws:iam::123456789012:user/me"};
  auto create = [&](std::vector<std::string> arns) {
    CreateFunctionCommand cmd;
    cmd.name = "f";
    cmd.config.runtime = "provided.al2023";
    cmd.config.handler = "h";
    cmd.config.role = "arn:aws:iam::123456789012:role/r";
    cmd.zip = testing::MakeZip({{"bootstrap", "#!/bin/sh\n"}});
    cmd.layers = std::move(arns);
    cmd.layer_caller = me;
    return svc_->CreateFunction(scope_, std::move(cmd));
  };
  EXPECT_EQ(create(std::vector<std::string>(6, lib->arn())).status().message(),
            "Cannot reference more than 5 layers.");
  EXPECT_EQ(create({lib->arn(), lib2->arn()}).status().message(),
            fmt::format("Two different versions of the same layer are not allowed to be "
                        "referenced in the same function. {} and {} are versions of the same "
                        "layer.",
                        lib->arn(), lib2->arn()));
  EXPECT_EQ(create({"arn:aws:lambda:eu-west-1:123456789012:layer:lib:1"}).status().message(),
            "Layers are not in the same region as the function. Layers are expected to be in "
            "region us-east-1.");
  EXPECT_EQ(create({"arn:aws:lambda:us-east-1:123456789012:layer:lib:9"}).status().message(),
            "Layer version arn:aws:lambda:us-east-1:123456789012:layer:lib:9 does not exist.");
  // Another account's layer version needs a grant.
  Scope other{"210987654321", "us-east-1"};
  auto theirs = layers.Publish(other, LayerCommand("shared", zip));
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(create({theirs->arn()}).status().code(), StatusCode::kAccessDenied);
  EXPECT_EQ(layers.Get(me, other, "shared", 1).status().code(), StatusCode::kAccessDenied);
  AddLayerPermissionCommand grant{"me", "lambda:GetLayerVersion", "123456789012", std::nullopt,
                                  std::nullopt};
  auto added = layers.AddPermission(other, "shared", 1, grant);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->document,
            R"({"Sid":"me","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},)"
            R"("Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:)"
            R"(210987654321:layer:shared:1"})");
  EXPECT_TRUE(layers.Get(me, other, "shared", 1).ok());

  auto created = create({lib->arn(), theirs->arn()});
  ASSERT_TRUE(created.ok()) << created.status().message();
  ASSERT_EQ(created->latest.config.layers.size(), 2u);
  EXPECT_EQ(created->latest.config.layers[0].arn, lib->arn());
  EXPECT_EQ(created->latest.config.layers[1].code_size, static_cast<int64_t>(zip.size()));
  auto published = svc_->PublishVersion(scope_, "f", {});
  ASSERT_TRUE(published.ok());
  // Replacing $LATEST's layers leaves the published version's.
  UpdateConfigurationCommand update;
  update.layers = std::vector<std::string>{lib2->arn()};
  update.layer_caller = me;
  ASSERT_TRUE(svc_->UpdateFunctionConfiguration(scope_, "f", update).ok());
  auto v1 = svc_->GetFunctionVersion(scope_, "f", "1");
  ASSERT_TRUE(v1.ok());
  ASSERT_EQ(v1->config.layers.size(), 2u);
  EXPECT_EQ(v1->config.layers[0].arn, lib->arn());
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "f", "")->config.layers[0].arn, lib2->arn());

  // Deleting every layer version keeps the package while function versions use it...
  for (int64_t v : {1, 2}) ASSERT_TRUE(layers.Delete(scope_, "lib", v).ok());
  ASSERT_TRUE(layers.Delete(other, "shared", 1).ok());
  EXPECT_TRUE(code_->Get(lib->code_sha256_hex).ok());
  // ...and the function's deletion removes it.
  ASSERT_TRUE(svc_->DeleteFunction(scope_, "f", "").ok());
  EXPECT_FALSE(fs::exists(code_->PathOf(lib->code_sha256_hex)));
}

TEST_P(FunctionServiceTest, LayerVersionPolicy) {
  LayerService layers(db_.get(), code_.get(), &clock_);
  ASSERT_TRUE(layers.Publish(scope_, LayerCommand("p", testing::MakeZip({{"a", "a"}}))).ok());
  EXPECT_EQ(layers.GetPolicy(scope_, "p", 1).status().message(),
            "No policy is associated with the given resource.");
  EXPECT_EQ(layers.GetPolicy(scope_, "p", 2).status().message(),
            "Layer version arn:aws:lambda:us-east-1:123456789012:layer:p:2 does not exist.");
  AddLayerPermissionCommand all{"s1", "lambda:GetLayerVersion", "*", "o-abcdefghij", std::nullopt};
  auto s1 = layers.AddPermission(scope_, "p", 1, all);
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(layers.AddPermission(scope_, "p", 1, all).status().code(),
            StatusCode::kResourceConflict);
  all.statement_id = "s2";
  all.revision_id = "wrong";
  EXPECT_EQ(layers.AddPermission(scope_, "p", 1, all).status().code(),
            StatusCode::kPreconditionFailed);
  // The organization condition: only callers of that organization are granted.
  Scope other{"210987654321", "us-east-1"};
  LayerCaller outsider{other.account, "", "arn:aws:iam::210987654321:user/x"};
  LayerCaller member{other.account, "o-abcdefghij", "arn:aws:iam::210987654321:user/x"};
  EXPECT_EQ(layers.Get(outsider, scope_, "p", 1).status().code(), StatusCode::kAccessDenied);
  EXPECT_TRUE(layers.Get(member, scope_, "p", 1).ok());
  auto policy = layers.GetPolicy(scope_, "p", 1);
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->revision_id, s1->revision_id);
  EXPECT_EQ(policy->document,
            R"({"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s1","Effect":"Allow",)"
            R"("Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:)"
            R"(us-east-1:123456789012:layer:p:1","Condition":{"StringEquals":)"
            R"({"aws:PrincipalOrgID":"o-abcdefghij"}}}]})");
  EXPECT_EQ(layers.RemovePermission(scope_, "p", 1, "nope", std::nullopt).message(),
            "Statement nope is not found in resource policy.");
  ASSERT_TRUE(layers.RemovePermission(scope_, "p", 1, "s1", s1->revision_id).ok());
  EXPECT_EQ(layers.GetPolicy(scope_, "p", 1).status().code(), StatusCode::kResourceNotFound);
}

TEST_P(FunctionServiceTest, MergedLayersLaterOverridesEarlier) {
  std::string first = testing::MakeZip({{"shared.txt", "first"}, {"one.txt", "1"}});
  std::string second = testing::MakeZip({{"shared.txt", "second"}, {"two.txt", "2"}});
  std::vector<std::string> shas;
  ASSERT_TRUE(db_->Transact([&](store::Txn& txn) -> Status {
                   for (const std::string* zip : {&first, &second}) {
                     LAMBKIN_ASSIGN_OR_RETURN(CodePackageInfo info, InspectZip(*zip));
                     shas.push_back(info.sha256_hex);
                     LAMBKIN_RETURN_IF_ERROR(code_->Put(txn, info, *zip));
                   }
                   return Status::Ok();
                 })
                  .ok());
  auto merged = code_->Merged(shas);
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(fs::path(*merged) / "shared.txt"), "second");
  EXPECT_EQ(read(fs::path(*merged) / "one.txt"), "1");
  EXPECT_EQ(read(fs::path(*merged) / "two.txt"), "2");
  EXPECT_EQ(*code_->Merged(shas), *merged);  // made once
  std::reverse(shas.begin(), shas.end());
  auto reversed = code_->Merged(shas);
  ASSERT_TRUE(reversed.ok());
  EXPECT_NE(*reversed, *merged);
  EXPECT_EQ(read(fs::path(*reversed) / "shared.txt"), "first");
  // Another node sharing the PostgreSQL store fetches the archives it lacks.
  if (GetParam() == store::Engine::kPostgres) {
    CodePackageStore other(db_.get(), dir_ + "/other-node");
    ASSERT_TRUE(other.Init().ok());
    auto fetched = other.Merged(shas);
    ASSERT_TRUE(fetched.ok()) << fetched.status().message();
    EXPECT_EQ(read(fs::path(*fetched) / "shared.txt"), "first");
  }
}

// Reserved concurrency may not leave less than the minimum unreserved; the function's own
// current value does not count against its new one; usage counts every version's package.
TEST_P(FunctionServiceTest, ReservedConcurrencyKeepsTheUnreservedMinimum) {
  svc_->SetAccountLimits({.concurrent_executions = 300});
  ASSERT_TRUE(Create("a", /*publish=*/true).ok());
  ASSERT_TRUE(Create("b").ok());
  ASSERT_TRUE(svc_->PutReservedConcurrency(scope_, "a", 150).ok());
  ASSERT_TRUE(svc_->PutReservedConcurrency(scope_, "a", 200).ok());  // replaces its own 150
  Status over = svc_->PutReservedConcurrency(scope_, "b", 1);
  EXPECT_EQ(over.code(), StatusCode::kBelowAccountMinimum);
  EXPECT_EQ(over.message(),
            "Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [100].");
  EXPECT_FALSE(*svc_->GetReservedConcurrency(scope_, "b"));  // the refusal changed nothing
  EXPECT_EQ(svc_->PutReservedConcurrency(scope_, "missing", 1000).code(),
            StatusCode::kResourceNotFound);
  ASSERT_TRUE(svc_->PutReservedConcurrency(scope_, "a", std::nullopt).ok());
  ASSERT_TRUE(svc_->PutReservedConcurrency(scope_, "b", 200).ok());

  auto usage = svc_->GetAccountUsage(scope_);
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->function_count, 2);
  EXPECT_EQ(usage->reserved_concurrency, 200);
  int64_t size = svc_->GetFunctionVersion(scope_, "a", "")->config.code_size;
  EXPECT_GT(size, 0);
  EXPECT_EQ(usage->total_code_size, 3 * size);  // a's $LATEST and 1, b's $LATEST
  EXPECT_EQ(svc_->GetAccountUsage({"123456789012", "eu-west-1"})->function_count, 0);
}

// Concurrent reservations are checked in their write transactions: of several that each fit
// alone but not together, only as many as fit commit.
TEST_P(FunctionServiceTest, ConcurrentReservationsCannotBothPass) {
  svc_->SetAccountLimits({.concurrent_executions = 400});
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Create(fmt::format("f{}", i)).ok());
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      if (svc_->PutReservedConcurrency(scope_, fmt::format("f{}", i), 150).ok()) ++passed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), 2);
  EXPECT_EQ(svc_->GetAccountUsage(scope_)->reserved_concurrency, 300);
}

// A function policy has a RevisionId of its own (AWS's answers recorded in 2025): new at each
// AddPermission and RemovePermission, kept when the function changes, and the precondition of
// both; a store of the release before (policies migration 1 only) gives each policy one.
TEST_P(FunctionServiceTest, PoliciesHaveTheirOwnRevisionIdsAlsoAfterAnUpgrade) {
  ASSERT_TRUE(Create("fn").ok());
  const char* statement = R"({"Sid":"a","Effect":"Allow"})";
  {
    store::Migrations before(PolicySchema().begin(), PolicySchema().begin() + 1);
    auto old = std::move(store::Database::Open(location_, before)).value();
    ASSERT_TRUE(old->Transact([&](store::Txn& txn) -> Status {
                     auto st = txn.Prepare(
                         "INSERT INTO function_policy_statements (account, region, name, "
                         "qualifier, sid, seq, statement) VALUES (?, ?, 'fn', '', 'a', 1, ?)");
                     LAMBKIN_RETURN_IF_ERROR(st.status());
                     st->Bind(1, scope_.account).Bind(2, scope_.region).Bind(3, statement);
                     return st->Run();
                   })
                    .ok());
  }
  auto db = std::move(store::Database::Open(location_, PolicySchema())).value();
  FunctionPolicies policies(db.get());
  auto migrated = policies.Get(scope_, "fn", "");
  ASSERT_TRUE(migrated.ok()) << migrated.status().message();
  EXPECT_EQ(migrated->revision_id.size(), 36u);
  auto fn = svc_->GetFunctionVersion(scope_, "fn", "");
  ASSERT_TRUE(fn.ok());
  EXPECT_NE(migrated->revision_id, fn->revision_id);

  // The function's RevisionId is not the policy's; the policy's is.
  Status stale = policies.Add(scope_, "fn", "", "b", R"({"Sid":"b"})", fn->revision_id);
  EXPECT_EQ(stale.code(), StatusCode::kPreconditionFailed);
  EXPECT_EQ(stale.message(),
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
            "API to retrieve the latest Revision Id");
  ASSERT_TRUE(policies.Add(scope_, "fn", "", "b", R"({"Sid":"b"})", migrated->revision_id).ok());
  auto added = policies.Get(scope_, "fn", "");
  ASSERT_TRUE(added.ok());
  EXPECT_NE(added->revision_id, migrated->revision_id);
  EXPECT_EQ(svc_->GetFunctionVersion(scope_, "fn", "")->revision_id, fn->revision_id);

  // Publishing changes $LATEST's RevisionId, not the policy's.
  ASSERT_TRUE(svc_->PublishVersion(scope_, "fn", {}).ok());
  EXPECT_EQ(policies.Get(scope_, "fn", "")->revision_id, added->revision_id);

  ASSERT_TRUE(policies.Remove(scope_, "fn", "", "a", added->revision_id).ok());
  auto removed = policies.Get(scope_, "fn", "");
  ASSERT_TRUE(removed.ok());
  EXPECT_NE(removed->revision_id, added->revision_id);
  ASSERT_TRUE(policies.Remove(scope_, "fn", "", "b", std::nullopt).ok());
  // No policy: the policy's last RevisionId is stale, the version's own is current.
  EXPECT_EQ(policies.Add(scope_, "fn", "", "c", R"({"Sid":"c"})", removed->revision_id).code(),
            StatusCode::kPreconditionFailed);
  std::string latest = svc_->GetFunctionVersion(scope_, "fn", "")->revision_id;
  EXPECT_TRUE(policies.Add(scope_, "fn", "", "c", R"({"Sid":"c"})", latest).ok());
  EXPECT_NE(policies.Get(scope_, "fn", "")->revision_id, latest);
}

INSTANTIATE_TEST_SUITE_P(Stores, FunctionServiceTest,
                         ::testing::Values(store::Engine::kSqlite, store::Engine::kPostgres),
                         store::testing::EngineName<::testing::TestParamInfo<store::Engine>>);

}  // namespace
}  // namespace lambkin::functions
