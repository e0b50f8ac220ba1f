// Runtime-version images for tests and benchmarks: a one-layer OCI layout with an executable
// /var/runtime/bootstrap and a Debian status database, published through the real
// oci::FetchImage. Test-only.
#pragma once

#include <string>

#include "oci/registry_client.h"
#include "oci/test_util.h"

namespace lambkin::catalog::testing {

struct TestImage {
  std::string bootstrap = "exec /var/task/bootstrap";
  int bootstrap_mode = 0755;
  std::string runtime_label;              // com.lambkin.runtime, when set
  std::string package_version = "1.0-1";  // of the one Debian package it lists
};

// Writes the layout to `dir` and returns its source for PublishRequest::image.
inline std::string WriteTestImage(const std::string& dir, const TestImage& image = {}) {
  oci::testing::LayoutWriter layout(dir);
  std::string layer = oci::testing::MakeTar(
      {{"var/runtime/bootstrap", 'f', "#!/bin/sh\n" + image.bootstrap + "\n", "",
        image.bootstrap_mode},
       {"etc/os-release", 'f', "PRETTY_NAME=\"Lambkin test image\"\n"},
       {"var/lib/dpkg/status", 'f',
        "Package: libtest1\nStatus: install ok installed\nVersion: " + image.package_version +
            "\nSource: test\n\n"}});
  nlohmann::json labels = nlohmann::json::object();
  if (!image.runtime_label.empty()) labels["com.lambkin.runtime"] = image.runtime_label;
  oci::Descriptor d =
      layout.AddImage(std::string(oci::HostOciArchitecture()), {layer}, oci::kOciLayerTar, labels);
  layout.WriteTopIndex({{"img", d}});
  return "oci:" + dir + ":img";
}

// The fetcher a catalog under test uses: the real one, without registry credentials.
inline Result<oci::ResolvedImage> FetchForTest(std::string_view source,
                                               const oci::Platform& platform,
                                               oci::BlobStore* blobs) {
  return oci::FetchImage(source, platform, {}, blobs);
}

}  // namespace lambkin::catalog::testing
