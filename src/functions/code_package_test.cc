#include "functions/code_package.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "catalog/catalog.h"
#include "common/crypto.h"
#include "functions/function_service.h"
#include "functions/zip_testing.h"
#include "store/postgres_testing.h"

namespace lambkin::functions {
namespace {

using testing::MakeZip;

TEST(InspectZipTest, DescribesAValidPackage) {
  std::string zip = MakeZip({{"index.py", "def handler(e, c):\n  return 1\n"}, {"lib/a.txt", "x"}});
  auto info = InspectZip(zip);
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->size, static_cast<int64_t>(zip.size()));
  EXPECT_EQ(info->sha256_base64, Base64Encode(Sha256(zip)));
  EXPECT_EQ(info->entries, 2);
  EXPECT_EQ(info->unzipped_size, 31);
}

TEST(InspectZipTest, RejectsWhatLambdaRejects) {
  const char kCouldNotUnzip[] =
      "Could not unzip uploaded file. Please check your file, then try to upload again.";
  for (const std::string& bad :
       {std::string("not a zip at all, just text......"), MakeZip({{"../escape.py", "x"}}),
        MakeZip({{"/etc/passwd", "x"}}), MakeZip({{"a/../../b", "x"}})}) {
    auto r = InspectZip(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue);
    EXPECT_EQ(r.status().message(), kCouldNotUnzip);
  }
  std::string truncated = MakeZip({{"a.py", std::string(1000, 'a')}});
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(InspectZip(truncated).ok());
  EXPECT_TRUE(InspectZip(MakeZip({{"a/./b/../c.py", "x"}})).ok());
}

TEST(InspectZipTest, EnforcesSizeLimits) {
  std::string big(kMaxZippedBytes + 1, 'x');
  auto r = InspectZip(big);
  EXPECT_EQ(r.status().code(), StatusCode::kRequestEntityTooLarge);
  EXPECT_EQ(r.status().message(), "Zipped size must be smaller than 52428800 bytes");
}

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int64_t CountRows(store::Database* db) {
  int64_t n = -1;
  EXPECT_TRUE(db->ReadOne([&](store::Txn& txn) -> Status {
                  LAMBKIN_ASSIGN_OR_RETURN(auto st,
                                           txn.Prepare("SELECT COUNT(*) FROM code_packages"));
                  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
                  if (row) n = st.ColumnInt(0);
                  return Status::Ok();
                }).ok());
  return n;
}

Status Put(store::Database* db, CodePackageStore* store, const std::string& zip) {
  LAMBKIN_ASSIGN_OR_RETURN(CodePackageInfo info, InspectZip(zip));
  return db->Transact([&](store::Txn& txn) { return store->Put(txn, info, zip); });
}

Status Remove(store::Database* db, CodePackageStore* store, const std::string& sha,
              CodePackageStore::Local local = CodePackageStore::Local::kRemove) {
  return db->Transact([&](store::Txn& txn) { return store->Remove(txn, sha, local); });
}

TEST(CodePackageStoreTest, SqliteKeepsPackagesOnTheLocalDisk) {
  std::string dir = ::testing::TempDir() + "/code-" + RandomUuid();
  fs::create_directories(dir);
  auto db = store::Database::Open(dir + "/db", catalog::Schema() + Schema());
  ASSERT_TRUE(db.ok()) << db.status().message();
  CodePackageStore store(db->get(), dir + "/code");
  ASSERT_TRUE(store.Init().ok());
  std::string zip = MakeZip({{"a.py", "x"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Put(db->get(), &store, zip).ok());
  EXPECT_EQ(ReadFile(store.PathOf(sha)), zip);
  EXPECT_EQ(CountRows(db->get()), 0);  // not kept twice
  auto back = store.Get(sha);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, zip);
  auto unpacked = store.Unpacked(sha);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
  EXPECT_EQ(ReadFile(*unpacked + "/a.py"), "x");
  // Keeping the local copy keeps the only copy.
  ASSERT_TRUE(Remove(db->get(), &store, sha, CodePackageStore::Local::kKeep).ok());
  EXPECT_TRUE(store.Get(sha).ok());
  ASSERT_TRUE(Remove(db->get(), &store, sha).ok());
  EXPECT_EQ(store.Get(sha).status().code(), StatusCode::kResourceNotFound);
  EXPECT_FALSE(fs::exists(*unpacked));
}

// Two nodes: two stores with their own directories on one PostgreSQL database.
class SharedCodePackageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pg = store::testing::TestPostgresDatabase::Create();
    ASSERT_TRUE(pg.ok()) << pg.status().message();
    if (*pg == nullptr) GTEST_SKIP() << "LAMBKIN_TEST_POSTGRES is not set";
    pg_ = std::move(*pg);
    auto db = store::Database::Open(pg_->url(), catalog::Schema() + Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    dir_ = ::testing::TempDir() + "/code-" + RandomUuid();
    a_ = std::make_unique<CodePackageStore>(db_.get(), dir_ + "/a");
    b_ = std::make_unique<CodePackageStore>(db_.get(), dir_ + "/b");
    ASSERT_TRUE(a_->Init().ok());
    ASSERT_TRUE(b_->Init().ok());
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    db_.reset();
    pg_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  Status SetBytes(const std::string& sha, const std::string& bytes) {
    return db_->Transact([&](store::Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(auto st,
                               txn.Prepare("UPDATE code_packages SET bytes = ? WHERE sha256 = ?"));
      return st.BindBlob(1, bytes).Bind(2, sha).Run();
    });
  }

  std::unique_ptr<store::testing::TestPostgresDatabase> pg_;
  std::unique_ptr<store::Database> db_;
  std::string dir_;
  std::unique_ptr<CodePackageStore> a_;
  std::unique_ptr<CodePackageStore> b_;
};

TEST_F(SharedCodePackageStoreTest, APackagePutOnOneNodeRunsOnAnother) {
  std::string zip = MakeZip({{"bootstrap", "#!/bin/sh\necho hi\n"}, {"lib/a.txt", "a"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());  // again: a no-op
  EXPECT_EQ(CountRows(db_.get()), 1);
  EXPECT_FALSE(fs::exists(b_->PathOf(sha)));
  auto unpacked = b_->Unpacked(sha);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status().message();
  EXPECT_EQ(ReadFile(*unpacked + "/bootstrap"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ReadFile(*unpacked + "/lib/a.txt"), "a");
  EXPECT_EQ(ReadFile(b_->PathOf(sha)), zip);  // cached
  auto back = a_->Get(sha);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, zip);
  EXPECT_EQ(a_->Get(Sha256Hex("absent")).status().code(), StatusCode::kResourceNotFound);
}

TEST_F(SharedCodePackageStoreTest, ConcurrentReadersOfAMissingPackage) {
  std::string zip = MakeZip({{"bootstrap", "#!/bin/sh\n"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&, i] {
      bool good = i % 2 == 0 ? b_->Unpacked(sha).ok() : b_->Get(sha).ok();
      if (good) ++ok;
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(ReadFile(b_->PathOf(sha)), zip);
}

TEST_F(SharedCodePackageStoreTest, TheLargestPackageRoundTrips) {
  // Random content does not compress: the zip is close to the 50 MB limit.
  std::string content(50'000'000, '\0');
  std::mt19937_64 random(14);
  for (size_t i = 0; i + 8 <= content.size(); i += 8) {
    uint64_t v = random();
    std::memcpy(content.data() + i, &v, 8);
  }
  std::string zip = MakeZip({{"blob.bin", content}});
  ASSERT_GT(zip.size(), size_t{50'000'000});
  ASSERT_LE(static_cast<int64_t>(zip.size()), kMaxZippedBytes);
  std::string sha = Sha256Hex(zip);
  Status put = Put(db_.get(), a_.get(), zip);
  ASSERT_TRUE(put.ok()) << put.message();
  auto back = b_->Get(sha);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back == zip);
}

TEST_F(SharedCodePackageStoreTest, ADamagedRowIsRefused) {
  std::string zip = MakeZip({{"bootstrap", "#!/bin/sh\n"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());
  std::string flipped = zip;
  flipped[flipped.size() / 2] ^= 0x01;
  for (const std::string& bad : {flipped, zip.substr(0, zip.size() - 1), zip + "x"}) {
    ASSERT_TRUE(SetBytes(sha, bad).ok());
    auto got = b_->Get(sha);
    EXPECT_EQ(got.status().code(), StatusCode::kInternal);
    EXPECT_NE(got.status().message().find("damaged"), std::string::npos) << got.status().message();
    EXPECT_EQ(b_->Unpacked(sha).status().code(), StatusCode::kInternal);
    EXPECT_FALSE(fs::exists(b_->PathOf(sha)));  // not cached either
  }
  ASSERT_TRUE(SetBytes(sha, zip).ok());
  EXPECT_TRUE(b_->Unpacked(sha).ok());
}

TEST_F(SharedCodePackageStoreTest, RemoveDeletesTheRow) {
  std::string zip = MakeZip({{"bootstrap", "#!/bin/sh\n"}});
  std::string sha = Sha256Hex(zip);
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());
  ASSERT_TRUE(a_->Unpacked(sha).ok());
  ASSERT_TRUE(Remove(db_.get(), a_.get(), sha).ok());
  EXPECT_EQ(CountRows(db_.get()), 0);
  EXPECT_FALSE(fs::exists(a_->PathOf(sha)));
  EXPECT_EQ(b_->Get(sha).status().code(), StatusCode::kResourceNotFound);
  EXPECT_EQ(b_->Unpacked(sha).status().code(), StatusCode::kResourceNotFound);
  // Keeping the local copy still deletes the row.
  ASSERT_TRUE(Put(db_.get(), a_.get(), zip).ok());
  ASSERT_TRUE(a_->Unpacked(sha).ok());
  ASSERT_TRUE(Remove(db_.get(), a_.get(), sha, CodePackageStore::Local::kKeep).ok());
  EXPECT_EQ(CountRows(db_.get()), 0);
  EXPECT_TRUE(a_->Get(sha).ok());
}

}  // namespace
}  // namespace lambkin::functions
