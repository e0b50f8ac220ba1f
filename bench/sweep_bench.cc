// Phase-2 sweep over 1,000,000 function versions, on the embedded store (SQLite, the default)
// or on PostgreSQL with one or more nodes.
//
//   sweep_bench [--versions N] [--store sqlite | postgres://USER@HOST:PORT[/DB]]
//               [--nodes 1,3] [--modes engine,transact,concurrent,progress] [--chunk N]
//               [--rounds N]
//   sweep_bench FUNCTIONS   (the old form: FUNCTIONS x 4 versions on SQLite)
//
// The store holds FUNCTIONS = N / 4 functions x 4 Auto versions ($LATEST + 3 published) of
// provided.al2023 in us-east-1, all on runtime version 1. Every figure is measured in the same
// run against a baseline: one bare UPDATE moving the same rows to version 2 on a fresh copy
// (no edits, no progress). Prints migrations per second, the ratio sweep time / baseline time
// (aim <= 3) and the process's peak RSS, and checks afterwards that every version was migrated
// exactly once (one phase-2 edit each in runtime_version_edits); it fails loudly otherwise.
//
// SQLite (as before the PostgreSQL store): the real rollout engine (critical pacing, default
// chunking, no rate limit) publishes version 2 and the simulated clock is advanced through
// every batch of phase 2, each migration recorded as an edit, progress committed per chunk.
//
// PostgreSQL: the bench connects to the server named by --store (to DB, default the user's
// database), seeds a database of its own (INSERT … SELECT generate_series), and runs every
// measurement on a fresh copy of it (CREATE DATABASE … TEMPLATE), dropping them all at the end.
// With --rounds N every run is repeated N times, in alternating order, and the best time counts.
// Each node is a separate store::Database (its own connections) in its own thread, as separate
// `lambkin serve` processes would be. Modes (each with 1 and 3 nodes by default):
//   engine      the real RolloutEngine on every node (Start(): the background loop serve runs,
//               on the real clock; critical pacing with a 2 s phase-1 wait and no bake so the
//               timed part is phase 2 alone; default batches 1 / 10% / 50% / rest): every sweep
//               chunk is RolloutEngine::ExecuteLocked(Action::kSweep) inside Database::Transact,
//               which serialises writers across nodes (an advisory lock).
//   transact    functions::MoveRuntimeVersions in chunks of the engine's chunk size inside
//               Database::Transact, as the engine's sweep step does, without the engine's
//               planning and progress rows: the store's share of the engine's cost.
//   concurrent  the same chunks inside Database::TransactConcurrent (no advisory lock): nodes
//               take disjoint batches with FOR UPDATE SKIP LOCKED. What a sweep built on
//               TransactConcurrent would give (the engine does not do this today).
//   progress    concurrent, plus one shared progress row updated in each chunk's transaction
//               (as the engine's rollout_regions row is): the row lock is held from the update
//               to the commit, so that much of each chunk is serialised again.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "catalog/testing.h"
#include "functions/function_service.h"
#include "functions/runtime_moves.h"
#include "in_process.h"
#include "postgres_bench.h"
#include "rollout/engine.h"
#include "store/database.h"

namespace fs = std::filesystem;
using namespace lambkin;
using bench::Check;
using bench::FindPostmaster;
using bench::PeakRssMb;
using bench::Seconds;
using bench::ServerCpuSeconds;
using bench::WithDatabase;

