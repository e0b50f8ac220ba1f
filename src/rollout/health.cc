#include "rollout/health.h"

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
}  // namespace

const store::Migrations& HealthSchema() {
  static const store::Migrations kMigrations = {
      {"invocation_stats", 1, kHealthDdl, ""},
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
    return Status::Ok();
  });
  if (!s.ok()) {
    // Keep the counts for the next attempt.
    std::lock_guard lock(mu_);
    for (const auto& [key, counts] : batch) {
      pending_[key].invocations += counts.invocations;
      pending_[key].errors += counts.errors;
    }
  }
  return s;
}

}  // namespace lambkin::rollout
