#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/log.h"
#include "compliance/packages.h"

namespace lambkin::rollout {

using catalog::ReleaseStage;
using Txn = store::Database::Txn;

namespace {
constexpr char kRolloutDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS rollouts (
  runtime_version INTEGER PRIMARY KEY REFERENCES runtime_versions (id),
  pacing TEXT NOT NULL,       -- the severity whose pacing applies
  state TEXT NOT NULL,        -- active | complete | aborted
  created_at INTEGER NOT NULL,
  paused_at INTEGER           -- set while an operator has paused it
);
CREATE TABLE IF NOT EXISTS rollout_regions (
  runtime_version INTEGER NOT NULL,
  region TEXT NOT NULL,
  position INTEGER NOT NULL,  -- in the deployment sequence
  wave INTEGER NOT NULL,
  phase TEXT NOT NULL,        -- pending | phase1 | phase2 | complete | aborted
  phase1_at INTEGER,
  phase2_at INTEGER,
  batch INTEGER NOT NULL DEFAULT 0,
  batch_target INTEGER NOT NULL DEFAULT 0,  -- -1: everything that remains
  batch_done INTEGER NOT NULL DEFAULT 0,
  base_count INTEGER NOT NULL DEFAULT 0,
  migrated INTEGER NOT NULL DEFAULT 0,
  reverted INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER,             -- when the next step runs
  extensions INTEGER NOT NULL DEFAULT 0,
  held TEXT,                  -- why the health gate halted the region
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (runtime_version, region)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollout_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  runtime_version INTEGER NOT NULL,
  region TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rollout_events_by_version ON rollout_events (runtime_version, seq);
CREATE TABLE IF NOT EXISTS rollout_reverted (
  runtime_version INTEGER NOT NULL,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (runtime_version, account, region, name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS simulated_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  offset_ms INTEGER NOT NULL
);
)sql";
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"rollout", 1, kRolloutDdl, ""},
      // Function versions predicted to break on a rollout's version (its runtime's packages
      // would need newer versions of packages they bundle), as predicted for their code.
      {"rollout", 2, R"sql(
CREATE TABLE IF NOT EXISTS rollout_holds (
  runtime_version INTEGER NOT NULL,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  code_sha256 TEXT NOT NULL,  -- the code predicted on: a new deploy ends the hold
  reason TEXT NOT NULL,
  predicted_at INTEGER NOT NULL,
  PRIMARY KEY (runtime_version, account, region, name, version)
) WITHOUT ROWID;
)sql",
       "", nullptr},
  };
  return kMigrations;
}

namespace {

using Changed = std::vector<functions::MovedVersion>;

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The Auto function versions of a region still on an older version of the runtime (every
// version, in a region without runtime management controls). Runtime version ids rise with
// their numbers within a runtime, so "older" is "smaller id".
// Versions the health gate moved back are left out of the rest of that rollout (`exclusions`:
// the region has some).
// Versions predicted to break on `rv` are left out too while their code is unchanged (`holds`:
// the operator setting rollout.hold_incompatible).
functions::MoveSelection Candidates(const std::string& region, const std::string& runtime,
                                    int64_t rv, bool controls, bool exclusions, bool holds) {
  functions::MoveSelection s;
  s.region = region;
  s.runtime = runtime;
  s.below = rv;
  s.auto_only = controls;
  if (exclusions) s.excluding_reverted_of = rv;
  if (holds) s.excluding_held_of = rv;
  return s;
}

Result<int64_t> CountCandidates(Txn& txn, const std::string& region, const std::string& runtime,
                                int64_t rv, bool controls, bool exclusions, bool holds) {
  return functions::CountMovable(txn, Candidates(region, runtime, rv, controls, exclusions, holds));
}

Status AddEvent(Txn& txn, int64_t rv, std::string_view region, int64_t at, std::string_view text) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO rollout_events (at, runtime_version, "
                                                "region, text) VALUES (?,?,?,?)"));
  st.Bind(1, at).Bind(2, rv).Bind(3, region).Bind(4, text);
  return st.Run();
}

double Rate(int64_t errors, int64_t total) {
  return total == 0 ? 0.0 : static_cast<double>(errors) / static_cast<double>(total);
}

std::string Percent(int64_t part, int64_t whole) {
  return whole == 0 ? "n/a"
                    : fmt::format("{:.1f}%",
                                  100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

}  // namespace

struct RolloutEngine::Loaded {
  catalog::RuntimeVersion version;
  std::string pacing;
  std::string state;
  int64_t created_at = 0;
  std::optional<int64_t> paused_at;
  std::vector<RegionProgress> regions;

  bool AnyHeld() const {
    return std::any_of(regions.begin(), regions.end(),
                       [](const RegionProgress& r) { return r.held.has_value(); });
  }
};

struct RolloutEngine::Action {
  // kRelease and kSkipWait are operator commands: the next batch without a verdict, and the
  // current wait cut short.
  enum Kind { kStartWave, kStartPhase2, kSweep, kGate, kRelease, kSkipWait } kind;
  int64_t rv = 0;
  std::string region;
  int64_t due = 0;
  // A step planned from the region's row (every kind but the operator commands) carries the
  // batch it was planned for: it runs only if the row is still in that state when the step's
  // transaction reads it. Every node plans steps; whichever runs a step first moves the row on,
  // and the others' copies of that step then do nothing (compare-and-set).
  std::optional<int64_t> planned_batch;
};

namespace {

bool Sweeping(const RegionProgress& r) {
  return r.phase == "phase2" && (r.batch_target < 0 || r.batch_done < r.batch_target);
}

std::string NextStep(const RegionProgress& r, bool paused) {
  if (r.phase == "complete" || r.phase == "aborted") return "";
  std::string step;
  if (r.held) {
    step = "held by the health gate: resume, advance or abort";
  } else if (r.phase == "pending") {
    step = r.due_at ? fmt::format("wave {} starts phase 1", r.wave)
                    : fmt::format("wave {} waits for wave {} to bake", r.wave, r.wave - 1);
  } else if (r.phase == "phase1") {
    step = "phase 2 starts";
  } else if (Sweeping(r)) {
    step = fmt::format("migrating batch {}/{}", r.batch, r.batches);
  } else {
    step = fmt::format("health gate for batch {}/{}", r.batch, r.batches);
  }
  return paused ? "paused; then " + step : step;
}

}  // namespace

RolloutEngine::RolloutEngine(store::Database* db, catalog::Catalog* catalog,
                             const catalog::RegionSet* regions, const Clock* clock,
                             RolloutOptions options)
    : db_(db),
      catalog_(catalog),
      regions_(regions),
      clock_(clock),
      options_(std::move(options)),
      health_(db, clock) {}

RolloutEngine::~RolloutEngine() { Stop(); }

Status RolloutEngine::UseSimulatedClock(SimulatedClock* clock) {
  simulated_ = clock;
  clock_ = clock;
  return db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st,
                             txn.Prepare("SELECT offset_ms FROM simulated_clock WHERE id = 1"));
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) clock->AdvanceTo(SystemClock().NowMillis() + st.ColumnInt(0));
    return Status::Ok();
  });
}

