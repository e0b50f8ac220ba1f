// The registry client against a real registry: Debian's docker-registry (distribution 2.8),
// started by the test on a loopback port, with images pushed by skopeo from OCI layouts the
// test writes. The bearer-token flow runs against a small token server in front of it.
#include "oci/registry_client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/crypto.h"
#include "oci/test_registry.h"
#include "oci/test_util.h"

namespace lambkin::oci {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using testing::MakeTar;
using testing::TempDir;

using testing::Answers;
using testing::kRegistryBinary;
using testing::kSkopeo;
using testing::Registry;
using testing::RunShell;

TEST(ImageReferenceTest, Grammar) {
  struct Case {
    std::string text, registry, repository, tag, digest;
  };
  std::string d = "sha256:" + std::string(64, 'e');
  std::vector<Case> cases = {
      {"alpine", "docker.io", "library/alpine", "latest", ""},
      {"alpine:3.19", "docker.io", "library/alpine", "3.19", ""},
      {"docker.io/library/alpine", "docker.io", "library/alpine", "latest", ""},
      {"index.docker.io/foo/bar:v1", "docker.io", "foo/bar", "v1", ""},
      {"user/repo", "docker.io", "user/repo", "latest", ""},
      {"public.ecr.aws/lambda/provided:al2023", "public.ecr.aws", "lambda/provided", "al2023", ""},
      {"127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c", "latest", ""},
      {"localhost/x_y__z-w.v", "localhost", "x_y__z-w.v", "latest", ""},
      {"ghcr.io/o/r@" + d, "ghcr.io", "o/r", "", d},
      {"ghcr.io/o/r:t@" + d, "ghcr.io", "o/r", "t", d},
  };
  for (const Case& c : cases) {
    Result<ImageReference> ref = ParseImageReference(c.text);
    ASSERT_TRUE(ref.ok()) << c.text << ": " << ref.status().message();
    EXPECT_EQ(ref->registry, c.registry) << c.text;
    EXPECT_EQ(ref->repository, c.repository) << c.text;
    EXPECT_EQ(ref->tag, c.tag) << c.text;
    EXPECT_EQ(ref->digest, c.digest) << c.text;
  }
  EXPECT_EQ(ParseImageReference("alpine")->ToString(), "docker.io/library/alpine:latest");
  for (const std::string& bad : std::vector<std::string>{
           "", "Alpine", "docker.io/Foo/bar", "a//b", "a/b:", "a/b:-x", "a@sha256:12",
           "a/b@md5:" + std::string(32, 'a'), "-a", "a/b/", "host:99x/a", "a:b:c"}) {
    Result<ImageReference> ref = ParseImageReference(bad);
    EXPECT_FALSE(ref.ok()) << bad;
    if (!ref.ok()) {
      EXPECT_EQ(ref.status().code(), StatusCode::kInvalidParameterValue);
      EXPECT_NE(ref.status().message().find("is malformed"), std::string::npos);
    }
  }
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kRegistryBinary) && std::filesystem::exists(kSkopeo))
        << kRegistryBinary << " or " << kSkopeo
        << " is missing: run scripts/install-deps.sh (it installs docker-registry and skopeo)";
    store_ = std::move(BlobStore::Open(tmp_.Sub("blobs"))).value();
    // One layout: "single" (the host's architecture) and "multi" (an index, amd64 + arm64).
    testing::LayoutWriter layout(tmp_.Sub("layout"));
    std::string host_arch(HostOciArchitecture());
    single_ = layout.AddImage(
        host_arch,
        {MakeTar({{"bootstrap", 'f', "#!/bin/sh\necho hello\n", "", 0755}, {"var/task/", 'd'}},
                 testing::Compression::kGzip)},
        kOciLayerGzip);
    Descriptor amd64 = layout.AddImage("amd64", {MakeTar({{"arch", 'f', "amd64"}})});
    Descriptor arm64 = layout.AddImage("arm64", {MakeTar({{"arch", 'f', "arm64"}})});
    Descriptor index = layout.AddIndex({amd64, arm64});
    layout.WriteTopIndex({{"single", single_}, {"multi", index}});
  }

  // skopeo copy of the layout's `name` to `registry`/lambkin/runtime:`tag`.
  void SkopeoPush(const Registry& registry, const std::string& name, const std::string& tag,
                  const std::string& creds = "") {
    ASSERT_EQ(
        testing::SkopeoCopy("oci:" + tmp_.Sub("layout") + ":" + name,
                            registry.host() + "/lambkin/runtime:" + tag, tmp_.Sub("skopeo.log"),
                            creds.empty() ? "" : "--dest-creds " + creds),
        "");
  }

  static Platform Host() { return Platform{"linux", std::string(HostOciArchitecture()), ""}; }

  // The layout's "single" image, imported into store_.
  ResolvedImage Single() {
    Result<ResolvedImage> image =
        FetchImage("oci:" + tmp_.Sub("layout") + ":single", Host(), {}, store_.get());
    EXPECT_TRUE(image.ok()) << image.status().message();
    return *image;
  }

  // The same image as a Docker v2 schema 2 manifest (same config and gzip layer), in store_.
  Descriptor DockerCopy(const ResolvedImage& image) {
    nlohmann::json doc = nlohmann::json::parse(*store_->Read(image.descriptor.digest));
    doc["mediaType"] = kDockerManifest;
    doc["config"]["mediaType"] = kDockerConfig;
    for (auto& layer : doc["layers"]) layer["mediaType"] = kDockerLayerGzip;
    std::string bytes = doc.dump();
    return Descriptor{std::string(kDockerManifest),
                      *store_->Put(bytes),
                      static_cast<int64_t>(bytes.size()),
                      {},
                      {}};
  }

  // The digest skopeo reports for `reference` (host/repository:tag) on a plain-HTTP registry.
  std::string SkopeoDigest(const std::string& reference) {
    std::string out = tmp_.Sub("inspect.json");
    // In a subshell: RunShell sends the command's own output to the log.
    std::string command = "(" + std::string(kSkopeo) + " inspect --tls-verify=false docker://" +
                          reference + " >" + out + ")";
    EXPECT_EQ(RunShell(command, tmp_.Sub("skopeo.log")), 0)
        << command << "\n"
        << testing::ReadFile(tmp_.Sub("skopeo.log"));
    nlohmann::json doc = nlohmann::json::parse(testing::ReadFile(out), nullptr, false);
    return doc.is_object() ? doc.value("Digest", "") : "";
  }
  RegistryCredentials Insecure(const Registry& r, const std::string& user = "",
                               const std::string& password = "") {
    return {{r.host(), RegistryCredential{user, password, true}}};
  }

  TempDir tmp_;
  std::unique_ptr<BlobStore> store_;
  Descriptor single_;
};

