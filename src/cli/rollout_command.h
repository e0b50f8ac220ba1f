// Operator verbs over rollouts, runtime version lifecycles and the simulated clock:
//   lambkin runtime deprecate|block VERSION
//   lambkin rollout status|pause|resume|advance|abort|fast-track|history
//   lambkin image rebase FUNCTION
//   lambkin clock show|advance
// Each talks to a running server's admin API and prints for a person, or JSON with --json.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/http_client.h"

namespace lambkin::cli {

struct AdminOptions {
  ApiClient client;
  bool json = false;
};

// What every operator verb prints when a call fails ("lambkin <what>: <message>"); returns the
// exit status, 1.
inline int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "lambkin %s: %s\n", what.c_str(), s.message().c_str());
  return 1;
}

// The string member `key` of an answer, or `fallback` when it is absent or not a string.
inline std::string Str(const nlohmann::json& j, const char* key, std::string_view fallback = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

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