Status RolloutEngine::ReloadSimulatedClock() {
  if (simulated_ == nullptr) return Status::Ok();
  Status s = UseSimulatedClock(simulated_);
  cv_.notify_all();
  return s;
}

Status RolloutEngine::SetSimulatedLocked(int64_t millis) {
  int64_t offset = simulated_->AdvanceTo(millis);
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "clock"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare("INSERT INTO simulated_clock (id, offset_ms) VALUES (1, ?) ON CONFLICT (id) "
                    "DO UPDATE SET offset_ms = excluded.offset_ms"));
    st.Bind(1, offset);
    return st.Run();
  });
}

void RolloutEngine::Start() {
  std::lock_guard lock(mu_);
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RolloutEngine::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)health_.Flush();
}

void RolloutEngine::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    if (Status s = health_.Flush(); !s.ok()) {
      log::Warning("rollout", fmt::format("cannot record invocation health: {}", s.message()));
    }
    lock.lock();
    if (stop_) break;
    Result<std::optional<int64_t>> next = RunDueLocked(lock);
    if (!next.ok()) {
      log::Warning("rollout", fmt::format("step failed (retrying): {}", next.status().message()));
    }
    // Sleep until the next step falls due, and at least once a second flush health counts.
    int64_t wait_ms = 1000;
    if (next.ok() && next->has_value()) {
      wait_ms = std::clamp<int64_t>(**next - clock_->NowMillis(), 1, 1000);
    }
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
  }
}

Result<catalog::RuntimeVersion> RolloutEngine::FindVersion(const std::string& version) const {
  auto v = catalog_->Find(version);
  if (!v) {
    return NotFound(fmt::format(
        "No runtime version {} (give its name, such as python:3.12.v2, or one of its ARNs)",
        version));
  }
  return *v;
}

Result<std::vector<RolloutEngine::Loaded>> RolloutEngine::LoadLocked(bool active_only,
                                                                     const std::string& runtime) {
  std::vector<Loaded> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare(active_only ? "SELECT runtime_version, pacing, state, created_at, "
                                           "paused_at FROM rollouts WHERE state = 'active' ORDER "
                                           "BY runtime_version"
                                         : "SELECT runtime_version, pacing, state, created_at, "
                                           "paused_at FROM rollouts ORDER BY (state = 'active') "
                                           "DESC, runtime_version DESC"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto rs, txn.Prepare("SELECT region, wave, phase, phase1_at, phase2_at, batch, "
                             "batch_target, batch_done, base_count, migrated, reverted, due_at, "
                             "extensions, held, note FROM rollout_regions WHERE runtime_version = "
                             "? ORDER BY position"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      auto version = catalog_->Get(st.ColumnInt(0));
      if (!version) continue;
      if (!runtime.empty() && version->runtime != runtime) continue;
      Loaded l{*version,        st.ColumnText(1),        st.ColumnText(2),
               st.ColumnInt(3), st.ColumnOptionalInt(4), {}};
      rs.Bind(1, l.version.id);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool r, rs.Step());
        if (!r) break;
        RegionProgress p;
        p.region = rs.ColumnText(0);
        p.wave = static_cast<int>(rs.ColumnInt(1));
        p.phase = rs.ColumnText(2);
        p.controls = regions_->HasRuntimeManagementControls(p.region);
        p.phase1_at = rs.ColumnOptionalInt(3);
        p.phase2_at = rs.ColumnOptionalInt(4);
        p.batch = static_cast<int>(rs.ColumnInt(5));
        p.batches = Batches();
        p.batch_target = rs.ColumnInt(6);
        p.batch_done = rs.ColumnInt(7);
        p.base_count = rs.ColumnInt(8);
        p.migrated = rs.ColumnInt(9);
        p.reverted = rs.ColumnInt(10);
        p.due_at = rs.ColumnOptionalInt(11);
        p.extensions = static_cast<int>(rs.ColumnInt(12));
        p.held = rs.ColumnOptionalText(13);
        p.note = rs.ColumnText(14);
        l.regions.push_back(std::move(p));
      }
      LAMBKIN_RETURN_IF_ERROR(rs.Reset());
      out.push_back(std::move(l));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

std::optional<RolloutEngine::Action> RolloutEngine::NextActionLocked(
    const std::vector<Loaded>& rollouts) const {
  std::optional<Action> best;
  auto consider = [&](Action a) {
    if (!best || a.due < best->due) best = std::move(a);
  };
  for (const Loaded& l : rollouts) {
    if (l.state != "active" || l.paused_at ||
        l.version.state == catalog::RuntimeVersionState::kBlocked) {
      continue;
    }
    bool held = l.AnyHeld();
    for (const RegionProgress& r : l.regions) {
      if (r.held || !r.due_at) continue;
      if (r.phase == "pending") {
        // A hold anywhere keeps new waves from starting.
        if (!held) consider({Action::kStartWave, l.version.id, r.region, *r.due_at, r.batch});
      } else if (r.phase == "phase1") {
        consider({Action::kStartPhase2, l.version.id, r.region, *r.due_at, r.batch});
      } else if (r.phase == "phase2") {
        consider({Sweeping(r) ? Action::kSweep : Action::kGate, l.version.id, r.region, *r.due_at,
                  r.batch});
      }
    }
  }
  return best;
}

Result<std::optional<int64_t>> RolloutEngine::RunDueLocked(std::unique_lock<std::mutex>& lock) {
  while (!stop_ || !thread_.joinable()) {
    LAMBKIN_ASSIGN_OR_RETURN(std::vector<Loaded> loaded, LoadLocked(true, ""));
    std::optional<Action> action = NextActionLocked(loaded);
    if (!action) return std::optional<int64_t>();
    if (action->due > clock_->NowMillis()) return std::optional<int64_t>(action->due);
    if (action->kind == Action::kSweep && options_.sweep.max_migrations_per_second > 0) {
      int64_t wait = sweep_not_before_ms_ - SteadyMillis();
      if (wait > 0) {
        cv_.wait_for(lock, std::chrono::milliseconds(wait));
        continue;  // state may have changed meanwhile: plan again
      }
    }
    LAMBKIN_RETURN_IF_ERROR(ExecuteLocked(*action));
  }
  return std::optional<int64_t>();  // stopping
}

Result<std::vector<RegionProgress>> RolloutEngine::ActiveRegionsLocked(
    const catalog::RuntimeVersion& version) {
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<Loaded> loaded, LoadLocked(true, version.runtime));
  for (Loaded& l : loaded) {
    if (l.version.id == version.id) return std::move(l.regions);
  }
  return std::vector<RegionProgress>();
}

