#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "oci/image.h"
#include "oci/test_util.h"

namespace lambkin::oci {
namespace {

using testing::Compression;
using testing::MakeTar;
using testing::ReadFile;
using testing::TarEntry;
using testing::TempDir;

namespace fs = std::filesystem;

class UnpackTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(BlobStore::Open(tmp_.Sub("blobs"))).value(); }

  Descriptor Layer(const std::string& bytes, std::string_view media_type = kOciLayerTar) {
    return Descriptor{std::string(media_type), *store_->Put(bytes),
                      static_cast<int64_t>(bytes.size())};
  }

  Status Apply(const std::vector<Descriptor>& layers) {
    Manifest m;
    m.media_type = kOciManifest;
    m.layers = layers;
    return Unpack(*store_, m, dest());
  }

  std::string dest() const { return tmp_.Sub("rootfs"); }
  std::string At(const std::string& rel) const { return dest() + "/" + rel; }
  bool Exists(const std::string& rel) const {
    struct stat st {};
    return ::lstat(At(rel).c_str(), &st) == 0;
  }
  mode_t Mode(const std::string& rel) const {
    struct stat st {};
    ::lstat(At(rel).c_str(), &st);
    return st.st_mode & 07777;
  }

  TempDir tmp_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(UnpackTest, NormalLayersInEveryCompression) {
  std::vector<TarEntry> base = {
      {"usr/", 'd', "", "", 0755},
      {"usr/bin/", 'd', "", "", 0755},
      {"usr/bin/tool", 'f', "#!/bin/sh\necho hi\n", "", 04755},  // setuid: stripped
      {"./etc/motd", 'f', "welcome\n", "", 0644},                // parent created implicitly
      {"bin", 'l', "", "usr/bin"},
      {"usr/bin/tool-again", 'h', "", "usr/bin/tool"},
      {"tmp/", 'd', "", "", 01777},
      {"ro/", 'd', "", "", 0555},
      {"ro/file", 'f', "x", "", 0444},
      {"dev/null", 'c'},  // device nodes are skipped
  };
  std::vector<TarEntry> upper = {{"abs", 'l', "", "/usr/bin/tool"},
                                 {"bin/added", 'f', "through the symlink", "", 0600}};
  ASSERT_TRUE(Apply({Layer(MakeTar(base, Compression::kGzip), kOciLayerGzip),
                     Layer(MakeTar(upper, Compression::kZstd), kOciLayerZstd)})
                  .ok());
  EXPECT_EQ(ReadFile(At("usr/bin/tool")), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(Mode("usr/bin/tool"), 0755u);
  EXPECT_EQ(ReadFile(At("etc/motd")), "welcome\n");
  EXPECT_EQ(fs::read_symlink(At("bin")), "usr/bin");
  EXPECT_EQ(fs::read_symlink(At("abs")), "/usr/bin/tool");
  EXPECT_TRUE(fs::equivalent(At("usr/bin/tool"), At("usr/bin/tool-again")));
  EXPECT_EQ(ReadFile(At("usr/bin/added")), "through the symlink");
  EXPECT_EQ(Mode("tmp"), 01777u);
  EXPECT_EQ(Mode("ro"), 0555u);
  EXPECT_FALSE(Exists("dev/null"));
  struct stat st {};
  ::stat(At("usr/bin/tool").c_str(), &st);
  EXPECT_EQ(st.st_mtime, 1700000000);

  // Docker's gzip media type, plain tar, and a destination that exists but is empty.
  fs::remove_all(dest());
  fs::create_directory(dest());
  ASSERT_TRUE(
      Apply({Layer(MakeTar(base, Compression::kGzip), kDockerLayerGzip), Layer(MakeTar(upper))})
          .ok());
  EXPECT_EQ(ReadFile(At("usr/bin/added")), "through the symlink");
}

TEST_F(UnpackTest, MissingEndBlocksAccepted) {
  std::string tar = MakeTar({{"a", 'f', "alpha"}, {"b", 'f', std::string(700, 'b')}},
                            Compression::kNone, /*end_blocks=*/false);
  EXPECT_EQ(tar.size() % 512, 0u);
  EXPECT_EQ(tar.size(), 512u * 5);  // two headers, one + two data blocks, no end blocks
  Status s = Apply({Layer(tar)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFile(At("a")), "alpha");
  EXPECT_EQ(ReadFile(At("b")), std::string(700, 'b'));
}

TEST_F(UnpackTest, WhiteoutsAndOpaqueDirectories) {
  std::vector<TarEntry> lower = {
      {"keep", 'f', "kept"},   {"gone", 'f', "removed"},
      {"gonedir/", 'd'},       {"gonedir/deep", 'f', "removed too"},
      {"opaque/", 'd'},        {"opaque/old", 'f', "lower"},
      {"opaque/olddir/", 'd'}, {"opaque/olddir/file", 'f', "lower"},
      {"opaque/sub/", 'd'},    {"opaque/sub/old", 'f', "lower"},
  };
  std::vector<TarEntry> upper = {
      {".wh.gone", 'f'},
      {".wh.gonedir", 'f'},
      {"opaque/sub/new", 'f', "upper"},  // before the marker: still kept
      {"opaque/.wh..wh..opq", 'f'},
      {"opaque/new", 'f', "upper"},
      {"fresh", 'f', "same layer"},
      {".wh.fresh", 'f'},  // a whiteout hides lower layers only
      {".wh.never-existed", 'f'},
  };
  Status s = Apply({Layer(MakeTar(lower)), Layer(MakeTar(upper))});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFile(At("keep")), "kept");
  EXPECT_FALSE(Exists("gone"));
  EXPECT_FALSE(Exists("gonedir"));
  EXPECT_FALSE(Exists(".wh.gone"));
  EXPECT_FALSE(Exists("opaque/old"));
  EXPECT_FALSE(Exists("opaque/olddir"));
  EXPECT_FALSE(Exists("opaque/sub/old"));
  EXPECT_EQ(ReadFile(At("opaque/sub/new")), "upper");
  EXPECT_EQ(ReadFile(At("opaque/new")), "upper");
  EXPECT_FALSE(Exists("opaque/.wh..wh..opq"));
  EXPECT_EQ(ReadFile(At("fresh")), "same layer");
}

TEST_F(UnpackTest, UpperLayerReplacesTypes) {
  std::vector<TarEntry> lower = {{"x/", 'd'}, {"x/f", 'f', "in dir"}, {"y", 'f', "file"}};
  std::vector<TarEntry> upper = {{"x", 'f', "now a file"}, {"y/", 'd'}, {"y/z", 'f', "z"}};
  ASSERT_TRUE(Apply({Layer(MakeTar(lower)), Layer(MakeTar(upper))}).ok());
  EXPECT_EQ(ReadFile(At("x")), "now a file");
  EXPECT_EQ(ReadFile(At("y/z")), "z");
}

// Each hostile layer is refused and nothing appears outside the destination.
TEST_F(UnpackTest, HostileLayersRefused) {
  struct Case {
    std::string name;
    std::vector<std::vector<TarEntry>> layers;
    std::string message;
  };
  std::string outside = tmp_.Sub("outside");
  fs::create_directory(outside);
  std::vector<Case> cases = {
      {"dotdot", {{{"../outside/pwned", 'f', "x"}}}, "climbs out with .."},
      {"dotdot in the middle", {{{"a/../../outside/pwned", 'f', "x"}}}, "climbs out with .."},
      {"absolute", {{{"/outside/pwned", 'f', "x"}}}, "absolute path"},
      {"symlink parent",
       {{{"escape", 'l', "", "../outside"}, {"escape/pwned", 'f', "x"}}},
       "outside the image root"},
      {"symlink parent from a lower layer, deep",
       {{{"d/", 'd'}, {"d/e", 'l', "", "../.."}}, {{"d/e/outside/pwned", 'f', "x"}}},
       "outside the image root"},
      {"hard link out", {{{"link", 'h', "", "../outside/target"}}}, "climbs out with .."},
      {"hard link through a symlink out",
       {{{"d/", 'd'}, {"d/up", 'l', "", "../../outside"}}, {{"link", 'h', "", "d/up/target"}}},
       "outside the image root"},
      {"hard link to nothing", {{{"link", 'h', "", "missing"}}}, "does not exist"},
  };
  testing::WriteFile(outside + "/target", "secret");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dest());
    std::vector<Descriptor> layers;
    for (const auto& entries : c.layers) layers.push_back(Layer(MakeTar(entries)));
    Status s = Apply(layers);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidParameterValue) << s.message();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
    EXPECT_FALSE(fs::exists(outside + "/pwned"));
    EXPECT_EQ(ReadFile(outside + "/target"), "secret");
  }
}

