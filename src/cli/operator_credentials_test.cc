#include "cli/operator_credentials.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/credentials.h"
#include "common/crypto.h"
#include "iam/authorizer.h"

namespace lambkin::cli {
namespace {

constexpr char kAccount[] = "123456789012";

class OperatorCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/operator-" + RandomUuid();
    std::filesystem::create_directories(dir_);
    auto db = store::Database::Open(dir_ + "/lambkin.db", iam::Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    directory_ = std::make_unique<iam::Directory>(db_.get());
    ASSERT_TRUE(directory_->Load().ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string File() const { return dir_ + "/" + kOperatorCredentialsFile; }
  std::string Read(const std::string& path) const {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  Result<std::optional<std::string>> Ensure() {
    return EnsureOperatorCredentials(directory_.get(), kAccount, dir_);
  }

  std::string dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<iam::Directory> directory_;
};

TEST_F(OperatorCredentialsTest, FirstStartWritesAPrivateKeyOfAnAdministrator) {
  auto written = Ensure();
  ASSERT_TRUE(written.ok()) << written.status().message();
  ASSERT_EQ(*written, std::optional<std::string>(File()));
  struct stat st {};
  ASSERT_EQ(::stat(File().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  IniFile ini = ParseIni(Read(File()));
  std::string id = ini[kOperatorProfile]["aws_access_key_id"];
  std::string secret = ini[kOperatorProfile]["aws_secret_access_key"];
  EXPECT_EQ(id.size(), 20u);
  EXPECT_TRUE(id.starts_with("AKIA"));
  EXPECT_EQ(secret.size(), 40u);

  // The key signs as the operator user, who may do anything in the account.
  auto snapshot = directory_->snapshot();
  const iam::Snapshot::Key* key = snapshot->FindKey(id);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->secret, secret);
  EXPECT_EQ(key->caller.arn, "arn:aws:iam::123456789012:user/lambkin-operator");
  iam::RequestContext request;
  request.action = "lambkin:ApplyIamDeclaration";
  EXPECT_TRUE(iam::Authorize(*snapshot, key->caller, request).ok());
  EXPECT_FALSE(std::filesystem::exists(File() + ".new"));
}

TEST_F(OperatorCredentialsTest, LaterStartsLeaveItAlone) {
  ASSERT_TRUE(Ensure().ok());
  std::string first = Read(File());
  auto again = Ensure();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_EQ(Read(File()), first);

  // An operator who removed the user does not get it back.
  ASSERT_TRUE(
      directory_->Apply({{"accounts", {{kAccount, {{"users", {{kOperatorUser, nullptr}}}}}}}})
          .ok());
  auto removed = Ensure();
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->has_value());
  EXPECT_EQ(Read(File()), first);
  std::string id = ParseIni(first)[kOperatorProfile]["aws_access_key_id"];
  EXPECT_EQ(directory_->snapshot()->FindKey(id), nullptr);
}

TEST_F(OperatorCredentialsTest, AStartInterruptedAfterTheKeyWasAddedIsFinished) {
  ASSERT_TRUE(Ensure().ok());
  // As if the rename had not happened.
  std::filesystem::rename(File(), File() + ".new");
  auto finished = Ensure();
  ASSERT_TRUE(finished.ok()) << finished.status().message();
  EXPECT_EQ(*finished, std::optional<std::string>(File()));
  EXPECT_FALSE(std::filesystem::exists(File() + ".new"));
}

TEST_F(OperatorCredentialsTest, AStartInterruptedBeforeTheKeyWasAddedStartsOver) {
  std::ofstream(File() + ".new") << CredentialsFileProfile(kOperatorProfile, "AKIALOST", "lost");
  auto written = Ensure();
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(*written, std::optional<std::string>(File()));
  std::string id = ParseIni(Read(File()))[kOperatorProfile]["aws_access_key_id"];
  EXPECT_NE(id, "AKIALOST");
  EXPECT_NE(directory_->snapshot()->FindKey(id), nullptr);
}

TEST_F(OperatorCredentialsTest, AStalePendingFileOfAnotherKeyIsRemoved) {
  ASSERT_TRUE(Ensure().ok());
  std::filesystem::remove(File());
  std::ofstream(File() + ".new") << CredentialsFileProfile(kOperatorProfile, "AKIAOTHER", "x");
  auto result = Ensure();
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->has_value());
  EXPECT_FALSE(std::filesystem::exists(File() + ".new"));
}

}  // namespace
}  // namespace lambkin::cli
