// Runtime lifecycles: when a runtime (identifier, python3.11) is deprecated and when Lambda stops
// letting functions be created, then updated, with it (spec/compliance.md §2). Set by the
// operator, shaped after AWS's ReleaseLifecycle (DeprecationDate, FunctionCreateBlockDate,
// FunctionUpdateBlockDate, YYYY-MM-DD in UTC: each takes effect at 00:00 UTC that day) and read
// against the injected clock, so a simulated clock walks a runtime through its life.
// Invocations never stop; only CreateFunction, UpdateFunctionCode and
// UpdateFunctionConfiguration are refused, with AWS's message.
//
// Kept in the catalog's table runtime_lifecycles (catalog::Schema() migration 2) and read inside
// the caller's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace lambkin::catalog {

struct RuntimeLifecycle {
  std::string runtime;
  // YYYY-MM-DD (UTC); nullopt: not scheduled.
  std::optional<std::string> deprecation_date;
  std::optional<std::string> create_block_date;
  std::optional<std::string> update_block_date;
};

enum class LifecycleGate { kCreate, kUpdate };

// Milliseconds since the epoch of 00:00 UTC on a YYYY-MM-DD date; nullopt when it is not a
// real date in that form.
std::optional<int64_t> DateMillis(std::string_view date);

// kInvalidParameterValue unless every date is a real YYYY-MM-DD date and they come in order
// (deprecation ≤ create block ≤ update block, where set).
Status ValidateLifecycle(const RuntimeLifecycle& lifecycle);

// "GA" before the deprecation date (or without one), "DEPRECATED" from it.
std::string_view ReleaseState(const RuntimeLifecycle& lifecycle, int64_t now_ms);
bool Blocks(const RuntimeLifecycle& lifecycle, LifecycleGate gate, int64_t now_ms);
// The next date still ahead of `now_ms`, with what happens then ("deprecation",
// "create block", "update block"); nullopt when none is.
struct NextDate {
  std::string what;
  std::string date;
  int64_t at_ms = 0;
};
std::optional<NextDate> NextLifecycleDate(const RuntimeLifecycle& lifecycle, int64_t now_ms);

// AWS's message for a runtime that takes no more creates or updates.
std::string BlockedRuntimeMessage(std::string_view runtime);

Result<std::optional<RuntimeLifecycle>> LoadLifecycle(store::Txn& txn, std::string_view runtime);
Result<std::vector<RuntimeLifecycle>> LoadLifecycles(store::Txn& txn);
// Replaces the runtime's lifecycle (validated first); one without any date is removed.
Status StoreLifecycle(store::Txn& txn, const RuntimeLifecycle& lifecycle);

// kInvalidParameterValue with AWS's message when `gate` is blocked for `runtime` at `now_ms`.
Status CheckLifecycle(store::Txn& txn, std::string_view runtime, LifecycleGate gate,
                      int64_t now_ms);

}  // namespace lambkin::catalog
