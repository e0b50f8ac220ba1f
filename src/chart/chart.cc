#include "chart/chart.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

namespace lambkin::chart {

namespace {

constexpr const char* kGlyphs[] = {"●", "■", "▲", "◆", "✚", "○", "□", "△"};
constexpr const char* kColors[] = {"\033[31m", "\033[32m", "\033[34m", "\033[33m",
                                   "\033[35m", "\033[36m", "\033[91m", "\033[92m"};
constexpr const char* kReset = "\033[0m";
constexpr int kStyles = 8;

struct Cell {
  int series = -1;
  bool point = false;
};

}  // namespace

Scale ScaleFor(const Chart& chart) {
  double top = 0;
  for (const auto& s : chart.series) {
    for (double v : s.values) top = std::max(top, v);
  }
  if (top <= 0) return {1, 1};
  // The smallest 1, 2 or 5 × 10^k step with 4 (or fewer) intervals covering `top`.
  double magnitude = std::pow(10.0, std::floor(std::log10(top / 4)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    double step = m * magnitude;
    if (step < 1 && top >= 1) continue;  // counts: whole steps
    int ticks = static_cast<int>(std::ceil(top / step - 1e-9));
    if (ticks <= 4) return {step * ticks, std::max(ticks, 1)};
  }
  return {top, 4};
}

std::string NumberLabel(double v) {
  if (std::fabs(v - std::round(v)) < 1e-9) return fmt::format("{}", std::llround(v));
  return fmt::format("{:.2g}", v);
}

std::string TimeLabel(int64_t ms, int64_t span_ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, span_ms > 2LL * 86400000 ? "%m-%d %H:%M" : "%H:%M", &tm);
  return buf;
}

std::string RenderText(const Chart& chart, int width, int height, bool color) {
  std::string out;
  if (!chart.title.empty()) out += chart.title + "\n";
  size_t n = chart.times_ms.size();
  if (n == 0 || chart.series.empty()) return out + "  (no data in this window)\n";
  width = std::max(width, 10);
  height = std::max(height, 3);
  Scale scale = ScaleFor(chart);
  std::vector<std::vector<Cell>> grid(height, std::vector<Cell>(width));
  auto column = [&](size_t i) {
    return n == 1 ? width / 2
                  : static_cast<int>(std::lround(static_cast<double>(i) * (width - 1) /
                                                 static_cast<double>(n - 1)));
  };
  auto row = [&](double v) { return static_cast<int>(std::lround(v / scale.max * (height - 1))); };
  // Lines first, every series; then the points on top, so no datapoint is hidden by a line.
  for (int s = 0; s < static_cast<int>(chart.series.size()); ++s) {
    const auto& values = chart.series[s].values;
    for (size_t i = 0; i + 1 < n; ++i) {
      int x0 = column(i), y0 = row(values[i]), x1 = column(i + 1), y1 = row(values[i + 1]);
      int steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1});
      for (int k = 1; k < steps; ++k) {
        int x = x0 + static_cast<int>(std::lround(static_cast<double>(x1 - x0) * k / steps));
        int y = y0 + static_cast<int>(std::lround(static_cast<double>(y1 - y0) * k / steps));
        Cell& c = grid[height - 1 - y][x];
        if (!c.point) c.series = s;
      }
    }
  }
  for (int s = 0; s < static_cast<int>(chart.series.size()); ++s) {
    for (size_t i = 0; i < n; ++i) {
      grid[height - 1 - row(chart.series[s].values[i])][column(i)] = {s, true};
    }
  }
  std::vector<std::string> labels(height);
  for (int t = 0; t <= scale.ticks; ++t) {
    double v = scale.max * t / scale.ticks;
    labels[height - 1 - row(v)] = NumberLabel(v);
  }
  size_t label_width = 0;
  for (const auto& l : labels) label_width = std::max(label_width, l.size());
  if (!chart.y_label.empty()) out += fmt::format("{:>{}}\n", chart.y_label, label_width + 1);
  for (int y = 0; y < height; ++y) {
    out += fmt::format("{:>{}} {}", labels[y], label_width, labels[y].empty() ? "│" : "┤");
    for (int x = 0; x < width; ++x) {
      const Cell& c = grid[y][x];
      if (c.series < 0) {
        out += ' ';
        continue;
      }
      const char* glyph = c.point ? kGlyphs[c.series % kStyles] : "·";
      out += color ? fmt::format("{}{}{}", kColors[c.series % kStyles], glyph, kReset) : glyph;
    }
    out += '\n';
  }
  out += std::string(label_width + 1, ' ') + "└";
  for (int x = 0; x < width; ++x) out += "─";
  out += '\n';
  int64_t span = chart.times_ms.back() - chart.times_ms.front();
  std::string first = TimeLabel(chart.times_ms.front(), span);
  std::string last = TimeLabel(chart.times_ms.back(), span);
  std::string axis(static_cast<size_t>(width) + 2, ' ');
  axis.replace(0, first.size(), first);
  if (n > 1 && static_cast<size_t>(width) > first.size() + last.size() + 2) {
    axis.replace(axis.size() - last.size(), last.size(), last);
  }
  out += std::string(label_width, ' ') + axis + " UTC\n";
  for (int s = 0; s < static_cast<int>(chart.series.size()); ++s) {
    const auto& series = chart.series[s];
    double total = 0;
    for (double v : series.values) total += v;
    std::string glyph =
        color ? fmt::format("{}{}{}", kColors[s % kStyles], kGlyphs[s % kStyles], kReset)
              : kGlyphs[s % kStyles];
    out += fmt::format("  {} {:<24} {:>8}  {}\n", glyph, series.label, NumberLabel(total),
                       series.detail);
  }
  return out;
}

}  // namespace lambkin::chart