TEST_F(RegistryTest, PullByTagAndByDigest) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  SkopeoPush(registry, "single", "v1");

  Result<ResolvedImage> image = FetchImage("docker://" + registry.host() + "/lambkin/runtime:v1",
                                           Host(), Insecure(registry), store_.get());
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->config.architecture, HostOciArchitecture());
  EXPECT_FALSE(image->from_index);
  EXPECT_EQ(image->config.entrypoint, std::vector<std::string>{"/bootstrap"});
  ASSERT_EQ(image->manifest.layers.size(), 1u);
  EXPECT_TRUE(store_->Has(image->descriptor.digest));
  EXPECT_TRUE(store_->Has(image->manifest.config.digest));
  EXPECT_TRUE(store_->Has(image->manifest.layers[0].digest));
  ASSERT_TRUE(Unpack(*store_, image->manifest, tmp_.Sub("rootfs")).ok());
  EXPECT_EQ(testing::ReadFile(tmp_.Sub("rootfs/bootstrap")), "#!/bin/sh\necho hello\n");

  // By digest, into another store.
  auto other = std::move(BlobStore::Open(tmp_.Sub("blobs2"))).value();
  ImageReference ref{registry.host(), "lambkin/runtime", "", image->descriptor.digest};
  Result<ResolvedImage> again = Pull(ref, Host(), Insecure(registry), other.get());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->descriptor.digest, image->descriptor.digest);
  EXPECT_EQ(*other->Read(again->descriptor.digest), *store_->Read(image->descriptor.digest));

  // Unknown tags and digests, and a platform the image is not for.
  Result<ResolvedImage> missing = Pull({registry.host(), "lambkin/runtime", "nope", ""}, Host(),
                                       Insecure(registry), store_.get());
  EXPECT_EQ(missing.status().code(), StatusCode::kResourceNotFound);
  EXPECT_NE(missing.status().message().find("registry " + registry.host() +
                                            ", repository lambkin/runtime"),
            std::string::npos)
      << missing.status().message();
  EXPECT_NE(missing.status().message().find("HTTP 404"), std::string::npos);
  EXPECT_FALSE(Pull({registry.host(), "lambkin/runtime", "", DigestOf("x")}, Host(),
                    Insecure(registry), store_.get())
                   .ok());
  Result<ResolvedImage> wrong_arch = Pull({registry.host(), "lambkin/runtime", "v1", ""},
                                          {"linux", "s390x", ""}, Insecure(registry), store_.get());
  EXPECT_EQ(wrong_arch.status().code(), StatusCode::kInvalidParameterValue);

  // Without `insecure` the client speaks TLS, which this registry does not.
  EXPECT_FALSE(Pull({registry.host(), "lambkin/runtime", "v1", ""}, Host(), {}, store_.get()).ok());
}

