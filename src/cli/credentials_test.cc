#include "cli/credentials.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "iam/authenticator.h"

namespace lambkin::cli {
namespace {

// An environment and a filesystem of a few files.
struct World {
  std::map<std::string, std::string> env = {{"HOME", "/home/op"}};
  std::map<std::string, std::string> files;

  CredentialSources Sources() const {
    return {[this](const char* name) -> std::optional<std::string> {
              auto it = env.find(name);
              if (it == env.end() || it->second.empty()) return std::nullopt;
              return it->second;
            },
            [this](const std::string& path) -> std::optional<std::string> {
              auto it = files.find(path);
              if (it == files.end()) return std::nullopt;
              return it->second;
            }};
  }
  Result<ClientIdentity> Resolve(const std::string& region_flag = "") const {
    return ResolveClientIdentity(Sources(), region_flag);
  }
};

constexpr char kCredentials[] = R"(# written by hand
[default]
aws_access_key_id = AKIADEFAULT000000001
aws_secret_access_key = default-secret

[lambkin-operator]
aws_access_key_id=AKIAOPERATOR00000001
aws_secret_access_key=operator-secret
aws_session_token = operator-token

[only-in-config]
; nothing here
)";

constexpr char kConfig[] = R"([default]
region = eu-west-1

[profile lambkin-operator]
region = eu-central-1
s3 =
  max_concurrent_requests = 20

[profile only-in-config]
aws_access_key_id = AKIACONFIG0000000001
aws_secret_access_key = config-secret

[profile sso]
sso_session = corp
)";

World WithFiles() {
  World w;
  w.files["/home/op/.aws/credentials"] = kCredentials;
  w.files["/home/op/.aws/config"] = kConfig;
  return w;
}

TEST(CredentialsTest, EnvironmentComesFirst) {
  World w = WithFiles();
  w.env["AWS_ACCESS_KEY_ID"] = "AKIAENV0000000000001";
  w.env["AWS_SECRET_ACCESS_KEY"] = "env-secret";
  w.env["AWS_SESSION_TOKEN"] = "env-token";
  w.env["AWS_PROFILE"] = "lambkin-operator";
  auto id = w.Resolve();
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->credentials.access_key_id, "AKIAENV0000000000001");
  EXPECT_EQ(id->credentials.secret_access_key, "env-secret");
  EXPECT_EQ(id->credentials.session_token, std::optional<std::string>("env-token"));
  EXPECT_FALSE(id->credentials.development);
  EXPECT_EQ(id->region, "eu-central-1") << "the profile's region still applies";
}

TEST(CredentialsTest, HalfAnEnvironmentKeyIsAnError) {
  World w = WithFiles();
  w.env["AWS_ACCESS_KEY_ID"] = "AKIAENV0000000000001";
  auto id = w.Resolve();
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos);
}

TEST(CredentialsTest, ProfilesFromTheSharedFiles) {
  struct Case {
    const char* profile;  // AWS_PROFILE; nullptr: unset
    const char* key;
    const char* region;
    bool token;
  };
  const Case cases[] = {
      {nullptr, "AKIADEFAULT000000001", "eu-west-1", false},
      {"default", "AKIADEFAULT000000001", "eu-west-1", false},
      {"lambkin-operator", "AKIAOPERATOR00000001", "eu-central-1", true},
      {"only-in-config", "AKIACONFIG0000000001", "us-east-1", false},
  };
  for (const Case& c : cases) {
    World w = WithFiles();
    if (c.profile != nullptr) w.env["AWS_PROFILE"] = c.profile;
    auto id = w.Resolve();
    ASSERT_TRUE(id.ok()) << id.status().message();
    EXPECT_EQ(id->credentials.access_key_id, c.key) << (c.profile ? c.profile : "(unset)");
    EXPECT_EQ(id->region, c.region) << (c.profile ? c.profile : "(unset)");
    EXPECT_EQ(id->credentials.session_token.has_value(), c.token);
    EXPECT_NE(id->credentials.source.find("profile"), std::string::npos);
  }
}