// "d/e" from the lower layer was refused above when it climbs; symlinks written by the layer
// that point outside are refused at creation. An absolute symlink in a parent means the image's
// root, so writing through it stays inside.
TEST_F(UnpackTest, AbsoluteSymlinkParentResolvesInsideTheRoot) {
  std::string outside = tmp_.Sub("outside");
  fs::create_directory(outside);
  std::vector<TarEntry> lower = {{"esc", 'l', "", outside}};
  std::vector<TarEntry> upper = {{"esc/pwned", 'f', "x"}};
  Status s = Apply({Layer(MakeTar(lower)), Layer(MakeTar(upper))});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(fs::exists(outside + "/pwned"));
  EXPECT_EQ(ReadFile(At(outside.substr(1) + "/pwned")), "x");
}

TEST_F(UnpackTest, RefusesDamagedLayersAndNonEmptyDestination) {
  std::string tar = MakeTar({{"a", 'f', "alpha"}});
  Descriptor layer = Layer(tar);
  layer.size += 1;
  EXPECT_EQ(Apply({layer}).code(), StatusCode::kInvalidParameterValue);

  fs::remove_all(dest());
  Descriptor missing{std::string(kOciLayerTar), DigestOf("nothing"), 7};
  EXPECT_EQ(Apply({missing}).code(), StatusCode::kResourceNotFound);

  fs::remove_all(dest());
  Status garbage = Apply({Layer("this is not a tar stream at all", kOciLayerGzip)});
  EXPECT_EQ(garbage.code(), StatusCode::kInvalidParameterValue) << garbage.message();

  fs::remove_all(dest());
  fs::create_directory(dest());
  testing::WriteFile(At("already"), "here");
  Status s = Apply({Layer(tar)});
  EXPECT_EQ(s.code(), StatusCode::kInvalidParameterValue);
  EXPECT_NE(s.message().find("is not empty"), std::string::npos);
}

}  // namespace
}  // namespace lambkin::oci
