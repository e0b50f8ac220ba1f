// Operator verbs for runtime lifecycles and compliance:
//   lambkin runtime lifecycle [RUNTIME [--deprecation-date D] [--create-block-date D]
//                                      [--update-block-date D] [--clear]]
//   lambkin compliance report [--region R] [--runtime R] [--json | --csv]
//   lambkin compliance check-package FILE.zip --runtime R [--region R] [--json]
// Each talks to a running server's admin API and prints for a person, or for machines.
#pragma once

#include <optional>
#include <string>

#include "cli/rollout_command.h"

namespace lambkin::cli {

struct LifecycleOptions {
  std::string runtime;  // empty: list every runtime's lifecycle
  std::optional<std::string> deprecation_date, create_block_date, update_block_date;
  bool clear = false;
};
int RuntimeLifecycleDates(const AdminOptions& o, const LifecycleOptions& l);

struct ComplianceReportOptions {
  std::string region, runtime;
  bool csv = false;
};
int ComplianceReport(const AdminOptions& o, const ComplianceReportOptions& r);

// Exit status 0: compatible; 3: findings a developer should act on; 1: the check failed.
int CheckPackage(const AdminOptions& o, const std::string& file, const std::string& runtime,
                 const std::string& region);

}  // namespace lambkin::cli
