#include "registry/registry_api.h"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "registry/test_images.h"

namespace lambkin::registry {
namespace {

using nlohmann::json;
using testing::kNobodyKey;
using testing::kNobodySecret;
using testing::kPullerKey;
using testing::kPullerSecret;

constexpr char kHost[] = "registry.example:9001";
constexpr int64_t kStart = 1'700'000'000'000;

std::string Basic(std::string_view id, std::string_view secret) {
  return "Basic " + Base64Encode(std::string(id) + ":" + std::string(secret));
}

std::string HeaderOf(const server::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string ErrorCode(const server::HttpResponse& r) {
  json body = json::parse(r.body, nullptr, false);
  if (!body.contains("errors")) return "";
  return body["errors"][0]["code"].get<std::string>();
}

// What a file body sends.
std::string FileBytes(const server::HttpResponse& r) {
  if (!r.file) return "";
  std::ifstream in(r.file->path, std::ios::binary);
  std::string out(r.file->length, '\0');
  in.seekg(static_cast<std::streamoff>(r.file->offset));
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

class RegistryApiTest : public testing::RegistryFixture {
 protected:
  server::HttpResponse Call(std::string method, const std::string& target,
                            std::optional<std::string> authorization = std::nullopt,
                            std::vector<std::pair<std::string, std::string>> headers = {},
                            bool anonymous = false) {
    server::HttpRequest request;
    request.method = std::move(method);
    request.target = target;
    EXPECT_TRUE(server::ParseTarget(target, request)) << target;
    request.headers = std::move(headers);
    request.headers.emplace_back("host", kHost);
    if (authorization) request.headers.emplace_back("authorization", *authorization);
    RegistryApi api(Deps(&clock_, anonymous));
    server::HttpResponse r = api.Handle(request);
    EXPECT_EQ(HeaderOf(r, "Docker-Distribution-API-Version"), "registry/2.0");
    return r;
  }
  server::HttpResponse Get(const std::string& target,
                           std::optional<std::string> authorization = Basic(kPullerKey,
                                                                            kPullerSecret)) {
    return Call("GET", target, std::move(authorization));
  }
  std::string TokenFor(std::string_view query,
                       std::optional<std::string> auth = Basic(kPullerKey, kPullerSecret)) {
    server::HttpResponse r = Get(fmt::format("/v2/token?service=lambkin&{}", query), auth);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["token"].get<std::string>();
  }

  ManualClock clock_{kStart};
};

TEST_F(RegistryApiTest, OnlyV2PathsAreTheRegistrys) {
  for (auto [path, mine] :
       std::vector<std::pair<std::string, bool>>{{"/v2", true},
                                                 {"/v2/", true},
                                                 {"/v2/python/tags/list", true},
                                                 {"/v2x", false},
                                                 {"/v22/", false},
                                                 {"/2015-03-31/functions", false}}) {
    server::HttpRequest request;
    ASSERT_TRUE(server::ParseTarget(path, request));
    EXPECT_EQ(IsRegistryRequest(request), mine) << path;
  }
}

TEST_F(RegistryApiTest, BaseAnswersEmptyObjectOrChallenges) {
  server::HttpResponse r = Get("/v2/", std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
            R"(Bearer realm="http://registry.example:9001/v2/token",service="lambkin")");
  EXPECT_EQ(ErrorCode(r), "UNAUTHORIZED");
  r = Get("/v2/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(Get("/v2", Basic(kPullerKey, "wrong")).status, 401);
  EXPECT_EQ(Get("/v2/", Basic("AKIAUNKNOWN000000000", kPullerSecret)).status, 401);
  EXPECT_EQ(Get("/v2/", "Digest whatever").status, 401);
  // A caller allowed nothing is still authenticated.
  EXPECT_EQ(Get("/v2/", Basic(kNobodyKey, kNobodySecret)).status, 200);
  EXPECT_EQ(Call("GET", "/v2/", std::nullopt, {}, /*anonymous=*/true).status, 200);
}

TEST_F(RegistryApiTest, RepositoryChallengeNamesItsScope) {
  server::HttpResponse r = Get("/v2/python/manifests/3.11.v2", std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"),
            R"(Bearer realm="http://registry.example:9001/v2/token",service="lambkin",)"
            R"(scope="repository:python:pull")");
  EXPECT_EQ(ErrorCode(r), "UNAUTHORIZED");
  r = Get("/v2/provided/al2023/blobs/" + python_.layer_digest, std::nullopt);
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find(R"(scope="repository:provided/al2023:pull")"),
            std::string::npos);
}

TEST_F(RegistryApiTest, ManifestByTagAndDigestGetAndHead) {
  for (const std::string& ref : {std::string("3.11.v2"), python_.descriptor.digest}) {
    server::HttpResponse r = Get("/v2/python/manifests/" + ref);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, python_.manifest);
    EXPECT_EQ(HeaderOf(r, "Content-Type"), oci::kOciManifest);
    EXPECT_EQ(HeaderOf(r, "Docker-Content-Digest"), python_.descriptor.digest);
    EXPECT_EQ(HeaderOf(r, "ETag"), "\"" + python_.descriptor.digest + "\"");
    EXPECT_FALSE(r.head_length.has_value());
    r = Call("HEAD", "/v2/python/manifests/" + ref, Basic(kPullerKey, kPullerSecret));
    ASSERT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.head_length, python_.manifest.size());
    EXPECT_EQ(HeaderOf(r, "Docker-Content-Digest"), python_.descriptor.digest);
  }
  // Served as stored, whatever Accept says.
  server::HttpResponse r =
      Call("GET", "/v2/python/manifests/3.11.v1", Basic(kPullerKey, kPullerSecret),
           {{"accept", "application/vnd.docker.distribution.manifest.v1+prettyjws"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, python_.manifest);
  // A name with a slash.
  r = Get("/v2/provided/al2023/manifests/v1", std::nullopt);
  EXPECT_EQ(r.status, 401);
  r = Call("GET", "/v2/provided/al2023/manifests/v1", std::nullopt, {}, /*anonymous=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, python_.manifest);
}

TEST_F(RegistryApiTest, IndexAndItsChildrenAreServedUnderTheirRepository) {
  server::HttpResponse r = Call("GET", "/v2/nodejs/manifests/20.v1", std::nullopt, {}, true);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), oci::kOciIndex);
  EXPECT_EQ(r.body, index_);
  // The child manifest by digest, and its config and layer, though no tag names them.
  r = Call("GET", "/v2/nodejs/manifests/" + node_.descriptor.digest, std::nullopt, {}, true);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), oci::kOciManifest);
  EXPECT_EQ(r.body, node_.manifest);
  for (const std::string& blob : {node_.config_digest, node_.layer_digest}) {
    r = Call("GET", "/v2/nodejs/blobs/" + blob, std::nullopt, {}, true);
    EXPECT_EQ(r.status, 200);
  }
  // Not under python.
  r = Call("GET", "/v2/python/manifests/" + node_.descriptor.digest, std::nullopt, {}, true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "MANIFEST_UNKNOWN");
}

TEST_F(RegistryApiTest, ManifestErrors) {
  struct Case {
    std::string target;
    int status;
    std::string code;
  };
  for (const Case& c : std::vector<Case>{
           {"/v2/python/manifests/9.9.v9", 404, "MANIFEST_UNKNOWN"},
           {"/v2/python/manifests/sha256:" + std::string(64, 'a'), 404, "MANIFEST_UNKNOWN"},
           {"/v2/python/manifests/sha256:ABC", 400, "DIGEST_INVALID"},
           {"/v2/python/manifests/md5:abc", 400, "DIGEST_INVALID"},
           {"/v2/python/manifests/-bad-tag", 404, "MANIFEST_UNKNOWN"},
           {"/v2/pythonx/manifests/3.11.v2", 404, "NAME_UNKNOWN"},
           {"/v2/Python/manifests/3.11.v2", 400, "NAME_INVALID"},
           {"/v2/py__-thon/manifests/3.11.v2", 400, "NAME_INVALID"},
           {"/v2/provided%2Fal2023/manifests/v1", 400, "NAME_INVALID"},
           {"/v2/python/nothing/here", 404, "UNSUPPORTED"},
       }) {
    server::HttpResponse r = Call("GET", c.target, std::nullopt, {}, /*anonymous=*/true);
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
    EXPECT_EQ(ErrorCode(r), c.code) << c.target;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  }
  json detail = json::parse(Call("GET", "/v2/python/manifests/nope", std::nullopt, {}, true).body);
  EXPECT_EQ(detail["errors"][0]["detail"], json({{"Tag", "nope"}}));
}

TEST_F(RegistryApiTest, BlobsStreamFromTheirFileWithRanges) {
  server::HttpResponse r = Get("/v2/python/blobs/" + python_.layer_digest);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->path, blobs_->Path(python_.layer_digest));
  EXPECT_EQ(FileBytes(r), python_.layer);
  EXPECT_EQ(HeaderOf(r, "Docker-Content-Digest"), python_.layer_digest);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/octet-stream");
  EXPECT_EQ(HeaderOf(r, "Accept-Ranges"), "bytes");

  r = Call("HEAD", "/v2/python/blobs/" + python_.config_digest, Basic(kPullerKey, kPullerSecret));
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.file.has_value());
  EXPECT_EQ(r.head_length, *blobs_->Size(python_.config_digest));

  const uint64_t size = python_.layer.size();
  struct Case {
    std::string range;
    int status;
    uint64_t first;
    uint64_t length;
  };
  for (const Case& c : std::vector<Case>{
           {"bytes=0-9", 206, 0, 10},
           {"bytes=100-", 206, 100, size - 100},
           {"bytes=-5", 206, size - 5, 5},
           {"bytes=10-999999999", 206, 10, size - 10},
           {"bytes=5-2", 200, 0, size},      // malformed: the whole blob
           {"bytes=0-1,5-6", 200, 0, size},  // several ranges: the whole blob
           {"items=0-1", 200, 0, size},      // another unit: the whole blob
       }) {
    r = Call("GET", "/v2/python/blobs/" + python_.layer_digest, Basic(kPullerKey, kPullerSecret),
             {{"range", c.range}});
    EXPECT_EQ(r.status, c.status) << c.range;
    EXPECT_EQ(FileBytes(r), python_.layer.substr(c.first, c.length)) << c.range;
    if (c.status == 206) {
      EXPECT_EQ(HeaderOf(r, "Content-Range"),
                fmt::format("bytes {}-{}/{}", c.first, c.first + c.length - 1, size));
    }
  }
  r = Call("GET", "/v2/python/blobs/" + python_.layer_digest, Basic(kPullerKey, kPullerSecret),
           {{"range", fmt::format("bytes={}-", size)}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(HeaderOf(r, "Content-Range"), fmt::format("bytes */{}", size));
  EXPECT_FALSE(r.file.has_value());
}

TEST_F(RegistryApiTest, BlobsOutsideTheRepositorysManifestsAreUnknown) {
  // In the store, but no manifest references it.
  server::HttpResponse r = Get("/v2/python/blobs/" + loose_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "BLOB_UNKNOWN");
  EXPECT_FALSE(r.file.has_value());
  // Another repository's layer.
  r = Call("GET", "/v2/python/blobs/" + node_.layer_digest, std::nullopt, {}, true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "BLOB_UNKNOWN");
  // A manifest of the repository is one of its blobs too.
  EXPECT_EQ(Get("/v2/python/blobs/" + python_.descriptor.digest).status, 200);
  r = Get("/v2/python/blobs/sha256:xyz");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "DIGEST_INVALID");
  r = Get("/v2/python/blobs/sha256:" + std::string(64, '0'));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "BLOB_UNKNOWN");
}

TEST_F(RegistryApiTest, TagsListPages) {
  server::HttpResponse r = Get("/v2/python/tags/list");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body),
            json({{"name", "python"}, {"tags", {"3.11.v1", "3.11.v2", "3.12.v1"}}}));
  EXPECT_EQ(HeaderOf(r, "Link"), "");
  r = Get("/v2/python/tags/list?n=2");
  EXPECT_EQ(json::parse(r.body)["tags"], json({"3.11.v1", "3.11.v2"}));
  EXPECT_EQ(HeaderOf(r, "Link"), R"(</v2/python/tags/list?n=2&last=3.11.v2>; rel="next")");
  r = Get("/v2/python/tags/list?n=2&last=3.11.v2");
  EXPECT_EQ(json::parse(r.body)["tags"], json({"3.12.v1"}));
  EXPECT_EQ(HeaderOf(r, "Link"), "");
  r = Get("/v2/python/tags/list?n=0");
  EXPECT_EQ(json::parse(r.body)["tags"], json::array());
  r = Get("/v2/python/tags/list?n=-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorCode(r), "PAGINATION_NUMBER_INVALID");
  r = Call("GET", "/v2/provided/al2023/tags/list", std::nullopt, {}, true);
  EXPECT_EQ(json::parse(r.body), json({{"name", "provided/al2023"}, {"tags", {"v1"}}}));
  r = Call("GET", "/v2/ruby/tags/list", std::nullopt, {}, true);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrorCode(r), "NAME_UNKNOWN");
}

