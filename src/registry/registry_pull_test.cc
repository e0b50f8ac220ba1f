// Real clients against the registry on a loopback port: skopeo inspects and copies an image
// (with an access key, and anonymously), umoci unpacks the copy.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "registry/registry_api.h"
#include "registry/test_images.h"
#include "server/http_server.h"

namespace lambkin::registry {
namespace {

using testing::kLayerText;
using testing::kPullerKey;
using testing::kPullerSecret;
using testing::ReadFile;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Outcome Shell(const std::string& command) {
  Outcome run;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

bool Installed(const char* program) {
  return Shell(fmt::format("command -v {}", program)).exit_code == 0;
}

class RegistryPullTest : public testing::RegistryFixture {
 protected:
  // Serves a registry on a free loopback port; returns "127.0.0.1:<port>".
  std::string Start(bool anonymous_pull) {
    api_ = std::make_unique<RegistryApi>(Deps(&clock_, anonymous_pull));
    server_ = std::make_unique<server::HttpServer>(2);
    Result<uint16_t> port = server_->Listen(
        "127.0.0.1:0", [this](const server::HttpRequest& request, server::Respond respond) {
          if (request.raw_path == "/v2/token") ++token_requests_;
          respond(api_->Handle(request));
        });
    EXPECT_TRUE(port.ok());
    thread_ = std::thread([this] { server_->Run(/*handle_signals=*/false); });
    return fmt::format("127.0.0.1:{}", *port);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    RegistryFixture::TearDown();
  }

  // skopeo copy into an OCI layout, then checks the layout's blobs are the originals.
  void CopyAndCompare(const std::string& source, const std::string& creds,
                      const std::string& layout) {
    Outcome copy = Shell(fmt::format(
        "skopeo --insecure-policy copy --src-tls-verify=false {} docker://{} oci:{}:3.11.v2", creds,
        source, layout));
    ASSERT_EQ(copy.exit_code, 0) << copy.output;
    for (const std::string& digest :
         {python_.layer_digest, python_.config_digest, python_.descriptor.digest}) {
      std::string copied = fmt::format("{}/blobs/sha256/{}", layout, digest.substr(7));
      EXPECT_EQ(ReadFile(copied), ReadFile(blobs_->Path(digest))) << digest;
    }
    nlohmann::json index = nlohmann::json::parse(ReadFile(layout + "/index.json"));
    EXPECT_EQ(index["manifests"][0]["digest"], python_.descriptor.digest);
  }

  SystemClock clock_;
  std::unique_ptr<RegistryApi> api_;
  std::unique_ptr<server::HttpServer> server_;
  std::thread thread_;
  std::atomic<int> token_requests_{0};
};

TEST_F(RegistryPullTest, SkopeoAndUmociPullWithAnAccessKey) {
  ASSERT_TRUE(Installed("skopeo") && Installed("umoci"))
      << "skopeo and umoci are needed: run scripts/install-deps.sh";
  std::string host = Start(/*anonymous_pull=*/false);
  std::string creds = fmt::format("--src-creds {}:{}", kPullerKey, kPullerSecret);

  Outcome inspect = Shell(
      fmt::format("skopeo inspect --tls-verify=false --creds {}:{} docker://{}/python:3.11.v2",
                  kPullerKey, kPullerSecret, host));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  nlohmann::json info = nlohmann::json::parse(inspect.output);
  EXPECT_EQ(info["Digest"], python_.descriptor.digest);
  EXPECT_EQ(info["Layers"], nlohmann::json({python_.layer_digest}));
  EXPECT_EQ(info["RepoTags"], nlohmann::json({"3.11.v1", "3.11.v2", "3.12.v1"}));
  // Through the token server, as the challenge asks.
  EXPECT_GT(token_requests_.load(), 0);

  // Without credentials, and with a key that may not pull it: refused.
  Outcome refused =
      Shell(fmt::format("skopeo inspect --tls-verify=false docker://{}/python:3.11.v2", host));
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  refused =
      Shell(fmt::format("skopeo inspect --tls-verify=false --creds {}:{} docker://{}/nodejs:20.v1",
                        kPullerKey, kPullerSecret, host));
  EXPECT_NE(refused.exit_code, 0) << refused.output;

  std::string layout = dir_ + "/copied";
  CopyAndCompare(host + "/python:3.11.v2", creds, layout);

  // umoci unpacks the copy (as root: owners kept) and the layer's file is in the rootfs.
  std::string bundle = dir_ + "/bundle";
  std::string rootless = ::geteuid() == 0 ? "" : "--rootless";
  Outcome unpack =
      Shell(fmt::format("umoci unpack {} --image {}:3.11.v2 {}", rootless, layout, bundle));
  ASSERT_EQ(unpack.exit_code, 0) << unpack.output;
  EXPECT_EQ(ReadFile(bundle + "/rootfs/hello.txt"), kLayerText);
}

TEST_F(RegistryPullTest, SkopeoPullsAnonymouslyWhenAllowed) {
  ASSERT_TRUE(Installed("skopeo")) << "skopeo is needed: run scripts/install-deps.sh";
  std::string host = Start(/*anonymous_pull=*/true);
  Outcome inspect =
      Shell(fmt::format("skopeo inspect --tls-verify=false docker://{}/provided/al2023:v1", host));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_EQ(nlohmann::json::parse(inspect.output)["Digest"], python_.descriptor.digest);
  CopyAndCompare(host + "/python:3.11.v2", "", dir_ + "/anonymous");
}

// HEAD and Range through the server's file bodies, on the wire.
TEST_F(RegistryPullTest, HeadAndRangeOnTheWire) {
  ASSERT_TRUE(Installed("curl"));
  std::string url = fmt::format("http://{}/v2/python/blobs/{}", Start(/*anonymous_pull=*/true),
                                python_.layer_digest);
  Outcome head = Shell(fmt::format("curl -sS -I {}", url));
  ASSERT_EQ(head.exit_code, 0) << head.output;
  EXPECT_NE(head.output.find(fmt::format("Content-Length: {}", python_.layer.size())),
            std::string::npos)
      << head.output;
  std::string part = dir_ + "/part";
  Outcome range = Shell(fmt::format("curl -sS -f -r 70000-140000 -o {} {}", part, url));
  ASSERT_EQ(range.exit_code, 0) << range.output;
  EXPECT_EQ(ReadFile(part), python_.layer.substr(70000, 70001));
  Outcome whole = Shell(fmt::format("curl -sS -f -o {} {}", part, url));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_EQ(ReadFile(part), python_.layer);
}

}  // namespace
}  // namespace lambkin::registry