namespace {

constexpr int kFunctions = 250'000;
constexpr int kVersionsPerFunction = 4;
const char* kRegion = "us-east-1";
const char* kRuntime = "provided.al2023";

store::Migrations Schema() {
  return catalog::Schema() + functions::Schema() + rollout::HealthSchema() + rollout::Schema();
}

// Version 2's image (a different package version, so a different digest from version 1's).
std::string WriteSecondImage(const fs::path& dir) {
  catalog::testing::TestImage image;
  image.package_version = "2.0-1";
  return catalog::testing::WriteTestImage((dir / "image2").string(), image);
}

// Every version migrated exactly once: `total` phase-2 edits to `to`, none twice for one
// function version, and no function version left on another runtime version. Exits otherwise.
// Returns the edits per phase-2 batch.
std::map<int64_t, int64_t> CheckMigratedOnce(store::Database* db, int64_t to, int64_t total,
                                             const char* what) {
  int64_t edits = -1, twice = -1, left = -1;
  std::map<int64_t, int64_t> per_batch;
  Check(db->Read([&](store::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto count,
                             txn.Prepare("SELECT COUNT(*) FROM runtime_version_edits WHERE cause = "
                                         "'phase2' AND new_runtime_version = ?"));
    count.Bind(1, to);
    LAMBKIN_ASSIGN_OR_RETURN(bool row, count.Step());
    if (row) edits = count.ColumnInt(0);
    LAMBKIN_ASSIGN_OR_RETURN(
        auto dup, txn.Prepare("SELECT COUNT(*) FROM (SELECT 1 FROM runtime_version_edits WHERE "
                              "cause = 'phase2' AND new_runtime_version = ? GROUP BY account, "
                              "region, name, version HAVING COUNT(*) > 1) AS twice"));
    dup.Bind(1, to);
    LAMBKIN_ASSIGN_OR_RETURN(row, dup.Step());
    if (row) twice = dup.ColumnInt(0);
    LAMBKIN_ASSIGN_OR_RETURN(
        auto rest,
        txn.Prepare("SELECT COUNT(*) FROM function_versions WHERE runtime_version != ?"));
    rest.Bind(1, to);
    LAMBKIN_ASSIGN_OR_RETURN(row, rest.Step());
    if (row) left = rest.ColumnInt(0);
    LAMBKIN_ASSIGN_OR_RETURN(
        auto batches, txn.Prepare("SELECT batch, COUNT(*) FROM runtime_version_edits WHERE cause "
                                  "= 'phase2' AND new_runtime_version = ? GROUP BY batch ORDER "
                                  "BY batch"));
    batches.Bind(1, to);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(row, batches.Step());
      if (!row) break;
      per_batch[batches.ColumnIsNull(0) ? -1 : batches.ColumnInt(0)] = batches.ColumnInt(1);
    }
    return Status::Ok();
  }),
        "check edits");
  std::string batches;
  for (const auto& [batch, n] : per_batch) batches += fmt::format(" {}:{}", batch, n);
  if (edits != total || twice != 0 || left != 0) {
    std::fprintf(stderr,
                 "FAILED (%s): every version must be migrated exactly once: %lld phase-2 edits "
                 "for %lld versions, %lld versions with more than one, %lld not migrated\n",
                 what, static_cast<long long>(edits), static_cast<long long>(total),
                 static_cast<long long>(twice), static_cast<long long>(left));
    std::exit(1);
  }
  std::printf("  checked: %lld phase-2 edits, one per version (edits per batch:%s)\n",
              static_cast<long long>(edits), batches.c_str());
  return per_batch;
}

// ---------------------------------------------------------------------------------------------
// SQLite: the bench as it was before the PostgreSQL store (one node, the simulated clock).