TEST_F(RegistryTest, IndexResolvedToThePlatform) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  SkopeoPush(registry, "multi", "multi");
  for (std::string arch :
       {std::string(HostOciArchitecture()), std::string("amd64"), std::string("arm64")}) {
    Result<ResolvedImage> image = Pull({registry.host(), "lambkin/runtime", "multi", ""},
                                       {"linux", arch, ""}, Insecure(registry), store_.get());
    ASSERT_TRUE(image.ok()) << image.status().message();
    EXPECT_EQ(image->config.architecture, arch);
    EXPECT_TRUE(image->from_index);
    std::string rootfs = tmp_.Sub("rootfs-" + arch + std::to_string(std::rand()));
    ASSERT_TRUE(Unpack(*store_, image->manifest, rootfs).ok());
    EXPECT_EQ(testing::ReadFile(rootfs + "/arch"), arch);
  }
  Result<ResolvedImage> none = Pull({registry.host(), "lambkin/runtime", "multi", ""},
                                    {"linux", "riscv64", ""}, Insecure(registry), store_.get());
  // An index without the platform is an image that cannot run here, not a missing one.
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(none.status().message().find("linux/amd64, linux/arm64"), std::string::npos);
}

TEST_F(RegistryTest, DamagedBlobInTheRegistryRefused) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  SkopeoPush(registry, "single", "v1");
  Result<Manifest> manifest =
      ParseManifest(testing::ReadFile(tmp_.Sub("layout/blobs/sha256/" + single_.digest.substr(7))));
  ASSERT_TRUE(manifest.ok());
  const Descriptor& layer = manifest->layers[0];
  std::string data = registry.BlobData(layer.digest);
  ASSERT_TRUE(std::filesystem::exists(data));
  std::string bytes = testing::ReadFile(data);
  bytes[bytes.size() / 2] ^= 0x55;  // same size, other content
  testing::WriteFile(data, bytes);

  Result<ResolvedImage> image = Pull({registry.host(), "lambkin/runtime", "v1", ""}, Host(),
                                     Insecure(registry), store_.get());
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(image.status().message().find("does not match"), std::string::npos)
      << image.status().message();
  EXPECT_FALSE(store_->Has(layer.digest));
  EXPECT_TRUE(std::filesystem::is_empty(tmp_.Sub("blobs/tmp")));
}

TEST_F(RegistryTest, BasicAuthentication) {
  std::string out = tmp_.Sub("htpasswd.out");
  // bcrypt, as distribution's htpasswd wants it (libxcrypt's, through Python).
  ASSERT_EQ(RunShell("/usr/bin/python3 -W ignore -c \"import crypt; open('" + out +
                         "', 'w').write('alice:' + crypt.crypt('s3cret', "
                         "crypt.mksalt(crypt.METHOD_BLOWFISH)) + '\\n')\"",
                     tmp_.Sub("python.log")),
            0)
      << testing::ReadFile(tmp_.Sub("python.log"));
  ASSERT_TRUE(testing::ReadFile(out).starts_with("alice:$2"));
  Registry registry(tmp_.Sub("registry"), testing::ReadFile(out));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  SkopeoPush(registry, "single", "v1", "alice:s3cret");

  ImageReference ref{registry.host(), "lambkin/runtime", "v1", ""};
  Result<ResolvedImage> anonymous = Pull(ref, Host(), Insecure(registry), store_.get());
  EXPECT_EQ(anonymous.status().code(), StatusCode::kAccessDenied);
  EXPECT_NE(anonymous.status().message().find("none is configured"), std::string::npos)
      << anonymous.status().message();
  Result<ResolvedImage> wrong =
      Pull(ref, Host(), Insecure(registry, "alice", "wrong"), store_.get());
  EXPECT_EQ(wrong.status().code(), StatusCode::kAccessDenied);
  EXPECT_NE(wrong.status().message().find("HTTP 401"), std::string::npos);
  Result<ResolvedImage> image =
      Pull(ref, Host(), Insecure(registry, "alice", "s3cret"), store_.get());
  ASSERT_TRUE(image.ok()) << image.status().message();

  // Pushing with Basic credentials, and without.
  ImageReference copy{registry.host(), "lambkin/copy", "v1", ""};
  Status pushed = Push(copy, image->descriptor, *store_, Insecure(registry, "alice", "s3cret"));
  EXPECT_TRUE(pushed.ok()) << pushed.message();
  Status refused = Push(copy, image->descriptor, *store_, Insecure(registry, "alice", "wrong"));
  EXPECT_EQ(refused.code(), StatusCode::kAccessDenied);
  EXPECT_NE(refused.message().find("HTTP 401"), std::string::npos) << refused.message();
}

