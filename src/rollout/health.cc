#include "rollout/health.h"

#include <algorithm>
#include <charconv>

namespace lambkin::rollout {

namespace {
constexpr char kHealthDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS invocation_stats (
  region TEXT NOT NULL,
  runtime_version INTEGER NOT NULL,
  account TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,  -- 0 is $LATEST
  invocations INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  PRIMARY KEY (region, runtime_version, account, name, version)
) WITHOUT ROWID;
)sql";

constexpr int64_t kDayMillis = 86400000;

// When each function version last ran and how often, per UTC day (the compliance report's
// "last ran" and "invocations in the last 30 days").
constexpr char kActivityDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS function_activity (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,  -- 0 is $LATEST
  day INTEGER NOT NULL,      -- days since the epoch (UTC)
  invocations INTEGER NOT NULL,
  last_at INTEGER NOT NULL,  -- ms since the epoch
  PRIMARY KEY (account, region, name, version, day)
) WITHOUT ROWID;
)sql";
}  // namespace

const store::Migrations& HealthSchema() {
  static const store::Migrations kMigrations = {
      {"invocation_stats", 1, kHealthDdl, ""},
      {"invocation_stats", 2, kActivityDdl, ""},
  };
  return kMigrations;
}

void HealthStats::OnInvocation(const functions::Scope& scope, const std::string& function,
                               const std::string& version, int64_t runtime_version, bool error) {
  int64_t number = 0;
  if (version != functions::kLatest) {
    std::from_chars(version.data(), version.data() + version.size(), number);
  }
  std::lock_guard lock(mu_);
  Counts& c = pending_[Key{scope.account, scope.region, function, number, runtime_version}];
  ++c.invocations;
  if (error) ++c.errors;
  c.last_at = std::max(c.last_at, clock_->NowMillis());
}

Status HealthStats::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::map<Key, Counts> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return Status::Ok();
  Status s = db_->Transact([&](store::Database::Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare(
            "INSERT INTO invocation_stats (region, runtime_version, account, name, version, "
            "invocations, errors) VALUES (?,?,?,?,?,?,?) ON CONFLICT (region, runtime_version, "
            "account, name, version) DO UPDATE SET "
            "invocations = invocation_stats.invocations + excluded.invocations, "
            "errors = invocation_stats.errors + excluded.errors"));
    for (const auto& [key, counts] : batch) {
      const auto& [account, region, name, version, rv] = key;
      st.Bind(1, region).Bind(2, rv).Bind(3, account).Bind(4, name).Bind(5, version);
      st.Bind(6, counts.invocations).Bind(7, counts.errors);
      LAMBKIN_RETURN_IF_ERROR(st.Run());
      LAMBKIN_RETURN_IF_ERROR(st.Reset());
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto activity,
        txn.Prepare("INSERT INTO function_activity (account, region, name, version, day, "
                    "invocations, last_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (account, region, "
                    "name, version, day) DO UPDATE SET "
                    "invocations = function_activity.invocations + excluded.invocations, "
                    "last_at = CASE WHEN excluded.last_at > function_activity.last_at THEN "
                    "excluded.last_at ELSE function_activity.last_at END"));
    for (const auto& [key, counts] : batch) {
      const auto& [account, region, name, version, rv] = key;
      activity.Bind(1, account).Bind(2, region).Bind(3, name).Bind(4, version);
      activity.Bind(5, counts.last_at / kDayMillis).Bind(6, counts.invocations);
      activity.Bind(7, counts.last_at);
      LAMBKIN_RETURN_IF_ERROR(activity.Run());
      LAMBKIN_RETURN_IF_ERROR(activity.Reset());
    }
    return Status::Ok();
  });
  if (!s.ok()) {
    // Keep the counts for the next attempt.
    std::lock_guard lock(mu_);
    for (const auto& [key, counts] : batch) {
      pending_[key].invocations += counts.invocations;
      pending_[key].errors += counts.errors;
      pending_[key].last_at = std::max(pending_[key].last_at, counts.last_at);
    }
  }
  return s;
}

}  // namespace lambkin::rollout
