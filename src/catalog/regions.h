// Regions served by this Lambkin deployment.
//
// Every request names its region in its SigV4 credential scope. A RegionSet says which regions
// exist here, which of them support runtime management controls (PutRuntimeManagementConfig,
// Manual and FunctionUpdate modes) and which do not (every function there is Auto), and which
// ARN partition each belongs to. Immutable after construction; thread-safe to share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lambkin::catalog {

struct Region {
  std::string name;
  std::string partition;  // "aws", "aws-cn", "aws-us-gov"
  bool runtime_management_controls = true;
};

class RegionSet {
 public:
  // The regions AWS documents as supporting runtime management controls, plus cn-north-1 and
  // cn-northwest-1 without them; default region us-east-1.
  static RegionSet Default();
  // Reads {"default_region": "...", "runtime_management": [...],
  // "without_runtime_management": [...]} (every member optional, falling back to Default()).
  static Result<RegionSet> FromJson(std::string_view json_text);

  const Region* Find(std::string_view name) const;
  // Whether `name` is served here and supports runtime management controls.
  bool HasRuntimeManagementControls(std::string_view name) const {
    const Region* r = Find(name);
    return r != nullptr && r->runtime_management_controls;
  }
  const std::vector<Region>& all() const { return regions_; }
  const std::string& default_region() const { return default_region_; }

 private:
  std::vector<Region> regions_;
  std::string default_region_;
};

// The ARN partition of a region name: aws-cn for cn-*, aws-us-gov for us-gov-*, else aws.
std::string PartitionOf(std::string_view region);

}  // namespace lambkin::catalog