void RolloutEngine::Notify(const Changed& changed) const {
  if (observer_ == nullptr) return;
  for (const functions::MovedVersion& m : changed) {
    observer_->OnFunctionChanged(
        m.scope, m.name,
        m.version == 0 ? std::string(functions::kLatest) : std::to_string(m.version));
  }
}

Status RolloutEngine::ExecuteLocked(const Action& action) {
  std::optional<catalog::RuntimeVersion> version = catalog_->Get(action.rv);
  if (!version) return Internal(fmt::format("rollout of unknown runtime version {}", action.rv));
  bool controls = regions_->HasRuntimeManagementControls(action.region);
  const int batches = Batches();
  int64_t at = clock_->NowMillis();
  if (action.kind == Action::kGate) {
    // The verdict weighs every invocation counted so far.
    LAMBKIN_RETURN_IF_ERROR(health_.Flush());
  }
  if (action.kind == Action::kStartPhase2) {
    // Function versions created or changed since the version was published are predicted too.
    PredictBestEffortLocked(*version, action.region);
  }
  Changed changed;
  Changed* collect = observer_ != nullptr ? &changed : nullptr;
  int64_t swept = 0;

  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto load, txn.Prepare("SELECT r.phase, r.wave, r.batch, r.batch_target, r.batch_done, "
                               "r.base_count, r.extensions, o.pacing, r.reverted, r.due_at, "
                               "r.held FROM rollout_regions r JOIN "
                               "rollouts o USING (runtime_version) WHERE r.runtime_version = ? "
                               "AND r.region = ?"));
    load.Bind(1, action.rv).Bind(2, action.region);
    LAMBKIN_ASSIGN_OR_RETURN(bool found, load.Step());
    if (!found) return Internal("rollout region vanished");
    std::string phase = load.ColumnText(0);
    int wave = static_cast<int>(load.ColumnInt(1));
    int batch = static_cast<int>(load.ColumnInt(2));
    int64_t target = load.ColumnInt(3), done = load.ColumnInt(4), base = load.ColumnInt(5);
    int extensions = static_cast<int>(load.ColumnInt(6));
    const Pacing& pacing = options_.PacingFor(load.ColumnText(7));
    bool exclusions = load.ColumnInt(8) > 0;
    if (action.planned_batch) {
      // Another node ran this step (or changed the region) since it was planned: nothing to do.
      std::optional<int64_t> due_at = load.ColumnOptionalInt(9);
      bool sweeping = target < 0 || done < target;
      const char* expected = action.kind == Action::kStartWave     ? "pending"
                             : action.kind == Action::kStartPhase2 ? "phase1"
                                                                   : "phase2";
      if (phase != expected || batch != *action.planned_batch || !due_at || *due_at > at ||
          !load.ColumnIsNull(10) ||
          (phase == "phase2" && sweeping != (action.kind == Action::kSweep))) {
        return Status::Ok();
      }
    }

    auto update = [&](const std::string& sets, auto&&... binds) -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("UPDATE rollout_regions SET " + sets +
                                                    " WHERE runtime_version = ?1 AND region = ?2"));
      st.Bind(1, action.rv).Bind(2, action.region);
      int i = 3;
      ((st.Bind(i++, binds)), ...);
      return st.Run();
    };
    auto event = [&](const std::string& text) {
      return AddEvent(txn, action.rv, action.region, at, text);
    };
    // The region is complete; so is the rollout once every region is.
    auto complete = [&](const std::string& text) -> Status {
      LAMBKIN_RETURN_IF_ERROR(update("phase = 'complete', due_at = NULL, held = NULL"));
      LAMBKIN_RETURN_IF_ERROR(event(text));
      LAMBKIN_ASSIGN_OR_RETURN(
          auto left, txn.Prepare("SELECT COUNT(*) FROM rollout_regions WHERE runtime_version = ? "
                                 "AND phase != 'complete'"));
      left.Bind(1, action.rv);
      LAMBKIN_ASSIGN_OR_RETURN(bool row, left.Step());
      if (!row || left.ColumnInt(0) > 0) return Status::Ok();
      LAMBKIN_ASSIGN_OR_RETURN(
          auto done_st,
          txn.Prepare("UPDATE rollouts SET state = 'complete' WHERE runtime_version = ?"));
      done_st.Bind(1, action.rv);
      LAMBKIN_RETURN_IF_ERROR(done_st.Run());
      return AddEvent(txn, action.rv, "", at,
                      fmt::format("rollout complete in every region: {}", version->name));
    };
    // The batch that follows a passed (or overridden) gate, or completion.
    auto proceed = [&]() -> Status {
      LAMBKIN_ASSIGN_OR_RETURN(int64_t remaining,
                               CountCandidates(txn, action.region, version->runtime, version->id,
                                               controls, exclusions, options_.hold_incompatible));
      if (remaining == 0 || batch >= batches) {
        return complete("complete: every function version that follows the rollout runs " +
                        version->name);
      }
      int next = batch + 1;
      int64_t next_target =
          next == batches
              ? -1
              : std::max<int64_t>(
                    1, static_cast<int64_t>(std::ceil(options_.batch_fractions[next - 2] *
                                                      static_cast<double>(base))));
      return update(
          "batch = ?3, batch_target = ?4, batch_done = 0, extensions = 0, due_at = ?5, "
          "held = NULL",
          next, next_target, at);
    };

    switch (action.kind) {
      case Action::kRelease: {
        if (phase != "phase2") return Status::Ok();
        LAMBKIN_RETURN_IF_ERROR(
            catalog::Catalog::SetStage(txn, action.rv, action.region, ReleaseStage::kPhase2));
        LAMBKIN_RETURN_IF_ERROR(update("batch_target = batch_done, note = ?3",
                                       fmt::format("batch {}: released by an operator", batch)));
        LAMBKIN_RETURN_IF_ERROR(
            event(fmt::format("batch {}: hold or bake released by an operator", batch)));
        return proceed();
      }
      case Action::kSkipWait:
        LAMBKIN_RETURN_IF_ERROR(update("due_at = ?3", at));
        return event("wait cut short by an operator");
      case Action::kStartWave: {
        if (phase != "pending") return Status::Ok();
        LAMBKIN_RETURN_IF_ERROR(
            catalog::Catalog::SetStage(txn, action.rv, action.region, ReleaseStage::kPhase1));
        LAMBKIN_RETURN_IF_ERROR(update("phase = 'phase1', phase1_at = ?3, due_at = ?4", at,
                                       at + pacing.phase1_wait_ms));
        LAMBKIN_RETURN_IF_ERROR(
            event(fmt::format("wave {}: phase 1 started; creates and updates get {}; phase 2 "
                              "in {}",
                              wave, version->name, FormatDuration(pacing.phase1_wait_ms))));
        // Once the whole wave has started, the next one starts after it has baked.
        LAMBKIN_ASSIGN_OR_RETURN(
            auto left, txn.Prepare("SELECT COUNT(*) FROM rollout_regions WHERE runtime_version "
                                   "= ? AND wave = ? AND phase = 'pending'"));
        left.Bind(1, action.rv).Bind(2, wave);
        LAMBKIN_ASSIGN_OR_RETURN(bool row, left.Step());
        if (row && left.ColumnInt(0) == 0) {
          LAMBKIN_ASSIGN_OR_RETURN(
              auto next, txn.Prepare("UPDATE rollout_regions SET due_at = ? WHERE "
                                     "runtime_version = ? AND wave = ? AND phase = 'pending'"));
          next.Bind(1, at + pacing.bake_ms).Bind(2, action.rv).Bind(3, wave + 1);
          LAMBKIN_RETURN_IF_ERROR(next.Run());
        }
        return Status::Ok();
      }
      case Action::kStartPhase2: {
        if (phase != "phase1") return Status::Ok();
        LAMBKIN_RETURN_IF_ERROR(
            catalog::Catalog::SetStage(txn, action.rv, action.region, ReleaseStage::kPhase2));
        LAMBKIN_ASSIGN_OR_RETURN(int64_t candidates,
                                 CountCandidates(txn, action.region, version->runtime, version->id,
                                                 controls, exclusions, options_.hold_incompatible));
        LAMBKIN_RETURN_IF_ERROR(update(
            "phase = 'phase2', phase2_at = ?3, base_count = ?4, batch = 1, batch_target = ?5, "
            "batch_done = 0, due_at = ?3",
            at, candidates, std::min<int64_t>(1, candidates)));
        LAMBKIN_RETURN_IF_ERROR(event(
            fmt::format("phase 2 started: {} {} function versions to migrate in up to {} batches",
                        candidates, controls ? "Auto" : "", batches)));
        if (candidates == 0) return complete("complete: no function version left to migrate");
        return Status::Ok();
      }
      case Action::kSweep: {
        if (phase != "phase2") return Status::Ok();
        int64_t want = options_.sweep.chunk_size;
        if (target >= 0) want = std::min(want, target - done);
        LAMBKIN_ASSIGN_OR_RETURN(
            swept, functions::MoveRuntimeVersions(
                       txn,
                       Candidates(action.region, version->runtime, version->id, controls,
                                  exclusions, options_.hold_incompatible),
                       want, version->id, "phase2", batch, at, collect));
        done += swept;
        bool finished = swept < want || (target >= 0 && done >= target);
        LAMBKIN_RETURN_IF_ERROR(update("batch_done = ?3, migrated = migrated + ?4", done, swept));
        if (!finished) return Status::Ok();
        if (done == 0) return proceed();  // nothing left: no batch to bake
        LAMBKIN_RETURN_IF_ERROR(
            update("batch_target = ?3, due_at = ?4, extensions = 0", done, at + pacing.bake_ms));
        return event(fmt::format("batch {}/{}: migrated {} function version(s); baking for {}",
                                 batch, batches, done, FormatDuration(pacing.bake_ms)));
      }
      case Action::kGate: {
        if (phase != "phase2") return Status::Ok();
        struct Sample {
          std::string account, name;
          int64_t version, old_rv, after, after_errors, before, before_errors;
          // How much the error rate rose after migration.
          double Rise() const { return Rate(after_errors, after) - Rate(before_errors, before); }
        };
        std::vector<Sample> samples;
        LAMBKIN_ASSIGN_OR_RETURN(
            auto q,
            txn.Prepare(
                "SELECT s.account, s.name, s.version, e.old_runtime_version, s.invocations, "
                "s.errors, COALESCE(b.invocations, 0), COALESCE(b.errors, 0) FROM "
                "invocation_stats s JOIN runtime_version_edits e ON e.account = s.account AND "
                "e.region = s.region AND e.name = s.name AND e.version = s.version LEFT JOIN "
                "invocation_stats b ON b.region = s.region AND b.runtime_version = "
                "e.old_runtime_version AND b.account = s.account AND b.name = s.name AND "
                "b.version = s.version WHERE s.region = ?1 AND s.runtime_version = ?2 AND "
                "e.cause = 'phase2' AND e.new_runtime_version = ?2 AND e.batch = ?3"));
        q.Bind(1, action.region).Bind(2, action.rv).Bind(3, batch);
        Sample total{};  // the whole batch
        while (true) {
          LAMBKIN_ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          Sample x{q.ColumnText(0), q.ColumnText(1), q.ColumnInt(2), q.ColumnInt(3),
                   q.ColumnInt(4),  q.ColumnInt(5),  q.ColumnInt(6), q.ColumnInt(7)};
          total.after += x.after;
          total.after_errors += x.after_errors;
          total.before += x.before;
          total.before_errors += x.before_errors;
          samples.push_back(std::move(x));
        }
        const GateOptions& gate = options_.gate;
        if (total.after < gate.min_samples) {
          if (extensions < gate.max_bake_extensions) {
            std::string note =
                fmt::format("batch {}: {} of {} invocations needed for a verdict; bake extended",
                            batch, total.after, gate.min_samples);
            LAMBKIN_RETURN_IF_ERROR(update("extensions = extensions + 1, due_at = ?3, note = ?4",
                                           at + pacing.bake_ms, note));
            return event(note);
          }
          std::string note = fmt::format(
              "batch {}: inconclusive ({} of {} invocations after migration); proceeding", batch,
              total.after, gate.min_samples);
          LAMBKIN_RETURN_IF_ERROR(update("note = ?3", note));
          LAMBKIN_RETURN_IF_ERROR(event(note));
          return proceed();
        }
        if (total.Rise() <= gate.error_rate_threshold) {
          std::string note =
              fmt::format("batch {}: passed; error rate {} ({}/{}) after migration, {} before",
                          batch, Percent(total.after_errors, total.after), total.after_errors,
                          total.after, Percent(total.before_errors, total.before));
          LAMBKIN_RETURN_IF_ERROR(update("note = ?3", note));
          LAMBKIN_RETURN_IF_ERROR(event(note));
          return proceed();
        }
        // A regression: hold the region and say why, naming the worst function versions.
        std::sort(samples.begin(), samples.end(),
                  [](const Sample& a, const Sample& b) { return a.Rise() > b.Rise(); });
        std::string worst;
        for (size_t i = 0; i < samples.size() && i < 3; ++i) {
          const Sample& x = samples[i];
          worst += fmt::format(
              "{}{}:{} {} after vs {} before", i ? ", " : "", x.name,
              x.version == 0 ? std::string(functions::kLatest) : std::to_string(x.version),
              Percent(x.after_errors, x.after), Percent(x.before_errors, x.before));
        }
        std::string reason = fmt::format(
            "batch {}: error rate of migrated function versions rose from {} ({}/{}) to {} ({}/{}) "
            "after migration to {}, beyond the {:.1f}-point threshold; worst: {}",
            batch, Percent(total.before_errors, total.before), total.before_errors, total.before,
            Percent(total.after_errors, total.after), total.after_errors, total.after,
            version->name, gate.error_rate_threshold * 100, worst);
        LAMBKIN_RETURN_IF_ERROR(
            catalog::Catalog::SetStage(txn, action.rv, action.region, ReleaseStage::kNone));
        LAMBKIN_RETURN_IF_ERROR(update("held = ?3, note = ?3, due_at = NULL", reason));
        LAMBKIN_RETURN_IF_ERROR(event("held: " + reason));
        if (!gate.revert_on_halt) return Status::Ok();
        int64_t reverted = 0;
        for (const Sample& x : samples) {
          if (x.after == 0 || x.Rise() <= gate.error_rate_threshold) continue;
          functions::MoveSelection one;
          one.region = action.region;
          one.account = x.account;
          one.name = x.name;
          one.version = x.version;
          one.on = action.rv;
          one.auto_only = controls;
          LAMBKIN_ASSIGN_OR_RETURN(
              int64_t n,
              functions::MoveRuntimeVersions(txn, one, -1, x.old_rv, "revert", batch, at, collect));
          reverted += n;
          LAMBKIN_ASSIGN_OR_RETURN(
              auto exclude, txn.Prepare("INSERT INTO rollout_reverted (runtime_version, account, "
                                        "region, name, version) VALUES (?,?,?,?,?) "
                                        "ON CONFLICT DO NOTHING"));
          exclude.Bind(1, action.rv).Bind(2, x.account).Bind(3, action.region).Bind(4, x.name);
          exclude.Bind(5, x.version);
          LAMBKIN_RETURN_IF_ERROR(exclude.Run());
        }
        LAMBKIN_RETURN_IF_ERROR(update("reverted = reverted + ?3", reverted));
        return event(
            fmt::format("reverted {} regressed function versions to their previous "
                        "runtime version",
                        reverted));
      }
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (action.kind == Action::kSweep && options_.sweep.max_migrations_per_second > 0) {
    sweep_not_before_ms_ = SteadyMillis() + swept * 1000 / options_.sweep.max_migrations_per_second;
  }
  Notify(changed);
  return Status::Ok();
}

