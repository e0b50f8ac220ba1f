// RolloutEngine: the release of each published runtime version, region by region, in two
// phases (spec/rollout-and-peers.md §1.3, §2.6).
//
// Per runtime version and region the rollout moves pending → phase1 → phase2 → complete, with
// side states held (the health gate fired), paused (an operator) and aborted (the version was
// blocked):
//  - pending: the region's wave has not started. Wave 0 starts at publish; each later wave
//    starts once the previous one has baked (its phase 1 has run for the pacing's bake time)
//    and no region of the rollout is held.
//  - phase1: the catalogue releases the version to phase 1 in the region, so creates and
//    updates give Auto and FunctionUpdate function versions the new version.
//  - phase2 (after the pacing's phase-1 wait): the version becomes what Auto versions move to,
//    and the sweeper migrates the Auto function versions still on an older version of the
//    runtime ($LATEST and published; in regions without runtime management controls, every
//    version) in batches: 1 version, then fractions of the candidates, then the rest. Each
//    batch is followed by a bake, at whose end the health gate compares the migrated
//    versions' error rate after migration with their rate before; a regression beyond the
//    threshold holds the region (and optionally moves the regressed versions back).
//  - complete: nothing is left to migrate.
//
// All state lives in the store: each step (a wave start, a phase start, a chunk of migrations
// with its edits and progress, a verdict) is one transaction, so a server killed at any point
// resumes exactly where it was, and no function version is migrated twice or skipped. Time is
// the injected clock; with a SimulatedClock, AdvanceClock() steps through every due step in
// order. Operator commands and the background thread are serialised on one mutex, so there is
// only ever one sweeper. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "common/clock.h"
#include "compliance/package_index.h"
#include "functions/function_service.h"
#include "functions/runtime_moves.h"
#include "rollout/health.h"
#include "rollout/options.h"
#include "store/database.h"

namespace lambkin::rollout {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& Schema();

struct RegionProgress {
  std::string region;
  int wave = 0;
  std::string phase;  // pending | phase1 | phase2 | complete | aborted
  bool controls = true;
  std::optional<int64_t> phase1_at;
  std::optional<int64_t> phase2_at;
  int batch = 0;             // current phase-2 batch, from 1
  int batches = 0;           // how many batches phase 2 has
  int64_t batch_target = 0;  // -1: everything that remains
  int64_t batch_done = 0;
  int64_t base_count = 0;  // candidates when phase 2 started
  int64_t migrated = 0;
  int64_t reverted = 0;
  int64_t remaining = 0;  // Auto versions still on an older version of the runtime
  std::optional<int64_t> due_at;
  std::string next_step;  // what happens at due_at
  int extensions = 0;
  std::optional<std::string> held;
  std::string note;  // the last verdict of the health gate
};

struct RolloutEvent {
  int64_t at = 0;
  std::string region;  // empty: the whole rollout
  std::string text;
};

// A function version predicted to break on the rollout's version: the new runtime's packages
// require newer versions of packages it bundles (spec/compliance.md §3, the "no" row).
struct PredictedBreak {
  std::string account, region, name;
  int64_t version = 0;  // 0 is $LATEST
  std::string reason;
  int64_t predicted_at = 0;
  // Kept out of phase 2 now: the setting is on and the version is still an Auto version on an
  // older runtime version, with the code the prediction was made for.
  bool held = false;
};

struct RolloutStatus {
  catalog::RuntimeVersion version;
  std::string pacing;  // the severity whose pacing applies (critical once fast-tracked)
  std::string state;   // active | paused | complete | aborted
  int64_t created_at = 0;
  std::optional<int64_t> paused_at;
  std::vector<RegionProgress> regions;
  std::vector<RolloutEvent> events;  // oldest first, the last 100
  std::vector<PredictedBreak> predicted;
};

class RolloutEngine {
 public:
  RolloutEngine(store::Database* db, catalog::Catalog* catalog, const catalog::RegionSet* regions,
                const Clock* clock, RolloutOptions options);
  ~RolloutEngine();
  RolloutEngine(const RolloutEngine&) = delete;
  RolloutEngine& operator=(const RolloutEngine&) = delete;

