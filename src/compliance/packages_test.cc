#include "compliance/packages.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "functions/zip_testing.h"

namespace lambkin::compliance {
namespace {

using catalog::BomEntry;
using catalog::Requirement;
using functions::testing::MakeZip;

// Realistic metadata, as pip and npm install it.
constexpr char kBoto3Metadata[] = R"(Metadata-Version: 2.1
Name: boto3
Version: 1.35.90
Summary: The AWS SDK for Python
Home-page: https://github.com/boto/boto3
Author: Amazon Web Services
License: Apache License 2.0
Classifier: Programming Language :: Python :: 3.8
Requires-Python: >= 3.8
License-File: LICENSE
License-File: NOTICE
Requires-Dist: botocore<1.36.0,>=1.35.90
Requires-Dist: jmespath<2.0.0,>=0.7.1
Requires-Dist: s3transfer<0.11.0,>=0.10.0
Provides-Extra: crt
Requires-Dist: botocore[crt]<2.0a0,>=1.21.0; extra == "crt"

===============================
Boto3 - The AWS SDK for Python
===============================
Requires-Dist: not-a-field>=1 (the description is not metadata)
)";

constexpr char kBotocoreMetadata[] = R"(Metadata-Version: 2.1
Name: botocore
Version: 1.35.90
Summary: Low-level, data-driven core of boto 3.
Requires-Python: >= 3.8
Requires-Dist: jmespath<2.0.0,>=0.7.1
Requires-Dist: python-dateutil<3.0.0,>=2.1
Requires-Dist: urllib3<1.27,>=1.25.4; python_version < "3.10"
Requires-Dist: urllib3!=2.2.0,<3,>=1.25.4; python_version >= "3.10"
Provides-Extra: crt
Requires-Dist: awscrt==0.22.0; extra == "crt"
)";

constexpr char kRequestsMetadata[] = R"(Metadata-Version: 2.1
Name: requests
Version: 2.32.3
Requires-Python: >=3.8
Requires-Dist: charset-normalizer<4,>=2
Requires-Dist: idna<4,>=2.5
Requires-Dist: urllib3<3,>=1.21.1
Requires-Dist: certifi>=2017.4.17
Provides-Extra: socks
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"
Provides-Extra: use-chardet-on-py3
Requires-Dist: chardet<6,>=3.0.2; extra == 'use-chardet-on-py3'
Requires-Dist: brotli>=1.0.9; (platform_python_implementation == 'CPython') and extra == 'brotli'
)";

// Debian's python3-boto3 (bookworm): requires.txt keeps only the [crt] extra.
constexpr char kDebianBoto3PkgInfo[] = R"(Metadata-Version: 2.1
Name: boto3
Version: 1.26.27
Summary: The AWS SDK for Python
Requires-Python: >= 3.7
Provides-Extra: crt
)";
constexpr char kDebianBoto3Requires[] = "\n[crt]\nbotocore[crt]<2.0a0,>=1.21.0\n";

constexpr char kClientS3PackageJson[] = R"({
  "name": "@aws-sdk/client-s3",
  "description": "AWS SDK for JavaScript S3 Client for Node.js, Browser and React Native",
  "version": "3.700.0",
  "main": "./dist-cjs/index.js",
  "dependencies": {
    "@aws-sdk/core": "3.696.0",
    "@smithy/core": "^2.5.4",
    "@smithy/smithy-client": "^3.4.5",
    "tslib": "^2.6.2"
  },
  "devDependencies": {"typescript": "~5.2.2", "@smithy/types": "^3.7.1"},
  "engines": {"node": ">=16.0.0"}
})";

std::string PackageJson(const std::string& name, const std::string& version,
                        const nlohmann::json& dependencies = nlohmann::json::object()) {
  return nlohmann::json{{"name", name}, {"version", version}, {"dependencies", dependencies}}
      .dump();
}

BomEntry Py(const std::string& name, const std::string& version,
            std::vector<Requirement> depends = {}, const std::string& source = "/") {
  return {"python", name, version, source, std::move(depends)};
}

BomEntry Npm(const std::string& name, const std::string& version,
             std::vector<Requirement> depends = {}, const std::string& source = "/node_modules") {
  return {"npm", name, version, source, std::move(depends)};
}

// ---------------------------------------------------------------------------------------------
// Metadata.

TEST(PackageNameTest, NormalisesPythonNamesPerPep503) {
  EXPECT_EQ(catalog::NormalizePackageName("python", "Charset_Normalizer"), "charset-normalizer");
  EXPECT_EQ(catalog::NormalizePackageName("python", "zope.interface"), "zope-interface");
  EXPECT_EQ(catalog::NormalizePackageName("python", "a-_.b"), "a-b");
  EXPECT_EQ(catalog::NormalizePackageName("python", "PyYAML"), "pyyaml");
  EXPECT_EQ(catalog::NormalizePackageName("npm", "@AWS-sdk/Client_S3"), "@AWS-sdk/Client_S3");
}

