#include "exec/log_levels.h"

#include <gtest/gtest.h>

namespace lambkin::exec {
namespace {

TEST(LogLevelsTest, NamesAreCaseInsensitiveWithPythonsSpellings) {
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("Trace"), LogLevel::kTrace);
  EXPECT_EQ(ParseLogLevel("WARNING"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("critical"), LogLevel::kFatal);
  EXPECT_EQ(ParseLogLevel("FATAL"), LogLevel::kFatal);
  EXPECT_FALSE(ParseLogLevel("nonsense").has_value());
  EXPECT_LT(LogLevel::kTrace, LogLevel::kFatal);
}

TEST(LogLevelsTest, AJsonLineWithALevelAndATimestampHasThatLevel) {
  // The Lambda guide's own example.
  EXPECT_EQ(
      OutputLineLevel(
          R"({"level": "debug", "msg": "my debug log", "timestamp": "2024-11-02T16:51:31.587199Z"})"),
      LogLevel::kDebug);
  // AWS's Python runtime: seconds only; an uncaught error says log_level.
  EXPECT_EQ(
      OutputLineLevel(
          R"({"timestamp": "2025-10-03T16:55:27Z", "level": "WARNING", "message": "m", "logger": "root", "requestId": ""})"
          "\n"),
      LogLevel::kWarn);
  EXPECT_EQ(OutputLineLevel(
                R"({"timestamp": "2025-10-03T16:55:27Z", "log_level": "ERROR", "errorType": "E"})"),
            LogLevel::kError);
  // AWS's Node.js runtime, and an offset instead of Z.
  EXPECT_EQ(
      OutputLineLevel(
          R"({"timestamp":"2026-10-08T07:30:29.443Z","level":"TRACE","requestId":"r","message":"x"})"),
      LogLevel::kTrace);
  EXPECT_EQ(OutputLineLevel(R"({"time":"2026-10-08 07:30:29+02:00","level":"fatal"})"),
            LogLevel::kFatal);
}

TEST(LogLevelsTest, AnythingElseIsInfo) {
  for (const char* line : {"plain text from print()\n", "", "{not json", R"(["level","ERROR"])",
                           R"({"level":"ERROR","message":"no timestamp"})",
                           R"({"level":"ERROR","timestamp":"yesterday"})",
                           R"({"level":"ERROR","timestamp":"2024-11-02T16:51:31"})",
                           R"({"level":"LOUD","timestamp":"2024-11-02T16:51:31Z"})",
                           R"({"level":3,"timestamp":"2024-11-02T16:51:31Z"})"}) {
    EXPECT_EQ(OutputLineLevel(line), LogLevel::kInfo) << line;
  }
}

}  // namespace
}  // namespace lambkin::exec
