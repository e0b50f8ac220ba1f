// Line charts of a time series per contributor, for people: drawn in a terminal with text, or
// written as a PNG or SVG image (Cairo). One chart model, three renderings that agree: the same
// series order, glyph/colour per series, scale and time labels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace lambkin::chart {

struct Series {
  std::string label;           // the legend's name, e.g. a runtime version
  std::string detail;          // a second legend column, e.g. its ARN
  std::vector<double> values;  // one per slot of Chart::times_ms
};

struct Chart {
  std::string title;
  std::string y_label;
  std::vector<int64_t> times_ms;  // slot start times, ascending, evenly spaced
  std::vector<Series> series;
};

// The chart as text: a `width`×`height` plot with a y scale, UTC time labels and a legend.
// `color` adds ANSI colours (for a terminal).
std::string RenderText(const Chart& chart, int width, int height, bool color);

// The chart as an image file.
Status WritePng(const Chart& chart, const std::string& path);
Status WriteSvg(const Chart& chart, const std::string& path);

// Shared by the renderings.
struct Scale {
  double max = 1;  // the top of the y axis: a round number >= every value
  int ticks = 4;   // intervals between 0 and max
};
Scale ScaleFor(const Chart& chart);
// "14:05" within two days, "11-21 14:05" beyond (UTC).
std::string TimeLabel(int64_t ms, int64_t span_ms);
std::string NumberLabel(double v);

}  // namespace lambkin::chart