TEST(MetadataTest, ReadsUnconditionalRequiresDist) {
  auto boto3 = catalog::ParsePythonMetadata(kBoto3Metadata, "", "/");
  ASSERT_TRUE(boto3);
  EXPECT_EQ(boto3->name, "boto3");
  EXPECT_EQ(boto3->version, "1.35.90");
  EXPECT_EQ(boto3->depends, (std::vector<Requirement>{{"botocore", "<1.36.0,>=1.35.90"},
                                                      {"jmespath", "<2.0.0,>=0.7.1"},
                                                      {"s3transfer", "<0.11.0,>=0.10.0"}}));
  // Markers other than extras are ignored, so both urllib3 lines stay.
  auto botocore = catalog::ParsePythonMetadata(kBotocoreMetadata, "", "/");
  ASSERT_TRUE(botocore);
  EXPECT_EQ(botocore->depends, (std::vector<Requirement>{{"jmespath", "<2.0.0,>=0.7.1"},
                                                         {"python-dateutil", "<3.0.0,>=2.1"},
                                                         {"urllib3", "<1.27,>=1.25.4"},
                                                         {"urllib3", "!=2.2.0,<3,>=1.25.4"}}));
  auto requests = catalog::ParsePythonMetadata(kRequestsMetadata, "", "/python");
  ASSERT_TRUE(requests);
  EXPECT_EQ(requests->source, "/python");
  EXPECT_EQ(requests->depends, (std::vector<Requirement>{{"charset-normalizer", "<4,>=2"},
                                                         {"idna", "<4,>=2.5"},
                                                         {"urllib3", "<3,>=1.21.1"},
                                                         {"certifi", ">=2017.4.17"}}));
}

TEST(MetadataTest, ParsesEveryRequirementForm) {
  auto e = catalog::ParsePythonMetadata(
      "Name: demo\n"
      "Version: 1.0\n"
      "Requires-Dist: botocore (<1.36.0,>=1.35.62)\n"
      "Requires-Dist: Zope.Interface [security, tests] ( >= 5.0 ) ; python_version >= '3.8'\n"
      "Requires-Dist: attrs\n"
      "Requires-Dist: pkg @ https://example.com/pkg-1.0.tar.gz ; os_name == 'posix'\n"
      "Requires-Dist: pytest; extra=='test'\n"
      "Requires-Dist: mypy>=1 ; (extra == \"dev\")\n"
      "Requires-Dist: extras-lib>=2; platform_system == \"extra\"\n",
      "", "/");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->depends, (std::vector<Requirement>{{"botocore", "<1.36.0,>=1.35.62"},
                                                  {"zope-interface", ">=5.0"},
                                                  {"attrs", ""},
                                                  {"pkg", ""},
                                                  {"extras-lib", ">=2"}}));
  EXPECT_FALSE(catalog::ParsePythonMetadata("Name: nameless-version\n", "", "/"));
  EXPECT_FALSE(catalog::ParsePythonMetadata("", "", "/"));
}

TEST(MetadataTest, ReadsRequiresTxtSections) {
  // Debian strips boto3's unconditional requirements: only [crt] is left.
  auto debian = catalog::ParsePythonMetadata(kDebianBoto3PkgInfo, kDebianBoto3Requires, "/");
  ASSERT_TRUE(debian);
  EXPECT_TRUE(debian->depends.empty());

  auto e = catalog::ParsePythonMetadata("Metadata-Version: 2.1\nName: botocore\nVersion: 1.29.27\n",
                                        "# comment\n"
                                        "jmespath<2.0.0,>=0.7.1\n"
                                        "python-dateutil<3.0.0,>=2.1\n"
                                        "\n"
                                        "[:python_version < \"3.10\"]\n"
                                        "urllib3<1.27,>=1.25.4\n"
                                        "\n"
                                        "[crt]\n"
                                        "awscrt==0.14.0\n"
                                        "\n"
                                        "[security:python_version == \"2.7\"]\n"
                                        "ipaddress\n"
                                        "\n"
                                        "[:sys_platform == \"win32\"]\n"
                                        "colorama\n",
                                        "/usr/lib/python3/dist-packages");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->depends, (std::vector<Requirement>{{"jmespath", "<2.0.0,>=0.7.1"},
                                                  {"python-dateutil", "<3.0.0,>=2.1"},
                                                  {"urllib3", "<1.27,>=1.25.4"},
                                                  {"colorama", ""}}));
  // PKG-INFO's Requires-Dist (metadata 2.2) and requires.txt together, without duplicates.
  auto both = catalog::ParsePythonMetadata(
      "Metadata-Version: 2.2\nName: s3transfer\nVersion: 0.11.4\n"
      "Requires-Dist: botocore<2.0a.0,>=1.37.4\n"
      "Requires-Dist: botocore[crt]<2.0a.0,>=1.37.4; extra == \"crt\"\n",
      "botocore<2.0a.0,>=1.37.4\n\n[crt]\nbotocore[crt]<2.0a.0,>=1.37.4\n", "/");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->depends, (std::vector<Requirement>{{"botocore", "<2.0a.0,>=1.37.4"}}));
}