Result<catalog::RuntimeVersion> RolloutEngine::Publish(const catalog::PublishRequest& request,
                                                       bool fast_track) {
  // Packages never inspected yet (deployed before this node kept their contents) are read
  // before the engine's lock is taken, so operator commands do not wait on them.
  WarmPackages(request.runtime);
  std::unique_lock lock(mu_);
  int64_t now = clock_->NowMillis();
  Result<catalog::RuntimeVersion> v =
      catalog_->Publish(request, [&](Txn& txn, const catalog::RuntimeVersion& version) -> Status {
        std::string pacing_name = fast_track ? "critical" : version.severity;
        const Pacing& pacing = options_.PacingFor(pacing_name);
        LAMBKIN_ASSIGN_OR_RETURN(auto ins, txn.Prepare("INSERT INTO rollouts (runtime_version, "
                                                       "pacing, state, created_at) VALUES "
                                                       "(?,?,'active',?)"));
        ins.Bind(1, version.id).Bind(2, pacing_name).Bind(3, now);
        LAMBKIN_RETURN_IF_ERROR(ins.Run());
        LAMBKIN_ASSIGN_OR_RETURN(
            auto reg, txn.Prepare("INSERT INTO rollout_regions (runtime_version, region, "
                                  "position, wave, phase, due_at) VALUES (?,?,?,?,'pending',?)"));
        int waves = 0;
        for (size_t i = 0; i < options_.sequence.size(); ++i) {
          int wave =
              pacing.regions_per_wave == 0 ? 0 : static_cast<int>(i) / pacing.regions_per_wave;
          waves = std::max(waves, wave + 1);
          reg.Bind(1, version.id).Bind(2, options_.sequence[i]).Bind(3, static_cast<int64_t>(i));
          reg.Bind(4, wave).Bind(5, wave == 0 ? std::optional<int64_t>(now) : std::nullopt);
          LAMBKIN_RETURN_IF_ERROR(reg.Run());
          LAMBKIN_RETURN_IF_ERROR(reg.Reset());
          LAMBKIN_RETURN_IF_ERROR(catalog::Catalog::SetStage(txn, version.id, options_.sequence[i],
                                                             ReleaseStage::kNone));
        }
        return AddEvent(
            txn, version.id, "", now,
            fmt::format("published {} (severity {}{}): {} regions in {} waves; phase 1 waits {}, "
                        "each bake {}",
                        version.name, version.severity, fast_track ? ", fast-tracked" : "",
                        options_.sequence.size(), waves, FormatDuration(pacing.phase1_wait_ms),
                        FormatDuration(pacing.bake_ms)));
      });
  if (!v.ok()) return v;
  // The version is published: a prediction that fails is reported, never the publish.
  PredictBestEffortLocked(*v, "");
  LAMBKIN_RETURN_IF_ERROR(RunDueLocked(lock).status());
  cv_.notify_all();
  return v;
}

