#include "rollout/options.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace lambkin::rollout {
namespace {

TEST(Duration, ParsesWhatOperatorsType) {
  EXPECT_EQ(ParseDurationMillis("72h"), 72 * 3'600'000LL);
  EXPECT_EQ(ParseDurationMillis("1h30m"), 90 * 60'000LL);
  EXPECT_EQ(ParseDurationMillis("2d"), 2 * 86'400'000LL);
  EXPECT_EQ(ParseDurationMillis("90s"), 90'000);
  EXPECT_EQ(ParseDurationMillis("250ms"), 250);
  EXPECT_EQ(ParseDurationMillis("1w"), 7 * 86'400'000LL);
  for (const char* bad : {"", "h", "72", "3x", "-1h", "1.5h", "1h ", "99999999999999999999d"}) {
    EXPECT_FALSE(ParseDurationMillis(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatDuration(2 * 86'400'000LL + 4 * 3'600'000LL), "2d 4h");
  EXPECT_EQ(FormatDuration(6 * 3'600'000LL), "6h");
  EXPECT_EQ(FormatDuration(0), "0s");
}

TEST(RolloutOptions, DefaultsFollowTheSpecTable) {
  auto o = RolloutOptions::Defaults(catalog::RegionSet::Default());
  EXPECT_EQ(o.sequence.front(), "us-east-1");
  EXPECT_EQ(o.sequence.size(), catalog::RegionSet::Default().all().size());
  EXPECT_EQ(o.PacingFor("critical").phase1_wait_ms, 0);
  EXPECT_EQ(o.PacingFor("critical").regions_per_wave, 0);
  EXPECT_EQ(o.PacingFor("high").phase1_wait_ms, 2 * 86'400'000LL);
  EXPECT_EQ(o.PacingFor("medium").bake_ms, 24 * 3'600'000LL);
  EXPECT_EQ(o.PacingFor("low").phase1_wait_ms, 14 * 86'400'000LL);
}

TEST(RolloutOptions, ConfigOverridesAndCompletesTheSequence) {
  auto o = RolloutOptions::FromJson(
      catalog::RegionSet::Default(),
      R"({"sequence": ["eu-west-1", "us-west-2"], "pacing": {"low": {"bake": "3h",
          "regions_per_wave": 4}}, "gate": {"revert_on_halt": true}})");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->sequence[0], "eu-west-1");
  EXPECT_EQ(o->sequence[1], "us-west-2");
  EXPECT_EQ(o->sequence[2], "us-east-1");
  EXPECT_EQ(o->sequence.size(), catalog::RegionSet::Default().all().size());
  EXPECT_EQ(o->PacingFor("low").bake_ms, 3 * 3'600'000LL);
  EXPECT_EQ(o->PacingFor("low").regions_per_wave, 4);
  EXPECT_EQ(o->PacingFor("low").phase1_wait_ms, 14 * 86'400'000LL);
  EXPECT_TRUE(o->gate.revert_on_halt);
}

TEST(RolloutOptions, RefusesWhatCannotWork) {
  const auto regions = catalog::RegionSet::Default();
  for (const char* bad : {
           R"({"sequence": ["mars-north-1"]})",
           R"({"sequence": ["us-east-1", "us-east-1"]})",
           R"({"pacing": {"urgent": {}}})",
           R"({"pacing": {"high": {"bake": "soon"}}})",
           R"({"pacing": {"high": {"regions_per_wave": -1}}})",
           R"({"batches": [0.5, 0.1]})",
           R"({"batches": [1.0]})",
           R"({"gate": {"error_rate_threshold": 2}})",
           R"({"sweep": {"chunk_size": 0}})",
           R"([1, 2])",
       }) {
    EXPECT_FALSE(RolloutOptions::FromJson(regions, bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lambkin::rollout
