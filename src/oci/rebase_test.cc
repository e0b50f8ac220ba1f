// Rebase and BaseLayerCount on small images built in the test: an old and a new base (two and
// three layers), function images built on the old one, rebased and unpacked.
#include "oci/rebase.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "oci/test_util.h"

namespace lambkin::oci {
namespace {

using Json = nlohmann::ordered_json;
using testing::Compression;
using testing::MakeTar;
using testing::ReadFile;
using testing::TarEntry;
using testing::TempDir;

struct Layer {
  Descriptor descriptor;
  std::string diff_id;
};

struct Image {
  std::string digest;
  std::vector<Layer> layers;
  Json config;  // as stored
};

class RebaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(BlobStore::Open(tmp_.Sub("blobs"))).value();
    old_os_ = AddLayer({{"etc/", 'd'},
                        {"etc/os-release", 'f', "old\n"},
                        {"usr/", 'd'},
                        {"usr/lib/", 'd'},
                        {"usr/lib/old-only.so", 'f', "old"}});
    old_runtime_ =
        AddLayer({{"var/", 'd'}, {"var/runtime/", 'd'}, {"var/runtime/bootstrap", 'f', "v1"}});
    new_os_ = AddLayer({{"etc/", 'd'},
                        {"etc/os-release", 'f', "new\n"},
                        {"usr/", 'd'},
                        {"usr/lib/", 'd'},
                        {"usr/lib/new-only.so", 'f', "new"}});
    new_runtime_ =
        AddLayer({{"var/", 'd'}, {"var/runtime/", 'd'}, {"var/runtime/bootstrap", 'f', "v2"}});
    new_extra_ = AddLayer({{"usr/", 'd'}, {"usr/share/", 'd'}, {"usr/share/extra", 'f', "x"}});
    function_ =
        AddLayer({{"var/", 'd'}, {"var/task/", 'd'}, {"var/task/app.py", 'f', "print(1)\n"}});

    old_base_ = AddImage(kOciManifest, {old_os_, old_runtime_}, BaseConfig("amd64"),
                         History({"os old", "runtime v1", "-CMD handler"}));
    new_base_ = AddImage(kOciManifest, {new_os_, new_runtime_, new_extra_}, BaseConfig("amd64"),
                         History({"os new", "runtime v2", "-ENV X=1", "extra", "-CMD handler"}));
  }

  // A gzip layer of `entries` in the store (its media type `media_type`).
  Layer AddLayer(const std::vector<TarEntry>& entries,
                 std::string_view media_type = kOciLayerGzip) {
    std::string tar = MakeTar(entries);
    std::string blob = media_type == kOciLayerTar ? tar : MakeTar(entries, Compression::kGzip);
    std::string digest = *store_->Put(blob);
    return Layer{
        Descriptor{std::string(media_type), digest, static_cast<int64_t>(blob.size()), {}, {}},
        DigestOf(tar)};
  }

  // History entries: "-x" is an empty_layer entry created by x.
  static Json History(const std::vector<std::string>& steps) {
    Json out = Json::array();
    for (const std::string& s : steps) {
      Json entry = {{"created", "2024-01-01T00:00:00Z"}};
      if (s.starts_with('-')) {
        entry["created_by"] = s.substr(1);
        entry["empty_layer"] = true;
      } else {
        entry["created_by"] = s;
      }
      out.push_back(entry);
    }
    return out;
  }

  static Json BaseConfig(const std::string& arch) {
    return Json{{"architecture", arch},
                {"os", "linux"},
                {"config", {{"Env", {"PATH=/usr/bin"}}, {"Cmd", {"handler"}}}}};
  }

