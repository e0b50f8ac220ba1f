// Test fixture for the registry's tests: real images in a real BlobStore in a temporary
// directory (a tar+gzip layer made with tar and gzip, its config and an OCI manifest; an index
// wrapping a second image), an in-memory ImageSource over them, and an IAM directory with a
// user allowed to pull python* and one allowed nothing.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "iam/directory.h"
#include "oci/image.h"
#include "registry/registry_api.h"
#include "store/database.h"

namespace lambkin::registry::testing {

inline constexpr char kPullerKey[] = "AKIAPULLER0000000001";
inline constexpr char kPullerSecret[] = "puller-secret";
inline constexpr char kNobodyKey[] = "AKIANOBODY0000000001";
inline constexpr char kNobodySecret[] = "nobody-secret";
inline constexpr char kLayerText[] = "hello from a runtime layer\n";

// A plain in-memory map: repository -> tag -> manifest descriptor.
class MapImageSource : public ImageSource {
 public:
  std::map<std::string, std::map<std::string, oci::Descriptor>> repos;

  std::vector<std::string> Repositories() const override {
    std::vector<std::string> out;
    for (const auto& [name, tags] : repos) out.push_back(name);
    return out;
  }
  std::vector<std::string> Tags(std::string_view repository) const override {
    std::vector<std::string> out;
    auto it = repos.find(std::string(repository));
    if (it == repos.end()) return out;
    for (const auto& [tag, d] : it->second) out.push_back(tag);
    return out;
  }
  std::optional<oci::Descriptor> Resolve(std::string_view repository,
                                         std::string_view reference) const override {
    auto it = repos.find(std::string(repository));
    if (it == repos.end()) return std::nullopt;
    for (const auto& [tag, d] : it->second) {
      if (tag == reference || d.digest == reference) return d;
    }
    return std::nullopt;
  }
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Image {
  std::string manifest;  // bytes
  oci::Descriptor descriptor;
  std::string config_digest;
  std::string layer_digest;
  std::string layer;  // bytes (tar+gzip)
};

class RegistryFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/registry-" + RandomUuid();
    std::filesystem::create_directories(dir_);
    auto blobs = oci::BlobStore::Open(dir_ + "/blobs");
    ASSERT_TRUE(blobs.ok());
    blobs_ = std::move(*blobs);
    python_ = MakeImage("python", 300 * 1024);
    node_ = MakeImage("nodejs", 1024);
    // An index wrapping the nodejs image, as a multi-platform tag would.
    nlohmann::json index = {{"schemaVersion", 2},
                            {"mediaType", oci::kOciIndex},
                            {"manifests",
                             {{{"mediaType", oci::kOciManifest},
                               {"digest", node_.descriptor.digest},
                               {"size", node_.descriptor.size},
                               {"platform", {{"architecture", "amd64"}, {"os", "linux"}}}}}}};
    index_ = index.dump();
    index_descriptor_ = Descriptor(oci::kOciIndex, index_);
    ASSERT_EQ(*blobs_->Put(index_), index_descriptor_.digest);
    // In the store, referenced by no manifest.
    loose_ = *blobs_->Put("not part of any image");
    images_.repos["python"]["3.11.v1"] = python_.descriptor;
    images_.repos["python"]["3.11.v2"] = python_.descriptor;
    images_.repos["python"]["3.12.v1"] = python_.descriptor;
    images_.repos["nodejs"]["20.v1"] = index_descriptor_;
    images_.repos["provided/al2023"]["v1"] = python_.descriptor;

    auto db = store::Database::Open(dir_ + "/iam.db", iam::Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    directory_ = std::make_unique<iam::Directory>(db_.get());
    ASSERT_TRUE(directory_->Load().ok());
    nlohmann::json pull_python = {{"Version", "2012-10-17"},
                                  {"Statement",
                                   {{{"Effect", "Allow"},
                                     {"Action", "lambkin:PullRuntimeImage"},
                                     {"Resource", "arn:aws:lambkin:::runtime-image/python*"}}}}};
    Status s = directory_->Apply(
        {{"accounts",
          {{"111122223333",
            {{"users",
              {{"puller",
                {{"policies", {{"PullPython", pull_python}}},
                 {"access_keys", {{{"id", kPullerKey}, {"secret", kPullerSecret}}}}}},
               {"nobody",
                {{"access_keys", {{{"id", kNobodyKey}, {"secret", kNobodySecret}}}}}}}}}}}}});
    ASSERT_TRUE(s.ok()) << s.message();
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static oci::Descriptor Descriptor(std::string_view media_type, const std::string& bytes) {
    oci::Descriptor d;
    d.media_type = std::string(media_type);
    d.digest = oci::DigestOf(bytes);
    d.size = static_cast<int64_t>(bytes.size());
    return d;
  }

  // An image of one tar+gzip layer holding hello.txt and `random_bytes` of noise.
  Image MakeImage(const std::string& name, size_t random_bytes) {
    std::string root = fmt::format("{}/{}-rootfs", dir_, name);
    std::filesystem::create_directories(root);
    std::ofstream(root + "/hello.txt") << kLayerText;
    std::ofstream(root + "/noise.bin", std::ios::binary) << RandomBytes(random_bytes);
    std::string tar = fmt::format("{}/{}-layer.tar", dir_, name);
    std::string cmd = fmt::format(
        "tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C {} -cf {} . && "
        "gzip -n -k {}",
        root, tar, tar);
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    Image image;
    image.layer = ReadFile(tar + ".gz");
    image.layer_digest = *blobs_->Put(image.layer);
    std::string config =
        nlohmann::json{
            {"architecture", "amd64"},
            {"os", "linux"},
            {"config", {{"Env", {"PATH=/usr/bin:/bin"}}}},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {oci::DigestOf(ReadFile(tar))}}}}}
            .dump();
    image.config_digest = *blobs_->Put(config);
    nlohmann::json manifest = {{"schemaVersion", 2},
                               {"mediaType", oci::kOciManifest},
                               {"config",
                                {{"mediaType", oci::kOciConfig},
                                 {"digest", image.config_digest},
                                 {"size", config.size()}}},
                               {"layers",
                                {{{"mediaType", oci::kOciLayerGzip},
                                  {"digest", image.layer_digest},
                                  {"size", image.layer.size()}}}}};
    image.manifest = manifest.dump();
    image.descriptor = Descriptor(oci::kOciManifest, image.manifest);
    EXPECT_EQ(*blobs_->Put(image.manifest), image.descriptor.digest);
    return image;
  }

  RegistryApi::Deps Deps(const Clock* clock, bool anonymous_pull) {
    return RegistryApi::Deps{&images_, blobs_.get(), directory_.get(),
                             clock,    "us-east-1",  anonymous_pull};
  }

  std::string dir_;
  std::unique_ptr<oci::BlobStore> blobs_;
  Image python_;
  Image node_;
  std::string index_;
  oci::Descriptor index_descriptor_;
  std::string loose_;
  MapImageSource images_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Directory> directory_;
};

}  // namespace lambkin::registry::testing