void RolloutEngine::WarmPackages(const std::string& runtime) {
  if (packages_ == nullptr) return;
  std::vector<std::string> shas;
  Status s = db_->Read([&](Txn& txn) -> Status {
    shas.clear();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT DISTINCT code_sha256 FROM function_versions WHERE runtime = ? "
                             "UNION SELECT DISTINCT l.code_sha256 FROM function_version_layers l "
                             "JOIN function_versions f ON f.account = l.account AND f.region = "
                             "l.region AND f.name = l.name AND f.version = l.version WHERE "
                             "f.runtime = ?"));
    st.Bind(1, runtime).Bind(2, runtime);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      shas.push_back(st.ColumnText(0));
    }
    return Status::Ok();
  });
  if (s.ok()) s = packages_->Preload(shas);
  if (!s.ok()) {
    log::Warning("rollout",
                 fmt::format("cannot read the packages of {} functions: {}", runtime, s.message()));
  }
}

void RolloutEngine::PredictBestEffortLocked(const catalog::RuntimeVersion& version,
                                            const std::string& region) {
  if (Status s = PredictLocked(version, region); !s.ok()) {
    log::Warning("rollout", fmt::format("cannot predict what {} breaks{}: {}", version.name,
                                        region.empty() ? "" : " in " + region, s.message()));
  }
}

