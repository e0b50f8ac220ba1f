// lambkin insights report RULE [--period 5m] [--since 3h] [--region R] [--png F] [--svg F]
//
// Draws a Contributor Insights report as a chart: one line per contributor (for the Lambda
// runtime-version rule, one per runtime version) over the window, in the terminal, and as a PNG
// or SVG image when asked. --json prints the report instead.
#pragma once

#include <string>

#include "cli/rollout_command.h"

namespace lambkin::cli {

struct InsightsReportOptions {
  std::string rule;
  std::string region;
  std::string period = "5m";
  std::string since = "3h";
  int max_contributors = 10;
  int width = 72;
  int height = 16;
  std::string png;
  std::string svg;
};

int InsightsReport(const AdminOptions& o, const InsightsReportOptions& r);

}  // namespace lambkin::cli