TEST(MetadataTest, ReadsPackageJsonDependenciesAndPeers) {
  auto e = catalog::ParsePackageJson(kClientS3PackageJson, "/node_modules/@aws-sdk");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ecosystem, "npm");
  EXPECT_EQ(e->name, "@aws-sdk/client-s3");
  EXPECT_EQ(e->version, "3.700.0");
  EXPECT_EQ(e->depends, (std::vector<Requirement>{{"@aws-sdk/core", "3.696.0"},
                                                  {"@smithy/core", "^2.5.4"},
                                                  {"@smithy/smithy-client", "^3.4.5"},
                                                  {"tslib", "^2.6.2"}}));
  auto peer = catalog::ParsePackageJson(
      R"({"name":"react-dom","version":"18.3.1","dependencies":{"scheduler":"^0.23.2","x":1},
          "peerDependencies":{"react":"^18.3.1"},"devDependencies":{"jest":"^29"}})",
      "/node_modules");
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->depends,
            (std::vector<Requirement>{{"scheduler", "^0.23.2"}, {"react", "^18.3.1"}}));
  EXPECT_FALSE(catalog::ParsePackageJson(R"({"name":"no-version"})", "/"));
  EXPECT_FALSE(catalog::ParsePackageJson(R"({"name":"x","version":1})", "/"));
  EXPECT_FALSE(catalog::ParsePackageJson("{not json", "/"));
}

TEST(MetadataTest, JsonCarriesRequirementsAndReadsOldStores) {
  std::vector<BomEntry> bom = {{"deb", "libc6", "2.36-9", "glibc"},
                               Py("boto3", "1.35.90", {{"botocore", "<1.36.0,>=1.35.90"}}),
                               Npm("tslib", "2.8.1")};
  nlohmann::json j = catalog::BomToJson(bom);
  EXPECT_FALSE(j[0].contains("Requires"));
  EXPECT_EQ(j[1]["Requires"],
            nlohmann::json::parse(R"([{"Name":"botocore","Spec":"<1.36.0,>=1.35.90"}])"));
  EXPECT_EQ(catalog::BomFromJson(j), bom);
  // A store written before requirements were recorded.
  auto old = catalog::BomFromJson(nlohmann::json::parse(
      R"([{"Ecosystem":"python","Name":"boto3","Version":"1.26.27","Source":"/usr/lib"}])"));
  ASSERT_EQ(old.size(), 1u);
  EXPECT_TRUE(old[0].depends.empty());
}

TEST(MetadataTest, ReadBomRecordsRequirements) {
  namespace fs = std::filesystem;
  std::string root = ::testing::TempDir() + "/bom-" + RandomUuid();
  auto write = [&](const std::string& path, const std::string& content) {
    fs::create_directories(fs::path(root + "/" + path).parent_path());
    std::ofstream(root + "/" + path) << content;
  };
  std::string site = "usr/lib/python3/dist-packages/";
  write(site + "boto3-1.26.27.egg-info/PKG-INFO", kDebianBoto3PkgInfo);
  write(site + "boto3-1.26.27.egg-info/requires.txt", kDebianBoto3Requires);
  write(site + "s3transfer-0.6.0.egg-info/PKG-INFO", "Name: s3transfer\nVersion: 0.6.0\n");
  write(site + "s3transfer-0.6.0.egg-info/requires.txt", "botocore<2.0a.0,>=1.12.36\n");
  write(site + "requests-2.32.3.dist-info/METADATA", kRequestsMetadata);
  write("var/runtime/node_modules/@aws-sdk/client-s3/package.json", kClientS3PackageJson);
  auto bom = catalog::ReadBom(root);
  ASSERT_TRUE(bom.ok()) << bom.status().message();
  ASSERT_EQ(bom->size(), 4u);
  EXPECT_EQ((*bom)[0].name, "@aws-sdk/client-s3");
  EXPECT_EQ((*bom)[0].source, "/var/runtime/node_modules/@aws-sdk");
  EXPECT_EQ((*bom)[0].depends.size(), 4u);
  EXPECT_EQ((*bom)[1].name, "boto3");
  EXPECT_TRUE((*bom)[1].depends.empty());
  EXPECT_EQ((*bom)[2].name, "requests");
  EXPECT_EQ((*bom)[2].depends.size(), 4u);
  EXPECT_EQ((*bom)[3].name, "s3transfer");
  EXPECT_EQ((*bom)[3].source, "/usr/lib/python3/dist-packages");
  EXPECT_EQ((*bom)[3].depends, (std::vector<Requirement>{{"botocore", "<2.0a.0,>=1.12.36"}}));
  fs::remove_all(root);
}

// ---------------------------------------------------------------------------------------------
// Zips.