Status RolloutEngine::PredictLocked(const catalog::RuntimeVersion& version,
                                    const std::string& region) {
  if (packages_ == nullptr) return Status::Ok();
  struct Candidate {
    std::string account, region, name;
    int64_t number = 0;
    std::vector<std::string> packages;  // the code, then its layers
  };
  std::vector<Candidate> candidates;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    candidates.clear();
    std::string sql =
        "SELECT account, region, name, version, code_sha256, update_mode FROM function_versions "
        "WHERE runtime = ?1 AND runtime_version < ?2";
    if (!region.empty()) sql += " AND region = ?3";
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
    st.Bind(1, version.runtime).Bind(2, version.id);
    if (!region.empty()) st.Bind(3, region);
    std::map<std::tuple<std::string, std::string, std::string, int64_t>, size_t> index;
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      // The versions phase 2 moves: Auto ones, or all where there are no controls.
      std::string r = st.ColumnText(1);
      if (st.ColumnView(5) != "Auto" && regions_->HasRuntimeManagementControls(r)) continue;
      Candidate c{st.ColumnText(0), r, st.ColumnText(2), st.ColumnInt(3), {st.ColumnText(4)}};
      index.emplace(std::make_tuple(c.account, c.region, c.name, c.number), candidates.size());
      candidates.push_back(std::move(c));
    }
    if (candidates.empty()) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(auto layers,
                             txn.Prepare("SELECT account, region, name, version, code_sha256 FROM "
                                         "function_version_layers ORDER BY account, region, name, "
                                         "version, position"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, layers.Step());
      if (!row) break;
      auto it = index.find(std::make_tuple(layers.ColumnText(0), layers.ColumnText(1),
                                           layers.ColumnText(2), layers.ColumnInt(3)));
      if (it != index.end()) candidates[it->second].packages.push_back(layers.ColumnText(4));
    }
    return Status::Ok();
  }));
  struct Hold {
    const Candidate* candidate;
    std::string reason;
  };
  // The version it follows: the newest older one not blocked.
  std::optional<catalog::RuntimeVersion> previous;
  for (const catalog::RuntimeVersion& v : catalog_->List()) {
    if (v.runtime == version.runtime && v.number < version.number &&
        v.state != catalog::RuntimeVersionState::kBlocked &&
        (!previous || v.number > previous->number)) {
      previous = v;
    }
  }
  std::vector<Hold> holds;
  std::vector<const Candidate*> cleared;
  for (const Candidate& c : candidates) {
    std::vector<catalog::BomEntry> bundled;
    bool readable = true;
    for (const std::string& sha : c.packages) {
      Result<compliance::Packages> p = packages_->Of(sha);
      if (!p.ok()) {
        // One unreadable package leaves its function version unpredicted, not the rollout.
        log::Warning("rollout", fmt::format("cannot inspect package {} of {}: {}", sha, c.name,
                                            p.status().message()));
        readable = false;
        break;
      }
      bundled.insert(bundled.end(), (*p)->begin(), (*p)->end());
    }
    if (!readable) continue;
    std::vector<compliance::Finding> findings = compliance::Predict(*version.bom, bundled);
    if (findings.empty()) {
      cleared.push_back(&c);  // fixed since an earlier prediction (a layer changed, say)
      continue;
    }
    std::vector<std::string> why;
    for (const compliance::Finding& f : findings) {
      // What the version before had: the change of the runtime's package that makes it break.
      std::string before;
      if (previous) {
        for (const catalog::BomEntry& e : *previous->bom) {
          if (e.ecosystem == f.ecosystem &&
              catalog::NormalizePackageName(e.ecosystem, e.name) ==
                  catalog::NormalizePackageName(f.ecosystem, f.a) &&
              e.version != f.a_version) {
            before = fmt::format(" (was {} in {})", e.version, previous->name);
          }
        }
      }
      why.push_back(fmt::format("{}'s {} {}{} requires {} {}, the function bundles {} {}",
                                version.name, f.a, f.a_version, before, f.b, f.spec, f.b,
                                f.b_version));
    }
    holds.push_back({&c, fmt::format("{}", fmt::join(why, "; "))});
  }
  if (holds.empty() && cleared.empty()) return Status::Ok();
  int64_t now = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto del, txn.Prepare("DELETE FROM rollout_holds WHERE "
                                                   "runtime_version = ? AND account = ? AND "
                                                   "region = ? AND name = ? AND version = ?"));
    for (const Candidate* c : cleared) {
      del.Bind(1, version.id).Bind(2, c->account).Bind(3, c->region).Bind(4, c->name);
      del.Bind(5, c->number);
      LAMBKIN_RETURN_IF_ERROR(del.Run());
      LAMBKIN_RETURN_IF_ERROR(del.Reset());
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto ins, txn.Prepare("INSERT INTO rollout_holds (runtime_version, account, region, "
                              "name, version, code_sha256, reason, predicted_at) VALUES "
                              "(?,?,?,?,?,?,?,?) ON CONFLICT (runtime_version, account, region, "
                              "name, version) DO UPDATE SET code_sha256 = excluded.code_sha256, "
                              "reason = excluded.reason, predicted_at = excluded.predicted_at"));
    for (const Hold& h : holds) {
      const Candidate& c = *h.candidate;
      ins.Bind(1, version.id).Bind(2, c.account).Bind(3, c.region).Bind(4, c.name);
      ins.Bind(5, c.number).Bind(6, c.packages.front()).Bind(7, h.reason).Bind(8, now);
      LAMBKIN_RETURN_IF_ERROR(ins.Run());
      LAMBKIN_RETURN_IF_ERROR(ins.Reset());
    }
    return Status::Ok();
  });
}

Result<catalog::RuntimeVersion> RolloutEngine::Deprecate(const std::string& name) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  if (v.state != catalog::RuntimeVersionState::kReleased) {
    return Conflict(fmt::format("{} is already {}", v.name, RuntimeVersionStateName(v.state)));
  }
  auto newest = catalog_->Newest(v.runtime);
  if (newest && newest->id == v.id) {
    return Conflict(
        fmt::format("{} is the newest version of {}; publish a newer one before deprecating it",
                    v.name, v.runtime));
  }
  return catalog_->SetState(
      v.id, catalog::RuntimeVersionState::kDeprecated,
      [&](Txn& txn, const catalog::RuntimeVersion&) -> Status {
        LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT 1 FROM rollouts WHERE "
                                                      "runtime_version = ? AND state = 'active'"));
        st.Bind(1, v.id);
        LAMBKIN_ASSIGN_OR_RETURN(bool active, st.Step());
        if (active) {
          return Conflict(
              fmt::format("{} is still rolling out; abort its rollout or block it", v.name));
        }
        return AddEvent(txn, v.id, "", clock_->NowMillis(), v.name + " deprecated by an operator");
      });
}

