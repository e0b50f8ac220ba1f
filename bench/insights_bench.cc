// Contributor Insights: the cost of evaluating rules as log events arrive, and of backfilling a
// new rule over the events already stored.
//
// Lines are a Lambda-like mix over 100 functions: START / END / REPORT / application output, and
// one INIT_START in 1,000. Measured in the same run:
//   evaluation: the Lambda docs' rule compiled and evaluated on every line (aim <= 1 us/event);
//   append:     LogStore::Append in 10,000-event batches with no rule, then with the Lambda rule
//               active (the incremental cost per event, aggregates included), and with the head
//               index dropped (what the index costs the write path);
//   backfill:   PutInsightRule of the Lambda rule over N stored lines (default 10,000,000) — the
//               head index path — and of a rule with no first-field filter (every line read and
//               evaluated, in parallel), each as bytes per second against `grep -c INIT_START`
//               over the same lines in a file (aim: ratio >= 1).
// Usage: insights_bench [lines]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <fmt/format.h>

#include "in_process.h"
#include "insights/insight_rules.h"
#include "logs/log_store.h"
#include "store/database.h"

namespace fs = std::filesystem;
using namespace lambkin;
using bench::Check;
using bench::Time;

namespace {

constexpr char kLambdaRule[] =
    R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"eventType","In":["INIT_START"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}})";
// The same contributors without a filter on the first field: a backfill must read every line.
constexpr char kScanRule[] =
    R"({"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"runtimeVersionArn","StartsWith":["arn:aws:lambda:"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}})";
constexpr int kFunctions = 100;
constexpr size_t kBatch = 10'000;

// Line i of the mix.
std::string Line(uint64_t i, std::mt19937_64& rng) {
  std::string rid = fmt::format("{:08x}-1c2d-4e5f-8a9b-{:012x}", i, i * 7);
  if (i % 1000 == 0) {
    int v = 20 + static_cast<int>(rng() % 2);
    return fmt::format(
        "INIT_START Runtime Version: python:3.12.v{}\tRuntime Version ARN: "
        "arn:aws:lambda:us-east-1::runtime:{:064x}",
        v, v * 0x9e3779b97f4a7c15ULL);
  }
  switch (rng() % 4) {
    case 0:
      return fmt::format("START RequestId: {} Version: $LATEST", rid);
    case 1:
      return fmt::format("END RequestId: {}", rid);
    case 2:
      return fmt::format(
          "REPORT RequestId: {}\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 "
          "MB\tMax Memory Used: 40 MB",
          rid);
    default:
      return fmt::format(
          "[INFO]\t2026-11-21T10:00:00.000Z\t{}\tprocessing order {} for customer {}", rid, i,
          i % 977);
  }
}

struct Store {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<logs::LogStore> logs;
  std::unique_ptr<insights::InsightRules> rules;
};

Store Open(const std::string& dir, const Clock* clock) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  Store s;
  auto db = store::Database::Open(dir + "/lambkin.db", logs::Schema() + insights::Schema());
  Check(db.status(), "open");
  s.db = std::move(*db);
  s.logs = std::make_unique<logs::LogStore>(s.db.get(), clock);
  s.rules = std::make_unique<insights::InsightRules>(s.db.get(), s.logs.get(), clock);
  Check(s.rules->Start(), "start");
  return s;
}

