#include "catalog/regions.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::catalog {

namespace {

const std::vector<std::string>& ManagedRegions() {
  static const std::vector<std::string> kRegions = {
      "us-east-1",      "us-east-2",      "us-west-1",      "us-west-2",      "eu-west-1",
      "eu-west-2",      "eu-west-3",      "eu-north-1",     "eu-central-1",   "eu-south-1",
      "ap-east-1",      "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
      "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ca-central-1",   "sa-east-1",
      "af-south-1",     "me-south-1"};
  return kRegions;
}

bool ValidRegionName(std::string_view name) {
  // Same shape as the region part of Lambda's ARN patterns: xx-name-N, xx-gov-name-N.
  if (name.size() < 4 || name.size() > 50) return false;
  return std::all_of(
             name.begin(), name.end(),
             [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }) &&
         name.back() >= '0' && name.back() <= '9' && name.find('-') != std::string_view::npos;
}

}  // namespace

std::string PartitionOf(std::string_view region) {
  if (region.starts_with("cn-")) return "aws-cn";
  if (region.starts_with("us-gov-")) return "aws-us-gov";
  return "aws";
}

RegionSet RegionSet::Default() {
  RegionSet set;
  for (const auto& r : ManagedRegions()) set.regions_.push_back({r, PartitionOf(r), true});
  for (const char* r : {"cn-north-1", "cn-northwest-1"}) {
    set.regions_.push_back({r, PartitionOf(r), false});
  }
  set.default_region_ = "us-east-1";
  return set;
}

Result<RegionSet> RegionSet::FromJson(std::string_view json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidParameter("regions: configuration is not a JSON object");
  }
  RegionSet set = Default();
  auto read_list = [&](const char* key, bool managed) -> Status {
    if (!doc.contains(key)) return Status::Ok();
    const auto& list = doc[key];
    if (!list.is_array()) return InvalidParameter(fmt::format("regions: {} must be a list", key));
    // An explicit list replaces the default entries of the same kind.
    std::erase_if(set.regions_,
                  [&](const Region& r) { return r.runtime_management_controls == managed; });
    for (const auto& item : list) {
      if (!item.is_string() || !ValidRegionName(item.get<std::string>())) {
        return InvalidParameter(
            fmt::format("regions: {} has an invalid region name {}", key, item.dump()));
      }
      std::string name = item.get<std::string>();
      if (set.Find(name) != nullptr) {
        return InvalidParameter(fmt::format("regions: {} is listed twice", name));
      }
      set.regions_.push_back({name, PartitionOf(name), managed});
    }
    return Status::Ok();
  };
  LAMBKIN_RETURN_IF_ERROR(read_list("runtime_management", true));
  LAMBKIN_RETURN_IF_ERROR(read_list("without_runtime_management", false));
  if (doc.contains("default_region")) {
    if (!doc["default_region"].is_string()) {
      return InvalidParameter("regions: default_region must be a string");
    }
    set.default_region_ = doc["default_region"].get<std::string>();
  }
  if (set.Find(set.default_region_) == nullptr) {
    return InvalidParameter(fmt::format(
        "regions: default_region {} is not one of the configured regions", set.default_region_));
  }
  return set;
}

const Region* RegionSet::Find(std::string_view name) const {
  for (const auto& r : regions_) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace lambkin::catalog
