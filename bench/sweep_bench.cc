// Phase-2 sweep over 1,000,000 function versions on the embedded store.
//
// Builds a store with 250,000 functions x 4 Auto versions ($LATEST + 3 published) on runtime
// version 1, copies it, then measures in the same run:
//   baseline: one bare SQLite UPDATE moving the same rows to version 2 (no edits, no progress);
//   sweep:    the real rollout engine (critical pacing, default chunking, no rate limit)
//             publishing version 2 and running every batch of phase 2 to completion, each
//             migration recorded as an edit, progress committed per chunk.
// Prints migrations per second, the ratio sweep time / baseline time (aim <= 3), and the
// process's peak RSS (aim <= 500 MB).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "catalog/testing.h"
#include "functions/function_service.h"
#include "in_process.h"
#include "rollout/engine.h"
#include "store/database.h"

namespace fs = std::filesystem;
using namespace lambkin;
using bench::Check;
using bench::PeakRssMb;
using bench::Seconds;

namespace {

constexpr int kFunctions = 250'000;
constexpr int kVersionsPerFunction = 4;
const char* kRegion = "us-east-1";

store::Migrations Schema() {
  return catalog::Schema() + functions::Schema() + rollout::HealthSchema() + rollout::Schema();
}

}  // namespace

int main(int argc, char** argv) {
  int functions = argc > 1 ? std::atoi(argv[1]) : kFunctions;
  int64_t total = static_cast<int64_t>(functions) * kVersionsPerFunction;
  fs::path dir = fs::temp_directory_path() / fmt::format("lambkin-sweep-bench-{}", getpid());
  fs::create_directories(dir);
  std::string image = catalog::testing::WriteTestImage((dir / "image").string());
  catalog::RegionSet regions = catalog::RegionSet::Default();
  SimulatedClock clock;

  auto db = store::Database::Open((dir / "sweep.db").string(), Schema());
  Check(db.status(), "open");
  auto blobs = oci::BlobStore::Open((dir / "blobs").string());
  Check(blobs.status(), "blobs");
  auto cat = catalog::Catalog::Open(db->get(), &regions, dir.string(), &clock, blobs->get(),
                                    catalog::testing::FetchForTest);
  Check(cat.status(), "catalog");
  auto v1 = (*cat)->Publish({"provided.al2023", 1, image, "low", ""});
  Check(v1.status(), "publish v1");

  auto t0 = std::chrono::steady_clock::now();
  Check((*db)->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto fn, txn.Prepare("INSERT INTO functions (account, region, "
                                                  "name, tags, next_version) VALUES "
                                                  "('123456789012', ?, ?, '{}', 4)"));
    LAMBKIN_ASSIGN_OR_RETURN(auto ver,
                             txn.Prepare("INSERT INTO function_versions (account, region, name, "
                                         "version, config, revision_id, last_modified, runtime, "
                                         "architecture, update_mode, runtime_version, code_sha256) "
                                         "VALUES ('123456789012', ?, ?, ?, '{}', 'r', 0, "
                                         "'provided.al2023', 'x86_64', 'Auto', ?, 'c')"));
    for (int i = 0; i < functions; ++i) {
      std::string name = fmt::format("fn-{:07}", i);
      fn.Bind(1, kRegion).Bind(2, name);
      LAMBKIN_RETURN_IF_ERROR(fn.Run());
      LAMBKIN_RETURN_IF_ERROR(fn.Reset());
      for (int v = 0; v < kVersionsPerFunction; ++v) {
        ver.Bind(1, kRegion).Bind(2, name).Bind(3, v).Bind(4, v1->id);
        LAMBKIN_RETURN_IF_ERROR(ver.Run());
        LAMBKIN_RETURN_IF_ERROR(ver.Reset());
      }
    }
    return Status::Ok();
  }),
        "populate");
  std::printf("setup: %lld function versions in %.1f s\n", static_cast<long long>(total),
              Seconds(std::chrono::steady_clock::now() - t0));
  std::string copy = (dir / "baseline.db").string();
  {
    // VACUUM cannot run inside the store's transactions: a connection of its own.
    sqlite3* raw = nullptr;
    if (sqlite3_open((dir / "sweep.db").c_str(), &raw) != SQLITE_OK ||
        sqlite3_exec(raw, fmt::format("VACUUM INTO '{}'", copy).c_str(), nullptr, nullptr,
                     nullptr) != SQLITE_OK) {
      std::fprintf(stderr, "copy: %s\n", sqlite3_errmsg(raw));
      return 1;
    }
    sqlite3_close(raw);
  }

  // Baseline: the bare UPDATE of the same rows, on the copy.
  double baseline = 0;
  {
    auto bare = store::Database::Open(copy, Schema());
    Check(bare.status(), "open copy");
    // The target version exists there too (the same foreign-key checks as the sweep).
    Check((*bare)->Transact([&](store::Database::Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("INSERT INTO runtime_versions (id, runtime, number, name, "
                               "digest, bundle_dir, state, severity, notes, published_at) "
                               "VALUES (? + 1, 'provided.al2023', 2, 'v2', '', '', "
                               "'released', 'low', '', 0)"));
      st.Bind(1, v1->id);
      return st.Run();
    }),
          "baseline version");
    auto b0 = std::chrono::steady_clock::now();
    Check((*bare)->Transact([&](store::Database::Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("UPDATE function_versions SET runtime_version = ?1 + 1 WHERE "
                               "region = ?2 AND runtime = 'provided.al2023' AND "
                               "update_mode = 'Auto' AND runtime_version < ?1 + 1"));
      st.Bind(1, v1->id).Bind(2, kRegion);
      LAMBKIN_RETURN_IF_ERROR(st.Run());
      if (txn.Changes() != total) return Internal("baseline updated the wrong rows");
      return Status::Ok();
    }),
          "baseline");
    baseline = Seconds(std::chrono::steady_clock::now() - b0);
  }

  // The sweep: the engine's every batch, bakes skipped by advancing the simulated clock.
  rollout::RolloutOptions options = rollout::RolloutOptions::Defaults(regions);
  options.gate.min_samples = 0;
  options.sweep.max_migrations_per_second = 0;
  rollout::RolloutEngine engine(db->get(), cat->get(), &regions, &clock, options);
  Check(engine.UseSimulatedClock(&clock), "clock");
  auto s0 = std::chrono::steady_clock::now();
  auto v2 =
      engine.Publish({"provided.al2023", 2, (dir / "bundle").string(), "critical", ""}, false);
  Check(v2.status(), "publish v2");
  for (int i = 0; i < 10; ++i) Check(engine.AdvanceClock(3'600'000).status(), "advance");
  double sweep = Seconds(std::chrono::steady_clock::now() - s0);

  auto list = engine.List("provided.al2023");
  Check(list.status(), "status");
  int64_t migrated = 0;
  for (const auto& r : list->front().regions) migrated += r.migrated;
  if (migrated != total || list->front().state != "complete") {
    std::fprintf(stderr, "sweep incomplete: %lld of %lld migrated, state %s\n",
                 static_cast<long long>(migrated), static_cast<long long>(total),
                 list->front().state.c_str());
    return 1;
  }
  std::printf("baseline bare UPDATE: %lld rows in %.2f s (%.0f rows/s)\n",
              static_cast<long long>(total), baseline, total / baseline);
  std::printf(
      "phase-2 sweep:        %lld migrations in %.2f s = %.0f migrations/s (aim >= 100000)\n",
      static_cast<long long>(migrated), sweep, migrated / sweep);
  std::printf("ratio sweep / bare UPDATE: %.2f (aim <= 3)\n", sweep / baseline);
  std::printf("peak RSS: %ld MB (aim <= 500)\n", PeakRssMb());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