Result<catalog::RuntimeVersion> RolloutEngine::Block(const std::string& name,
                                                     const std::string& reason) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  if (v.state == catalog::RuntimeVersionState::kBlocked) {
    return Conflict(fmt::format("{} is already blocked", v.name));
  }
  int64_t at = clock_->NowMillis();
  Changed changed;
  Result<catalog::RuntimeVersion> out = catalog_->SetState(
      v.id, catalog::RuntimeVersionState::kBlocked,
      [&](Txn& txn, const catalog::RuntimeVersion&) -> Status {
        LAMBKIN_ASSIGN_OR_RETURN(
            auto abort, txn.Prepare("UPDATE rollouts SET state = 'aborted', paused_at = NULL "
                                    "WHERE runtime_version = ?"));
        abort.Bind(1, v.id);
        LAMBKIN_RETURN_IF_ERROR(abort.Run());
        LAMBKIN_ASSIGN_OR_RETURN(
            auto regions, txn.Prepare("UPDATE rollout_regions SET phase = 'aborted', due_at = "
                                      "NULL, held = NULL WHERE runtime_version = ?"));
        regions.Bind(1, v.id);
        LAMBKIN_RETURN_IF_ERROR(regions.Run());
        LAMBKIN_RETURN_IF_ERROR(
            AddEvent(txn, v.id, "", at, fmt::format("{} blocked: {}", v.name, reason)));
        // Every Auto function version on it goes back to the previous good version there.
        for (const catalog::Region& region : regions_->all()) {
          functions::MoveSelection on_it;
          on_it.region = region.name;
          on_it.runtime = v.runtime;
          on_it.on = v.id;
          on_it.auto_only = region.runtime_management_controls;
          LAMBKIN_ASSIGN_OR_RETURN(int64_t affected, functions::CountMovable(txn, on_it));
          if (affected == 0) continue;
          LAMBKIN_ASSIGN_OR_RETURN(
              auto target, catalog::Catalog::NewestReleasedBelow(txn, v.runtime, region.name,
                                                                 ReleaseStage::kPhase1, v.number));
          if (!target) {
            LAMBKIN_ASSIGN_OR_RETURN(target,
                                     catalog::Catalog::NewestReleased(txn, v.runtime, region.name,
                                                                      ReleaseStage::kPhase1));
          }
          if (!target) {
            return Conflict(fmt::format(
                "Cannot block {}: Auto function versions in {} run it and no other version of "
                "{} is released there",
                v.name, region.name, v.runtime));
          }
          LAMBKIN_ASSIGN_OR_RETURN(int64_t n, functions::MoveRuntimeVersions(
                                                  txn, on_it, -1, *target, "block", std::nullopt,
                                                  at, observer_ != nullptr ? &changed : nullptr));
          auto to = catalog_->Get(*target);
          LAMBKIN_RETURN_IF_ERROR(
              AddEvent(txn, v.id, region.name, at,
                       fmt::format("moved {} Auto function versions back to {}", n,
                                   to ? to->name : std::to_string(*target))));
        }
        return Status::Ok();
      });
  if (!out.ok()) return out;
  Notify(changed);
  return out;
}

Status RolloutEngine::Abort(const std::string& version) {
  return Block(version, "rollout aborted by an operator").status();
}

namespace {

// The rollout of `rv` if it is active: when it was paused, if it is.
Result<std::optional<int64_t>> ActiveRollout(Txn& txn, int64_t rv, const std::string& name) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st, txn.Prepare("SELECT state, paused_at FROM rollouts WHERE runtime_version = ?"));
  st.Bind(1, rv);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound(fmt::format("{} has no rollout (it was released everywhere)", name));
  std::string state = st.ColumnText(0);
  if (state != "active") return Conflict(fmt::format("The rollout of {} is {}", name, state));
  return st.ColumnOptionalInt(1);
}

Status CheckRegion(Txn& txn, int64_t rv, const std::string& region, const std::string& name) {
  if (region.empty()) return Status::Ok();
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT 1 FROM rollout_regions WHERE "
                                                "runtime_version = ? AND region = ?"));
  st.Bind(1, rv).Bind(2, region);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound(fmt::format("The rollout of {} has no region {}", name, region));
  return Status::Ok();
}

}  // namespace

Status RolloutEngine::Pause(const std::string& name) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  int64_t at = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<int64_t> paused_at, ActiveRollout(txn, v.id, v.name));
    if (paused_at) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE rollouts SET paused_at = ? WHERE runtime_version = ?"));
    st.Bind(1, at).Bind(2, v.id);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    return AddEvent(txn, v.id, "", at, "paused by an operator");
  });
}

Status RolloutEngine::Resume(const std::string& name, const std::string& region) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  int64_t at = clock_->NowMillis();
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<int64_t> paused_at, ActiveRollout(txn, v.id, v.name));
    LAMBKIN_RETURN_IF_ERROR(CheckRegion(txn, v.id, region, v.name));
    if (paused_at) {
      // A pause stops the clock on pending steps: every wait resumes where it stood.
      LAMBKIN_ASSIGN_OR_RETURN(auto shift,
                               txn.Prepare("UPDATE rollout_regions SET due_at = due_at + ? WHERE "
                                           "runtime_version = ? AND due_at IS NOT NULL"));
      shift.Bind(1, at - *paused_at).Bind(2, v.id);
      LAMBKIN_RETURN_IF_ERROR(shift.Run());
      LAMBKIN_ASSIGN_OR_RETURN(
          auto st, txn.Prepare("UPDATE rollouts SET paused_at = NULL WHERE runtime_version = ?"));
      st.Bind(1, v.id);
      LAMBKIN_RETURN_IF_ERROR(st.Run());
      LAMBKIN_RETURN_IF_ERROR(AddEvent(
          txn, v.id, "", at, fmt::format("resumed after {}", FormatDuration(at - *paused_at))));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  // Held regions take their next batch now: the operator has judged the regression.
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<RegionProgress> regions, ActiveRegionsLocked(v));
  for (const RegionProgress& r : regions) {
    if (r.held && (region.empty() || r.region == region)) {
      LAMBKIN_RETURN_IF_ERROR(ExecuteLocked({Action::kRelease, v.id, r.region, at}));
    }
  }
  cv_.notify_all();
  return RunDueLocked(lock).status();
}

Status RolloutEngine::Advance(const std::string& name, const std::string& region) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  int64_t at = clock_->NowMillis();
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(ActiveRollout(txn, v.id, v.name).status());
    return CheckRegion(txn, v.id, region, v.name);
  });
  if (!s.ok()) return s;
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<RegionProgress> regions, ActiveRegionsLocked(v));
  for (const RegionProgress& r : regions) {
    if (!region.empty() && r.region != region) continue;
    if (r.held || (r.phase == "phase2" && !Sweeping(r))) {
      // A hold or a bake: the next batch now, without a verdict.
      LAMBKIN_RETURN_IF_ERROR(ExecuteLocked({Action::kRelease, v.id, r.region, at}));
    } else if (r.phase == "phase1" || (r.phase == "pending" && (r.due_at || !region.empty()))) {
      LAMBKIN_RETURN_IF_ERROR(ExecuteLocked({Action::kSkipWait, v.id, r.region, at}));
    }
  }
  cv_.notify_all();
  return RunDueLocked(lock).status();
}