  // An image of `layers` whose config is `config` with rootfs and (unless null) history added.
  Image AddImage(std::string_view manifest_type, const std::vector<Layer>& layers, Json config,
                 const Json& history, const Json& annotations = Json()) {
    bool docker = manifest_type == kDockerManifest;
    Json diff_ids = Json::array();
    Json layer_list = Json::array();
    for (const Layer& l : layers) {
      diff_ids.push_back(l.diff_id);
      Json d = {{"mediaType", l.descriptor.media_type},
                {"digest", l.descriptor.digest},
                {"size", l.descriptor.size}};
      if (!l.descriptor.annotations.empty()) d["annotations"] = l.descriptor.annotations;
      layer_list.push_back(d);
    }
    config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
    if (!history.is_null()) config["history"] = history;
    std::string config_bytes = config.dump();
    std::string config_digest = *store_->Put(config_bytes);
    Json manifest = {{"schemaVersion", 2},
                     {"mediaType", manifest_type},
                     {"config",
                      {{"mediaType", docker ? kDockerConfig : kOciConfig},
                       {"digest", config_digest},
                       {"size", config_bytes.size()}}},
                     {"layers", layer_list}};
    if (!annotations.is_null()) manifest["annotations"] = annotations;
    return Image{*store_->Put(manifest.dump()), layers, config};
  }

  // The function image: `base`'s layers and history, then its own layer, and members Lambkin
  // does not know.
  Image AddFunction(const Image& base, std::string_view manifest_type = kOciManifest,
                    std::vector<Layer> base_layers = {}) {
    if (base_layers.empty()) base_layers = base.layers;
    Layer own = function_;
    own.descriptor.annotations["com.example.layer"] = "app";
    if (manifest_type == kDockerManifest) own.descriptor.media_type = kDockerLayerGzip;
    base_layers.push_back(own);
    Json config = {{"created", "2024-02-02T00:00:00Z"},
                   {"architecture", "amd64"},
                   {"os", "linux"},
                   {"config",
                    {{"Env", {"PATH=/usr/bin", "APP=1"}},
                     {"Entrypoint", {"/var/runtime/bootstrap"}},
                     {"Cmd", {"app.handler"}},
                     {"Labels", {{"team", "blue"}}}}},
                   {"x-unknown", {{"nested", {1, 2.5, nullptr, "\u00e9<>&"}}}}};
    Json history = base.config["history"];
    history.push_back({{"created_by", "COPY app.py /var/task/"}});
    history.push_back({{"created_by", "WORKDIR /var/task"}, {"empty_layer", true}});
    Json annotations;
    if (manifest_type == kOciManifest) {
      annotations = {{std::string(kBaseDigestAnnotation), base.digest},
                     {std::string(kBaseNameAnnotation), "registry.example/python:3.11.v1"},
                     {"com.example.keep", "yes"}};
    }
    return AddImage(manifest_type, base_layers, config, history, annotations);
  }

  Json ConfigOf(const RebasedImage& image) {
    return Json::parse(*store_->Read(image.manifest.config.digest));
  }

  size_t BlobCount() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e :
         std::filesystem::directory_iterator(tmp_.Sub("blobs/sha256"))) {
      ++n;
    }
    return n;
  }

  TempDir tmp_;
  std::unique_ptr<BlobStore> store_;
  Layer old_os_, old_runtime_, new_os_, new_runtime_, new_extra_, function_;
  Image old_base_, new_base_;
};