// A token service and registry front in one: /v2/ answers 401 with a Bearer challenge unless
// the request carries a token; /token issues one for alice's Basic credentials (a push token
// when the scope asks for pull,push) and a pull-only one for bob's whatever he asks (a partial
// grant); writes need the push token. Blob reads are redirected to /storage/, as registries
// redirect to their object storage. Everything else is forwarded to the real registry behind
// it, with the Location of a started upload (202) made relative.
class TokenFront {
 public:
  explicit TokenFront(int upstream_port)
      : upstream_port_(upstream_port),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        port_(acceptor_.local_endpoint().port()),
        thread_([this] { Serve(); }) {}
  ~TokenFront() {
    stop_ = true;
    Answers(port_);  // wakes the accept
    thread_.join();
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int token_requests() const { return token_requests_; }
  int redirects() const { return redirects_; }
  int relative_locations() const { return relative_locations_; }

 private:
  using Request = http::request<http::string_body>;
  using Response = http::response<http::string_body>;

  void Serve() {
    while (!stop_) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (stop_ || ec) continue;
      beast::flat_buffer buffer;
      Request req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      Response res = Handle(req);
      res.prepare_payload();
      http::write(socket, res, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  Response Handle(const Request& req) {
    std::string target(req.target());
    Response res{http::status::ok, 11};
    if (target.starts_with("/token")) {
      ++token_requests_;
      std::string login(req[http::field::authorization]);
      bool alice = login == "Basic " + Base64Encode("alice:s3cret");
      bool bob = login == "Basic " + Base64Encode("bob:b0b");
      bool good = (alice || bob) && target.find("service=lambkin-test") != std::string::npos &&
                  target.find("scope=repository%3Alambkin%2Fruntime%3Apull") != std::string::npos;
      bool push = alice && target.find("%3Apull%2Cpush") != std::string::npos;
      res.result(good ? http::status::ok : http::status::unauthorized);
      res.body() = !good  ? "{}"
                   : push ? R"({"token":"tok-push","expires_in":300})"
                          : R"({"access_token":"tok-123","expires_in":300})";
      return res;
    }
    if (target.starts_with("/storage/")) return Forward(target.substr(8), req);
    bool read = req.method() == http::verb::get || req.method() == http::verb::head;
    std::string token(req[http::field::authorization]);
    if (token != "Bearer tok-push" && !(read && token == "Bearer tok-123")) {
      res.result(http::status::unauthorized);
      res.set(http::field::www_authenticate,
              "Bearer realm=\"http://" + host() +
                  "/token\",service=\"lambkin-test\",scope=\"repository:lambkin/runtime:" +
                  (read ? "pull" : "pull,push") + "\"");
      res.body() = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
      return res;
    }
    if (read && target.find("/blobs/sha256:") != std::string::npos) {
      ++redirects_;
      res.result(http::status::temporary_redirect);
      res.set(http::field::location, "/storage" + target);
      return res;
    }
    return Forward(target, req);
  }

  Response Forward(const std::string& target, const Request& req) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(upstream_port_)));
    Request up{req.method(), target, 11};
    // The registry builds the Locations it answers from the Host it was asked for.
    up.set(http::field::host, host());
    for (http::field f : {http::field::accept, http::field::content_type}) {
      if (req.count(f)) up.set(f, req[f]);
    }
    up.body() = req.body();
    up.prepare_payload();
    http::write(stream, up);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 26);
    if (req.method() == http::verb::head) parser.skip(true);
    http::read(stream, buffer, parser);
    Response res = parser.release();
    res.keep_alive(false);
    std::string location(res[http::field::location]);
    if (std::string absolute = "http://" + host();
        res.result() == http::status::accepted && location.starts_with(absolute)) {
      res.set(http::field::location, location.substr(absolute.size()));
      ++relative_locations_;
    }
    return res;
  }

  int upstream_port_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  int port_;
  std::atomic<bool> stop_{false};
  std::atomic<int> token_requests_{0};
  std::atomic<int> redirects_{0};
  std::atomic<int> relative_locations_{0};
  std::thread thread_;
};