TEST(InspectPackagesTest, FindsPythonAndNodePackagesAtAnyDepth) {
  std::string big_description(2 << 20, 'x');  // past the 1 MiB cap: the header still counts
  std::string zip = MakeZip({
      {"lambda_function.py", "import requests\n"},
      {"requests/__init__.py", ""},
      {"requests-2.32.3.dist-info/RECORD", "requests/__init__.py,,\n"},
      {"requests-2.32.3.dist-info/METADATA", kRequestsMetadata + ("\n" + big_description)},
      {"python/lib/python3.12/site-packages/botocore-1.35.90.dist-info/METADATA",
       kBotocoreMetadata},
      // requires.txt before PKG-INFO: the order of a zip's entries is arbitrary.
      {"python/boto3.egg-info/requires.txt", kDebianBoto3Requires},
      {"python/boto3.egg-info/PKG-INFO", kDebianBoto3PkgInfo},
      {"python/six.egg-info", "Metadata-Version: 1.0\nName: six\nVersion: 1.16.0\n"},
      {"not-metadata.dist-info/RECORD", ""},
      {"node_modules/.package-lock.json", "{}"},
      {"node_modules/.bin/tsc", "#!/bin/sh\n"},
      {"node_modules/@aws-sdk/client-s3/package.json", kClientS3PackageJson},
      {"node_modules/@aws-sdk/client-s3/dist-cjs/package.json", R"({"type":"commonjs"})"},
      {"node_modules/@aws-sdk/client-s3/node_modules/@smithy/core/package.json",
       PackageJson("@smithy/core", "2.2.0", {{"tslib", "^2.6.2"}})},
      {"node_modules/tslib/package.json", PackageJson("tslib", "2.8.1")},
      {"node_modules/tslib/modules/package.json", R"({"name":"tslib-esm","version":"0.0.0"})"},
      {"node_modules/a/lib/package.json", PackageJson("not-a-package", "1.0.0")},
      {"node_modules/a/node_modules/tslib/package.json", PackageJson("tslib", "1.14.1")},
      {"node_modules/broken/package.json", "{not json"},
      {"node_modules/@aws-sdk/package.json", PackageJson("not-a-package-either", "1.0.0")},
  });
  auto found = InspectPackages(zip);
  ASSERT_TRUE(found.ok()) << found.status().message();
  std::vector<std::tuple<std::string, std::string, std::string, std::string>> got;
  for (const auto& e : *found) got.emplace_back(e.ecosystem, e.name, e.version, e.source);
  using T = std::tuple<std::string, std::string, std::string, std::string>;
  EXPECT_EQ(got, (std::vector<T>{
                     T{"npm", "@aws-sdk/client-s3", "3.700.0", "/node_modules/@aws-sdk"},
                     T{"npm", "@smithy/core", "2.2.0",
                       "/node_modules/@aws-sdk/client-s3/node_modules/@smithy"},
                     T{"npm", "tslib", "1.14.1", "/node_modules/a/node_modules"},
                     T{"npm", "tslib", "2.8.1", "/node_modules"},
                     T{"python", "boto3", "1.26.27", "/python"},
                     T{"python", "botocore", "1.35.90", "/python/lib/python3.12/site-packages"},
                     T{"python", "requests", "2.32.3", "/"},
                     T{"python", "six", "1.16.0", "/python"},
                 }));
  EXPECT_EQ((*found)[0].depends.size(), 4u);
  EXPECT_EQ((*found)[6].depends.size(), 4u);
}

TEST(InspectPackagesTest, ReadsTheSameAsTheRootFilesystem) {
  // The same metadata gives the same entry, wherever it is read from.
  auto zipped = InspectPackages(MakeZip({{"boto3-1.35.90.dist-info/METADATA", kBoto3Metadata}}));
  ASSERT_TRUE(zipped.ok());
  ASSERT_EQ(zipped->size(), 1u);
  EXPECT_EQ((*zipped)[0], *catalog::ParsePythonMetadata(kBoto3Metadata, "", "/"));
  // Duplicates (the same entry twice in one zip) collapse.
  auto twice = InspectPackages(
      MakeZip({{"node_modules/tslib/package.json", PackageJson("tslib", "2.8.1")},
               {"node_modules/tslib/package.json", PackageJson("tslib", "2.8.1")}}));
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->size(), 1u);
}

TEST(InspectPackagesTest, RefusesWhatIsNotAZip) {
  for (const std::string& bad : {std::string("not a zip at all, just some text"), std::string(),
                                 std::string("PK\x03\x04garbage", 11)}) {
    auto r = InspectPackages(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParameterValue) << bad;
  }
  std::string truncated = MakeZip({{"a-1.0.dist-info/METADATA", "Name: a\nVersion: 1.0\n"}});
  truncated.resize(truncated.size() / 2);
  EXPECT_EQ(InspectPackages(truncated).status().code(), StatusCode::kInvalidParameterValue);
  auto empty = InspectPackages(MakeZip({}));
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->empty());
}

// ---------------------------------------------------------------------------------------------
// Version specifiers.

struct SpecCase {
  const char* version;
  const char* spec;
  bool satisfied;
};