TEST_F(RebaseTest, ReplacesTheOldBaseLayers) {
  Image function = AddFunction(old_base_);
  Result<RebasedImage> rebased = Rebase(store_.get(), {function.digest, old_base_.digest,
                                                       new_base_.digest, "lambkin/python:3.11.v2"});
  ASSERT_TRUE(rebased.ok()) << rebased.status().message();
  EXPECT_EQ(rebased->replaced_layers, 2u);

  // The manifest: stored as returned, the new base's layers then the function's own.
  EXPECT_EQ(rebased->descriptor.media_type, kOciManifest);
  EXPECT_EQ(rebased->descriptor.digest, DigestOf(rebased->manifest_bytes));
  EXPECT_EQ(rebased->descriptor.size, static_cast<int64_t>(rebased->manifest_bytes.size()));
  EXPECT_EQ(*store_->Read(rebased->descriptor.digest), rebased->manifest_bytes);
  std::vector<std::string> layers;
  for (const Descriptor& d : rebased->manifest.layers) layers.push_back(d.digest);
  EXPECT_EQ(layers,
            (std::vector<std::string>{new_os_.descriptor.digest, new_runtime_.descriptor.digest,
                                      new_extra_.descriptor.digest, function_.descriptor.digest}));
  EXPECT_EQ(rebased->manifest.layers[3].annotations.at("com.example.layer"), "app");
  EXPECT_EQ(rebased->manifest.annotations,
            (std::map<std::string, std::string>{
                {std::string(kBaseDigestAnnotation), new_base_.digest},
                {std::string(kBaseNameAnnotation), "lambkin/python:3.11.v2"},
                {"com.example.keep", "yes"}}));

  // The config: diff_ids and history replaced, everything else as it was, in its order.
  EXPECT_EQ(rebased->config.diff_ids,
            (std::vector<std::string>{new_os_.diff_id, new_runtime_.diff_id, new_extra_.diff_id,
                                      function_.diff_id}));
  Json config = ConfigOf(*rebased);
  Json history = new_base_.config["history"];
  history.push_back({{"created_by", "COPY app.py /var/task/"}});
  history.push_back({{"created_by", "WORKDIR /var/task"}, {"empty_layer", true}});
  EXPECT_EQ(config["history"], history);
  Json before = function.config;
  Json after = config;
  for (Json* j : {&before, &after}) {
    (*j)["rootfs"].erase("diff_ids");
    j->erase("history");
  }
  EXPECT_EQ(after.dump(), before.dump());  // dump compares member order too

  // The root filesystem: the new base's files and the function's, none only the old base had.
  std::string rootfs = tmp_.Sub("rootfs");
  ASSERT_TRUE(Unpack(*store_, rebased->manifest, rootfs).ok());
  EXPECT_EQ(ReadFile(rootfs + "/etc/os-release"), "new\n");
  EXPECT_EQ(ReadFile(rootfs + "/var/runtime/bootstrap"), "v2");
  EXPECT_EQ(ReadFile(rootfs + "/usr/share/extra"), "x");
  EXPECT_EQ(ReadFile(rootfs + "/var/task/app.py"), "print(1)\n");
  EXPECT_FALSE(std::filesystem::exists(rootfs + "/usr/lib/old-only.so"));
  EXPECT_TRUE(std::filesystem::exists(rootfs + "/usr/lib/new-only.so"));

  // The result is recognised as built on the new base, no longer on the old one.
  Result<Manifest> new_base = ParseManifest(*store_->Read(new_base_.digest));
  Result<Manifest> old_base = ParseManifest(*store_->Read(old_base_.digest));
  Result<ImageConfig> new_config = ParseImageConfig(*store_->Read(new_base->config.digest));
  Result<ImageConfig> old_config = ParseImageConfig(*store_->Read(old_base->config.digest));
  EXPECT_EQ(BaseLayerCount(rebased->manifest, rebased->config, *new_base, *new_config), 3u);
  EXPECT_EQ(BaseLayerCount(rebased->manifest, rebased->config, *old_base, *old_config),
            std::nullopt);

  // Rebasing it back gives the function's layers again.
  Result<RebasedImage> back =
      Rebase(store_.get(), {rebased->descriptor.digest, new_base_.digest, old_base_.digest, ""});
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->config.diff_ids,
            (std::vector<std::string>{old_os_.diff_id, old_runtime_.diff_id, function_.diff_id}));
  EXPECT_EQ(back->manifest.annotations.count(std::string(kBaseNameAnnotation)), 0u);
  EXPECT_EQ(ConfigOf(*back)["history"].size(), function.config["history"].size());
}

