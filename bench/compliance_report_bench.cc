// The compliance report over many function versions, on the embedded store (SQLite).
//
//   compliance_report_bench [--versions N] [--packages P] [--rounds R]
//
// The store holds N function versions (default 100,000: N/4 functions x $LATEST and 3 published
// versions) of python3.11 in us-east-1, a quarter each Auto, FunctionUpdate, Manual (pinned to
// version 1) and Auto with a layer, on runtime versions 1 and 2 (version 2 released, so
// FunctionUpdate and Manual versions on 1 are behind), with P distinct code packages whose
// contents (a few bundled Python distributions, some the runtime also provides) are recorded,
// an activity row per function version and a lifecycle for the runtime. The baseline, measured
// in the same run on the same store: one plain scan of function_versions reading every column
// the report reads. Prints the report's time (BuildReport plus its CSV), the ratio report /
// baseline, and the process's RSS after each of R rounds (flat: a report keeps nothing) and its
// peak.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/catalog.h"
#include "catalog/lifecycle.h"
#include "catalog/testing.h"
#include "compliance/package_index.h"
#include "compliance/report.h"
#include "functions/function_service.h"
#include "in_process.h"
#include "rollout/engine.h"
#include "rollout/health.h"

namespace fs = std::filesystem;
using namespace lambkin;

using bench::Check;
using bench::Seconds;

namespace {
// The resident set now (not the peak), in MB.
long RssNowMb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}
}  // namespace