// Appends `lines` events, `kBatch` per call, round-robin over the functions' log groups.
double AppendAll(Store& s, uint64_t lines, int64_t t0, std::ofstream* text) {
  std::mt19937_64 rng(42);
  functions::Scope scope{"123456789012", "us-east-1"};
  return Time([&] {
    std::vector<logs::LogEvent> batch;
    for (uint64_t i = 0; i < lines;) {
      batch.clear();
      for (size_t k = 0; k < kBatch && i < lines; ++k, ++i) {
        batch.push_back({t0 + static_cast<int64_t>(i / 100), Line(i, rng)});
        if (text != nullptr) *text << batch.back().message << '\n';
      }
      uint64_t fn = (i / kBatch) % kFunctions;
      Check(s.logs->Append(scope, fmt::format("/aws/lambda/fn-{}", fn), "2026/11/21/[$LATEST]s",
                           batch, /*create=*/true),
            "append");
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t lines = argc > 1 ? std::stoull(argv[1]) : 10'000'000;
  std::string dir = (fs::temp_directory_path() / "lambkin-insights-bench").string();
  ManualClock clock(1'790'000'000'000);
  int64_t t0 = clock.NowMillis() - 86'400'000;

  // 1. Evaluation alone.
  {
    auto rule = insights::Rule::Parse(kLambdaRule);
    Check(rule.status(), "rule");
    std::mt19937_64 rng(7);
    std::vector<std::string> sample;
    for (uint64_t i = 0; i < 1'000'000; ++i) sample.push_back(Line(i, rng));
    insights::Contribution c;
    uint64_t matched = 0;
    double t = Time([&] {
      for (int round = 0; round < 5; ++round) {
        for (const auto& m : sample) matched += rule->Evaluate(m, c) ? 1 : 0;
      }
    });
    std::printf(
        "evaluation: Lambda rule on %zu lines x5: %.1f ns/event (%lu matched; aim <= 1000 ns)\n",
        sample.size(), t * 1e9 / (5.0 * static_cast<double>(sample.size())),
        static_cast<unsigned long>(matched));
    std::fflush(stdout);
  }

  // 2. The append path: no rule, the Lambda rule, and no head index; best of three rounds each,
  // interleaved so that none gains from running last.
  {
    uint64_t n = std::min<uint64_t>(lines, 500'000);
    double none = 1e9, with_rule = 1e9, no_index = 1e9;
    for (int round = 0; round < 3; ++round) {
      Store plain = Open(dir + "/plain", &clock);
      none = std::min(none, AppendAll(plain, n, t0, nullptr));
      Store ruled = Open(dir + "/ruled", &clock);
      Check(ruled.rules->Put({"123456789012", "us-east-1"}, {"rv", kLambdaRule}).status(), "put");
      with_rule = std::min(with_rule, AppendAll(ruled, n, t0, nullptr));
      Store unindexed = Open(dir + "/unindexed", &clock);
      Check(unindexed.db->Transact([](store::Database::Txn& txn) {
        return txn.Exec("DROP INDEX log_events_by_head");
      }),
            "drop index");
      no_index = std::min(no_index, AppendAll(unindexed, n, t0, nullptr));
    }
    double per = static_cast<double>(n);
    std::printf(
        "append: %lu events in batches of %zu (best of 3): no rule %.0f events/s, Lambda rule "
        "%.0f events/s (%+.0f ns/event, ratio %.2f); without the head index %.0f events/s (the "
        "index costs %.0f%%)\n",
        static_cast<unsigned long>(n), kBatch, per / none, per / with_rule,
        (with_rule - none) * 1e9 / per, with_rule / none, per / no_index,
        (none / no_index - 1) * 100);
    std::fflush(stdout);
  }

  // 3. Backfill over `lines` stored events vs grep over the same lines.
  Store big = Open(dir + "/big", &clock);
  std::string text_path = dir + "/lines.txt";
  std::ofstream text(text_path);
  double fill = AppendAll(big, lines, t0, &text);
  text.close();
  double file_bytes = static_cast<double>(fs::file_size(text_path));
  std::printf("store: %lu lines (%.0f MB of text) stored in %.1f s\n",
              static_cast<unsigned long>(lines), file_bytes / 1e6, fill);
  // Not to /dev/null: GNU grep then stops at the first match.
  std::string grep = fmt::format("grep -c INIT_START {} > {}/count", text_path, dir);
  double grep_s = 1e9;
  for (int i = 0; i < 3; ++i) {  // best of three, the file in the page cache
    grep_s = std::min(grep_s, Time([&] {
                        if (std::system(grep.c_str()) != 0) std::exit(1);
                      }));
  }
  double grep_rate = file_bytes / grep_s;
  std::printf("baseline: grep -c INIT_START: %.3f s, %.0f MB/s\n", grep_s, grep_rate / 1e6);
  functions::Scope scope{"123456789012", "us-east-1"};
  for (const auto& rule :
       {std::pair{"lambda-rule", kLambdaRule}, std::pair{"full-scan-rule", kScanRule}}) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const char* name = rule.first;
    const auto& definition = rule.second;
    insights::BackfillStats stats;
    double t = Time([&] {
      auto r = big.rules->Put(scope, {name, definition});
      Check(r.status(), "backfill");
      stats = *r;
    });
    // Bytes covered: every stored line (what grep reads), over the backfill's time.
    double rate = file_bytes / t;
    std::printf(
        "backfill %-14s %.3f s, %lu events read, %lu matched: %.0f MB/s, ratio vs grep %.2f "
        "(aim >= 1)\n",
        name, t, static_cast<unsigned long>(stats.events),
        static_cast<unsigned long>(stats.matched), rate / 1e6, rate / grep_rate);
  }
  std::printf("peak RSS: %ld MB\n", bench::PeakRssMb());
  fs::remove_all(dir);
  return 0;
}
