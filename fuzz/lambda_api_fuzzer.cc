// Fuzzes the whole Lambda API request path (routing, JSON bodies, validation, the domain and
// the store) with arbitrary method, target and body, against a real store in a temp dir.
// Input: "<method>\n<target>\n<body>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/testing.h"
#include "functions/function_service.h"
#include "iam/authenticator.h"
#include "iam/sigv4.h"
#include "lambdaapi/api.h"

namespace {

struct World {
  lambkin::ManualClock clock{1700000000000};
  lambkin::catalog::RegionSet regions = lambkin::catalog::RegionSet::Default();
  std::unique_ptr<lambkin::store::Database> db;
  std::unique_ptr<lambkin::oci::BlobStore> blobs;
  std::unique_ptr<lambkin::catalog::Catalog> catalog;
  std::unique_ptr<lambkin::functions::CodePackageStore> code;
  std::unique_ptr<lambkin::functions::FunctionService> service;
  std::unique_ptr<lambkin::iam::Directory> directory;
  std::unique_ptr<lambkin::iam::Authenticator> auth;
  std::unique_ptr<lambkin::lambdaapi::LambdaApi> api;
};

World* MakeWorld() {
  auto* w = new World;
  std::string dir = std::filesystem::temp_directory_path() / "lambkin-fuzz";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  w->db = std::move(lambkin::store::Database::Open(dir + "/db", lambkin::catalog::Schema() +
                                                                    lambkin::functions::Schema() +
                                                                    lambkin::iam::Schema()))
              .value();
  w->blobs = std::move(lambkin::oci::BlobStore::Open(dir + "/blobs")).value();
  w->catalog = std::move(lambkin::catalog::Catalog::Open(w->db.get(), &w->regions, dir, &w->clock,
                                                         w->blobs.get(),
                                                         lambkin::catalog::testing::FetchForTest))
                   .value();
  // The runtimes the API names most, each with a version made from a test image.
  for (const char* runtime : {"provided.al2023", "python3.11", "nodejs20.x"}) {
    (void)w->catalog->Publish(
        {runtime, 1, lambkin::catalog::testing::WriteTestImage(dir + "/image-" + runtime)});
  }
  w->code = std::make_unique<lambkin::functions::CodePackageStore>(w->db.get(), dir + "/code");
  (void)w->code->Init();
  w->service = std::make_unique<lambkin::functions::FunctionService>(
      w->db.get(), w->catalog.get(), &w->regions, w->code.get(), &w->clock);
  // The development user, an administrator: inputs reach the operations past authorisation.
  w->directory = std::make_unique<lambkin::iam::Directory>(w->db.get());
  if (!w->directory->Load().ok() ||
      !w->directory->Apply(lambkin::iam::DevelopmentDeclaration("123456789012")).ok()) {
    std::abort();
  }
  w->auth = std::make_unique<lambkin::iam::Authenticator>(
      &w->regions, &w->clock, w->directory.get(), lambkin::iam::AuthMode::kSigV4, "123456789012");
  w->api = std::make_unique<lambkin::lambdaapi::LambdaApi>(
      lambkin::lambdaapi::ApiContext{w->service.get(), w->catalog.get(), &w->regions, w->auth.get(),
                                     nullptr, nullptr, nullptr, &w->clock});
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = MakeWorld();
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t a = input.find('\n');
  size_t b = a == std::string::npos ? a : input.find('\n', a + 1);
  if (b == std::string::npos) return 0;
  lambkin::server::HttpRequest request;
  request.method = input.substr(0, a);
  request.target = input.substr(a + 1, b - a - 1);
  request.body = input.substr(b + 1);
  if (!lambkin::server::ParseTarget(request.target, request)) return 0;
  // Signed like an SDK request, so that fuzzing reaches past authentication.
  std::string date = lambkin::iam::AmzDate(world->clock.NowMillis());
  request.headers = {{"x-amz-date", date}};
  lambkin::iam::SigV4Credential credential{lambkin::iam::kDevelopmentAccessKey, date.substr(0, 8),
                                           "us-east-1", "lambda"};
  request.headers.emplace_back(
      "authorization", lambkin::iam::SignedAuthorization(request.method, request.target,
                                                         request.headers, request.body, credential,
                                                         lambkin::iam::kDevelopmentSecretKey));
  // Without an Invoker every route answers at once.
  std::optional<lambkin::server::HttpResponse> response;
  lambkin::server::Respond respond = [&](lambkin::server::HttpResponse r) {
    response = std::move(r);
  };
  bool routed = world->api->Handle(request, respond);
  if (routed && !response) __builtin_trap();
  if (response && (response->status < 200 || response->status > 599)) __builtin_trap();
  return 0;
}
