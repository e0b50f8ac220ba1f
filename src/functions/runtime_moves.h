// The store contract the rollout engine moves function versions with: it selects function
// versions by region, runtime, update mode and runtime version, and moves them to another
// runtime version with one history edit each. The functions subsystem owns these tables; the
// rollout engine never writes them itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "functions/model.h"
#include "store/database.h"

namespace lambkin::functions {

struct MoveSelection {
  std::string region;
  std::optional<std::string> runtime;
  // One function version only (account, name, version; 0 is $LATEST).
  std::optional<std::string> account;
  std::optional<std::string> name;
  std::optional<int64_t> version;
  std::optional<int64_t> below;  // runtime_version < below
  std::optional<int64_t> on;     // runtime_version = on
  bool auto_only = true;         // update mode Auto only
  // Leaves out the versions the health gate moved back during this runtime version's rollout.
  std::optional<int64_t> excluding_reverted_of;
  // Leaves out the versions held out of this runtime version's rollout (rollout_holds) while
  // their code is the code the hold was predicted on.
  std::optional<int64_t> excluding_held_of;
};

struct MovedVersion {
  Scope scope;
  std::string name;
  int64_t version = 0;
};

// How many function versions the selection matches.
Result<int64_t> CountMovable(store::Txn& txn, const MoveSelection& selection);

// Moves up to `limit` (negative: all) selected function versions to runtime version `to`,
// recording one history edit each (`cause`, the phase-2 `batch` if any), in this transaction.
// On PostgreSQL rows another transaction holds are skipped (FOR UPDATE SKIP LOCKED). Lists the
// moved versions in `moved` when given.
Result<int64_t> MoveRuntimeVersions(store::Txn& txn, const MoveSelection& selection, int64_t limit,
                                    int64_t to, std::string_view cause,
                                    std::optional<int64_t> batch, int64_t at,
                                    std::vector<MovedVersion>* moved);

}  // namespace lambkin::functions
