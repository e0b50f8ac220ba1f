// HealthStats: invocation outcomes per function version and runtime version, the evidence the
// rollout's health gate weighs, and each function version's activity per day (when it last ran,
// how often: the compliance report's columns). Counted in memory on the invocation path (a map
// update under a mutex) and added to the store's invocation_stats table by Flush(), which the
// rollout engine calls every second and before each verdict. A crash loses at most the unflushed
// second.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "common/clock.h"
#include "exec/invoker.h"
#include "store/database.h"

namespace lambkin::rollout {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& HealthSchema();

class HealthStats : public exec::InvocationObserver {
 public:
  HealthStats(store::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  void OnInvocation(const functions::Scope& scope, const std::string& function,
                    const std::string& version, int64_t runtime_version, bool error) override;
  // Adds the counts gathered since the last flush to the store.
  Status Flush();

 private:
  // account, region, function, version number (0 = $LATEST), runtime version
  using Key = std::tuple<std::string, std::string, std::string, int64_t, int64_t>;
  struct Counts {
    int64_t invocations = 0;
    int64_t errors = 0;
    int64_t last_at = 0;  // the clock's time of the last one
  };

  store::Database* db_;
  const Clock* clock_;
  std::mutex flush_mu_;  // one flush at a time, so counts reach the store in order
  std::mutex mu_;
  std::map<Key, Counts> pending_;
};

}  // namespace lambkin::rollout
