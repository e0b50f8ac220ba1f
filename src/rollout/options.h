// RolloutOptions: how a runtime version rolls out — the region deployment sequence, the pacing
// per patch severity, the phase-2 batches, the health gate and the sweeper's rate. Everything
// has a documented default (docs/rollout.md) and can be set in the server's config file under
// "rollout".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "catalog/regions.h"
#include "common/status.h"

namespace lambkin::rollout {

struct Pacing {
  int64_t phase1_wait_ms = 0;  // phase 1 alone before phase 2 starts in a region
  int64_t bake_ms = 0;         // after each phase-2 batch, and after each wave starts
  int regions_per_wave = 1;    // 0: every remaining region in one wave
};

struct GateOptions {
  // A batch halts when the error rate of its migrated versions rises by more than this
  // (absolute, 0.05 = five percentage points) over their rate on the previous version.
  double error_rate_threshold = 0.05;
  // Invocations after migration needed for a verdict; fewer extend the bake.
  int64_t min_samples = 10;
  // How many times a bake is extended for want of samples before the batch proceeds anyway
  // (idle functions must not stall a security patch).
  int max_bake_extensions = 2;
  // Whether a halt also moves the regressed Auto versions back to their previous version.
  bool revert_on_halt = false;
};

struct SweepOptions {
  int64_t chunk_size = 2000;                  // migrations per store transaction
  int64_t max_migrations_per_second = 20000;  // 0: unlimited
};

struct RolloutOptions {
  std::vector<std::string> sequence;     // every region, in deployment order
  std::map<std::string, Pacing> pacing;  // by severity: critical, high, medium, low
  std::vector<double> batch_fractions;   // of the phase-2 candidates; first batch is 1 version
  GateOptions gate;
  SweepOptions sweep;
  // Holds the Auto function versions predicted to break on a new runtime version (its packages
  // need newer versions of packages they bundle) out of its phase 2 until their owner deploys
  // new code or changes their update mode. They are listed in the rollout's status either way.
  bool hold_incompatible = true;

  // The documented defaults over `regions` (sequence = the regions in their configured order).
  static RolloutOptions Defaults(const catalog::RegionSet& regions);
  // Defaults overridden by a config object {"sequence": [...], "pacing": {"high":
  // {"phase1_wait": "2d", "bake": "6h", "regions_per_wave": 2}}, "batches": [0.1, 0.5],
  // "gate": {...}, "sweep": {...}, "hold_incompatible": true}. Durations are strings ("72h") or
  // milliseconds.
  static Result<RolloutOptions> FromJson(const catalog::RegionSet& regions,
                                         const std::string& json_text);

  const Pacing& PacingFor(const std::string& severity) const;
};

}  // namespace lambkin::rollout
