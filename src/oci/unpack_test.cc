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

  Status Apply(const std::vector<Descriptor>& layers,
               const std::vector<std::string>* diff_ids = nullptr) {
    Manifest m;
    m.media_type = kOciManifest;
    m.layers = layers;
    return Unpack(*store_, m, dest(), diff_ids);
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

// `umoci insert` ends its layers right after the last entry's data: no padding to a whole
// block, no end-of-archive blocks.
TEST_F(UnpackTest, StreamEndingRightAfterTheLastEntrysDataAccepted) {
  std::string tar = MakeTar({{"a", 'f', "alpha"}, {"b", 'f', std::string(700, 'b')}},
                            Compression::kNone, /*end_blocks=*/false);
  tar.resize(tar.size() - (1024 - 700));  // b's data without its padding
  std::vector<std::string> diff_ids = {DigestOf(tar)};
  Status s = Apply({Layer(tar)}, &diff_ids);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFile(At("a")), "alpha");
  EXPECT_EQ(ReadFile(At("b")), std::string(700, 'b'));
  // Data cut short is still refused.
  fs::remove_all(dest());
  tar.resize(tar.size() - 10);
  diff_ids = {DigestOf(tar)};
  EXPECT_EQ(Apply({Layer(tar)}, &diff_ids).code(), StatusCode::kInvalidParameterValue);
}

// rootfs.diff_ids name each layer's uncompressed tar stream, whatever its compression, its end
// blocks included (or missing, as umoci writes them).
TEST_F(UnpackTest, DiffIdsVerifiedOnTheUncompressedStream) {
  std::vector<TarEntry> entries = {{"a", 'f', "alpha"}, {"d/", 'd'}, {"d/b", 'f', "beta"}};
  std::string plain = MakeTar(entries);
  std::string no_end = MakeTar({{"c", 'f', "gamma"}}, Compression::kNone, /*end_blocks=*/false);
  std::vector<Descriptor> layers = {Layer(MakeTar(entries, Compression::kGzip), kOciLayerGzip),
                                    Layer(MakeTar(entries, Compression::kZstd), kOciLayerZstd),
                                    Layer(plain), Layer(no_end)};
  std::vector<std::string> diff_ids = {DigestOf(plain), DigestOf(plain), DigestOf(plain),
                                       DigestOf(no_end)};
  EXPECT_EQ(testing::UncompressedDigest(MakeTar(entries, Compression::kGzip)), DigestOf(plain));
  Status s = Apply(layers, &diff_ids);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFile(At("d/b")), "beta");
  EXPECT_EQ(ReadFile(At("c")), "gamma");

  // The compressed layer's own digest is not its diff_id.
  for (size_t wrong : {0, 1, 3}) {
    SCOPED_TRACE(wrong);
    fs::remove_all(dest());
    std::vector<std::string> bad = diff_ids;
    bad[wrong] = layers[wrong].digest;
    if (wrong == 3) bad[wrong] = DigestOf(plain);
    Status refused = Apply(layers, &bad);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidParameterValue);
    EXPECT_NE(refused.message().find("layer " + layers[wrong].digest + " uncompressed is " +
                                     diff_ids[wrong] + ", not the diff_id " + bad[wrong]),
              std::string::npos)
        << refused.message();
  }
  fs::remove_all(dest());
  std::vector<std::string> short_list = {DigestOf(plain)};
  Status count = Apply(layers, &short_list);
  EXPECT_EQ(count.code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(count.message(), "the image config names 1 diff_ids for the manifest's 4 layers");

  // A gzip layer whose stream is cut short is refused, not half applied as a success.
  fs::remove_all(dest());
  std::string gz = MakeTar({{"big", 'f', std::string(200000, 'x')}}, Compression::kGzip);
  std::vector<std::string> one = {DigestOf(MakeTar({{"big", 'f', std::string(200000, 'x')}}))};
  Status cut = Apply({Layer(gz.substr(0, gz.size() / 2), kOciLayerGzip)}, &one);
  EXPECT_EQ(cut.code(), StatusCode::kInvalidParameterValue) << cut.message();
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