TEST_F(RegistryTest, BearerTokenFlowAndRedirects) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  SkopeoPush(registry, "multi", "multi");
  TokenFront front(std::stoi(registry.host().substr(registry.host().find(':') + 1)));

  ImageReference ref{front.host(), "lambkin/runtime", "multi", ""};
  RegistryCredentials good = {{front.host(), RegistryCredential{"alice", "s3cret", true}}};
  Result<ResolvedImage> image = Pull(ref, {"linux", "arm64", ""}, good, store_.get());
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->config.architecture, "arm64");
  EXPECT_GE(front.token_requests(), 1);
  EXPECT_EQ(front.redirects(), 2);  // the config and the one layer

  RegistryCredentials bad = {{front.host(), RegistryCredential{"alice", "nope", true}}};
  auto other = std::move(BlobStore::Open(tmp_.Sub("blobs2"))).value();
  Result<ResolvedImage> denied = Pull(ref, {"linux", "arm64", ""}, bad, other.get());
  EXPECT_EQ(denied.status().code(), StatusCode::kAccessDenied);
  EXPECT_NE(denied.status().message().find("token service"), std::string::npos)
      << denied.status().message();
}

TEST_F(RegistryTest, PushThenPullBack) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  ResolvedImage image = Single();
  ImageReference dest{registry.host(), "lambkin/fn", "v1", ""};
  Status pushed = Push(dest, image.descriptor, *store_, Insecure(registry));
  ASSERT_TRUE(pushed.ok()) << pushed.message();
  for (const Descriptor& d : {image.manifest.config, image.manifest.layers[0]}) {
    EXPECT_EQ(testing::ReadFile(registry.BlobData(d.digest)),
              testing::ReadFile(store_->Path(d.digest)));
  }
  auto other = std::move(BlobStore::Open(tmp_.Sub("blobs2"))).value();
  Result<ResolvedImage> pulled = Pull(dest, Host(), Insecure(registry), other.get());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_EQ(pulled->descriptor.digest, image.descriptor.digest);
  EXPECT_EQ(pulled->descriptor.media_type, kOciManifest);
  EXPECT_EQ(SkopeoDigest(registry.host() + "/lambkin/fn:v1"), image.descriptor.digest);

  // Again, with every blob already there, and by digest alone into another repository.
  pushed = Push(dest, image.descriptor, *store_, Insecure(registry));
  EXPECT_TRUE(pushed.ok()) << pushed.message();
  ImageReference by_digest{registry.host(), "lambkin/other", "", image.descriptor.digest};
  pushed = Push(by_digest, image.descriptor, *store_, Insecure(registry));
  ASSERT_TRUE(pushed.ok()) << pushed.message();
  EXPECT_TRUE(Pull(by_digest, Host(), Insecure(registry), other.get()).ok());

  // Docker v2 schema 2.
  Descriptor docker = DockerCopy(image);
  ImageReference docker_dest{registry.host(), "lambkin/fn", "docker", ""};
  pushed = Push(docker_dest, docker, *store_, Insecure(registry));
  ASSERT_TRUE(pushed.ok()) << pushed.message();
  Result<ResolvedImage> pulled_docker = Pull(docker_dest, Host(), Insecure(registry), other.get());
  ASSERT_TRUE(pulled_docker.ok()) << pulled_docker.status().message();
  EXPECT_EQ(pulled_docker->descriptor.digest, docker.digest);
  EXPECT_EQ(pulled_docker->descriptor.media_type, kDockerManifest);
  EXPECT_EQ(SkopeoDigest(registry.host() + "/lambkin/fn:docker"), docker.digest);

  // A manifest the registry refuses: its error code and message come back. (Sent as Docker v2
  // schema 2 without the mediaType member that format requires; Lambkin's parser lets the
  // Content-Type decide.)
  nlohmann::json doc = nlohmann::json::parse(*store_->Read(docker.digest));
  doc.erase("mediaType");
  std::string bytes = doc.dump();
  Descriptor invalid{std::string(kDockerManifest),
                     *store_->Put(bytes),
                     static_cast<int64_t>(bytes.size()),
                     {},
                     {}};
  Status refused = Push(docker_dest, invalid, *store_, Insecure(registry));
  EXPECT_EQ(refused.code(), StatusCode::kInternal);
  EXPECT_NE(refused.message().find("PUT manifest docker: HTTP 400 (MANIFEST_INVALID: "),
            std::string::npos)
      << refused.message();
}