int RunSqlite(int functions) {
  int64_t total = static_cast<int64_t>(functions) * kVersionsPerFunction;
  fs::path dir = fs::temp_directory_path() / fmt::format("lambkin-sweep-bench-{}", getpid());
  fs::create_directories(dir);
  std::string image = catalog::testing::WriteTestImage((dir / "image").string());
  std::string image2 = WriteSecondImage(dir);
  catalog::RegionSet regions = catalog::RegionSet::Default();
  SimulatedClock clock;

  auto db = store::Database::Open((dir / "sweep.db").string(), Schema());
  Check(db.status(), "open");
  auto blobs = oci::BlobStore::Open((dir / "blobs").string());
  Check(blobs.status(), "blobs");
  auto cat = catalog::Catalog::Open(db->get(), &regions, dir.string(), &clock, blobs->get(),
                                    catalog::testing::FetchForTest);
  Check(cat.status(), "catalog");
  auto v1 = (*cat)->Publish({kRuntime, 1, image, "low", ""});
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
  std::printf("store: SQLite (%s)\n", (*db)->display_name().c_str());
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
  auto v2 = engine.Publish({kRuntime, 2, image2, "critical", ""}, false);
  Check(v2.status(), "publish v2");
  for (int i = 0; i < 10; ++i) Check(engine.AdvanceClock(3'600'000).status(), "advance");
  double sweep = Seconds(std::chrono::steady_clock::now() - s0);

  auto list = engine.List(kRuntime);
  Check(list.status(), "status");
  int64_t migrated = 0;
  for (const auto& r : list->front().regions) migrated += r.migrated;
  if (migrated != total || list->front().state != "complete") {
    std::fprintf(stderr, "sweep incomplete: %lld of %lld migrated, state %s\n",
                 static_cast<long long>(migrated), static_cast<long long>(total),
                 list->front().state.c_str());
    return 1;
  }
  std::printf(
      "driven by: the real RolloutEngine (Publish, then AdvanceClock through every "
      "batch; each chunk of %lld in one Transact)\n",
      static_cast<long long>(options.sweep.chunk_size));
  std::printf("baseline bare UPDATE: %lld rows in %.2f s (%.0f rows/s)\n",
              static_cast<long long>(total), baseline, total / baseline);
  std::printf(
      "phase-2 sweep:        %lld migrations in %.2f s = %.0f migrations/s (aim >= 100000)\n",
      static_cast<long long>(migrated), sweep, migrated / sweep);
  CheckMigratedOnce(db->get(), v2->id, total, "sqlite");
  std::printf("ratio sweep / bare UPDATE: %.2f (aim <= 3)\n", sweep / baseline);
  std::printf("peak RSS: %ld MB (aim <= 500)\n", PeakRssMb());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL.

// The databases this run made, dropped at exit (also when a check fails).
std::string g_admin_url;
std::vector<std::string> g_databases;

Status AdminExec(const std::string& sql) {
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<store::Connection> admin,
                           store::OpenPostgres(g_admin_url));
  return admin->Exec(sql);
}

void DropDatabase(const std::string& name) {
  Status s = AdminExec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name));
  if (!s.ok()) std::fprintf(stderr, "drop %s: %s\n", name.c_str(), s.message().c_str());
  std::erase(g_databases, name);
}

void DropAll() {
  for (const std::string& name : std::vector<std::string>(g_databases)) DropDatabase(name);
}