TEST_F(RebaseTest, BaseRecognisedByDiffIdsWhenCompressedDifferently) {
  // The function was built on the old base's layers stored uncompressed: other digests, same
  // diff_ids.
  Layer os_tar = AddLayer({{"etc/", 'd'},
                           {"etc/os-release", 'f', "old\n"},
                           {"usr/", 'd'},
                           {"usr/lib/", 'd'},
                           {"usr/lib/old-only.so", 'f', "old"}},
                          kOciLayerTar);
  Layer runtime_tar = AddLayer(
      {{"var/", 'd'}, {"var/runtime/", 'd'}, {"var/runtime/bootstrap", 'f', "v1"}}, kOciLayerTar);
  ASSERT_NE(os_tar.descriptor.digest, old_os_.descriptor.digest);
  ASSERT_EQ(os_tar.diff_id, old_os_.diff_id);
  Image function = AddFunction(old_base_, kOciManifest, {os_tar, runtime_tar});

  Result<Manifest> image = ParseManifest(*store_->Read(function.digest));
  Result<ImageConfig> image_config = ParseImageConfig(*store_->Read(image->config.digest));
  Result<Manifest> base = ParseManifest(*store_->Read(old_base_.digest));
  Result<ImageConfig> base_config = ParseImageConfig(*store_->Read(base->config.digest));
  EXPECT_EQ(BaseLayerCount(*image, *image_config, *base, *base_config), 2u);
  // Without diff_ids that line up with the layers, only digests count.
  ImageConfig no_ids = *image_config;
  no_ids.diff_ids.pop_back();
  EXPECT_EQ(BaseLayerCount(*image, no_ids, *base, *base_config), std::nullopt);
  EXPECT_EQ(BaseLayerCount(*base, *base_config, *base, *base_config), 2u);
  EXPECT_EQ(BaseLayerCount(*base, *base_config, *image, *image_config), std::nullopt);
  Manifest empty = *base;
  empty.layers.clear();
  EXPECT_EQ(BaseLayerCount(*image, *image_config, empty, ImageConfig{}), 0u);

  Result<RebasedImage> rebased =
      Rebase(store_.get(), {function.digest, old_base_.digest, new_base_.digest, "b"});
  ASSERT_TRUE(rebased.ok()) << rebased.status().message();
  ASSERT_EQ(rebased->manifest.layers.size(), 4u);
  EXPECT_EQ(rebased->manifest.layers[0].digest, new_os_.descriptor.digest);
}

