#include "chart/chart.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace lambkin::chart {
namespace {

Chart Transition() {
  Chart c;
  c.title = "rv";
  c.y_label = "Count";
  for (int i = 0; i < 6; ++i) c.times_ms.push_back(1700000000000 + i * 300000LL);
  c.series.push_back({"python:3.12.v20", "arn:v20", {6, 5, 3, 1, 0, 0}});
  c.series.push_back({"python:3.12.v21", "arn:v21", {0, 1, 3, 5, 6, 6}});
  return c;
}

TEST(ChartTest, ScaleIsARoundNumberAboveEveryValue) {
  Chart c = Transition();
  EXPECT_EQ(ScaleFor(c).max, 6);
  c.series[0].values[0] = 9;
  EXPECT_EQ(ScaleFor(c).max, 10);
  c.series[0].values[0] = 1234;
  EXPECT_EQ(ScaleFor(c).max, 1500);
  Chart empty;
  EXPECT_EQ(ScaleFor(empty).max, 1);
}

TEST(ChartTest, TextShowsEverySeriesFallingAndRisingWithALegend) {
  std::string text = RenderText(Transition(), 30, 7, /*color=*/false);
  std::istringstream lines(text);
  std::vector<std::string> rows;
  for (std::string l; std::getline(lines, l);) rows.push_back(l);
  // title, y label, 7 plot rows, axis, time labels, 2 legend rows
  ASSERT_EQ(rows.size(), 13u) << text;
  // The old version starts at the top left, the new one ends at the top right.
  EXPECT_EQ(rows[2].find("6 ┤●"), 0u) << text;
  EXPECT_NE(rows[2].rfind("■"), std::string::npos) << text;
  EXPECT_NE(rows[8].find("0 ┤■"), std::string::npos) << text;  // v21 starts at zero
  EXPECT_NE(rows[10].find("22:13"), std::string::npos) << text;
  EXPECT_NE(rows[10].find("UTC"), std::string::npos);
  EXPECT_NE(rows[11].find("● python:3.12.v20"), std::string::npos);
  EXPECT_NE(rows[11].find("15  arn:v20"), std::string::npos) << rows[11];
  EXPECT_NE(rows[12].find("■ python:3.12.v21"), std::string::npos);
  EXPECT_EQ(text.find("\033["), std::string::npos);
  EXPECT_NE(RenderText(Transition(), 30, 7, /*color=*/true).find("\033[31m●"), std::string::npos);
  EXPECT_NE(RenderText(Chart{}, 30, 7, false).find("no data"), std::string::npos);
}

TEST(ChartTest, WritesPngAndSvgImages) {
  std::string dir = ::testing::TempDir();
  ASSERT_TRUE(WritePng(Transition(), dir + "/chart.png").ok());
  ASSERT_TRUE(WriteSvg(Transition(), dir + "/chart.svg").ok());
  std::ifstream png(dir + "/chart.png", std::ios::binary);
  char magic[8] = {};
  png.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
  std::ifstream svg(dir + "/chart.svg");
  std::stringstream ss;
  ss << svg.rdbuf();
  EXPECT_NE(ss.str().find("<svg"), std::string::npos);
  EXPECT_GT(std::filesystem::file_size(dir + "/chart.png"), 2000u);
  EXPECT_FALSE(WritePng(Transition(), "/nonexistent-dir/x.png").ok());
}

}  // namespace
}  // namespace lambkin::chart