// A fresh copy of the seeded database (file copy, not through the WAL).
std::string CopyOf(const std::string& seed, const std::string& name) {
  Check(AdminExec(fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY", name, seed)),
        "copy database");
  g_databases.push_back(name);
  return name;
}

// One node: its own connections to the store, its own data directory and catalogue.
struct Node {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<oci::BlobStore> blobs;
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<rollout::RolloutEngine> engine;
};

// Counts the function versions a node's engine moved (serve's engine has an observer too:
// the invoker, so the moved versions are collected as here).
class MoveCounter final : public functions::FunctionObserver {
 public:
  void OnFunctionChanged(const functions::Scope&, const std::string&,
                         const std::optional<std::string>&) override {
    ++count;
  }
  std::atomic<int64_t> count{0};
};

Node OpenNode(const std::string& url, const fs::path& dir, const catalog::RegionSet* regions,
              const Clock* clock) {
  Node n;
  fs::create_directories(dir);
  auto db = store::Database::Open(url, Schema());
  Check(db.status(), "open node store");
  n.db = std::move(*db);
  auto blobs = oci::BlobStore::Open((dir / "blobs").string());
  Check(blobs.status(), "blobs");
  n.blobs = std::move(*blobs);
  auto cat = catalog::Catalog::Open(n.db.get(), regions, dir.string(), clock, n.blobs.get(),
                                    catalog::testing::FetchForTest);
  Check(cat.status(), "catalog");
  n.catalog = std::move(*cat);
  return n;
}

struct Run {
  std::string mode;
  int nodes = 0;
  double seconds = 0;
  std::vector<int64_t> per_node;
  double server_cpu = -1;  // CPU seconds of the PostgreSQL server (-1: not on this machine)
  double bench_cpu = 0;    // of this process (the nodes)
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// CPU used between construction and Finish() by the server and by this process.
struct CpuMeter {
  pid_t postmaster;
  double server0, bench0;
  explicit CpuMeter(pid_t pm)
      : postmaster(pm), server0(pm > 0 ? ServerCpuSeconds(pm) : -1), bench0(ProcessCpuSeconds()) {}
  void Finish(Run& run) const {
    if (postmaster > 0 && server0 >= 0) run.server_cpu = ServerCpuSeconds(postmaster) - server0;
    run.bench_cpu = ProcessCpuSeconds() - bench0;
  }
};

struct PgBench {
  std::string url;  // the server (--store)
  std::string seed;
  fs::path dir;
  std::string image2;
  int64_t total = 0;
  int64_t v1 = 0;
  int64_t chunk = 0;
  catalog::RegionSet regions = catalog::RegionSet::Default();
  SystemClock clock;
  int copies = 0;
  pid_t postmaster = -1;

  std::string NextCopy() { return fmt::format("{}_{}", seed, ++copies); }

  void Seed(int functions, const std::string& image) {
    std::string url_seed = WithDatabase(url, seed);
    Check(AdminExec(fmt::format("CREATE DATABASE {}", seed)), "create database");
    g_databases.push_back(seed);
    auto t0 = std::chrono::steady_clock::now();
    {
      Node n = OpenNode(url_seed, dir / "seed", &regions, &clock);
      auto v = n.catalog->Publish({kRuntime, 1, image, "low", ""});
      Check(v.status(), "publish v1");
      v1 = v->id;
      t0 = std::chrono::steady_clock::now();
      Check(n.db->Transact([&](store::Txn& txn) -> Status {
        LAMBKIN_RETURN_IF_ERROR(txn.Exec(
            fmt::format("INSERT INTO functions (account, region, name, tags, next_version) SELECT "
                        "'123456789012', '{}', 'fn-' || lpad(i::text, 7, '0'), '{{}}', 4 FROM "
                        "generate_series(0, {}) AS i",
                        kRegion, functions - 1)));
        return txn.Exec(fmt::format(
            "INSERT INTO function_versions (account, region, name, version, config, revision_id, "
            "last_modified, runtime, architecture, update_mode, runtime_version, code_sha256) "
            "SELECT '123456789012', '{}', 'fn-' || lpad(i::text, 7, '0'), v, '{{}}', 'r', 0, "
            "'{}', 'x86_64', 'Auto', {}, 'c' FROM generate_series(0, {}) AS i, "
            "generate_series(0, {}) AS v ORDER BY 3, 4",
            kRegion, kRuntime, v1, functions - 1, kVersionsPerFunction - 1));
      }),
            "populate");
    }  // no connection may stay open on a template
    {
      auto vacuum = store::OpenPostgres(url_seed);
      Check(vacuum.status(), "connect");
      Check((*vacuum)->Exec("VACUUM (ANALYZE)"), "vacuum");
    }
    std::printf(
        "setup: %lld function versions in %.1f s (INSERT … SELECT generate_series, then "
        "VACUUM ANALYZE)\n",
        static_cast<long long>(total), Seconds(std::chrono::steady_clock::now() - t0));
  }

  // The bare UPDATE of the same rows on a fresh copy (version 2 published there first).
  double Baseline() {
    std::string name = CopyOf(seed, NextCopy());
    double seconds = 0;
    {
      Node n = OpenNode(WithDatabase(url, name), dir / name, &regions, &clock);
      auto v2 = n.catalog->Publish({kRuntime, 2, image2, "critical", ""});
      Check(v2.status(), "publish v2");
      auto t0 = std::chrono::steady_clock::now();
      Check(n.db->Transact([&](store::Txn& txn) -> Status {
        LAMBKIN_ASSIGN_OR_RETURN(
            auto st, txn.Prepare("UPDATE function_versions SET runtime_version = ?1 WHERE "
                                 "region = ?2 AND runtime = 'provided.al2023' AND "
                                 "update_mode = 'Auto' AND runtime_version < ?1"));
        st.Bind(1, v2->id).Bind(2, kRegion);
        LAMBKIN_RETURN_IF_ERROR(st.Run());
        if (txn.Changes() != total) return Internal("baseline updated the wrong rows");
        return Status::Ok();
      }),
            "baseline");
      seconds = Seconds(std::chrono::steady_clock::now() - t0);
    }
    DropDatabase(name);
    return seconds;
  }

  // The real rollout engine on every node, each running its background loop.
  Run Engine(int count) {
    std::string name = CopyOf(seed, NextCopy());
    std::string url_copy = WithDatabase(url, name);
    std::vector<Node> nodes;
    std::vector<std::unique_ptr<MoveCounter>> counters;
    rollout::RolloutOptions options = rollout::RolloutOptions::Defaults(regions);
    options.gate.min_samples = 0;
    options.sweep.max_migrations_per_second = 0;
    options.sweep.chunk_size = chunk;
    constexpr int64_t kPhase1WaitMs = 2000;
    options.pacing["critical"] = {kPhase1WaitMs, 0, 0};
    for (int i = 0; i < count; ++i) {
      nodes.push_back(
          OpenNode(url_copy, dir / fmt::format("{}-node{}", name, i), &regions, &clock));
      Node& n = nodes.back();
      n.engine = std::make_unique<rollout::RolloutEngine>(n.db.get(), n.catalog.get(), &regions,
                                                          &clock, options);
      counters.push_back(std::make_unique<MoveCounter>());
      n.engine->SetObserver(counters.back().get());
    }
    // Node 0 publishes; phase 1 starts at once in every region, phase 2 after the wait.
    int64_t due = clock.NowMillis() + kPhase1WaitMs;
    auto v2 = nodes[0].engine->Publish({kRuntime, 2, image2, "critical", ""}, false);
    Check(v2.status(), "publish v2");
    for (Node& n : nodes) Check(n.catalog->Reload(), "reload catalogue");
    if (clock.NowMillis() >= due) {
      std::fprintf(stderr, "publishing took longer than the phase-1 wait\n");
      std::exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(due - clock.NowMillis() + 5));
    // Every node's loop finds phase 2 due at once, as nodes woken by the same clock would.
    auto t0 = std::chrono::steady_clock::now();
    CpuMeter cpu(postmaster);
    for (Node& n : nodes) n.engine->Start();
    auto monitor = store::Database::Open(url_copy);
    Check(monitor.status(), "monitor");
    while (true) {
      std::string state;
      Check((*monitor)->ReadOne([&](store::Txn& txn) -> Status {
        LAMBKIN_ASSIGN_OR_RETURN(
            auto st, txn.Prepare("SELECT state FROM rollouts WHERE runtime_version = ?"));
        st.Bind(1, v2->id);
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (row) state = st.ColumnText(0);
        return Status::Ok();
      }),
            "poll");
      if (state == "complete") break;
      if (Seconds(std::chrono::steady_clock::now() - t0) > 3600) {
        std::fprintf(stderr, "FAILED: the rollout did not complete within an hour\n");
        std::exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    Run run{"engine", count, Seconds(std::chrono::steady_clock::now() - t0), {}};
    cpu.Finish(run);
    for (Node& n : nodes) n.engine->Stop();
    for (const auto& c : counters) run.per_node.push_back(c->count.load());
    std::map<int64_t, int64_t> per_batch =
        CheckMigratedOnce(monitor->get(), v2->id, total, "engine");
    PrintEvents(monitor->get(), v2->id);
    // The batches the engine plans: 1 version, then fractions of the candidates, then the rest.
    std::map<int64_t, int64_t> planned = {{1, 1}};
    int64_t left = total - 1;
    for (size_t i = 0; i < options.batch_fractions.size(); ++i) {
      auto n = std::min<int64_t>(left, static_cast<int64_t>(std::ceil(options.batch_fractions[i] *
                                                                      static_cast<double>(total))));
      planned[static_cast<int64_t>(i) + 2] = n;
      left -= n;
    }
    planned[static_cast<int64_t>(options.batch_fractions.size()) + 2] = left;
    if (per_batch != planned) {
      std::printf(
          "  WARNING: the batches differ from the engine's plan (1 version, then %zu fractions of "
          "the candidates, then the rest): a node ran a step planned from a stale read (a gate "
          "passed a batch that had not been migrated, or a sweep re-armed a finished batch's "
          "bake); the health gate's staged exposure was skipped\n",
          options.batch_fractions.size());
    }
    monitor->reset();
    nodes.clear();
    DropDatabase(name);
    return run;
  }

  // The us-east-1 events of the rollout (how the batches went; a duplicate shows a race).
  void PrintEvents(store::Database* db, int64_t rv) {
    Check(db->Read([&](store::Txn& txn) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT text FROM rollout_events WHERE "
                                                    "runtime_version = ? AND region = ? ORDER "
                                                    "BY seq"));
      st.Bind(1, rv).Bind(2, kRegion);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        std::printf("  event %s: %.110s\n", kRegion, st.ColumnText(0).c_str());
      }
      return Status::Ok();
    }),
          "events");
  }

  // MoveRuntimeVersions in chunks from every node until none is left, each chunk in Transact
  // (serialised) or TransactConcurrent, optionally with a shared progress row.
  Run Chunks(const std::string& mode, int count) {
    bool concurrent = mode != "transact";
    bool progress = mode == "progress";
    std::string name = CopyOf(seed, NextCopy());
    std::string url_copy = WithDatabase(url, name);
    std::vector<Node> nodes;
    for (int i = 0; i < count; ++i) {
      nodes.push_back(
          OpenNode(url_copy, dir / fmt::format("{}-node{}", name, i), &regions, &clock));
    }
    auto v2 = nodes[0].catalog->Publish({kRuntime, 2, image2, "critical", ""});
    Check(v2.status(), "publish v2");
    if (progress) {
      Check(nodes[0].db->Transact([](store::Txn& txn) -> Status {
        return txn.Exec(
            "CREATE TABLE sweep_progress (id INTEGER PRIMARY KEY, done BIGINT NOT NULL); "
            "INSERT INTO sweep_progress VALUES (1, 0)");
      }),
            "progress row");
    }
    functions::MoveSelection selection;
    selection.region = kRegion;
    selection.runtime = kRuntime;
    selection.below = v2->id;
    std::vector<int64_t> moved(count, 0);
    std::vector<std::thread> threads;
    std::atomic<bool> failed{false};
    auto t0 = std::chrono::steady_clock::now();
    CpuMeter cpu(postmaster);
    for (int i = 0; i < count; ++i) {
      threads.emplace_back([&, i] {
        store::Database* db = nodes[i].db.get();
        while (true) {
          int64_t n = 0;
          auto step = [&](store::Txn& txn) -> Status {
            LAMBKIN_ASSIGN_OR_RETURN(
                n, functions::MoveRuntimeVersions(txn, selection, chunk, v2->id, "phase2", 4,
                                                  clock.NowMillis(), nullptr));
            if (!progress || n == 0) return Status::Ok();
            LAMBKIN_ASSIGN_OR_RETURN(
                auto st, txn.Prepare("UPDATE sweep_progress SET done = done + ? WHERE id = 1"));
            st.Bind(1, n);
            return st.Run();
          };
          Status s = concurrent ? db->TransactConcurrent(step) : db->Transact(step);
          if (!s.ok()) {
            std::fprintf(stderr, "FAILED: node %d: %s\n", i, s.message().c_str());
            failed = true;
            return;
          }
          moved[i] += n;
          if (n == 0) return;
        }
      });
    }
    for (auto& t : threads) t.join();
    Run run{mode, count, Seconds(std::chrono::steady_clock::now() - t0), moved};
    cpu.Finish(run);
    if (failed) std::exit(1);
    CheckMigratedOnce(nodes[0].db.get(), v2->id, total, mode.c_str());
    nodes.clear();
    DropDatabase(name);
    return run;
  }
};

