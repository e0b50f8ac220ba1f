// The image store against a real registry (Debian's docker-registry, started by the test on a
// loopback port), with images written as OCI layouts and pushed by skopeo, as a user's
// `docker push` or `skopeo copy` would put them there.
#include "images/image_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "oci/test_registry.h"
#include "oci/test_util.h"

namespace lambkin::images {
namespace {

namespace fs = std::filesystem;
using oci::Descriptor;
using oci::testing::Compression;
using oci::testing::LayoutWriter;
using oci::testing::MakeTar;
using oci::testing::ReadFile;
using oci::testing::Registry;
using oci::testing::TempDir;

oci::Platform Host() { return {"linux", std::string(oci::HostOciArchitecture()), ""}; }
std::string OtherArchitecture() {
  return oci::HostOciArchitecture() == "amd64" ? "arm64" : "amd64";
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(oci::testing::kRegistryBinary) && fs::exists(oci::testing::kSkopeo))
        << "docker-registry or skopeo is missing: run scripts/install-deps.sh";
    registry_ = std::make_unique<Registry>(tmp_.Sub("registry"));
    ASSERT_TRUE(registry_->up()) << ReadFile(registry_->log());
    registry_host_ = registry_->host();
    LayoutWriter layout(tmp_.Sub("layout"));
    std::string arch(oci::HostOciArchitecture());
    // A function image as a user builds one: a base layer, then the function's (zstd), the
    // second whiting out a file of the first and making a directory opaque.
    std::string base = MakeTar({{"bin/", 'd', "", "", 0755},
                                {"bin/handler", 'f', "#!/bin/sh\necho handled\n", "", 0755},
                                {"etc/", 'd', "", "", 0755},
                                {"etc/old-config", 'f', "old"},
                                {"app/", 'd', "", "", 0755},
                                {"app/stale", 'f', "stale"}},
                               Compression::kGzip);
    std::vector<oci::testing::TarEntry> function_entries = {
        {"etc/.wh.old-config", 'f'},
        {"app/.wh..wh..opq", 'f'},
        {"app/main.sh", 'f', "#!/bin/sh\necho main\n", "", 0755}};
    layout_image_ = AddImage(layout, arch,
                             {{base, oci::kOciLayerGzip},
                              {MakeTar(function_entries, Compression::kZstd), oci::kOciLayerZstd}});
    // The same with gzip layers only: Docker's format knows no zstd.
    Descriptor gzip_only =
        AddImage(layout, arch,
                 {{base, oci::kOciLayerGzip},
                  {MakeTar(function_entries, Compression::kGzip), oci::kOciLayerGzip}});
    Descriptor other =
        AddImage(layout, OtherArchitecture(),
                 {{MakeTar({{"arch", 'f', OtherArchitecture()}}), oci::kOciLayerTar}});
    Descriptor index = layout.AddIndex({layout_image_, other});
    // An umoci-style layer: no end-of-archive blocks.
    Descriptor umoci =
        AddImage(layout, arch,
                 {{MakeTar({{"umoci", 'f', "no end blocks"}}, Compression::kNone, false),
                   oci::kOciLayerTar}});
    // A config whose diff_id does not name the layer.
    Descriptor bad_diff =
        AddImage(layout, arch, {{MakeTar({{"file", 'f', "x"}}), oci::kOciLayerTar}},
                 /*wrong_diff_id=*/true);
    Descriptor foreign = AddImage(layout, OtherArchitecture(),
                                  {{MakeTar({{"arch", 'f', "other"}}), oci::kOciLayerTar}});
    layout.WriteTopIndex({{"fn", layout_image_},
                          {"multi", index},
                          {"umoci", umoci},
                          {"bad-diff", bad_diff},
                          {"foreign", foreign},
                          {"gzip-only", gzip_only}});
    for (const std::string name : {"fn", "multi", "umoci", "bad-diff", "foreign"}) {
      Push(name, name);
    }
    blobs_ = std::move(oci::BlobStore::Open(tmp_.Sub("data/blobs"))).value();
    store_ = std::make_unique<ImageStore>(blobs_.get(), Options(tmp_.Sub("data")));
  }

  ImageStoreOptions Options(const std::string& data_dir) const {
    return {data_dir, {{registry_host_, oci::RegistryCredential{"", "", true}}}};
  }

