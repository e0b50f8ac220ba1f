// Operator verbs over rollouts, runtime version lifecycles and the simulated clock:
//   lambkin runtime deprecate|block VERSION
//   lambkin rollout status|pause|resume|advance|abort|fast-track|history
//   lambkin image rebase FUNCTION
//   lambkin clock show|advance
// Each talks to a running server's admin API and prints for a person, or JSON with --json.
#pragma once

#include <string>

#include "cli/http_client.h"

namespace lambkin::cli {

struct AdminOptions {
  ApiClient client;
  bool json = false;
};

// deprecate | block
int RuntimeLifecycle(const AdminOptions& o, const std::string& verb, const std::string& version,
                     const std::string& reason);
// The version with its bill of materials; what changed between two versions.
int RuntimeShow(const AdminOptions& o, const std::string& version);
int RuntimeDiff(const AdminOptions& o, const std::string& from, const std::string& to);
int RolloutStatus(const AdminOptions& o, const std::string& runtime, int events);
// pause | resume | advance | abort | fast-track
int RolloutCommand(const AdminOptions& o, const std::string& verb, const std::string& version,
                   const std::string& region);
int RolloutHistory(const AdminOptions& o, const std::string& function, const std::string& qualifier,
                   const std::string& region);
// Rebases $LATEST of an image function on its runtime's newest version.
int ImageRebase(const AdminOptions& o, const std::string& function, const std::string& region,
                bool publish);
int ClockShow(const AdminOptions& o);
int ClockAdvance(const AdminOptions& o, const std::string& duration);

}  // namespace lambkin::cli
