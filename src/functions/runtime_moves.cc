#include "functions/runtime_moves.h"

#include <functional>

#include <fmt/format.h>

namespace lambkin::functions {

namespace {

using store::Engine;
using store::Txn;

// The WHERE clause of a selection over function_versions (unqualified column names), with its
// parameters numbered from `first`.
struct Where {
  std::string sql;
  std::vector<std::function<void(store::Statement&)>> binds;
};

Where SelectionWhere(const MoveSelection& s, int first) {
  Where w;
  int n = first;
  auto add = [&](std::string_view column_op, auto value) {
    w.sql += fmt::format("{}{} ?{}", w.sql.empty() ? "" : " AND ", column_op, n);
    int index = n++;
    w.binds.push_back([index, value](store::Statement& st) { st.Bind(index, value); });
  };
  add("region =", s.region);
  if (s.runtime) add("runtime =", *s.runtime);
  if (s.account) add("account =", *s.account);
  if (s.name) add("name =", *s.name);
  if (s.version) add("version =", *s.version);
  if (s.below) add("runtime_version <", *s.below);
  if (s.on) add("runtime_version =", *s.on);
  if (s.auto_only) w.sql += " AND update_mode = 'Auto'";
  if (s.excluding_reverted_of) {
    w.sql += fmt::format(
        " AND NOT EXISTS (SELECT 1 FROM rollout_reverted x WHERE x.runtime_version = ?{} AND "
        "x.account = function_versions.account AND x.region = function_versions.region AND "
        "x.name = function_versions.name AND x.version = function_versions.version)",
        n);
    int index = n++;
    int64_t rv = *s.excluding_reverted_of;
    w.binds.push_back([index, rv](store::Statement& st) { st.Bind(index, rv); });
  }
  if (s.excluding_held_of) {
    w.sql += fmt::format(
        " AND NOT EXISTS (SELECT 1 FROM rollout_holds h WHERE h.runtime_version = ?{} AND "
        "h.account = function_versions.account AND h.region = function_versions.region AND "
        "h.name = function_versions.name AND h.version = function_versions.version AND "
        "h.code_sha256 = function_versions.code_sha256)",
        n);
    int index = n++;
    int64_t rv = *s.excluding_held_of;
    w.binds.push_back([index, rv](store::Statement& st) { st.Bind(index, rv); });
  }
  return w;
}

void BindAll(const Where& w, store::Statement& st) {
  for (const auto& b : w.binds) b(st);
}

// SQLite: the selected rowids go into a temporary table; three statements use it.
Result<int64_t> MoveSqlite(Txn& txn, const MoveSelection& s, int64_t limit, int64_t to,
                           std::string_view cause, std::optional<int64_t> batch, int64_t at,
                           std::vector<MovedVersion>* moved) {
  LAMBKIN_RETURN_IF_ERROR(
      txn.Exec("CREATE TEMP TABLE IF NOT EXISTS moving (rid INTEGER PRIMARY KEY)"));
  LAMBKIN_RETURN_IF_ERROR(txn.Exec("DELETE FROM temp.moving"));
  Where w = SelectionWhere(s, 2);
  LAMBKIN_ASSIGN_OR_RETURN(auto pick, txn.Prepare("INSERT INTO temp.moving (rid) SELECT rowid FROM "
                                                  "function_versions WHERE " +
                                                  w.sql + " LIMIT ?1"));
  pick.Bind(1, limit);
  BindAll(w, pick);
  LAMBKIN_RETURN_IF_ERROR(pick.Run());
  if (txn.Changes() == 0) return 0;
  LAMBKIN_ASSIGN_OR_RETURN(
      auto edits,
      txn.Prepare("INSERT INTO runtime_version_edits (at, account, region, name, version, "
                  "old_runtime_version, new_runtime_version, update_mode, cause, batch) "
                  "SELECT ?1, account, region, name, version, runtime_version, ?2, update_mode, "
                  "?3, ?4 FROM function_versions WHERE rowid IN temp.moving"));
  edits.Bind(1, at).Bind(2, to).Bind(3, cause).Bind(4, batch);
  LAMBKIN_RETURN_IF_ERROR(edits.Run());
  int64_t count = txn.Changes();
  if (moved != nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(auto list,
                             txn.Prepare("SELECT account, region, name, version FROM "
                                         "function_versions WHERE rowid IN temp.moving"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      moved->push_back(
          {Scope{list.ColumnText(0), list.ColumnText(1)}, list.ColumnText(2), list.ColumnInt(3)});
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(
      auto update, txn.Prepare("UPDATE function_versions SET runtime_version = ? WHERE rowid IN "
                               "temp.moving"));
  update.Bind(1, to);
  LAMBKIN_RETURN_IF_ERROR(update.Run());
  return count;
}

// PostgreSQL: one statement locks the batch (skipping rows other transactions hold), moves it
// and writes the edits.
Result<int64_t> MovePostgres(Txn& txn, const MoveSelection& s, int64_t limit, int64_t to,
                             std::string_view cause, std::optional<int64_t> batch, int64_t at,
                             std::vector<MovedVersion>* moved) {
  Where w = SelectionWhere(s, 6);
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare(
          "WITH picked AS (SELECT account, region, name, version, runtime_version, update_mode "
          "FROM function_versions WHERE " +
          w.sql +
          " LIMIT ?1 FOR UPDATE SKIP LOCKED), "
          "moved AS (UPDATE function_versions f SET runtime_version = ?2 FROM picked p WHERE "
          "f.account = p.account AND f.region = p.region AND f.name = p.name AND "
          "f.version = p.version RETURNING p.*) "
          "INSERT INTO runtime_version_edits (at, account, region, name, version, "
          "old_runtime_version, new_runtime_version, update_mode, cause, batch) "
          "SELECT ?3, account, region, name, version, runtime_version, ?2, update_mode, ?4, ?5 "
          "FROM moved RETURNING account, region, name, version"));
  st.Bind(1, limit < 0 ? int64_t{INT64_MAX} : limit).Bind(2, to).Bind(3, at).Bind(4, cause);
  st.Bind(5, batch);
  BindAll(w, st);
  int64_t count = 0;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ++count;
    if (moved != nullptr) {
      moved->push_back(
          {Scope{st.ColumnText(0), st.ColumnText(1)}, st.ColumnText(2), st.ColumnInt(3)});
    }
  }
  return count;
}

}  // namespace

Result<int64_t> CountMovable(Txn& txn, const MoveSelection& selection) {
  Where w = SelectionWhere(selection, 1);
  LAMBKIN_ASSIGN_OR_RETURN(auto st,
                           txn.Prepare("SELECT COUNT(*) FROM function_versions WHERE " + w.sql));
  BindAll(w, st);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Result<int64_t> MoveRuntimeVersions(Txn& txn, const MoveSelection& selection, int64_t limit,
                                    int64_t to, std::string_view cause,
                                    std::optional<int64_t> batch, int64_t at,
                                    std::vector<MovedVersion>* moved) {
  return txn.engine() == Engine::kPostgres
             ? MovePostgres(txn, selection, limit, to, cause, batch, at, moved)
             : MoveSqlite(txn, selection, limit, to, cause, batch, at, moved);
}

}  // namespace lambkin::functions