TEST_F(RegistryApiTest, CatalogListsWhatTheCallerMayPull) {
  server::HttpResponse r = Call("GET", "/v2/_catalog", std::nullopt, {}, true);
  EXPECT_EQ(json::parse(r.body), json({{"repositories", {"nodejs", "provided/al2023", "python"}}}));
  r = Call("GET", "/v2/_catalog?n=1&last=nodejs", std::nullopt, {}, true);
  EXPECT_EQ(json::parse(r.body), json({{"repositories", {"provided/al2023"}}}));
  EXPECT_EQ(HeaderOf(r, "Link"), R"(</v2/_catalog?n=1&last=provided%2Fal2023>; rel="next")");
  r = Get("/v2/_catalog");
  EXPECT_EQ(json::parse(r.body), json({{"repositories", {"python"}}}));
  r = Get("/v2/_catalog", Basic(kNobodyKey, kNobodySecret));
  EXPECT_EQ(json::parse(r.body), json({{"repositories", json::array()}}));
  r = Get("/v2/_catalog", std::nullopt);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find(R"(scope="registry:catalog:*")"),
            std::string::npos);
}

TEST_F(RegistryApiTest, PushAndDeleteAreUnsupported) {
  for (const char* method : {"PUT", "POST", "PATCH", "DELETE"}) {
    for (const char* target :
         {"/v2/python/manifests/3.11.v2", "/v2/python/blobs/uploads/", "/v2/python/blobs/x"}) {
      server::HttpResponse r = Call(method, target, std::nullopt);
      EXPECT_EQ(r.status, 405) << method << " " << target;
      EXPECT_EQ(ErrorCode(r), "UNSUPPORTED");
      EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
    }
  }
}