TEST_F(RegistryTest, PushRefusals) {
  Registry registry(tmp_.Sub("registry"), "",
                    "  maintenance:\n    readonly:\n      enabled: true\n");
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  ResolvedImage image = Single();
  ImageReference dest{registry.host(), "lambkin/fn", "v1", ""};

  // A read-only registry refuses to start an upload (405, with no error document).
  Status readonly = Push(dest, image.descriptor, *store_, Insecure(registry));
  EXPECT_EQ(readonly.code(), StatusCode::kInternal);
  EXPECT_NE(readonly.message().find("POST an upload for blob " + image.manifest.config.digest +
                                    ": HTTP 405"),
            std::string::npos)
      << readonly.message();

  // Refused before any request.
  Status index = Push(dest, Descriptor{std::string(kOciIndex), DigestOf("x"), 1, {}, {}}, *store_,
                      Insecure(registry));
  EXPECT_EQ(index.code(), StatusCode::kInvalidParameterValue);
  ImageReference other_digest{registry.host(), "lambkin/fn", "", DigestOf("other")};
  EXPECT_EQ(Push(other_digest, image.descriptor, *store_, Insecure(registry)).code(),
            StatusCode::kInvalidParameterValue);
  nlohmann::json doc = nlohmann::json::parse(*store_->Read(image.descriptor.digest));
  doc["layers"][0]["digest"] = DigestOf("not in the store");
  std::string bytes = doc.dump();
  Descriptor missing{
      std::string(kOciManifest), *store_->Put(bytes), static_cast<int64_t>(bytes.size()), {}, {}};
  EXPECT_EQ(Push(dest, missing, *store_, Insecure(registry)).code(), StatusCode::kResourceNotFound);
}

TEST_F(RegistryTest, PushWithBearerTokens) {
  Registry registry(tmp_.Sub("registry"));
  ASSERT_TRUE(registry.up()) << testing::ReadFile(registry.log());
  TokenFront front(std::stoi(registry.host().substr(registry.host().find(':') + 1)));
  ResolvedImage image = Single();

  ImageReference dest{front.host(), "lambkin/runtime", "pushed", ""};
  RegistryCredentials alice = {{front.host(), RegistryCredential{"alice", "s3cret", true}}};
  Status pushed = Push(dest, image.descriptor, *store_, alice);
  ASSERT_TRUE(pushed.ok()) << pushed.message();
  EXPECT_EQ(front.token_requests(), 1);      // pull,push asked for at once
  EXPECT_EQ(front.relative_locations(), 2);  // the config's and the layer's uploads
  auto other = std::move(BlobStore::Open(tmp_.Sub("blobs2"))).value();
  Result<ResolvedImage> pulled = Pull(dest, Host(), alice, other.get());
  ASSERT_TRUE(pulled.ok()) << pulled.status().message();
  EXPECT_EQ(pulled->descriptor.digest, image.descriptor.digest);
  EXPECT_EQ(SkopeoDigest(registry.host() + "/lambkin/runtime:pushed"), image.descriptor.digest);

  // Bob's token is for pulls only: the blobs are there, the manifest's PUT is refused.
  RegistryCredentials bob = {{front.host(), RegistryCredential{"bob", "b0b", true}}};
  Status denied =
      Push({front.host(), "lambkin/runtime", "bobs", ""}, DockerCopy(image), *store_, bob);
  EXPECT_EQ(denied.code(), StatusCode::kAccessDenied);
  EXPECT_NE(denied.message().find("PUT manifest bobs: HTTP 401 (UNAUTHORIZED"), std::string::npos)
      << denied.message();
}

TEST_F(RegistryTest, FetchImageFromALayout) {
  Result<ResolvedImage> image =
      FetchImage("oci:" + tmp_.Sub("layout") + ":multi", {"linux", "arm64", ""}, {}, store_.get());
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(image->config.architecture, "arm64");
  EXPECT_FALSE(FetchImage("not a reference", Host(), {}, store_.get()).ok());
}

}  // namespace
}  // namespace lambkin::oci