TEST(CredentialsTest, FileLocationsComeFromTheEnvironment) {
  World w;
  w.env["AWS_SHARED_CREDENTIALS_FILE"] = "/data/operator-credentials";
  w.env["AWS_CONFIG_FILE"] = "~/elsewhere/config";
  w.env["AWS_PROFILE"] = "lambkin-operator";
  w.files["/data/operator-credentials"] =
      CredentialsFileProfile("lambkin-operator", "AKIAOPERATOR00000002", "s3cret/with+signs");
  w.files["/home/op/elsewhere/config"] = "[profile lambkin-operator]\nregion = ap-south-1\n";
  auto id = w.Resolve();
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->credentials.access_key_id, "AKIAOPERATOR00000002");
  EXPECT_EQ(id->credentials.secret_access_key, "s3cret/with+signs");
  EXPECT_EQ(id->region, "ap-south-1");
  EXPECT_EQ(id->credentials.source, "profile lambkin-operator in /data/operator-credentials");
}

TEST(CredentialsTest, RegionOrder) {
  World w = WithFiles();
  EXPECT_EQ(w.Resolve("ca-central-1")->region, "ca-central-1");
  w.env["AWS_DEFAULT_REGION"] = "sa-east-1";
  EXPECT_EQ(w.Resolve()->region, "sa-east-1");
  w.env["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(w.Resolve()->region, "us-west-2");
  EXPECT_EQ(w.Resolve("ca-central-1")->region, "ca-central-1");
  EXPECT_EQ(World().Resolve()->region, "us-east-1");
}

TEST(CredentialsTest, NothingFoundFallsBackToTheDevelopmentKey) {
  for (World w : {World(), World{{}, {}}}) {  // with and without a home directory
    auto id = w.Resolve();
    ASSERT_TRUE(id.ok()) << id.status().message();
    EXPECT_EQ(id->credentials.access_key_id, iam::kDevelopmentAccessKey);
    EXPECT_EQ(id->credentials.secret_access_key, iam::kDevelopmentSecretKey);
    EXPECT_TRUE(id->credentials.development);
    EXPECT_EQ(id->region, "us-east-1");
  }
}

TEST(CredentialsTest, ANamedProfileNeverFallsBack) {
  World w = WithFiles();
  w.env["AWS_PROFILE"] = "nosuch";
  auto missing = w.Resolve();
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("the profile nosuch (AWS_PROFILE) could not be found"),
            std::string::npos);
  w.env["AWS_PROFILE"] = "sso";
  auto keyless = w.Resolve();
  ASSERT_FALSE(keyless.ok());
  EXPECT_NE(keyless.status().message().find("static keys only"), std::string::npos);
  World bare;
  bare.env["AWS_PROFILE"] = "default";
  EXPECT_FALSE(bare.Resolve().ok()) << "even the default profile, when named";
}

TEST(CredentialsTest, AProfileWithHalfAKeyIsAnError) {
  World w;
  w.files["/home/op/.aws/credentials"] = "[default]\naws_access_key_id = AKIAHALF000000000001\n";
  auto id = w.Resolve();
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("has aws_access_key_id but not aws_secret_access_key"),
            std::string::npos);
}

TEST(CredentialsTest, IniParsing) {
  IniFile ini = ParseIni(
      "top = ignored\n[ a ]\r\nKey = v1 \n  nested = skipped\n# c\n; c\n[b\nx = y\n[c]\nk=v=w\n");
  EXPECT_EQ(ini.size(), 2u);
  EXPECT_EQ(ini["a"]["key"], "v1");
  EXPECT_FALSE(ini["a"].contains("nested"));
  EXPECT_EQ(ini["c"]["k"], "v=w");
  IniFile written = ParseIni(CredentialsFileProfile("p", "AKIA1", "s"));
  EXPECT_EQ(written["p"]["aws_access_key_id"], "AKIA1");
  EXPECT_EQ(written["p"]["aws_secret_access_key"], "s");
}

}  // namespace
}  // namespace lambkin::cli
