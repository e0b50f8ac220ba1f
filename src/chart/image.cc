// PNG and SVG renderings of a Chart, drawn once with Cairo onto either surface.
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "chart/chart.h"

namespace lambkin::chart {

namespace {

constexpr double kWidth = 960;
constexpr double kPlotHeight = 420;
constexpr double kLegendRow = 22;
constexpr double kLeft = 70, kRight = 30, kTop = 62, kBottom = 50;

struct Rgb {
  double r, g, b;
};
// The terminal palette's colours, in the same order.
constexpr Rgb kPalette[] = {{0.84, 0.15, 0.16}, {0.17, 0.63, 0.17}, {0.12, 0.47, 0.71},
                            {0.85, 0.65, 0.13}, {0.58, 0.40, 0.74}, {0.09, 0.75, 0.81},
                            {0.55, 0.34, 0.29}, {0.50, 0.50, 0.50}};

double Height(const Chart& chart) {
  return kTop + kPlotHeight + kBottom + kLegendRow * static_cast<double>(chart.series.size()) + 10;
}

void Text(cairo_t* cr, double x, double y, const std::string& s, double size, double align) {
  cairo_set_font_size(cr, size);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, s.c_str(), &ext);
  cairo_move_to(cr, x - ext.x_advance * align, y);
  cairo_show_text(cr, s.c_str());
}

void Draw(cairo_t* cr, const Chart& chart) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  Text(cr, kLeft, 28, chart.title, 16, 0);
  double x0 = kLeft, x1 = kWidth - kRight, y0 = kTop + kPlotHeight, y1 = kTop;
  Scale scale = ScaleFor(chart);
  // Grid and y labels.
  cairo_set_line_width(cr, 1);
  for (int t = 0; t <= scale.ticks; ++t) {
    double v = scale.max * t / scale.ticks;
    double y = y0 - (y0 - y1) * t / scale.ticks;
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, x0, y);
    cairo_line_to(cr, x1, y);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    Text(cr, x0 - 8, y + 4, NumberLabel(v), 12, 1);
  }
  Text(cr, x0 - 8, y1 - 12, chart.y_label, 12, 0.5);
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_move_to(cr, x0, y1);
  cairo_line_to(cr, x0, y0);
  cairo_line_to(cr, x1, y0);
  cairo_stroke(cr);
  size_t n = chart.times_ms.size();
  auto px = [&](size_t i) {
    return n <= 1 ? (x0 + x1) / 2
                  : x0 + (x1 - x0) * static_cast<double>(i) / static_cast<double>(n - 1);
  };
  auto py = [&](double v) { return y0 - (y0 - y1) * v / scale.max; };
  // Time labels: up to 6, evenly spread.
  if (n > 0) {
    int64_t span = chart.times_ms.back() - chart.times_ms.front();
    size_t labels = std::min<size_t>(n, 6);
    for (size_t k = 0; k < labels; ++k) {
      size_t i = labels == 1 ? 0 : k * (n - 1) / (labels - 1);
      double align = labels == 1 ? 0.5 : static_cast<double>(k) / static_cast<double>(labels - 1);
      Text(cr, px(i), y0 + 20, TimeLabel(chart.times_ms[i], span), 12, align);
    }
    Text(cr, x1, y0 + 40, "UTC", 11, 1);
  }
  // Series: a line through the datapoints, a dot on each.
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const Rgb& c = kPalette[s % std::size(kPalette)];
    cairo_set_source_rgb(cr, c.r, c.g, c.b);
    cairo_set_line_width(cr, 2.5);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    const auto& values = chart.series[s].values;
    for (size_t i = 0; i < n; ++i) {
      if (i == 0) {
        cairo_move_to(cr, px(i), py(values[i]));
      } else {
        cairo_line_to(cr, px(i), py(values[i]));
      }
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < n && n <= 200; ++i) {
      cairo_arc(cr, px(i), py(values[i]), 3.5, 0, 2 * M_PI);
      cairo_fill(cr);
    }
    // Legend.
    double ly = kTop + kPlotHeight + kBottom + kLegendRow * static_cast<double>(s) + 14;
    cairo_rectangle(cr, kLeft, ly - 10, 14, 10);
    cairo_fill(cr);
    double total = 0;
    for (double v : values) total += v;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    Text(cr, kLeft + 22, ly,
         fmt::format("{}  ({})  {}", chart.series[s].label, NumberLabel(total),
                     chart.series[s].detail),
         12, 0);
  }
}

Status Finish(cairo_surface_t* surface, cairo_t* cr, const std::string& path, bool png) {
  cairo_destroy(cr);
  cairo_surface_flush(surface);
  cairo_status_t st =
      png ? cairo_surface_write_to_png(surface, path.c_str()) : cairo_surface_status(surface);
  cairo_surface_finish(surface);
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  if (st != CAIRO_STATUS_SUCCESS) {
    return Internal(fmt::format("cannot write {}: {}", path, cairo_status_to_string(st)));
  }
  return Status::Ok();
}

}  // namespace

Status WritePng(const Chart& chart, const std::string& path) {
  cairo_surface_t* surface = cairo_image_surface_create(
      CAIRO_FORMAT_ARGB32, static_cast<int>(kWidth), static_cast<int>(std::ceil(Height(chart))));
  cairo_t* cr = cairo_create(surface);
  Draw(cr, chart);
  return Finish(surface, cr, path, /*png=*/true);
}

Status WriteSvg(const Chart& chart, const std::string& path) {
  cairo_surface_t* surface = cairo_svg_surface_create(path.c_str(), kWidth, Height(chart));
  cairo_t* cr = cairo_create(surface);
  Draw(cr, chart);
  return Finish(surface, cr, path, /*png=*/false);
}

}  // namespace lambkin::chart