std::string Describe(const std::string& mode) {
  if (mode == "engine") {
    return "the real RolloutEngine on each node (background loop, real clock); each chunk is "
           "Action::kSweep in one Transact (advisory lock: serialised across nodes)";
  }
  if (mode == "transact") {
    return "functions::MoveRuntimeVersions in chunks, each in one Transact (serialised across "
           "nodes), without the engine's planning and progress";
  }
  if (mode == "concurrent") {
    return "functions::MoveRuntimeVersions in chunks, each in one TransactConcurrent (no "
           "advisory lock; FOR UPDATE SKIP LOCKED gives nodes disjoint batches)";
  }
  return "as concurrent, plus one shared progress row updated in each chunk's transaction";
}

std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int RunPostgres(const std::string& url, int functions, const std::vector<int>& node_counts,
                const std::vector<std::string>& modes, int64_t chunk, int rounds) {
  PgBench b;
  b.url = url;
  g_admin_url = url;
  b.seed = fmt::format("lambkin_sweep_bench_{}", getpid());
  b.dir = fs::temp_directory_path() / fmt::format("lambkin-sweep-bench-{}", getpid());
  b.total = static_cast<int64_t>(functions) * kVersionsPerFunction;
  b.chunk = chunk;
  fs::create_directories(b.dir);
  std::atexit(DropAll);
  std::string image = catalog::testing::WriteTestImage((b.dir / "image").string());
  b.image2 = WriteSecondImage(b.dir);
  std::printf("store: PostgreSQL (%s), every measurement on a fresh copy of one seeded database\n",
              WithDatabase(url, b.seed).c_str());
  b.Seed(functions, image);
  b.postmaster = FindPostmaster(url);

  // Rounds alternate the order of the runs (a busier or quieter machine later in the run
  // favours neither); each figure is the best of the rounds, the baseline too.
  std::vector<double> baselines = {b.Baseline()};
  std::printf("baseline bare UPDATE: %lld rows in %.2f s (%.0f rows/s)\n",
              static_cast<long long>(b.total), baselines[0], b.total / baselines[0]);
  std::fflush(stdout);
  std::vector<std::pair<std::string, int>> plan;
  for (const std::string& mode : modes) {
    std::printf("mode %s: %s; chunk %lld\n", mode.c_str(), Describe(mode).c_str(),
                static_cast<long long>(chunk));
    for (int count : node_counts) plan.emplace_back(mode, count);
  }
  std::vector<Run> runs(plan.size());
  for (int round = 0; round < rounds; ++round) {
    if (rounds > 1) std::printf("round %d of %d\n", round + 1, rounds);
    for (size_t k = 0; k < plan.size(); ++k) {
      size_t i = round % 2 == 0 ? k : plan.size() - 1 - k;
      const auto& [mode, count] = plan[i];
      Run r = mode == "engine" ? b.Engine(count) : b.Chunks(mode, count);
      std::string shares;
      for (int64_t n : r.per_node) shares += fmt::format(" {}", n);
      std::printf(
          "  %-10s %d node(s): %lld migrations in %.2f s = %.0f migrations/s "
          "(aim >= 50000); migrated per node:%s; CPU: server %.1f s, nodes %.1f s\n",
          mode.c_str(), count, static_cast<long long>(b.total), r.seconds, b.total / r.seconds,
          shares.c_str(), r.server_cpu, r.bench_cpu);
      std::fflush(stdout);
      if (runs[i].nodes == 0 || r.seconds < runs[i].seconds) runs[i] = r;
    }
    baselines.push_back(b.Baseline());
    std::printf("baseline bare UPDATE again: %.2f s\n", baselines.back());
  }
  double baseline = *std::min_element(baselines.begin(), baselines.end());
  std::printf("ratios below use the fastest bare UPDATE, %.2f s%s\n", baseline,
              rounds > 1 ? "; each run is the best of its rounds" : "");

  std::printf("\n%-11s %5s %10s %14s %12s %10s %14s %12s\n", "mode", "nodes", "seconds",
              "migrations/s", "vs bare", "vs 1 node", "server CPU s", "cores busy");
  std::map<std::string, double> one_node;
  for (const Run& r : runs) {
    if (r.nodes == 1) one_node[r.mode] = r.seconds;
  }
  for (const Run& r : runs) {
    std::string speedup = one_node.contains(r.mode)
                              ? fmt::format("{:.2f}x", one_node[r.mode] / r.seconds)
                              : std::string("-");
    std::printf("%-11s %5d %10.2f %14.0f %11.2fx %10s %14.1f %12.2f\n", r.mode.c_str(), r.nodes,
                r.seconds, b.total / r.seconds, r.seconds / baseline, speedup.c_str(), r.server_cpu,
                (r.server_cpu + r.bench_cpu) / r.seconds);
  }
  if (b.postmaster > 0) {
    std::printf(
        "(server CPU: the PostgreSQL server's processes on this machine; cores busy: "
        "server and nodes together, averaged over the run, of %ld cores)\n",
        sysconf(_SC_NPROCESSORS_ONLN));
  }
  std::printf(
      "(aims: >= 50000 migrations/s with one node, more with three, <= 3x the bare "
      "UPDATE)\n");
  for (const Run& r : runs) {
    if (r.mode != "engine" || r.nodes == 1 || !one_node.contains("engine")) continue;
    if (r.seconds > one_node["engine"] * 0.9) {
      std::printf(
          "NOTE: the engine's sweep is not faster on %d nodes than on one: every sweep step runs "
          "in Database::Transact, whose advisory lock serialises writers across nodes, so the "
          "nodes take turns. See the concurrent mode for a TransactConcurrent sweep.\n",
          r.nodes);
    }
  }
  std::printf("peak RSS of the bench process: %ld MB\n", PeakRssMb());
  DropAll();
  std::error_code ec;
  fs::remove_all(b.dir, ec);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string store = "sqlite";
  int64_t versions = -1;
  std::string nodes_arg, modes_arg = "engine,transact,concurrent,progress";
  int64_t chunk = rollout::SweepOptions().chunk_size;
  int functions = kFunctions;
  int rounds = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--store") {
      store = value();
    } else if (arg == "--versions") {
      versions = std::atoll(value().c_str());
    } else if (arg == "--nodes") {
      nodes_arg = value();
    } else if (arg == "--modes") {
      modes_arg = value();
    } else if (arg == "--chunk") {
      chunk = std::atoll(value().c_str());
    } else if (arg == "--rounds") {
      rounds = std::max(1, std::atoi(value().c_str()));
    } else if (!arg.empty() && std::isdigit(static_cast<unsigned char>(arg[0]))) {
      functions = std::atoi(arg.c_str());  // the old form: a number of functions
    } else {
      std::fprintf(stderr,
                   "usage: sweep_bench [--versions N] [--store sqlite|postgres://…] "
                   "[--nodes 1,3] [--modes engine,transact,concurrent,progress] [--chunk N] "
                   "[--rounds N]\n");
      return 2;
    }
  }
  if (versions > 0) functions = static_cast<int>(std::max<int64_t>(1, versions / 4));
  bool postgres = store::IsPostgresUrl(store);
  if (!postgres && store != "sqlite") {
    std::fprintf(stderr, "--store must be sqlite or a postgres:// URI\n");
    return 2;
  }
  std::vector<int> node_counts;
  for (const std::string& n : Split(nodes_arg.empty() ? (postgres ? "1,3" : "1") : nodes_arg)) {
    node_counts.push_back(std::max(1, std::atoi(n.c_str())));
  }
  if (!postgres) {
    if (node_counts != std::vector<int>{1}) {
      std::fprintf(stderr, "SQLite is one node: --nodes needs a postgres:// --store\n");
      return 2;
    }
    return RunSqlite(functions);
  }
  std::vector<std::string> modes = Split(modes_arg);
  for (const std::string& m : modes) {
    if (m != "engine" && m != "transact" && m != "concurrent" && m != "progress") {
      std::fprintf(stderr, "unknown mode %s\n", m.c_str());
      return 2;
    }
  }
  return RunPostgres(store, functions, node_counts, modes, chunk, rounds);
}