TEST(SatisfiesTest, Pep440) {
  constexpr SpecCase kCases[] = {
      {"1.35.90", "<1.36.0,>=1.35.90", true},
      {"1.36.0", "<1.36.0,>=1.35.90", false},
      {"1.35.89", "<1.36.0,>=1.35.90", false},
      {"1.99.0", "<2.0a0", true},
      {"2.0a0", "<2.0a0", false},
      {"1.37.9", "<2.0a.0,>=1.37.4", true},  // Debian's spelling of 2.0a0
      {"1.37.3", "<2.0a.0,>=1.37.4", false},
      {"1.9", "<2.0", true},
      {"2.0rc1", "<2.0", false},    // <V excludes V's own pre-releases...
      {"2.0rc1", "<2.0rc2", true},  // ...unless V is one
      {"2.0.dev3", "<2.0", false},
      {"2.0.1", ">2.0", true},
      {"2.0.post1", ">2.0", false},       // >V excludes V's own post-releases...
      {"2.0.post2", ">2.0.post1", true},  // ...unless V is one
      {"1.0-1", ">1.0", false},           // 1.0-1 is 1.0.post1
      {"1.0", "==1.0.0", true},
      {"1.0+ubuntu1", "==1.0", true},  // local labels ignored
      {"1.2.5", "==1.2.*", true},
      {"1.2", "==1.2.*", true},
      {"1.2rc1", "==1.2.*", true},
      {"1.3", "==1.2.*", false},
      {"1.2.5", "!=1.2.*", false},
      {"1.3.0", "!=1.2.*", true},
      {"2.2.0", "!=2.2.0,<3,>=1.25.4", false},
      {"2.3.0", "!=2.2.0,<3,>=1.25.4", true},
      {"1.4.5", "~=1.4.2", true},
      {"1.5.0", "~=1.4.2", false},
      {"1.4.1", "~=1.4.2", false},
      {"2.9", "~=2.1", true},
      {"3.0", "~=2.1", false},
      {"1.0", "===1.0", true},
      {"1.0.0", "===1.0", false},
      {"1!1.0", ">=2.0", true},  // epochs outrank releases
      {"1.0.dev1", "<1.0a1", true},
      {"1.0a1", ">=1.0a0", true},
      {"1.0", ">= 1.0 , < 2", true},
      {"v1.0", "==1.0", true},
      {"1.0.0", "", true},
      {"1.0.0", " ", true},
      // Unreadable versions satisfy nothing; unreadable specifiers are not conflicts.
      {"not-a-version", ">=1.0", false},
      {"1.0", ">=what", true},
      {"1.0", "~=1", true},
      {"1.0", "1.0", true},
      {"1.0", ">=2.0,bogus", true},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(Satisfies("python", c.version, c.spec), c.satisfied)
        << c.version << " against " << c.spec;
  }
}

TEST(SatisfiesTest, NodeSemver) {
  constexpr SpecCase kCases[] = {
      {"1.2.3", "^1.2.3", true},
      {"1.9.0", "^1.2.3", true},
      {"2.0.0", "^1.2.3", false},
      {"1.2.2", "^1.2.3", false},
      {"0.2.5", "^0.2.3", true},
      {"0.3.0", "^0.2.3", false},
      {"0.0.3", "^0.0.3", true},
      {"0.0.4", "^0.0.3", false},
      {"0.0.9", "^0.0", true},
      {"0.1.0", "^0.0.x", false},
      {"0.9.0", "^0.x", true},
      {"1.2.9", "~1.2.3", true},
      {"1.3.0", "~1.2.3", false},
      {"1.9.0", "~1", true},
      {"1.9.9", "1.x", true},
      {"2.0.0", "1.x", false},
      {"1.2.7", "1.2.*", true},
      {"1.3.0", "1.2.*", false},
      {"5.0.0", "*", true},
      {"5.0.0", "", true},
      {"5.0.0", "x", true},
      {"2.0.0", "1.2.3 - 2.3.4", true},
      {"2.3.4", "1.2.3 - 2.3.4", true},
      {"2.3.5", "1.2.3 - 2.3.4", false},
      {"1.2.2", "1.2.3 - 2.3.4", false},
      {"2.3.9", "1.2.3 - 2.3", true},
      {"2.4.0", "1.2.3 - 2.3", false},
      {"2.9.9", "1.2 - 2", true},
      {"3.0.0", "^1.0.0 || ^3.0.0", true},
      {"2.0.0", "^1.0.0 || ^3.0.0", false},
      {"1.5.0", ">=1.2.0 <2.0.0", true},
      {"2.0.0", ">=1.2.0 <2.0.0", false},
      {"1.5.0", ">= 1.2.0 < 2.0.0", true},
      {"2.0.0", ">1", true},
      {"1.9.0", ">1", false},
      {"1.3.0", ">1.2", true},
      {"1.2.9", ">1.2", false},
      {"1.2.9", "<=1.2", true},
      {"1.3.0", "<=1.2", false},
      {"1.1.9", "<1.2", true},
      {"1.2.0", "<1.2", false},
      {"1.2.3", "=1.2.3", true},
      {"1.2.3", "v1.2.3", true},
      {"v1.2.3", "1.2.3", true},
      {"1.2.4", "1.2.3", false},
      {"3.696.0", "3.696.0", true},
      // Pre-releases: ordered per semver, and only admitted by a set naming one of the same
      // major.minor.patch.
      {"1.2.3-beta.2", "^1.2.3-beta.1", true},
      {"1.2.3-beta.10", ">1.2.3-beta.9", true},
      {"1.2.3-alpha", "^1.2.3-beta.1", false},
      {"1.2.4-beta.1", "^1.2.3-beta.1", false},
      {"1.2.3", "^1.2.3-beta.1", true},
      {"1.0.0-rc.1", "*", false},
      {"2.0.0-rc.1", "<2.0.0", false},
      {"1.0.0-rc.1", ">=1.0.0-rc.0 <2", true},
      {"1.2.3+build.5", "1.2.3", true},
      // Not ranges: never a conflict.
      {"1.0.0", "file:../local", true},
      {"1.0.0", "git+https://github.com/a/b.git#v2", true},
      {"1.0.0", "https://example.com/b-2.0.0.tgz", true},
      {"1.0.0", "workspace:*", true},
      {"1.0.0", "npm:other@^2.0.0", true},
      {"1.0.0", "user/repo", true},
      {"1.0.0", "latest", true},
      {"not-a-version", "^1.0.0", false},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(Satisfies("npm", c.version, c.spec), c.satisfied)
        << c.version << " against " << c.spec;
  }
}