  // An image manifest for `arch` with `layers` (bytes, media type); its config names Entrypoint,
  // Cmd, WorkingDir and Env.
  Descriptor AddImage(LayoutWriter& layout, const std::string& arch,
                      const std::vector<std::pair<std::string, std::string_view>>& layers,
                      bool wrong_diff_id = false) {
    nlohmann::json list = nlohmann::json::array();
    std::vector<std::string> diff_ids;
    for (const auto& [bytes, type] : layers) {
      Descriptor d = layout.AddBlob(bytes, std::string(type));
      list.push_back({{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
      diff_ids.push_back(wrong_diff_id ? oci::DigestOf("something else")
                                       : oci::testing::UncompressedDigest(bytes));
    }
    nlohmann::json config = {
        {"architecture", arch},
        {"os", "linux"},
        {"config",
         {{"Env", {"PATH=/bin", "IMAGE_VAR=from-image"}},
          {"Entrypoint", {"/bin/handler"}},
          {"Cmd", {"app.handler"}},
          {"WorkingDir", "/app"},
          {"User", "nobody"}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
    };
    Descriptor c = layout.AddBlob(config.dump(), std::string(oci::kOciConfig));
    nlohmann::json manifest = {
        {"schemaVersion", 2},
        {"mediaType", oci::kOciManifest},
        {"config", {{"mediaType", c.media_type}, {"digest", c.digest}, {"size", c.size}}},
        {"layers", list}};
    Descriptor d = layout.AddBlob(manifest.dump(), std::string(oci::kOciManifest));
    d.platform = oci::Platform{"linux", arch, ""};
    return d;
  }

  void Push(const std::string& name, const std::string& tag, const std::string& extra = "") {
    ASSERT_EQ(oci::testing::SkopeoCopy("oci:" + tmp_.Sub("layout") + ":" + name,
                                       registry_->host() + "/fn/image:" + tag,
                                       tmp_.Sub("skopeo.log"), extra),
              "");
  }

  oci::ImageReference Ref(const std::string& tag) const {
    return {registry_->host(), "fn/image", tag, ""};
  }
  std::string Repository() const { return registry_->host() + "/fn/image"; }

  TempDir tmp_;
  std::unique_ptr<Registry> registry_;
  std::string registry_host_;  // stays when a test stops the registry
  Descriptor layout_image_;
  std::unique_ptr<oci::BlobStore> blobs_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, PullsAndUnpacksAnImageOnce) {
  Result<PulledImage> pulled = store_->Pull(Ref("fn"), Host());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_FALSE(pulled->from_index);
  EXPECT_EQ(pulled->image.descriptor.digest, layout_image_.digest);
  EXPECT_EQ(pulled->image.descriptor.media_type, oci::kOciManifest);
  ASSERT_EQ(pulled->image.manifest.layers.size(), 2u);
  for (const Descriptor& layer : pulled->image.manifest.layers) {
    EXPECT_TRUE(blobs_->Has(layer.digest));
  }
  EXPECT_TRUE(blobs_->Has(pulled->image.manifest.config.digest));
  EXPECT_TRUE(blobs_->Has(layout_image_.digest));
  EXPECT_FALSE(store_->IsLocal(layout_image_.digest));

  Result<LocalImage> local = store_->Local(Repository(), layout_image_.digest, Host());
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(local->rootfs, tmp_.Sub("data/images/" + layout_image_.digest.substr(7) + "/rootfs"));
  EXPECT_TRUE(store_->IsLocal(layout_image_.digest));
  EXPECT_EQ(local->config.entrypoint, std::vector<std::string>{"/bin/handler"});
  EXPECT_EQ(local->config.cmd, std::vector<std::string>{"app.handler"});
  EXPECT_EQ(local->config.working_dir, "/app");
  EXPECT_EQ(local->config.env, (std::vector<std::string>{"PATH=/bin", "IMAGE_VAR=from-image"}));
  // The layers applied in order, whiteouts and the opaque directory honoured.
  EXPECT_EQ(ReadFile(local->rootfs + "/bin/handler"), "#!/bin/sh\necho handled\n");
  EXPECT_EQ(ReadFile(local->rootfs + "/app/main.sh"), "#!/bin/sh\necho main\n");
  EXPECT_FALSE(fs::exists(local->rootfs + "/etc/old-config"));
  EXPECT_FALSE(fs::exists(local->rootfs + "/app/stale"));
  EXPECT_FALSE(fs::exists(local->rootfs + "/app/.wh..wh..opq"));
  // The sandbox's mount points.
  for (const char* dir : {"proc", "dev", "tmp", "var/task", "opt"}) {
    EXPECT_TRUE(fs::is_directory(local->rootfs + "/" + dir)) << dir;
  }
  for (const char* file : {"var/lambkin/init", "etc/resolv.conf"}) {
    EXPECT_TRUE(fs::is_regular_file(local->rootfs + "/" + file)) << file;
  }
  // Nothing staged is left; a second store on the same data directory finds the image
  // unpacked (a marker written into it survives: no second unpack).
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(tmp_.Sub("data/images"))) {
    entries.push_back(e.path().filename().string());
  }
  EXPECT_EQ(entries, std::vector<std::string>{layout_image_.digest.substr(7)});
  oci::testing::WriteFile(local->rootfs + "/tmp/marker", "kept");
  ImageStore reopened(blobs_.get(), Options(tmp_.Sub("data")));
  EXPECT_TRUE(reopened.IsLocal(layout_image_.digest));
  Result<LocalImage> again = reopened.Local(Repository(), layout_image_.digest, Host());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->rootfs, local->rootfs);
  EXPECT_EQ(ReadFile(again->rootfs + "/tmp/marker"), "kept");
  EXPECT_EQ(again->config.cmd, local->config.cmd);

  // The image is for this architecture only.
  Result<LocalImage> other =
      store_->Local(Repository(), layout_image_.digest, {"linux", OtherArchitecture(), ""});
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(other.status().message().find("the image is for linux/" +
                                          std::string(oci::HostOciArchitecture())),
            std::string::npos)
      << other.status().message();
}

TEST_F(ImageStoreTest, AnIndexIsResolvedToThePlatform) {
  Result<PulledImage> pulled = store_->Pull(Ref("multi"), Host());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_TRUE(pulled->from_index);
  EXPECT_TRUE(pulled->image.from_index);
  EXPECT_EQ(pulled->image.descriptor.digest, layout_image_.digest);
  EXPECT_EQ(pulled->image.config.architecture, oci::HostOciArchitecture());

  Result<PulledImage> none = store_->Pull(Ref("multi"), {"linux", "riscv64", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(none.status().message().find("the image has no manifest for linux/riscv64"),
            std::string::npos)
      << none.status().message();
}

TEST_F(ImageStoreTest, DockerSchema2ImagesToo) {
  Push("gzip-only", "docker", "--format v2s2");
  Result<PulledImage> pulled = store_->Pull(Ref("docker"), Host());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_EQ(pulled->image.descriptor.media_type, oci::kDockerManifest);
  EXPECT_EQ(pulled->image.manifest.config.media_type, oci::kDockerConfig);
  EXPECT_NE(pulled->image.descriptor.digest, layout_image_.digest);  // another document
  Result<LocalImage> local = store_->Local(Repository(), pulled->image.descriptor.digest, Host());
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(ReadFile(local->rootfs + "/app/main.sh"), "#!/bin/sh\necho main\n");
  EXPECT_FALSE(fs::exists(local->rootfs + "/etc/old-config"));
}

TEST_F(ImageStoreTest, LayersWithoutEndBlocks) {
  Result<PulledImage> pulled = store_->Pull(Ref("umoci"), Host());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  Result<LocalImage> local = store_->Local(Repository(), pulled->image.descriptor.digest, Host());
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_EQ(ReadFile(local->rootfs + "/umoci"), "no end blocks");
}

// Another node (its own data directory and blob store) runs the image by its digest alone:
// everything is pulled by digest from the repository.
TEST_F(ImageStoreTest, AnotherNodePullsByDigest) {
  Result<PulledImage> pulled = store_->Pull(Ref("fn"), Host());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  auto blobs = std::move(oci::BlobStore::Open(tmp_.Sub("node2/blobs"))).value();
  ImageStore node2(blobs.get(), Options(tmp_.Sub("node2")));
  Result<LocalImage> local = node2.Local(Repository(), layout_image_.digest, Host());
  ASSERT_TRUE(local.ok()) << local.status().message();
  EXPECT_TRUE(blobs->Has(layout_image_.digest));
  EXPECT_EQ(ReadFile(local->rootfs + "/bin/handler"), "#!/bin/sh\necho handled\n");

  // Pinned by digest and complete: no registry needed any more.
  std::string repository = Repository();
  registry_.reset();
  Result<PulledImage> offline =
      node2.Pull(oci::ImageReference{"127.0.0.1:1", "fn/image", "", layout_image_.digest}, Host());
  ASSERT_TRUE(offline.ok()) << offline.status().message();
  EXPECT_EQ(offline->image.descriptor.digest, layout_image_.digest);
  // A digest nobody has, with the registry gone: the network error says where it failed.
  auto blobs3 = std::move(oci::BlobStore::Open(tmp_.Sub("node3/blobs"))).value();
  ImageStore node3(blobs3.get(), Options(tmp_.Sub("node3")));
  Result<LocalImage> unreachable = node3.Local(repository, layout_image_.digest, Host());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(fs::exists(tmp_.Sub("node3/images/" + layout_image_.digest.substr(7))));
}

TEST_F(ImageStoreTest, ErrorsSayWhatWentWrong) {
  Result<PulledImage> missing = store_->Pull(Ref("nope"), Host());
  EXPECT_EQ(missing.status().code(), StatusCode::kResourceNotFound);
  EXPECT_NE(missing.status().message().find("registry " + registry_->host() +
                                            ", repository fn/image: GET manifest nope: HTTP 404"),
            std::string::npos)
      << missing.status().message();
  Result<PulledImage> no_repo = store_->Pull({registry_->host(), "no/such", "latest", ""}, Host());
  EXPECT_EQ(no_repo.status().code(), StatusCode::kResourceNotFound);

  Result<PulledImage> foreign = store_->Pull(Ref("foreign"), Host());
  EXPECT_EQ(foreign.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(foreign.status().message().find("the image is for linux/" + OtherArchitecture()),
            std::string::npos)
      << foreign.status().message();

  // diff_ids are checked when the image is unpacked; nothing of it is left behind.
  Result<PulledImage> bad = store_->Pull(Ref("bad-diff"), Host());
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  std::string digest = bad->image.descriptor.digest;
  Result<LocalImage> refused = store_->Local(Repository(), digest, Host());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(refused.status().message().find("image " + digest + ": layer "), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("not the diff_id " + oci::DigestOf("something else")),
            std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(store_->IsLocal(digest));
  EXPECT_TRUE(fs::is_empty(tmp_.Sub("data/images")));

  EXPECT_EQ(store_->Local(Repository(), "sha256:nothex", Host()).status().code(),
            StatusCode::kInvalidParameterValue);
  // An index's digest names no one image to run: neither pulled by digest from the registry
  // (which serves the index skopeo pushed)...
  std::string raw = tmp_.Sub("multi.json");
  ASSERT_EQ(oci::testing::RunShell("sh -c '" + std::string(oci::testing::kSkopeo) +
                                       " inspect --raw --tls-verify=false docker://" +
                                       Repository() + ":multi > " + raw + "'",
                                   tmp_.Sub("skopeo.log")),
            0)
      << ReadFile(tmp_.Sub("skopeo.log"));
  std::string pushed_index = oci::DigestOf(ReadFile(raw));
  Result<LocalImage> index = store_->Local(Repository(), pushed_index, Host());
  EXPECT_EQ(index.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(index.status().message().find("@" + pushed_index + " is an image index (resolved to " +
                                          layout_image_.digest + ")"),
            std::string::npos)
      << index.status().message();
  // ... nor found in the blob store.
  ASSERT_TRUE(blobs_->Put(ReadFile(raw)).ok());
  index = store_->Local(Repository(), pushed_index, Host());
  EXPECT_EQ(index.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(index.status().message().find(pushed_index + " is an image index"), std::string::npos)
      << index.status().message();
}

TEST_F(ImageStoreTest, StagingLeftoversRemovedWhenTheStoreOpens) {
  // What a crash in the middle of an unpack leaves: a staging directory, read-only parts too.
  fs::create_directories(tmp_.Sub("data/images/.staging-crashed/rootfs/usr/ro"));
  oci::testing::WriteFile(tmp_.Sub("data/images/.staging-crashed/rootfs/usr/ro/f"), "half");
  ::chmod(tmp_.Sub("data/images/.staging-crashed/rootfs/usr/ro").c_str(), 0555);
  ImageStore reopened(blobs_.get(), Options(tmp_.Sub("data")));
  EXPECT_FALSE(fs::exists(tmp_.Sub("data/images/.staging-crashed")));
}

TEST_F(ImageStoreTest, ConcurrentCallersShareOneUnpack) {
  ASSERT_TRUE(store_->Pull(Ref("fn"), Host()).ok());
  ASSERT_TRUE(store_->Pull(Ref("umoci"), Host()).ok());
  std::string umoci = store_->Pull(Ref("umoci"), Host())->image.descriptor.digest;
  std::vector<std::thread> threads;
  std::vector<Result<LocalImage>> results(8, Internal("not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = store_->Local(Repository(), i % 2 == 0 ? layout_image_.digest : umoci, Host());
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status().message();
    EXPECT_EQ(results[i]->rootfs, results[i % 2]->rootfs);
  }
  std::set<std::string> entries;
  for (const auto& e : fs::directory_iterator(tmp_.Sub("data/images"))) {
    entries.insert(e.path().filename().string());
  }
  EXPECT_EQ(entries, (std::set<std::string>{layout_image_.digest.substr(7), umoci.substr(7)}));
}

}  // namespace
}  // namespace lambkin::images
