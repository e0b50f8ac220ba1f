#include "oci/image.h"

#include <gtest/gtest.h>

#include <string>

namespace lambkin::oci {
namespace {

const std::string kD1 = "sha256:" + std::string(64, 'a');
const std::string kD2 = "sha256:" + std::string(64, 'b');
const std::string kD3 = "sha256:" + std::string(64, 'c');

// As Docker (v2 schema 2) serves public.ecr.aws/lambda/provided:al2023 style images.
const std::string kDockerManifestDoc = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1469,
      "digest": ")" + kD1 + R"("
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 3370706,
         "digest": ")" + kD2 + R"("
      },
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 632,
         "digest": ")" + kD3 + R"("
      }
   ]
})";

// As buildah/skopeo write OCI manifests (no mediaType member is also valid OCI).
const std::string kOciManifestDoc = R"({
  "schemaVersion": 2,
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ")" +
                                    kD1 +
                                    R"(", "size": 598},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": ")" +
                                    kD2 +
                                    R"(", "size": 2811478},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ")" +
                                    kD3 + R"(", "size": 0}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
})";

// A Docker manifest list (as docker.io/library/alpine serves).
const std::string kManifestListDoc =
    R"({
  "manifests": [
    {"digest": ")" +
    kD1 + R"(", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "amd64", "os": "linux"}, "size": 528},
    {"digest": ")" +
    kD2 + R"(", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}, "size": 528},
    {"digest": ")" +
    kD3 + R"(", "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}, "size": 528}
  ],
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "schemaVersion": 2
})";

// An OCI index as buildx writes it, with an attestation manifest for unknown/unknown.
const std::string kOciIndexDoc = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" +
                                 kD3 + R"(",
     "size": 566, "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")" +
                                 kD1 + R"(",
     "size": 1014, "platform": {"architecture": "amd64", "os": "linux"}}
  ]
})";

const std::string kConfigDoc = R"({
  "architecture": "amd64",
  "config": {
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LAMBDA_TASK_ROOT=/var/task"],
    "Entrypoint": ["/lambda-entrypoint.sh"],
    "Cmd": null,
    "WorkingDir": "/var/task",
    "User": "sbx_user1051",
    "Labels": {"maintainer": "Lambkin"}
  },
  "created": "2024-01-01T00:00:00Z",
  "history": [{"created_by": "ADD file:abc in /"}],
  "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": [")" +
                               kD2 + R"(", ")" + kD3 + R"("]}
})";