TEST(CompareVersionsTest, OrdersEachEcosystem) {
  const std::vector<std::string> python = {"1.0.dev0", "1.0a0.dev1", "1.0a0",          "1.0b1",
                                           "1.0rc1",   "1.0",        "1.0.post1.dev0", "1.0.post1",
                                           "1.1.dev0", "1.10",       "1!0.1"};
  for (size_t i = 0; i + 1 < python.size(); ++i) {
    EXPECT_LT(CompareVersions("python", python[i], python[i + 1]), 0) << python[i];
    EXPECT_GT(CompareVersions("python", python[i + 1], python[i]), 0) << python[i];
  }
  EXPECT_EQ(CompareVersions("python", "1.0", "1.0.0"), 0);
  EXPECT_EQ(CompareVersions("python", "1.0RC1", "1.0rc1"), 0);
  const std::vector<std::string> npm = {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
                                        "1.0.0-beta",  "1.0.0-beta.2",  "1.0.0-beta.11",
                                        "1.0.0-rc.1",  "1.0.0",         "1.2.0",
                                        "1.10.0"};
  for (size_t i = 0; i + 1 < npm.size(); ++i) {
    EXPECT_LT(CompareVersions("npm", npm[i], npm[i + 1]), 0) << npm[i];
  }
  EXPECT_EQ(CompareVersions("npm", "1.0.0+a", "1.0.0+b"), 0);
  const std::vector<std::string> deb = {"1.0~rc1-1", "1.0-1",  "1.0-2",  "1.0-2+deb12u1",
                                        "1.0a-1",    "1.10-1", "1:0.9-1"};
  for (size_t i = 0; i + 1 < deb.size(); ++i) {
    EXPECT_LT(CompareVersions("deb", deb[i], deb[i + 1]), 0) << deb[i];
  }
  // Unreadable versions order first.
  EXPECT_LT(CompareVersions("python", "unknown", "0.1"), 0);
  EXPECT_LT(CompareVersions("npm", "unknown", "0.0.1"), 0);
}

// ---------------------------------------------------------------------------------------------
// The table of compliance.md §3.

std::vector<BomEntry> PythonRuntime(const std::string& boto3_version = "1.35.90",
                                    const std::string& botocore_spec = "<1.36.0,>=1.35.90") {
  return {
      Py("boto3", boto3_version,
         {{"botocore", botocore_spec},
          {"jmespath", "<2.0.0,>=0.7.1"},
          {"s3transfer", "<0.11.0,>=0.10.0"}},
         "/var/runtime"),
      Py("botocore", boto3_version,
         {{"jmespath", "<2.0.0,>=0.7.1"},
          {"urllib3", "<1.27,>=1.25.4"},
          {"urllib3", "!=2.2.0,<3,>=1.25.4"}},
         "/var/runtime"),
      Py("jmespath", "1.0.1", {}, "/var/runtime"),
      Py("s3transfer", "0.10.4", {{"botocore", "<2.0a.0,>=1.33.2"}}, "/var/runtime"),
      Py("requests", "2.32.3", {{"urllib3", "<3,>=1.21.1"}}, "/var/runtime"),
      Py("urllib3", "2.3.0", {}, "/var/runtime"),
      {"deb", "libc6", "2.36-9+deb12u9", "glibc"},
  };
}

TEST(AnalyzeTest, RuntimeAndRuntime) {
  // The function bundles nothing the runtime provides.
  Analysis a = Analyze(PythonRuntime(), {Py("pyyaml", "6.0.2"), {"deb", "libc6", "2.36", "x"}});
  EXPECT_EQ(a.row, Row::kBothRuntime);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_EQ(Analyze(PythonRuntime(), {}).row, Row::kBothRuntime);
}

TEST(AnalyzeTest, BundledAndBundled) {
  std::vector<BomEntry> runtime = PythonRuntime();
  std::vector<BomEntry> bundled = {Py("requests", "2.31.0", {{"urllib3", "<3,>=1.21.1"}}),
                                   Py("urllib3", "2.2.3")};
  // The runtime's botocore requires urllib3 too, and would import the bundled one.
  EXPECT_EQ(Analyze(runtime, bundled).row, Row::kRuntimeWithBundled);
  runtime.erase(runtime.begin(), runtime.begin() + 4);  // a runtime without the SDK
  Analysis a = Analyze(runtime, bundled);
  EXPECT_EQ(a.row, Row::kBothBundled);
  ASSERT_EQ(a.findings.size(), 1u);
  const Finding& f = a.findings[0];
  EXPECT_EQ(f.row, Row::kBothBundled);
  EXPECT_EQ(f.ecosystem, "python");
  EXPECT_EQ(f.a, "requests");
  EXPECT_EQ(f.a_version, "2.31.0");  // the bundled copy is in effect
  EXPECT_EQ(f.b, "urllib3");
  EXPECT_EQ(f.b_version, "2.2.3");
  EXPECT_EQ(f.spec, "<3,>=1.21.1");  // read from the bundled requests
  EXPECT_FALSE(f.coupled);
  EXPECT_TRUE(f.satisfied);
}