  // REQUIRES: both called before Start() and any operator command.
  void SetObserver(functions::FunctionObserver* observer) { observer_ = observer; }
  // What function packages bundle: with it, publishing a version and starting its phase 2 in a
  // region predict which Auto function versions it would break (see PredictedBreak).
  void SetPackageIndex(compliance::PackageIndex* packages) { packages_ = packages; }
  // The clock AdvanceClock() moves (also the engine's clock); restores its persisted offset.
  Status UseSimulatedClock(SimulatedClock* clock);
  // Reads the simulated clock's offset again (another node advanced it) and wakes the loop.
  Status ReloadSimulatedClock();

  HealthStats* health() { return &health_; }
  const RolloutOptions& options() const { return options_; }

  // The background thread that runs steps when they fall due and flushes health counts.
  void Start();
  void Stop();

  // Publishes a runtime version and starts its rollout (wave 0 at once).
  Result<catalog::RuntimeVersion> Publish(const catalog::PublishRequest& request, bool fast_track);
  // Marks an older version deprecated: no new Manual pins; existing ones keep running.
  Result<catalog::RuntimeVersion> Deprecate(const std::string& version);
  // Blocks a bad version: its rollout is aborted everywhere and every Auto function version on
  // it moves back to the previous good version of its region.
  Result<catalog::RuntimeVersion> Block(const std::string& version, const std::string& reason);

  Status Pause(const std::string& version);
  // Ends a pause and releases held regions (all, or `region`): their next batch starts now.
  Status Resume(const std::string& version, const std::string& region);
  // Skips the current wait (a wave, the phase-1 wait, a bake and its verdict, a hold) in every
  // region of the rollout that has one, or only in `region`.
  Status Advance(const std::string& version, const std::string& region);
  // Aborts the rollout: Block() with the operator as the reason.
  Status Abort(const std::string& version);
  // Switches the rollout to the critical pacing (an emergency).
  Status FastTrack(const std::string& version);

  // Rollouts (active and paused first, then finished ones, newest first), optionally of one
  // runtime.
  Result<std::vector<RolloutStatus>> List(const std::string& runtime);

  // Moves the simulated clock forward by `millis`, running each step as its time comes.
  // Returns the new time.
  Result<int64_t> AdvanceClock(int64_t millis);

 private:
  struct Action;
  struct Loaded;

  Result<std::vector<Loaded>> LoadLocked(bool active_only, const std::string& runtime);
  std::optional<Action> NextActionLocked(const std::vector<Loaded>& rollouts) const;
  // Runs every step that is due now; returns when the next one falls due, if any.
  Result<std::optional<int64_t>> RunDueLocked(std::unique_lock<std::mutex>& lock);
  // The regions of `version`'s active rollout.
  Result<std::vector<RegionProgress>> ActiveRegionsLocked(const catalog::RuntimeVersion& version);
  int Batches() const { return static_cast<int>(options_.batch_fractions.size()) + 2; }
  Status ExecuteLocked(const Action& action);
  // Records the Auto function versions of `version`'s runtime (in `region`, or everywhere when
  // empty) that its packages would break, in rollout_holds.
  Status PredictLocked(const catalog::RuntimeVersion& version, const std::string& region);
  // PredictLocked, its failure only logged (a publish or a phase-2 start goes on without it).
  void PredictBestEffortLocked(const catalog::RuntimeVersion& version, const std::string& region);
  // Reads the packages of `runtime`'s function versions into the package index.
  void WarmPackages(const std::string& runtime);
  Result<catalog::RuntimeVersion> FindVersion(const std::string& version) const;
  Status SetSimulatedLocked(int64_t millis);
  void Notify(const std::vector<functions::MovedVersion>& changed) const;
  void Loop();

  store::Database* db_;
  catalog::Catalog* catalog_;
  const catalog::RegionSet* regions_;
  const Clock* clock_;
  SimulatedClock* simulated_ = nullptr;
  RolloutOptions options_;
  functions::FunctionObserver* observer_ = nullptr;
  compliance::PackageIndex* packages_ = nullptr;
  HealthStats health_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int64_t sweep_not_before_ms_ = 0;  // steady-clock ms: the sweeper's rate limit
  std::thread thread_;
};

}  // namespace lambkin::rollout
