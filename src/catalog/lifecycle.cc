#include "catalog/lifecycle.h"

#include <chrono>

#include <fmt/format.h>

namespace lambkin::catalog {

namespace {

// The dates in the order they fall, with what each one means.
struct Dated {
  const char* what;
  const std::optional<std::string>* date;
};
std::array<Dated, 3> Dates(const RuntimeLifecycle& l) {
  return {Dated{"deprecation", &l.deprecation_date}, Dated{"create block", &l.create_block_date},
          Dated{"update block", &l.update_block_date}};
}

bool Reached(const std::optional<std::string>& date, int64_t now_ms) {
  if (!date) return false;
  std::optional<int64_t> at = DateMillis(*date);
  return at && now_ms >= *at;
}

}  // namespace

std::optional<int64_t> DateMillis(std::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
  auto number = [&](size_t pos, size_t len) -> std::optional<int> {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (date[i] < '0' || date[i] > '9') return std::nullopt;
      v = v * 10 + (date[i] - '0');
    }
    return v;
  };
  auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (!y || !m || !d) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(*y), std::chrono::month(*m),
                                  std::chrono::day(*d)};
  if (!ymd.ok()) return std::nullopt;
  auto days = std::chrono::sys_days(ymd).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(days).count();
}

Status ValidateLifecycle(const RuntimeLifecycle& l) {
  std::optional<int64_t> previous;
  const char* previous_what = nullptr;
  for (const Dated& d : Dates(l)) {
    if (!*d.date) continue;
    std::optional<int64_t> at = DateMillis(**d.date);
    if (!at) {
      return InvalidParameter(
          fmt::format("The {} date '{}' of runtime {} is not a date in the form YYYY-MM-DD.",
                      d.what, **d.date, l.runtime));
    }
    if (previous && *at < *previous) {
      return InvalidParameter(
          fmt::format("The {} date of runtime {} ({}) comes before its {} date.", d.what, l.runtime,
                      **d.date, previous_what));
    }
    previous = at;
    previous_what = d.what;
  }
  return Status::Ok();
}

std::string_view ReleaseState(const RuntimeLifecycle& l, int64_t now_ms) {
  return Reached(l.deprecation_date, now_ms) ? "DEPRECATED" : "GA";
}

bool Blocks(const RuntimeLifecycle& l, LifecycleGate gate, int64_t now_ms) {
  // Blocking creates comes first: a runtime that takes no creates cannot be moved to either.
  if (Reached(l.create_block_date, now_ms) && gate == LifecycleGate::kCreate) return true;
  return Reached(l.update_block_date, now_ms);
}

std::optional<NextDate> NextLifecycleDate(const RuntimeLifecycle& l, int64_t now_ms) {
  for (const Dated& d : Dates(l)) {
    if (!*d.date) continue;
    std::optional<int64_t> at = DateMillis(**d.date);
    if (at && *at > now_ms) return NextDate{d.what, **d.date, *at};
  }
  return std::nullopt;
}

std::string BlockedRuntimeMessage(std::string_view runtime) {
  return fmt::format(
      "The runtime parameter of {} is no longer supported for creating or updating AWS Lambda "
      "functions. We recommend you use a supported runtime while creating or updating functions.",
      runtime);
}

namespace {
std::optional<std::string> OptionalText(store::Statement& st, int column) {
  if (st.ColumnIsNull(column)) return std::nullopt;
  return st.ColumnText(column);
}

Result<std::vector<RuntimeLifecycle>> Select(store::Txn& txn, std::optional<std::string_view> one) {
  std::string sql =
      "SELECT runtime, deprecation_date, create_block_date, update_block_date FROM "
      "runtime_lifecycles";
  sql += one ? " WHERE runtime = ?" : " ORDER BY runtime";
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
  if (one) st.Bind(1, std::string(*one));
  std::vector<RuntimeLifecycle> out;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(
        {st.ColumnText(0), OptionalText(st, 1), OptionalText(st, 2), OptionalText(st, 3)});
  }
  return out;
}
}  // namespace

Result<std::optional<RuntimeLifecycle>> LoadLifecycle(store::Txn& txn, std::string_view runtime) {
  LAMBKIN_ASSIGN_OR_RETURN(auto rows, Select(txn, runtime));
  if (rows.empty()) return std::optional<RuntimeLifecycle>();
  return std::optional<RuntimeLifecycle>(std::move(rows.front()));
}

Result<std::vector<RuntimeLifecycle>> LoadLifecycles(store::Txn& txn) {
  return Select(txn, std::nullopt);
}

Status StoreLifecycle(store::Txn& txn, const RuntimeLifecycle& l) {
  LAMBKIN_RETURN_IF_ERROR(ValidateLifecycle(l));
  LAMBKIN_ASSIGN_OR_RETURN(auto del,
                           txn.Prepare("DELETE FROM runtime_lifecycles WHERE runtime = ?"));
  del.Bind(1, l.runtime);
  LAMBKIN_RETURN_IF_ERROR(del.Run());
  if (!l.deprecation_date && !l.create_block_date && !l.update_block_date) return Status::Ok();
  LAMBKIN_ASSIGN_OR_RETURN(auto ins,
                           txn.Prepare("INSERT INTO runtime_lifecycles (runtime, deprecation_date, "
                                       "create_block_date, update_block_date) VALUES (?,?,?,?)"));
  ins.Bind(1, l.runtime)
      .Bind(2, l.deprecation_date)
      .Bind(3, l.create_block_date)
      .Bind(4, l.update_block_date);
  return ins.Run();
}

Status CheckLifecycle(store::Txn& txn, std::string_view runtime, LifecycleGate gate,
                      int64_t now_ms) {
  if (runtime.empty()) return Status::Ok();  // an image
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<RuntimeLifecycle> l, LoadLifecycle(txn, runtime));
  if (l && Blocks(*l, gate, now_ms)) return InvalidParameter(BlockedRuntimeMessage(runtime));
  return Status::Ok();
}

}  // namespace lambkin::catalog