TEST(AnalyzeTest, BundledAndRuntime) {
  // A bundled boto3 with the runtime's botocore: the coupled pair the seeds warn about.
  Analysis a = Analyze(PythonRuntime(),
                       {Py("boto3", "1.34.0",
                           {{"botocore", "<1.35.0,>=1.34.0"}, {"s3transfer", "<0.11.0,>=0.10.0"}}),
                        Py("Requests", "2.32.3", {{"urllib3", "<3,>=1.21.1"}}, "/python")});
  EXPECT_EQ(a.row, Row::kBundledWithRuntime);
  ASSERT_EQ(a.findings.size(), 3u);
  EXPECT_EQ(a.findings[0].a, "Requests");
  EXPECT_EQ(a.findings[0].b, "urllib3");
  EXPECT_EQ(a.findings[0].row, Row::kBundledWithRuntime);
  EXPECT_FALSE(a.findings[0].coupled);
  EXPECT_TRUE(a.findings[0].satisfied);
  const Finding& botocore = a.findings[1];
  EXPECT_EQ(botocore.a, "boto3");
  EXPECT_EQ(botocore.b, "botocore");
  EXPECT_EQ(botocore.row, Row::kBundledWithRuntime);
  EXPECT_TRUE(botocore.coupled);
  EXPECT_FALSE(botocore.satisfied);  // 1.35.90 is past what boto3 1.34.0 allows
  EXPECT_EQ(botocore.spec, "<1.35.0,>=1.34.0");
  EXPECT_EQ(a.findings[2].b, "s3transfer");
  EXPECT_TRUE(a.findings[2].coupled);
}

TEST(AnalyzeTest, RuntimeAndBundled) {
  // botocore bundled, boto3 from the runtime: the "no" row (boto/botocore#3082's split pair).
  Analysis a = Analyze(PythonRuntime(), {Py("botocore", "1.34.162")});
  EXPECT_EQ(a.row, Row::kRuntimeWithBundled);
  EXPECT_EQ(RowName(a.row), "runtime+bundled");
  ASSERT_EQ(a.findings.size(), 2u);
  const Finding& boto3 = a.findings[0];
  EXPECT_EQ(boto3.a, "boto3");
  EXPECT_EQ(boto3.a_version, "1.35.90");
  EXPECT_EQ(boto3.b_version, "1.34.162");
  EXPECT_EQ(boto3.spec, "<1.36.0,>=1.35.90");
  EXPECT_TRUE(boto3.coupled);
  EXPECT_FALSE(boto3.satisfied);
  const Finding& s3transfer = a.findings[1];
  EXPECT_EQ(s3transfer.a, "s3transfer");
  EXPECT_TRUE(s3transfer.coupled);
  EXPECT_TRUE(s3transfer.satisfied);
}

TEST(AnalyzeTest, CouplingStandsInForStrippedRequirements) {
  // Debian's boto3 declares nothing; the coupling still pairs it with a bundled botocore.
  std::vector<BomEntry> runtime = {Py("boto3", "1.26.27", {}, "/usr/lib/python3/dist-packages"),
                                   Py("botocore", "1.29.27", {}, "/usr/lib/python3/dist-packages")};
  Analysis a = Analyze(runtime, {Py("botocore", "1.29.0")});
  EXPECT_EQ(a.row, Row::kRuntimeWithBundled);
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].spec, "");
  EXPECT_TRUE(a.findings[0].coupled);
  EXPECT_TRUE(a.findings[0].satisfied);
}

TEST(AnalyzeTest, WorstRowWins) {
  Analysis a = Analyze(PythonRuntime(), {Py("requests", "2.31.0", {{"urllib3", "<3,>=1.21.1"}}),
                                         Py("urllib3", "2.2.3"), Py("s3transfer", "0.10.2")});
  // requests+urllib3 bundled+bundled; boto3 (runtime) on s3transfer (bundled).
  EXPECT_EQ(a.row, Row::kRuntimeWithBundled);
  EXPECT_EQ(RowName(Row::kBothRuntime), "runtime+runtime");
  EXPECT_EQ(RowName(Row::kBothBundled), "bundled+bundled");
  EXPECT_EQ(RowName(Row::kBundledWithRuntime), "bundled+runtime");
}

std::vector<BomEntry> NodeRuntime() {
  return {
      Npm("@aws-sdk/client-s3", "3.700.0",
          {{"@aws-sdk/core", "3.696.0"},
           {"@smithy/core", "^2.5.4"},
           {"@smithy/smithy-client", "^3.4.5"},
           {"tslib", "^2.6.2"}},
          "/var/runtime/node_modules/@aws-sdk"),
      Npm("@aws-sdk/core", "3.696.0", {{"@smithy/core", "^2.5.4"}, {"tslib", "^2.6.2"}},
          "/var/runtime/node_modules/@aws-sdk"),
      Npm("@smithy/core", "2.5.4", {{"tslib", "^2.6.2"}}, "/var/runtime/node_modules/@smithy"),
      Npm("@smithy/smithy-client", "3.4.5", {{"@smithy/core", "^2.5.4"}, {"tslib", "^2.6.2"}},
          "/var/runtime/node_modules/@smithy"),
      Npm("@smithy/types", "3.7.1", {{"tslib", "^2.6.2"}}, "/var/runtime/node_modules/@smithy"),
      Npm("tslib", "2.8.1", {}, "/var/runtime/node_modules"),
  };
}