TEST(DigestTest, Form) {
  EXPECT_TRUE(IsDigest(kD1));
  EXPECT_FALSE(IsDigest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(IsDigest("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(IsDigest("sha512:" + std::string(64, 'a')));
  EXPECT_FALSE(IsDigest(""));
  EXPECT_EQ(DigestOf(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ManifestTest, DockerSchema2) {
  Result<Manifest> m = ParseManifest(kDockerManifestDoc, kDockerManifest);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->config.media_type, kDockerConfig);
  EXPECT_EQ(m->config.digest, kD1);
  EXPECT_EQ(m->config.size, 1469);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].media_type, kDockerLayerGzip);
  EXPECT_EQ(m->layers[0].size, 3370706);
  EXPECT_EQ(m->layers[1].digest, kD3);
}

TEST(ManifestTest, OciWithoutMediaTypeMember) {
  Result<Manifest> m = ParseManifest(kOciManifestDoc);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_EQ(m->layers[0].media_type, kOciLayerZstd);
  EXPECT_EQ(m->annotations.at("org.opencontainers.image.created"), "2024-01-01T00:00:00Z");
  EXPECT_EQ(*DocumentMediaType(kOciManifestDoc), kOciManifest);
}

TEST(ManifestTest, RefusesBadDocuments) {
  struct Case {
    std::string body;
    std::string media_type;
    std::string message;  // a part of the expected message
  };
  std::string good = kOciManifestDoc;
  auto replace = [&](std::string from, std::string to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  std::vector<Case> cases = {
      {"not json", "", "not valid JSON"},
      {"[]", "", "not a JSON object"},
      {replace("\"schemaVersion\": 2", "\"schemaVersion\": 1"), "", "schemaVersion 2"},
      {replace(kD2, "sha256:abc"), "", "sha256:<64 lowercase hex>"},
      {replace("2811478", "-1"), "", "out of range"},
      {replace("2811478", "\"12\""), "", "no integer size"},
      {replace("image.layer.v1.tar+zstd", "image.layer.v1.tar+bzip2"), "",
       "application/vnd.oci.image.layer.v1.tar+bzip2"},
      {replace("image.config.v1+json", "custom.config+json"), "",
       "application/vnd.oci.custom.config+json"},
      {kDockerManifestDoc, std::string(kOciManifest), "declares mediaType"},
      {kOciManifestDoc, std::string(kOciIndex), "is not an image manifest"},
  };
  for (const Case& c : cases) {
    Result<Manifest> m = ParseManifest(c.body, c.media_type);
    ASSERT_FALSE(m.ok()) << c.body;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidParameterValue);
    EXPECT_NE(m.status().message().find(c.message), std::string::npos) << m.status().message();
  }
}

TEST(IndexTest, DockerManifestListAndPlatforms) {
  Result<Index> index = ParseIndex(kManifestListDoc);
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(index->media_type, kDockerManifestList);
  ASSERT_EQ(index->manifests.size(), 3u);
  EXPECT_EQ(index->manifests[1].platform->variant, "v7");

  EXPECT_EQ(SelectPlatform(*index, {"linux", "amd64", ""})->digest, kD1);
  EXPECT_EQ(SelectPlatform(*index, {"linux", "arm64", ""})->digest, kD3);
  EXPECT_EQ(SelectPlatform(*index, {"linux", "arm64", "v8"})->digest, kD3);
  Result<Descriptor> none = SelectPlatform(*index, {"linux", "arm64", "v9"});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kResourceNotFound);
  EXPECT_EQ(none.status().message(),
            "the image has no manifest for linux/arm64/v9 (it has: linux/amd64, linux/arm/v7, "
            "linux/arm64/v8)");
  EXPECT_EQ(*DocumentMediaType(kManifestListDoc), kDockerManifestList);
}

TEST(IndexTest, OciIndexSkipsAttestations) {
  Result<Index> index = ParseIndex(kOciIndexDoc, kOciIndex);
  ASSERT_TRUE(index.ok()) << index.status().message();
  EXPECT_EQ(index->manifests[0].annotations.at("vnd.docker.reference.type"),
            "attestation-manifest");
  EXPECT_EQ(SelectPlatform(*index, {"linux", "amd64", ""})->digest, kD1);
  Result<Descriptor> arm = SelectPlatform(*index, {"linux", "arm64", ""});
  EXPECT_EQ(arm.status().message(),
            "the image has no manifest for linux/arm64 (it has: linux/amd64)");
  EXPECT_FALSE(ParseIndex(kOciIndexDoc, kOciManifest).ok());
  EXPECT_FALSE(ParseIndex(kOciManifestDoc).ok());
}

TEST(ConfigTest, LambdaStyleConfig) {
  Result<ImageConfig> c = ParseImageConfig(kConfigDoc);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->os, "linux");
  EXPECT_EQ(c->env.size(), 2u);
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/lambda-entrypoint.sh"});
  EXPECT_TRUE(c->cmd.empty());
  EXPECT_EQ(c->working_dir, "/var/task");
  EXPECT_EQ(c->user, "sbx_user1051");
  EXPECT_EQ(c->labels.at("maintainer"), "Lambkin");
  EXPECT_EQ(c->diff_ids, (std::vector<std::string>{kD2, kD3}));

  EXPECT_TRUE(CheckPlatform(*c, {"linux", "amd64", ""}).ok());
  EXPECT_FALSE(CheckPlatform(*c, {"linux", "arm64", ""}).ok());

  EXPECT_FALSE(ParseImageConfig(R"({"os":"linux","rootfs":{"type":"layers"}})").ok());
  EXPECT_FALSE(
      ParseImageConfig(R"({"os":"linux","architecture":"amd64","rootfs":{"type":"x"}})").ok());
  EXPECT_FALSE(ParseImageConfig(R"({"os":"linux","architecture":"amd64","config":{"Env":[1]},)"
                                R"("rootfs":{"type":"layers","diff_ids":[]}})")
                   .ok());
}

TEST(ArchitectureTest, Names) {
  EXPECT_EQ(OciArchitecture("x86_64"), "amd64");
  EXPECT_EQ(OciArchitecture("arm64"), "arm64");
  EXPECT_EQ(OciArchitecture("amd64"), "amd64");
  EXPECT_EQ(OciArchitecture("sparc"), "");
  EXPECT_FALSE(HostOciArchitecture().empty());
}

}  // namespace
}  // namespace lambkin::oci