TEST_F(RebaseTest, RefusesAnImageNotBuiltOnTheOldBase) {
  Image on_new = AddFunction(new_base_);
  Image arm = AddImage(kOciManifest, {new_os_}, BaseConfig("arm64"), Json());
  Image function = AddFunction(old_base_);
  size_t blobs = BlobCount();
  Result<RebasedImage> refused =
      Rebase(store_.get(), {on_new.digest, old_base_.digest, new_base_.digest, "b"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(refused.status().message(),
            "image " + on_new.digest + " is not built on base " + old_base_.digest +
                ": its layer 0 is " + new_os_.descriptor.digest + " (diff_id " + new_os_.diff_id +
                "), the base's is " + old_os_.descriptor.digest + " (diff_id " + old_os_.diff_id +
                ")");

  // A base taller than the image.
  Result<RebasedImage> taller =
      Rebase(store_.get(), {old_base_.digest, new_base_.digest, old_base_.digest, "b"});
  EXPECT_EQ(taller.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(taller.status().message().find("it has 2 layers, the base 3"), std::string::npos)
      << taller.status().message();

  // A new base for another architecture.
  Result<RebasedImage> other_arch =
      Rebase(store_.get(), {function.digest, old_base_.digest, arm.digest, "b"});
  EXPECT_EQ(other_arch.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(other_arch.status().message().find("is for linux/arm64, the image"), std::string::npos)
      << other_arch.status().message();

  // Not a manifest, and a manifest not in the store.
  Result<RebasedImage> not_manifest =
      Rebase(store_.get(), {old_os_.descriptor.digest, old_base_.digest, new_base_.digest, "b"});
  EXPECT_EQ(not_manifest.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(Rebase(store_.get(), {DigestOf("absent"), old_base_.digest, new_base_.digest, "b"})
                .status()
                .code(),
            StatusCode::kResourceNotFound);
  EXPECT_EQ(BlobCount(), blobs);  // nothing stored
}

TEST_F(RebaseTest, DockerManifestStaysDocker) {
  auto docker = [](Layer l) {
    l.descriptor.media_type = std::string(kDockerLayerGzip);
    return l;
  };
  Image docker_base = AddImage(kDockerManifest, {docker(old_os_), docker(old_runtime_)},
                               BaseConfig("amd64"), old_base_.config["history"]);
  Image function = AddFunction(docker_base, kDockerManifest);
  Result<RebasedImage> rebased =
      Rebase(store_.get(), {function.digest, docker_base.digest, new_base_.digest, "b"});
  ASSERT_TRUE(rebased.ok()) << rebased.status().message();
  EXPECT_EQ(rebased->descriptor.media_type, kDockerManifest);
  EXPECT_EQ(rebased->manifest.config.media_type, kDockerConfig);
  for (const Descriptor& d : rebased->manifest.layers) EXPECT_EQ(d.media_type, kDockerLayerGzip);
  EXPECT_FALSE(Json::parse(rebased->manifest_bytes).contains("annotations"));
  std::string rootfs = tmp_.Sub("rootfs");
  ASSERT_TRUE(Unpack(*store_, rebased->manifest, rootfs).ok());
  EXPECT_EQ(ReadFile(rootfs + "/etc/os-release"), "new\n");
  EXPECT_EQ(ReadFile(rootfs + "/var/task/app.py"), "print(1)\n");

  // An OCI image rebased onto the Docker base gets OCI layer types.
  Image oci_function = AddFunction(old_base_);
  Result<RebasedImage> oci =
      Rebase(store_.get(), {oci_function.digest, old_base_.digest, docker_base.digest, "b"});
  ASSERT_TRUE(oci.ok()) << oci.status().message();
  for (const Descriptor& d : oci->manifest.layers) EXPECT_EQ(d.media_type, kOciLayerGzip);

  // An uncompressed layer has no Docker media type.
  Layer plain = AddLayer({{"plain", 'f', "p"}}, kOciLayerTar);
  Image plain_base = AddImage(kOciManifest, {plain}, BaseConfig("amd64"), Json());
  Result<RebasedImage> refused =
      Rebase(store_.get(), {function.digest, docker_base.digest, plain_base.digest, "b"});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(refused.status().message().find("cannot carry"), std::string::npos)
      << refused.status().message();
}

TEST_F(RebaseTest, HistoryThatDoesNotMatchTheLayersIsDropped) {
  // A new base without history: the function's history cannot be rebuilt.
  Image bare = AddImage(kOciManifest, {new_os_}, BaseConfig("amd64"), Json());
  Image function = AddFunction(old_base_);
  Result<RebasedImage> rebased =
      Rebase(store_.get(), {function.digest, old_base_.digest, bare.digest, "b"});
  ASSERT_TRUE(rebased.ok()) << rebased.status().message();
  EXPECT_FALSE(ConfigOf(*rebased).contains("history"));
  EXPECT_EQ(rebased->config.diff_ids,
            (std::vector<std::string>{new_os_.diff_id, function_.diff_id}));

  // An old base whose history is not the prefix of the function's: entries up to its last
  // layer are the old base's.
  Image other_history = AddImage(kOciManifest, {old_os_, old_runtime_}, BaseConfig("amd64"),
                                 History({"something", "else"}));
  Result<RebasedImage> counted =
      Rebase(store_.get(), {function.digest, other_history.digest, new_base_.digest, "b"});
  ASSERT_TRUE(counted.ok()) << counted.status().message();
  Json history = new_base_.config["history"];
  history.push_back({{"created", "2024-01-01T00:00:00Z"},
                     {"created_by", "CMD handler"},
                     {"empty_layer", true}});  // the old base's CMD stays: it follows its layers
  history.push_back({{"created_by", "COPY app.py /var/task/"}});
  history.push_back({{"created_by", "WORKDIR /var/task"}, {"empty_layer", true}});
  EXPECT_EQ(ConfigOf(*counted)["history"], history);
}

}  // namespace
}  // namespace lambkin::oci