TEST_F(RegistryApiTest, BasicAuthIsAuthorisedPerRepository) {
  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2").status, 200);
  EXPECT_EQ(Get("/v2/provided/al2023/manifests/v1").status, 403);
  server::HttpResponse r = Get("/v2/nodejs/manifests/20.v1");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "DENIED");
  // Denied before existence: nothing is said about what the caller may not pull.
  r = Get("/v2/ruby/manifests/3.3.v1");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "DENIED");
  r = Get("/v2/python/manifests/3.11.v2", Basic(kPullerKey, "wrong"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "UNAUTHORIZED");
}

TEST_F(RegistryApiTest, TokenGrantsOnlyWhatIamAllows) {
  server::HttpResponse r =
      Get("/v2/token?service=lambkin&scope=repository:python:pull&scope=repository:nodejs:pull");
  ASSERT_EQ(r.status, 200) << r.body;
  json body = json::parse(r.body);
  EXPECT_EQ(body["token"], body["access_token"]);
  EXPECT_EQ(body["expires_in"], 300);
  EXPECT_EQ(body["issued_at"], "2023-11-14T22:13:20Z");
  std::string bearer = "Bearer " + body["token"].get<std::string>();
  RegistryApi api(Deps(&clock_, false));
  PullTokens tokens(directory_->DeriveServerKey("lambkin/registry-pull-token/v1"));
  std::optional<PullGrant> grant = tokens.Open(body["token"].get<std::string>());
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->access_key_id, kPullerKey);
  EXPECT_EQ(grant->repositories, std::vector<std::string>{"python"});
  EXPECT_EQ(grant->expiration_ms, kStart + 300'000);

  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2", bearer).status, 200);
  EXPECT_EQ(Get("/v2/python/blobs/" + python_.layer_digest, bearer).status, 200);
  EXPECT_EQ(Get("/v2/", bearer).status, 200);
  // Left out of the token: 401 DENIED, with the challenge saying the scope was insufficient.
  r = Get("/v2/nodejs/manifests/20.v1", bearer);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "DENIED");
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find(R"(error="insufficient_scope")"),
            std::string::npos);
  // Several scopes in one parameter, apart by spaces; push is never granted.
  std::string both = TokenFor("scope=repository:python:pull%20repository:provided/al2023:push");
  EXPECT_EQ(tokens.Open(both)->repositories, std::vector<std::string>{"python"});

  // Expired.
  clock_.Advance(300'000);
  r = Get("/v2/python/manifests/3.11.v2", bearer);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(ErrorCode(r), "UNAUTHORIZED");
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find(R"(error="invalid_token")"), std::string::npos);
}

