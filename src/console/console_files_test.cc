#include "console/console_files.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace lambkin::console {
namespace {

namespace fs = std::filesystem;

class ConsoleFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/console-files-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    dir_ = root_ / "console";
    fs::create_directories(dir_ / "assets");
    Write(dir_ / "index.html", "<!doctype html><title>Lambkin</title>");
    Write(dir_ / "index.html.gz", "GZ-INDEX");
    Write(dir_ / "assets/index-abc123.js", "console.log(1)");
    Write(dir_ / "assets/index-abc123.js.br", "BR-JS");
    Write(dir_ / "assets/index-abc123.js.gz", "GZ-JS");
    Write(dir_ / ".inputs.sha256", "stamp");
    Write(root_ / "secret.txt", "outside");
    fs::create_symlink(root_ / "secret.txt", dir_ / "link.txt");
  }
  void TearDown() override { fs::remove_all(root_); }

  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  server::HttpResponse Get(const ConsoleFiles& files, const std::string& target,
                           const std::string& accept_encoding = "",
                           const std::string& method = "GET") {
    server::HttpRequest r;
    r.method = method;
    EXPECT_TRUE(server::ParseTarget(target, r));
    if (!accept_encoding.empty()) r.headers.emplace_back("accept-encoding", accept_encoding);
    std::optional<server::HttpResponse> out = files.Handle(r);
    EXPECT_TRUE(out.has_value()) << target;
    return out.value_or(server::HttpResponse{});
  }

  static std::string Header(const server::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  fs::path root_, dir_;
};

TEST_F(ConsoleFilesTest, ServesIndexAndAssetsWithTheirTypesAndCaching) {
  Result<ConsoleFiles> files = ConsoleFiles::Load(dir_.string());
  ASSERT_TRUE(files.ok());
  server::HttpResponse index = Get(*files, "/console/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>Lambkin</title>");
  EXPECT_EQ(Header(index, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");
  EXPECT_NE(Header(index, "Content-Security-Policy").find("frame-ancestors 'none'"),
            std::string::npos);
  EXPECT_EQ(Header(index, "X-Content-Type-Options"), "nosniff");

  server::HttpResponse js = Get(*files, "/console/assets/index-abc123.js");
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(Header(js, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(js, "Cache-Control"), "public, max-age=31536000, immutable");
}

TEST_F(ConsoleFilesTest, PicksTheEncodingTheClientAccepts) {
  Result<ConsoleFiles> files = ConsoleFiles::Load(dir_.string());
  ASSERT_TRUE(files.ok());
  server::HttpResponse br = Get(*files, "/console/assets/index-abc123.js", "gzip, deflate, br");
  EXPECT_EQ(br.body, "BR-JS");
  EXPECT_EQ(Header(br, "Content-Encoding"), "br");
  EXPECT_EQ(Header(br, "Vary"), "Accept-Encoding");
  server::HttpResponse gz = Get(*files, "/console/assets/index-abc123.js", "gzip, br;q=0");
  EXPECT_EQ(gz.body, "GZ-JS");
  EXPECT_EQ(Header(gz, "Content-Encoding"), "gzip");
  server::HttpResponse plain = Get(*files, "/console/assets/index-abc123.js", "identity");
  EXPECT_EQ(plain.body, "console.log(1)");
  EXPECT_EQ(Header(plain, "Content-Encoding"), "");
  // index.html has only a gzip sibling: br-only clients get it plain.
  EXPECT_EQ(Get(*files, "/console/", "br").body, "<!doctype html><title>Lambkin</title>");
  EXPECT_EQ(Get(*files, "/console/", "*").body, "GZ-INDEX");
}

TEST_F(ConsoleFilesTest, RevalidatesWithETag) {
  Result<ConsoleFiles> files = ConsoleFiles::Load(dir_.string());
  ASSERT_TRUE(files.ok());
  std::string etag = Header(Get(*files, "/console/"), "ETag");
  ASSERT_FALSE(etag.empty());
  server::HttpRequest r;
  r.method = "GET";
  ASSERT_TRUE(server::ParseTarget("/console/", r));
  r.headers.emplace_back("if-none-match", etag);
  std::optional<server::HttpResponse> again = files->Handle(r);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
}

TEST_F(ConsoleFilesTest, NeverLeavesTheListing) {
  Result<ConsoleFiles> files = ConsoleFiles::Load(dir_.string());
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(Get(*files, "/console/../secret.txt").status, 404);
  EXPECT_EQ(Get(*files, "/console/%2E%2E%2Fsecret.txt").status, 404);
  EXPECT_EQ(Get(*files, "/console/link.txt").status, 404);  // a symlink is not served
  EXPECT_EQ(Get(*files, "/console/missing.js").status, 404);
  EXPECT_EQ(Get(*files, "/console/.inputs.sha256").status, 404);  // hidden files are not served
  // A file added after start is not served either.
  Write(dir_ / "later.js", "x");
  EXPECT_EQ(Get(*files, "/console/later.js").status, 404);
}

TEST_F(ConsoleFilesTest, RedirectsRefusesOtherMethodsAndIgnoresOtherPaths) {
  Result<ConsoleFiles> files = ConsoleFiles::Load(dir_.string());
  ASSERT_TRUE(files.ok());
  server::HttpResponse redirect = Get(*files, "/console");
  EXPECT_EQ(redirect.status, 308);
  EXPECT_EQ(Header(redirect, "Location"), "/console/");
  server::HttpResponse post = Get(*files, "/console/", "", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "Allow"), "GET, HEAD");
  server::HttpResponse head = Get(*files, "/console/", "", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.head_length, std::optional<uint64_t>(37));
  server::HttpRequest other;
  other.method = "GET";
  ASSERT_TRUE(server::ParseTarget("/2015-03-31/functions", other));
  EXPECT_FALSE(files->Handle(other).has_value());
  ASSERT_TRUE(server::ParseTarget("/consoles", other));
  EXPECT_FALSE(files->Handle(other).has_value());
}

TEST_F(ConsoleFilesTest, AnUnbuiltConsoleSaysHowToBuildIt) {
  Result<ConsoleFiles> files = ConsoleFiles::Load((root_ / "absent").string());
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
  server::HttpResponse r = Get(*files, "/console/");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("make build"), std::string::npos);
}

}  // namespace
}  // namespace lambkin::console