TEST(AnalyzeTest, NodeRuntimeSdkWithBundledSmithy) {
  Analysis a = Analyze(NodeRuntime(), {Npm("@smithy/smithy-client", "3.1.0",
                                           {{"@smithy/core", "^2.2.0"}}, "/node_modules/@smithy")});
  EXPECT_EQ(a.row, Row::kRuntimeWithBundled);
  ASSERT_EQ(a.findings.size(), 2u);
  const Finding& f = a.findings[0];
  EXPECT_EQ(f.a, "@aws-sdk/client-s3");
  EXPECT_EQ(f.b, "@smithy/smithy-client");
  EXPECT_EQ(f.b_version, "3.1.0");
  EXPECT_EQ(f.spec, "^3.4.5");
  EXPECT_TRUE(f.coupled);
  EXPECT_FALSE(f.satisfied);
  // The bundled smithy-client on the runtime's @smithy/core.
  EXPECT_EQ(a.findings[1].a, "@smithy/smithy-client");
  EXPECT_EQ(a.findings[1].row, Row::kBundledWithRuntime);
  EXPECT_FALSE(a.findings[1].coupled);
}

TEST(AnalyzeTest, NodeResolvesNestedCopies) {
  // A bundled client-s3 with its own nested @smithy/core, the runtime's smithy-client.
  std::vector<BomEntry> bundled = {
      Npm("@aws-sdk/client-s3", "3.600.0",
          {{"@smithy/core", "^2.2.0"}, {"@smithy/smithy-client", "^3.1.0"}},
          "/node_modules/@aws-sdk"),
      Npm("@smithy/core", "2.2.0", {}, "/node_modules/@aws-sdk/client-s3/node_modules/@smithy"),
      Npm("tslib", "1.14.1", {}, "/node_modules/other/node_modules"),
  };
  Analysis a = Analyze(NodeRuntime(), bundled);
  EXPECT_EQ(a.row, Row::kBundledWithRuntime);
  ASSERT_EQ(a.findings.size(), 2u);
  EXPECT_EQ(a.findings[0].b, "@smithy/core");
  EXPECT_EQ(a.findings[0].row, Row::kBothBundled);
  EXPECT_EQ(a.findings[0].b_version, "2.2.0");
  EXPECT_EQ(a.findings[1].b, "@smithy/smithy-client");
  EXPECT_EQ(a.findings[1].row, Row::kBundledWithRuntime);
  EXPECT_EQ(a.findings[1].b_version, "3.4.5");
  EXPECT_TRUE(a.findings[1].coupled);
  // A copy private to another package is not what the runtime's packages see.
  for (const auto& f : a.findings) EXPECT_NE(f.b, "tslib");
}

TEST(AnalyzeTest, SdkDeclaringNoSmithyIsCoupledToAllOfIt) {
  std::vector<BomEntry> runtime = NodeRuntime();
  runtime[0].depends.clear();  // as a stripped or minimal package.json would have it
  Analysis a = Analyze(runtime, {Npm("@smithy/types", "2.0.0", {}, "/node_modules/@smithy")});
  ASSERT_EQ(a.findings.size(), 1u);
  EXPECT_EQ(a.findings[0].a, "@aws-sdk/client-s3");
  EXPECT_EQ(a.findings[0].b, "@smithy/types");
  EXPECT_EQ(a.findings[0].spec, "");
  EXPECT_TRUE(a.findings[0].coupled);
  EXPECT_EQ(a.row, Row::kRuntimeWithBundled);
}

// ---------------------------------------------------------------------------------------------
// Prediction.

TEST(PredictTest, NewRuntimeNeedingANewerBundledDependency) {
  // Today's runtime boto3 1.35.90 accepts the bundled botocore 1.35.90...
  std::vector<BomEntry> bundled = {Py("botocore", "1.35.90", {}, "/")};
  EXPECT_TRUE(Predict(PythonRuntime(), bundled).empty());
  // ...tomorrow's boto3 1.35.99 does not (boto/boto3#4579).
  auto next = PythonRuntime("1.35.99", "<1.36.0,>=1.35.99");
  std::vector<Finding> broken = Predict(next, bundled);
  ASSERT_EQ(broken.size(), 1u);
  EXPECT_EQ(broken[0].row, Row::kRuntimeWithBundled);
  EXPECT_EQ(broken[0].a, "boto3");
  EXPECT_EQ(broken[0].a_version, "1.35.99");
  EXPECT_EQ(broken[0].b, "botocore");
  EXPECT_EQ(broken[0].b_version, "1.35.90");
  EXPECT_EQ(broken[0].spec, "<1.36.0,>=1.35.99");
  EXPECT_FALSE(broken[0].satisfied);
}

TEST(PredictTest, NothingWhenTheFunctionBundlesTheWholeGroup) {
  auto next = PythonRuntime("1.35.99", "<1.36.0,>=1.35.99");
  std::vector<BomEntry> bundled = {
      Py("boto3", "1.35.90", {{"botocore", "<1.36.0,>=1.35.90"}, {"s3transfer", ">=0.10.0"}}),
      Py("botocore", "1.35.90"), Py("s3transfer", "0.10.4", {{"botocore", ">=1.33.2"}})};
  EXPECT_TRUE(Predict(next, bundled).empty());
  EXPECT_EQ(Analyze(next, bundled).row, Row::kBothBundled);
  // Nor when the bundled dependency is new enough.
  EXPECT_TRUE(Predict(next, {Py("botocore", "1.35.99")}).empty());
}

}  // namespace
}  // namespace lambkin::compliance