Status RolloutEngine::FastTrack(const std::string& name) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(catalog::RuntimeVersion v, FindVersion(name));
  int64_t at = clock_->NowMillis();
  const Pacing& critical = options_.PacingFor("critical");
  Status s = db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(ActiveRollout(txn, v.id, v.name).status());
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("UPDATE rollouts SET pacing = 'critical' WHERE runtime_version = ?"));
    st.Bind(1, v.id);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    // Every waiting step shrinks to the critical pacing; remaining regions form one wave.
    LAMBKIN_ASSIGN_OR_RETURN(
        auto pending,
        txn.Prepare("UPDATE rollout_regions SET wave = (SELECT MIN(wave) FROM rollout_regions "
                    "WHERE runtime_version = ?1 AND phase = 'pending'), due_at = CASE WHEN "
                    "due_at IS NULL OR due_at > ?2 THEN ?2 ELSE due_at END WHERE runtime_version = "
                    "?1 AND phase = 'pending'"));
    pending.Bind(1, v.id).Bind(2, at + (critical.regions_per_wave == 0 ? 0 : critical.bake_ms));
    LAMBKIN_RETURN_IF_ERROR(pending.Run());
    LAMBKIN_ASSIGN_OR_RETURN(auto phase1,
                             txn.Prepare("UPDATE rollout_regions SET due_at = CASE WHEN due_at "
                                         "<= phase1_at + ?2 THEN due_at ELSE phase1_at + ?2 END "
                                         "WHERE runtime_version = ?1 AND phase = 'phase1' AND "
                                         "due_at IS NOT NULL"));
    phase1.Bind(1, v.id).Bind(2, critical.phase1_wait_ms);
    LAMBKIN_RETURN_IF_ERROR(phase1.Run());
    LAMBKIN_ASSIGN_OR_RETURN(
        auto bake, txn.Prepare("UPDATE rollout_regions SET due_at = ?2 WHERE runtime_version = ?1 "
                               "AND phase = 'phase2' AND due_at > ?2"));
    bake.Bind(1, v.id).Bind(2, at + critical.bake_ms);
    LAMBKIN_RETURN_IF_ERROR(bake.Run());
    return AddEvent(txn, v.id, "", at, "fast-tracked by an operator: critical pacing from now on");
  });
  if (!s.ok()) return s;
  cv_.notify_all();
  return RunDueLocked(lock).status();
}

Result<std::vector<RolloutStatus>> RolloutEngine::List(const std::string& runtime) {
  std::unique_lock lock(mu_);
  LAMBKIN_ASSIGN_OR_RETURN(std::vector<Loaded> loaded, LoadLocked(false, runtime));
  std::vector<RolloutStatus> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto events, txn.Prepare("SELECT at, region, text FROM (SELECT seq, at, region, text FROM "
                                 "rollout_events WHERE runtime_version = ? ORDER BY seq DESC "
                                 "LIMIT 100) AS recent ORDER BY seq"));
    LAMBKIN_ASSIGN_OR_RETURN(
        auto predicted,
        txn.Prepare("SELECT h.account, h.region, h.name, h.version, h.reason, h.predicted_at, "
                    "CASE WHEN f.code_sha256 = h.code_sha256 AND f.runtime_version < "
                    "h.runtime_version THEN 1 ELSE 0 END, f.update_mode FROM rollout_holds h "
                    "JOIN function_versions f ON f.account = h.account AND f.region = h.region "
                    "AND f.name = h.name AND f.version = h.version WHERE h.runtime_version = ? "
                    "ORDER BY h.region, h.account, h.name, h.version"));
    for (Loaded& l : loaded) {
      RolloutStatus st;
      st.version = l.version;
      st.pacing = l.pacing;
      st.state = l.state == "active" && l.paused_at ? "paused" : l.state;
      st.created_at = l.created_at;
      st.paused_at = l.paused_at;
      for (RegionProgress& r : l.regions) {
        if (r.phase != "complete" && r.phase != "aborted") {
          LAMBKIN_ASSIGN_OR_RETURN(
              r.remaining, CountCandidates(txn, r.region, l.version.runtime, l.version.id,
                                           r.controls, r.reverted > 0, options_.hold_incompatible));
        }
        r.next_step = NextStep(r, l.paused_at.has_value());
        st.regions.push_back(std::move(r));
      }
      events.Bind(1, l.version.id);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, events.Step());
        if (!row) break;
        st.events.push_back({events.ColumnInt(0), events.ColumnText(1), events.ColumnText(2)});
      }
      LAMBKIN_RETURN_IF_ERROR(events.Reset());
      predicted.Bind(1, l.version.id);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, predicted.Step());
        if (!row) break;
        PredictedBreak p{predicted.ColumnText(0), predicted.ColumnText(1), predicted.ColumnText(2),
                         predicted.ColumnInt(3),  predicted.ColumnText(4), predicted.ColumnInt(5)};
        // Still what phase 2 would move, with the code predicted on.
        bool movable =
            predicted.ColumnInt(6) != 0 && (predicted.ColumnView(7) == "Auto" ||
                                            !regions_->HasRuntimeManagementControls(p.region));
        p.held = options_.hold_incompatible && movable && l.state == "active";
        st.predicted.push_back(std::move(p));
      }
      LAMBKIN_RETURN_IF_ERROR(predicted.Reset());
      out.push_back(std::move(st));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> RolloutEngine::AdvanceClock(int64_t millis) {
  std::unique_lock lock(mu_);
  if (simulated_ == nullptr) {
    return Conflict(
        "The server runs on the real clock; start it with `lambkin serve --clock simulated` to "
        "move time");
  }
  constexpr int64_t kMaxAdvance = 3650LL * 24 * 3600 * 1000;
  if (millis <= 0 || millis > kMaxAdvance) {
    return InvalidParameter("The clock moves forward by a positive duration of at most 3650d");
  }
  int64_t target = clock_->NowMillis() + millis;
  // Each step runs at its own time, in order, as if the time had passed.
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<int64_t> next, RunDueLocked(lock));
    if (!next || *next > target) break;
    LAMBKIN_RETURN_IF_ERROR(SetSimulatedLocked(std::max(*next, clock_->NowMillis())));
  }
  LAMBKIN_RETURN_IF_ERROR(SetSimulatedLocked(target));
  LAMBKIN_RETURN_IF_ERROR(RunDueLocked(lock).status());
  cv_.notify_all();
  return clock_->NowMillis();
}

}  // namespace lambkin::rollout
