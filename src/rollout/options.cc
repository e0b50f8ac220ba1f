#include "rollout/options.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace lambkin::rollout {

namespace {

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kDay = 24 * kHour;

Result<int64_t> DurationOf(const nlohmann::json& j, const std::string& what) {
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return j.get<int64_t>();
  if (j.is_string()) {
    if (auto ms = ParseDurationMillis(j.get<std::string>())) return *ms;
  }
  return InvalidParameter(
      fmt::format("config: rollout: {} must be a duration such as \"6h\" or milliseconds", what));
}

}  // namespace

RolloutOptions RolloutOptions::Defaults(const catalog::RegionSet& regions) {
  RolloutOptions o;
  for (const auto& r : regions.all()) o.sequence.push_back(r.name);
  o.pacing["critical"] = {0, 1 * kHour, 0};
  o.pacing["high"] = {2 * kDay, 6 * kHour, 2};
  o.pacing["medium"] = {7 * kDay, 24 * kHour, 1};
  o.pacing["low"] = {14 * kDay, 48 * kHour, 1};
  o.batch_fractions = {0.10, 0.50};
  return o;
}

const Pacing& RolloutOptions::PacingFor(const std::string& severity) const {
  auto it = pacing.find(severity);
  return it != pacing.end() ? it->second : pacing.at("low");
}

Result<RolloutOptions> RolloutOptions::FromJson(const catalog::RegionSet& regions,
                                                const std::string& json_text) {
  RolloutOptions o = Defaults(regions);
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidParameter("config: rollout must be an object");
  }
  try {
    if (doc.contains("sequence")) {
      std::vector<std::string> seq;
      std::set<std::string> seen;
      for (const auto& r : doc["sequence"]) {
        std::string name = r.get<std::string>();
        if (regions.Find(name) == nullptr) {
          return InvalidParameter(
              fmt::format("config: rollout: sequence names unknown region {}", name));
        }
        if (!seen.insert(name).second) {
          return InvalidParameter(
              fmt::format("config: rollout: region {} appears twice in the sequence", name));
        }
        seq.push_back(name);
      }
      // Regions left out follow, in their configured order: every region gets the version.
      for (const auto& r : regions.all()) {
        if (!seen.contains(r.name)) seq.push_back(r.name);
      }
      o.sequence = std::move(seq);
    }
    if (doc.contains("pacing")) {
      for (const auto& [severity, p] : doc["pacing"].items()) {
        if (!o.pacing.contains(severity)) {
          return InvalidParameter(fmt::format(
              "config: rollout: pacing for unknown severity {} (critical, high, medium, low)",
              severity));
        }
        Pacing& pacing = o.pacing[severity];
        if (p.contains("phase1_wait")) {
          LAMBKIN_ASSIGN_OR_RETURN(pacing.phase1_wait_ms,
                                   DurationOf(p["phase1_wait"], severity + ".phase1_wait"));
        }
        if (p.contains("bake")) {
          LAMBKIN_ASSIGN_OR_RETURN(pacing.bake_ms, DurationOf(p["bake"], severity + ".bake"));
        }
        if (p.contains("regions_per_wave")) {
          pacing.regions_per_wave = p["regions_per_wave"].get<int>();
          if (pacing.regions_per_wave < 0) {
            return InvalidParameter("config: rollout: regions_per_wave must be 0 (all) or more");
          }
        }
      }
    }
    if (doc.contains("batches")) {
      o.batch_fractions = doc["batches"].get<std::vector<double>>();
      double last = 0;
      for (double f : o.batch_fractions) {
        if (f <= last || f >= 1) {
          return InvalidParameter(
              "config: rollout: batches must be rising fractions between 0 and 1 (exclusive)");
        }
        last = f;
      }
    }
    if (doc.contains("gate")) {
      const auto& g = doc["gate"];
      o.gate.error_rate_threshold = g.value("error_rate_threshold", o.gate.error_rate_threshold);
      o.gate.min_samples = g.value("min_samples", o.gate.min_samples);
      o.gate.max_bake_extensions = g.value("max_bake_extensions", o.gate.max_bake_extensions);
      o.gate.revert_on_halt = g.value("revert_on_halt", o.gate.revert_on_halt);
      if (o.gate.error_rate_threshold < 0 || o.gate.error_rate_threshold > 1 ||
          o.gate.min_samples < 0 || o.gate.max_bake_extensions < 0) {
        return InvalidParameter(
            "config: rollout: gate needs error_rate_threshold in [0, 1] and non-negative counts");
      }
    }
    if (doc.contains("sweep")) {
      const auto& s = doc["sweep"];
      o.sweep.chunk_size = s.value("chunk_size", o.sweep.chunk_size);
      o.sweep.max_migrations_per_second =
          s.value("max_migrations_per_second", o.sweep.max_migrations_per_second);
      if (o.sweep.chunk_size < 1 || o.sweep.max_migrations_per_second < 0) {
        return InvalidParameter(
            "config: rollout: sweep.chunk_size must be positive, max_migrations_per_second >= 0");
      }
    }
    o.hold_incompatible = doc.value("hold_incompatible", o.hold_incompatible);
  } catch (const nlohmann::json::exception& e) {
    return InvalidParameter(fmt::format("config: rollout: {}", e.what()));
  }
  return o;
}

}  // namespace lambkin::rollout