TEST_F(RegistryApiTest, TokenServerRefusals) {
  std::string url = "/v2/token?service=lambkin&scope=repository:python:pull";
  for (const std::optional<std::string>& auth :
       {std::optional<std::string>(), std::optional<std::string>(Basic(kPullerKey, "wrong")),
        std::optional<std::string>(Basic("AKIAUNKNOWN000000000", kPullerSecret)),
        std::optional<std::string>("Bearer abc"), std::optional<std::string>("Basic !!!")}) {
    server::HttpResponse r = Get(url, auth);
    EXPECT_EQ(r.status, 401) << auth.value_or("(none)");
    EXPECT_EQ(ErrorCode(r), "UNAUTHORIZED");
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), R"(Basic realm="lambkin")");
  }
  EXPECT_EQ(Get("/v2/token?service=docker.io&scope=repository:python:pull").status, 400);
  // A caller allowed nothing gets a token that grants nothing.
  std::string token = TokenFor("scope=repository:python:pull", Basic(kNobodyKey, kNobodySecret));
  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2", "Bearer " + token).status, 401);
}

TEST_F(RegistryApiTest, ForgedTamperedAndOrphanedTokensAreRefused) {
  std::string token = TokenFor("scope=repository:python:pull");
  std::string bytes = *Base64Decode(token);
  bytes[12] ^= 1;
  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2", "Bearer " + Base64Encode(bytes)).status, 401);
  // Sealed under another key.
  PullTokens other(RandomBytes(32));
  std::string forged = other.Seal({kPullerKey, {"python"}, kStart + 1000});
  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2", "Bearer " + forged).status, 401);
  EXPECT_EQ(Get("/v2/python/manifests/3.11.v2", "Bearer not-a-token").status, 401);
  // The key that asked for it is gone.
  ASSERT_TRUE(directory_->DeleteAccessKey(kPullerKey).ok());
  server::HttpResponse r = Get("/v2/python/manifests/3.11.v2", "Bearer " + token);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(HeaderOf(r, "WWW-Authenticate").find(R"(error="invalid_token")"), std::string::npos);
}