int main(int argc, char** argv) {
  int64_t versions = 100000, packages = 1000;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--versions") versions = std::atoll(argv[i + 1]);
    if (a == "--packages") packages = std::atoll(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  const int64_t functions = std::max<int64_t>(1, versions / 4);
  fs::path dir = fs::temp_directory_path() / fmt::format("lambkin-report-bench-{}", getpid());
  fs::create_directories(dir);
  catalog::RegionSet regions = catalog::RegionSet::Default();
  SimulatedClock clock;
  auto db =
      store::Database::Open((dir / "report.db").string(),
                            catalog::Schema() + functions::Schema() + rollout::HealthSchema() +
                                rollout::Schema() + compliance::PackageIndex::Schema());
  Check(db.status(), "open");
  auto blobs = oci::BlobStore::Open((dir / "blobs").string());
  Check(blobs.status(), "blobs");
  auto cat = catalog::Catalog::Open(db->get(), &regions, dir.string(), &clock, blobs->get(),
                                    catalog::testing::FetchForTest);
  Check(cat.status(), "catalog");
  catalog::testing::TestImage second;
  second.package_version = "1.0-2";
  auto v1 = (*cat)->Publish(
      {"python3.11", 1, catalog::testing::WriteTestImage((dir / "i1").string()), "low", ""});
  Check(v1.status(), "publish v1");
  auto v2 =
      (*cat)->Publish({"python3.11", 2,
                       catalog::testing::WriteTestImage((dir / "i2").string(), second), "low", ""});
  Check(v2.status(), "publish v2");
  functions::CodePackageStore code(db->get(), (dir / "code").string());
  Check(code.Init(), "code store");

  auto t0 = std::chrono::steady_clock::now();
  Check((*db)->Transact([&](store::Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(
        catalog::StoreLifecycle(txn, {"python3.11", "2030-01-01", "2030-02-01", "2030-03-01"}));
    LAMBKIN_ASSIGN_OR_RETURN(auto pkg, txn.Prepare("INSERT INTO package_contents (sha256, "
                                                   "packages) VALUES (?, ?)"));
    for (int64_t p = 0; p < packages; ++p) {
      std::vector<catalog::BomEntry> bom = {
          {"python", "requests", "2.31.0", "/", {{"urllib3", "<3,>=1.21.1"}}},
          {"python", "urllib3", "2.0.7", "/", {}},
          {"python", fmt::format("app-lib-{}", p), "1.0", "/", {{"requests", ">=2"}}}};
      if (p % 3 == 0) bom.push_back({"python", "botocore", "1.29.0", "/", {}});
      pkg.Bind(1, fmt::format("{:064x}", p)).Bind(2, catalog::BomToJson(bom).dump());
      LAMBKIN_RETURN_IF_ERROR(pkg.Run());
      LAMBKIN_RETURN_IF_ERROR(pkg.Reset());
    }
    LAMBKIN_ASSIGN_OR_RETURN(auto fn, txn.Prepare("INSERT INTO functions (account, region, "
                                                  "name, tags, next_version) VALUES "
                                                  "('123456789012', 'us-east-1', ?, '{}', 4)"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto ver, txn.Prepare("INSERT INTO function_versions (account, region, name, version, "
                              "config, revision_id, last_modified, runtime, architecture, "
                              "update_mode, runtime_version, code_sha256) VALUES "
                              "('123456789012', 'us-east-1', ?, ?, '{}', 'r', 0, 'python3.11', "
                              "'x86_64', ?, ?, ?)"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto layer, txn.Prepare("INSERT INTO function_version_layers (account, region, name, "
                                "version, position, layer_arn, code_sha256) VALUES "
                                "('123456789012', 'us-east-1', ?, ?, 0, 'arn', ?)"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto act, txn.Prepare("INSERT INTO function_activity (account, region, name, version, "
                              "day, invocations, last_at) VALUES ('123456789012', 'us-east-1', "
                              "?, ?, ?, 7, ?)"));
    const int64_t now = clock.NowMillis();
    for (int64_t i = 0; i < functions; ++i) {
      std::string name = fmt::format("fn-{:07}", i);
      fn.Bind(1, name);
      LAMBKIN_RETURN_IF_ERROR(fn.Run());
      LAMBKIN_RETURN_IF_ERROR(fn.Reset());
      const char* mode = i % 4 == 1 ? "FunctionUpdate" : i % 4 == 2 ? "Manual" : "Auto";
      for (int v = 0; v < 4; ++v) {
        ver.Bind(1, name).Bind(2, v).Bind(3, mode);
        ver.Bind(4, v == 0 && i % 4 == 0 ? v2->id : v1->id);
        ver.Bind(5, fmt::format("{:064x}", (i * 4 + v) % packages));
        LAMBKIN_RETURN_IF_ERROR(ver.Run());
        LAMBKIN_RETURN_IF_ERROR(ver.Reset());
        if (i % 4 == 3) {
          layer.Bind(1, name).Bind(2, v).Bind(3, fmt::format("{:064x}", (i + 1) % packages));
          LAMBKIN_RETURN_IF_ERROR(layer.Run());
          LAMBKIN_RETURN_IF_ERROR(layer.Reset());
        }
        act.Bind(1, name).Bind(2, v).Bind(3, now / 86400000).Bind(4, now);
        LAMBKIN_RETURN_IF_ERROR(act.Run());
        LAMBKIN_RETURN_IF_ERROR(act.Reset());
      }
    }
    return Status::Ok();
  }),
        "populate");
  std::printf("setup: %lld function versions, %lld code packages in %.1f s\n",
              static_cast<long long>(functions * 4), static_cast<long long>(packages),
              Seconds(std::chrono::steady_clock::now() - t0));

  // Baseline: every column the report reads, scanned once.
  auto b0 = std::chrono::steady_clock::now();
  int64_t scanned = 0;
  Check((*db)->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT account, region, name, version, runtime, "
                                         "architecture, update_mode, runtime_version, "
                                         "code_sha256, last_modified FROM function_versions"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      scanned += static_cast<int64_t>(st.ColumnView(2).size() + st.ColumnView(8).size());
    }
    return Status::Ok();
  }),
        "baseline");
  double baseline = Seconds(std::chrono::steady_clock::now() - b0);

  compliance::ReportOptions o;
  o.now_ms = clock.NowMillis();
  double best = 1e9;
  size_t rows = 0, csv_bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    compliance::PackageIndex index(db->get(), &code);  // nothing cached between rounds
    auto s0 = std::chrono::steady_clock::now();
    auto report = compliance::BuildReport(db->get(), **cat, &index, o);
    Check(report.status(), "report");
    std::string csv = compliance::ReportCsv(*report);
    double took = Seconds(std::chrono::steady_clock::now() - s0);
    best = std::min(best, took);
    rows = report->size();
    csv_bytes = csv.size();
    *report = std::vector<compliance::ReportRow>();
    csv = std::string();
    std::printf(
        "round %d: report of %zu function versions in %.2f s (CSV %.1f MB); RSS after "
        "it %ld MB, peak %ld MB\n",
        r + 1, rows, took, static_cast<double>(csv_bytes) / 1e6, RssNowMb(), bench::PeakRssMb());
  }
  if (rows != static_cast<size_t>(functions * 4) || scanned == 0) {
    std::fprintf(stderr, "expected %lld rows, got %zu\n", static_cast<long long>(functions * 4),
                 rows);
    return 1;
  }
  std::printf("baseline (plain scan of function_versions): %.3f s\n", baseline);
  std::printf(
      "compliance report: %.2f s for %zu function versions (aim <= 2 s); ratio report / "
      "scan %.1fx\n",
      best, rows, best / baseline);
  fs::remove_all(dir);
  return 0;
}
