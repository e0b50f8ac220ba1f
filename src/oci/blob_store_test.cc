#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "oci/image.h"
#include "oci/test_util.h"

namespace lambkin::oci {
namespace {

using testing::TempDir;

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(BlobStoreTest, PutReadHasSize) {
  TempDir tmp;
  auto store = BlobStore::Open(tmp.Sub("blobs"));
  ASSERT_TRUE(store.ok()) << store.status().message();
  Result<std::string> digest = (*store)->Put("hello");
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, DigestOf("hello"));
  EXPECT_TRUE((*store)->Has(*digest));
  EXPECT_EQ(*(*store)->Size(*digest), 5);
  EXPECT_EQ(*(*store)->Read(*digest), "hello");
  EXPECT_EQ((*store)->Path(*digest), tmp.Sub("blobs") + "/sha256/" + digest->substr(7));
  // Putting it again is harmless.
  EXPECT_EQ(*(*store)->Put("hello"), *digest);

  std::string absent = DigestOf("absent");
  EXPECT_FALSE((*store)->Has(absent));
  EXPECT_EQ((*store)->Size(absent).status().code(), StatusCode::kResourceNotFound);
  EXPECT_EQ((*store)->Read(absent).status().code(), StatusCode::kResourceNotFound);
  EXPECT_FALSE((*store)->Has("../etc/passwd"));
  EXPECT_EQ((*store)->Read("../x").status().code(), StatusCode::kInvalidParameterValue);
}

TEST(BlobStoreTest, WriterChecksDigestAndSizeAndLeavesNothingOnMismatch) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.Sub("blobs"))).value();
  {
    auto writer = std::move(store->NewWriter()).value();
    ASSERT_TRUE(writer->Write("part one, ").ok());
    ASSERT_TRUE(writer->Write("part two").ok());
    EXPECT_EQ(writer->written(), 18);
    Result<std::string> wrong = writer->Commit(DigestOf("something else"));
    EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidParameterValue);
  }
  {
    auto writer = std::move(store->NewWriter()).value();
    ASSERT_TRUE(writer->Write("abc").ok());
    EXPECT_FALSE(writer->Commit(DigestOf("abc"), 4).ok());
  }
  {
    auto writer = std::move(store->NewWriter()).value();
    ASSERT_TRUE(writer->Write("abandoned").ok());
  }
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/sha256")), 0u);
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/tmp")), 0u);

  auto writer = std::move(store->NewWriter()).value();
  ASSERT_TRUE(writer->Write("abc").ok());
  EXPECT_EQ(*writer->Commit(DigestOf("abc"), 3), DigestOf("abc"));
  EXPECT_EQ(*store->Read(DigestOf("abc")), "abc");
}

TEST(BlobStoreTest, ReadNoticesDamage) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.Sub("blobs"))).value();
  std::string digest = *store->Put("original");
  std::filesystem::permissions(store->Path(digest), std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  testing::WriteFile(store->Path(digest), "damaged!");
  EXPECT_EQ(store->Read(digest).status().code(), StatusCode::kInternal);
}

TEST(BlobStoreTest, PutFileLinksOrCopiesAndChecks) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.Sub("blobs"))).value();
  testing::WriteFile(tmp.Sub("layer"), "layer bytes");
  Result<std::string> wrong = store->PutFile(tmp.Sub("layer"), DigestOf("other"));
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidParameterValue);
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/sha256")), 0u);
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/tmp")), 0u);
  Result<std::string> digest = store->PutFile(tmp.Sub("layer"), DigestOf("layer bytes"));
  ASSERT_TRUE(digest.ok()) << digest.status().message();
  EXPECT_EQ(*store->Read(*digest), "layer bytes");
  EXPECT_FALSE(store->PutFile(tmp.Sub("missing")).ok());
}

TEST(BlobStoreTest, ConcurrentPutsOfTheSameAndDifferentBlobs) {
  TempDir tmp;
  auto store = std::move(BlobStore::Open(tmp.Sub("blobs"))).value();
  std::string big(1 << 20, 'x');
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        if (!store->Put(big).ok()) ++failures;
        if (!store->Put("blob " + std::to_string(t * 100 + i)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*store->Read(DigestOf(big)), big);
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/sha256")), 1u + 8 * 20);
  EXPECT_EQ(FilesIn(tmp.Sub("blobs/tmp")), 0u);
}

}  // namespace
}  // namespace lambkin::oci