TEST_F(RegistryApiTest, AnonymousPullServer) {
  // Without credentials: a token for whatever is asked; with wrong ones, still refused.
  server::HttpResponse r =
      Call("GET", "/v2/token?scope=repository:nodejs:pull", std::nullopt, {}, true);
  ASSERT_EQ(r.status, 200);
  std::string token = json::parse(r.body)["token"];
  PullTokens tokens(directory_->DeriveServerKey("lambkin/registry-pull-token/v1"));
  EXPECT_EQ(tokens.Open(token)->access_key_id, "");
  EXPECT_EQ(tokens.Open(token)->repositories, std::vector<std::string>{"nodejs"});
  EXPECT_EQ(Call("GET", "/v2/nodejs/manifests/20.v1", "Bearer " + token, {}, true).status, 200);
  EXPECT_EQ(Call("GET", "/v2/token", Basic(kPullerKey, "wrong"), {}, true).status, 401);
  EXPECT_EQ(Call("GET", "/v2/python/tags/list", Basic(kPullerKey, "wrong"), {}, true).status, 401);
  EXPECT_EQ(Call("GET", "/v2/nodejs/tags/list", Basic(kNobodyKey, kNobodySecret), {}, true).status,
            200);
}

TEST(PullTokensTest, SealAndOpen) {
  PullTokens tokens(RandomBytes(32));
  PullGrant grant{"AKIAEXAMPLE", {"nodejs", "provided/al2023", "python"}, 123456789};
  std::optional<PullGrant> opened = tokens.Open(tokens.Seal(grant));
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->access_key_id, grant.access_key_id);
  EXPECT_EQ(opened->repositories, grant.repositories);
  EXPECT_EQ(opened->expiration_ms, grant.expiration_ms);
  EXPECT_FALSE(tokens.Open("").has_value());
  EXPECT_FALSE(tokens.Open(Base64Encode(std::string(40, 'x'))).has_value());
}

TEST(RegistryNamesTest, Grammar) {
  for (const char* ok : {"python", "provided/al2023", "a.b_c__d---e/f0", "x"}) {
    EXPECT_TRUE(IsRepositoryName(ok)) << ok;
  }
  for (const char* bad : {"", "Python", "a..b", "a___b", "-a", "a-", "a//b", "/a", "a/", "a_.b"}) {
    EXPECT_FALSE(IsRepositoryName(bad)) << bad;
  }
  EXPECT_FALSE(IsRepositoryName(std::string(256, 'a')));
  EXPECT_TRUE(IsTag("3.11.v2"));
  EXPECT_TRUE(IsTag("_x"));
  EXPECT_FALSE(IsTag(".x"));
  EXPECT_FALSE(IsTag(std::string(129, 'a')));
  EXPECT_EQ(RepositoryArn("provided/al2023"), "arn:aws:lambkin:::runtime-image/provided/al2023");
}

}  // namespace
}  // namespace lambkin::registry
