#include "logs/log_store.h"

#include "catalog/regions.h"
#include "common/utf8.h"
#include "logs/clf.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lambkin::logs {

using store::Database;
using Txn = Database::Txn;

namespace {
constexpr char kLogsDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS log_groups (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  stored_bytes INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  group_name TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  first_event INTEGER,
  last_event INTEGER,
  last_ingestion INTEGER,
  stored_bytes INTEGER NOT NULL DEFAULT 0,
  UNIQUE (account, region, group_name, name)
);
CREATE TABLE IF NOT EXISTS log_events (
  seq INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL REFERENCES log_streams (id),
  timestamp INTEGER NOT NULL,
  ingestion_time INTEGER NOT NULL,
  message TEXT NOT NULL,
  head TEXT -- ClfHead(message); NULL in rows stored before the head index existed
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, timestamp, seq);
-- head_indexed_from: the first seq whose head is filled in.
CREATE TABLE IF NOT EXISTS logs_meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";
}  // namespace

namespace {
// On PostgreSQL the head is BYTEA: a first field cut to kHeadBytes may end inside a UTF-8
// character, and its prefix scans compare bytes (the bounds are bound with BindBytes).
std::string LogsPostgresDdl() {
  std::string ddl = store::PostgresDdl(kLogsDdl);
  const std::string text_head = "head TEXT COLLATE \"C\"";
  ddl.replace(ddl.find(text_head), text_head.size(), "head BYTEA");
  return ddl;
}
}  // namespace

namespace {
Status NumberGroups(store::Txn& txn) {
  LAMBKIN_RETURN_IF_ERROR(store::AddColumnIfMissing(txn, "log_groups", "id", "INTEGER"));
  LAMBKIN_RETURN_IF_ERROR(store::AddColumnIfMissing(txn, "log_streams", "group_id", "INTEGER"));
  LAMBKIN_RETURN_IF_ERROR(store::AddColumnIfMissing(txn, "log_events", "group_id", "INTEGER"));
  struct Key {
    std::string account, region, name;
  };
  std::vector<Key> groups;
  {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT account, region, name FROM log_groups "
                                                  "ORDER BY account, region, name"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      groups.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)});
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(auto number, txn.Prepare("UPDATE log_groups SET id = ? WHERE "
                                                    "account = ? AND region = ? AND name = ?"));
  int64_t id = 0;
  for (const Key& g : groups) {
    number.Bind(1, ++id).Bind(2, g.account).Bind(3, g.region).Bind(4, g.name);
    LAMBKIN_RETURN_IF_ERROR(number.Run());
    LAMBKIN_RETURN_IF_ERROR(number.Reset());
  }
  LAMBKIN_ASSIGN_OR_RETURN(
      auto last, txn.Prepare("INSERT INTO logs_meta (key, value) VALUES ('last_group_id', ?)"));
  last.Bind(1, id);
  LAMBKIN_RETURN_IF_ERROR(last.Run());
  LAMBKIN_RETURN_IF_ERROR(
      txn.Exec("UPDATE log_streams SET group_id = (SELECT g.id FROM log_groups g WHERE g.account = "
               "log_streams.account AND g.region = log_streams.region AND g.name = "
               "log_streams.group_name)"));
  LAMBKIN_RETURN_IF_ERROR(
      txn.Exec("UPDATE log_events SET group_id = (SELECT s.group_id FROM log_streams s WHERE "
               "s.id = log_events.stream_id)"));
  return txn.Exec(
      "CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_id, timestamp, seq)");
}
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"logs", 1, kLogsDdl, LogsPostgresDdl(),
       [](store::Txn& txn) -> Status {
         // Stores from before the head index: rows without a head are read in full.
         LAMBKIN_RETURN_IF_ERROR(store::AddColumnIfMissing(txn, "log_events", "head", "TEXT"));
         LAMBKIN_RETURN_IF_ERROR(txn.Exec(
             "INSERT INTO logs_meta (key, value) SELECT 'head_indexed_from', "
             "COALESCE(MAX(seq), 0) + 1 FROM log_events WHERE true ON CONFLICT (key) DO NOTHING"));
         return txn.Exec("CREATE INDEX IF NOT EXISTS log_events_by_head ON log_events (head)");
       }},
      // Retention (PutRetentionPolicy): NULL keeps events for ever, as CloudWatch's default.
      {"logs", 2, "", "",
       [](store::Txn& txn) -> Status {
         return store::AddColumnIfMissing(txn, "log_groups", "retention_days", "INTEGER");
       }},
      // FilterLogEvents reads a group's events in (timestamp, seq) order from an index instead
      // of sorting every event of the group at each call: each group gets a number, kept on its
      // streams and events. logs_meta's last_group_id is the number the last group took.
      {"logs", 3, "", "", NumberGroups},
      // Log group tags (CreateLogGroup, TagResource, TagLogGroup): a JSON object, NULL for none.
      {"logs", 4, "", "",
       [](store::Txn& txn) -> Status {
         return store::AddColumnIfMissing(txn, "log_groups", "tags", "TEXT");
       }},
  };
  return kMigrations;
}

namespace {

// A message as the store keeps it: bytes that are not UTF-8 (and NUL) become U+FFFD, as
// CloudWatch Logs shows them. Returns nullopt when the message is valid already.
std::optional<std::string> ValidUtf8(std::string_view message) {
  if (IsStoreText(message)) return std::nullopt;
  std::string out;
  out.reserve(message.size() + 8);
  size_t i = 0;
  while (i < message.size()) {
    size_t n = Utf8Sequence(message.substr(i));
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(message.substr(i, n));
      i += n;
    }
  }
  return out;
}

Status GroupNotFound() { return NotFound("The specified log group does not exist."); }
Status StreamNotFound() { return NotFound("The specified log stream does not exist."); }

Result<bool> GroupExists(Txn& txn, const Scope& scope, const std::string& group) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare("SELECT 1 FROM log_groups WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  return st.Step();
}

// The oldest event timestamp a read of the group may return at `now` (INT64_MIN without a
// retention): expired events stay invisible until the sweep deletes them. kResourceNotFound
// without the group.
Result<int64_t> KeptSince(Txn& txn, const Scope& scope, const std::string& group, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT retention_days FROM log_groups WHERE "
                                                "account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return GroupNotFound();
  std::optional<int64_t> days = st.ColumnOptionalInt(0);
  return days ? now - *days * kDayMillis : INT64_MIN;
}

// A message's size in bytes as Append counted it, in each engine's SQL.
std::string_view MessageBytes(const Txn& txn) {
  return txn.engine() == store::Engine::kSqlite ? "length(CAST(message AS BLOB))"
                                                : "octet_length(message)";
}

// Deletes the events of stream `id` with timestamp < `before` (all with INT64_MAX) and takes
// their bytes off the stream's and its group's stored bytes. Returns the events deleted.
Result<int64_t> DeleteStreamEvents(Txn& txn, const Scope& scope, const std::string& group,
                                   int64_t id, int64_t before) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto sum, txn.Prepare(fmt::format("SELECT COUNT(*), COALESCE(SUM({}), 0) FROM log_events "
                                        "WHERE stream_id = ? AND timestamp < ?",
                                        MessageBytes(txn))));
  sum.Bind(1, id).Bind(2, before);
  LAMBKIN_RETURN_IF_ERROR(sum.Step().status());
  int64_t count = sum.ColumnInt(0), bytes = sum.ColumnInt(1);
  if (count == 0) return count;
  LAMBKIN_ASSIGN_OR_RETURN(
      auto del, txn.Prepare("DELETE FROM log_events WHERE stream_id = ? AND timestamp < ?"));
  del.Bind(1, id).Bind(2, before);
  LAMBKIN_RETURN_IF_ERROR(del.Run());
  // The first event is now the oldest one kept (the last one stays what it was).
  LAMBKIN_ASSIGN_OR_RETURN(
      auto upd, txn.Prepare("UPDATE log_streams SET stored_bytes = CASE WHEN stored_bytes > ?1 "
                            "THEN stored_bytes - ?1 ELSE 0 END, first_event = COALESCE((SELECT "
                            "MIN(timestamp) FROM log_events WHERE stream_id = ?2), first_event) "
                            "WHERE id = ?2"));
  upd.Bind(1, bytes).Bind(2, id);
  LAMBKIN_RETURN_IF_ERROR(upd.Run());
  LAMBKIN_ASSIGN_OR_RETURN(
      auto grp, txn.Prepare("UPDATE log_groups SET stored_bytes = CASE WHEN stored_bytes > ?1 "
                            "THEN stored_bytes - ?1 ELSE 0 END WHERE account = ?2 AND region = ?3 "
                            "AND name = ?4"));
  grp.Bind(1, bytes).Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
  LAMBKIN_RETURN_IF_ERROR(grp.Run());
  return count;
}

// The ids of a group's streams.
Result<std::vector<int64_t>> GroupStreams(Txn& txn, const Scope& scope, const std::string& group) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id FROM log_streams WHERE account = ? "
                                                "AND region = ? AND group_name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  std::vector<int64_t> ids;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ids.push_back(st.ColumnInt(0));
  }
  return ids;
}

// A stream's row id and its group's number.
struct StreamKey {
  int64_t id = 0;
  int64_t group_id = 0;
};

Result<std::optional<StreamKey>> FindStream(Txn& txn, const Scope& scope, const std::string& group,
                                            const std::string& stream) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id, group_id FROM log_streams WHERE "
                                                "account = ? AND region = ? AND group_name = ? "
                                                "AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, stream);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<StreamKey>();
  return std::optional<StreamKey>(StreamKey{st.ColumnInt(0), st.ColumnInt(1)});
}

Result<std::optional<int64_t>> StreamId(Txn& txn, const Scope& scope, const std::string& group,
                                        const std::string& stream) {
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<StreamKey> key, FindStream(txn, scope, group, stream));
  if (!key) return std::optional<int64_t>();
  return std::optional<int64_t>(key->id);
}

// The group's number; kResourceNotFound without the group.
Result<int64_t> GroupId(Txn& txn, const Scope& scope, const std::string& group) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare("SELECT id FROM log_groups WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return GroupNotFound();
  // Every group this release (or its migration) made has one; a node of an earlier release
  // writing to a store this one migrated would make groups without (docs/multi-node.md).
  if (st.ColumnIsNull(0)) {
    return Internal(
        fmt::format("store: log group {} has no number: a node of an earlier "
                    "release created it; upgrade every node sharing the store",
                    group));
  }
  return st.ColumnInt(0);
}

Status InsertGroup(Txn& txn, const Scope& scope, const std::string& group, int64_t now) {
  // Write transactions are serialised (one writer on SQLite, an advisory lock on PostgreSQL),
  // so two groups never take the same number.
  LAMBKIN_ASSIGN_OR_RETURN(auto next, txn.Prepare("UPDATE logs_meta SET value = value + 1 WHERE "
                                                  "key = 'last_group_id' RETURNING value"));
  LAMBKIN_ASSIGN_OR_RETURN(bool numbered, next.Step());
  if (!numbered) return Internal("store: logs_meta has no last_group_id");
  int64_t id = next.ColumnInt(0);
  LAMBKIN_RETURN_IF_ERROR(next.Reset());
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO log_groups (account, region, name, "
                                                "created_at, id) VALUES (?,?,?,?,?)"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, now).Bind(5, id);
  return st.Run();
}

Result<StreamKey> InsertStream(Txn& txn, const Scope& scope, const std::string& group,
                               const std::string& stream, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(int64_t group_id, GroupId(txn, scope, group));
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("INSERT INTO log_streams (account, region, "
                                                "group_name, name, created_at, group_id) VALUES "
                                                "(?,?,?,?,?,?) RETURNING id"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, stream).Bind(5, now);
  st.Bind(6, group_id);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("store: INSERT … RETURNING returned no row");
  return StreamKey{st.ColumnInt(0), group_id};
}

// Tokens carry the direction and the seq to continue from.
struct Token {
  char direction = 0;
  int64_t seq = 0;
};

Result<std::optional<Token>> ParseToken(const std::string& token) {
  if (token.empty()) return std::optional<Token>();
  if (token.size() < 3 || (token[0] != 'f' && token[0] != 'b') || token[1] != '/') {
    return InvalidParameter("The specified nextToken is invalid.");
  }
  try {
    return std::optional<Token>(Token{token[0], std::stoll(token.substr(2))});
  } catch (const std::exception&) {
    return InvalidParameter("The specified nextToken is invalid.");
  }
}

}  // namespace

namespace {

Status CheckTagCount(const std::map<std::string, std::string>& tags) {
  if (tags.size() <= kMaxGroupTags) return Status::Ok();
  return InvalidParameter(fmt::format("A log group can have at most {} tags.", kMaxGroupTags));
}

Status WriteGroupTags(Txn& txn, const Scope& scope, const std::string& group,
                      const std::map<std::string, std::string>& tags) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("UPDATE log_groups SET tags = ? WHERE account = ? "
                                                "AND region = ? AND name = ?"));
  if (tags.empty()) {
    st.Bind(1, std::optional<std::string>());
  } else {
    st.Bind(1, nlohmann::json(tags).dump());
  }
  st.Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
  return st.Run();
}

// nullopt without the group.
Result<std::optional<std::map<std::string, std::string>>> ReadGroupTags(Txn& txn,
                                                                        const Scope& scope,
                                                                        const std::string& group) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT tags FROM log_groups WHERE account = ? "
                                                "AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  LAMBKIN_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<std::map<std::string, std::string>>();
  std::map<std::string, std::string> tags;
  if (std::optional<std::string> text = st.ColumnOptionalText(0)) {
    nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) return Internal("store: a log group's tags are not a JSON object");
    for (const auto& [k, v] : j.items()) {
      if (v.is_string()) tags[k] = v.get<std::string>();
    }
  }
  return std::optional<std::map<std::string, std::string>>(std::move(tags));
}

}  // namespace

Status LogStore::CreateGroup(const Scope& scope, const std::string& group,
                             const std::map<std::string, std::string>& tags) {
  LAMBKIN_RETURN_IF_ERROR(CheckTagCount(tags));
  int64_t now = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (exists) return Conflict("The specified log group already exists");
    LAMBKIN_RETURN_IF_ERROR(InsertGroup(txn, scope, group, now));
    return tags.empty() ? Status::Ok() : WriteGroupTags(txn, scope, group, tags);
  });
}

Result<std::map<std::string, std::string>> LogStore::GroupTags(const Scope& scope,
                                                               const std::string& group) {
  std::optional<std::map<std::string, std::string>> tags;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(tags, ReadGroupTags(txn, scope, group));
    return tags ? Status::Ok() : GroupNotFound();
  });
  if (!s.ok()) return s;
  return std::move(*tags);
}

Status LogStore::TagGroup(const Scope& scope, const std::string& group,
                          const std::map<std::string, std::string>& add,
                          const std::vector<std::string>& remove) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto tags, ReadGroupTags(txn, scope, group));
    if (!tags) return GroupNotFound();
    for (const auto& [k, v] : add) (*tags)[k] = v;
    for (const std::string& k : remove) tags->erase(k);
    LAMBKIN_RETURN_IF_ERROR(CheckTagCount(*tags));
    return WriteGroupTags(txn, scope, group, *tags);
  });
}

Status LogStore::CreateStream(const Scope& scope, const std::string& group,
                              const std::string& stream) {
  int64_t now = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
    LAMBKIN_ASSIGN_OR_RETURN(auto id, StreamId(txn, scope, group, stream));
    if (id) return Conflict("The specified log stream already exists");
    return InsertStream(txn, scope, group, stream, now).status();
  });
}

Status LogStore::Append(const Scope& scope, const std::string& group, const std::string& stream,
                        const std::vector<LogEvent>& events, bool create) {
  int64_t now = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<StreamKey> key, FindStream(txn, scope, group, stream));
    if (!key) {
      LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
      if (!exists) {
        if (!create) return GroupNotFound();
        LAMBKIN_RETURN_IF_ERROR(InsertGroup(txn, scope, group, now));
      }
      if (!create) return StreamNotFound();
      LAMBKIN_ASSIGN_OR_RETURN(key, InsertStream(txn, scope, group, stream, now));
    }
    const int64_t id = key->id;
    if (events.empty()) return Status::Ok();
    int64_t bytes = 0, first = events.front().timestamp, last = events.front().timestamp;
    LAMBKIN_ASSIGN_OR_RETURN(auto insert, txn.Prepare("INSERT INTO log_events (stream_id, "
                                                      "timestamp, ingestion_time, message, head, "
                                                      "group_id) VALUES (?,?,?,?,?,?)"));
    for (const auto& e : events) {
      std::optional<std::string> repaired = ValidUtf8(e.message);
      std::string_view message = repaired ? *repaired : e.message;
      insert.Bind(1, id).Bind(2, e.timestamp).Bind(3, now).Bind(4, message).Bind(6, key->group_id);
      std::string_view head = ClfHead(message);
      if (head.empty()) {
        insert.BindNull(5);
      } else {
        insert.BindBytes(5, head);
      }
      LAMBKIN_RETURN_IF_ERROR(insert.Run());
      // A cached statement is reset by its destructor; reuse needs an explicit reset.
      LAMBKIN_RETURN_IF_ERROR(insert.Reset());
      bytes += static_cast<int64_t>(e.message.size());
      first = std::min(first, e.timestamp);
      last = std::max(last, e.timestamp);
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto upd, txn.Prepare("UPDATE log_streams SET first_event = CASE WHEN first_event IS NULL "
                              "OR first_event > ?1 THEN ?1 ELSE first_event END, last_event = "
                              "CASE WHEN last_event IS NULL OR last_event < ?2 THEN ?2 ELSE "
                              "last_event END, last_ingestion = ?3, stored_bytes = stored_bytes "
                              "+ ?4 WHERE id = ?5"));
    upd.Bind(1, first).Bind(2, last).Bind(3, now).Bind(4, bytes).Bind(5, id);
    LAMBKIN_RETURN_IF_ERROR(upd.Run());
    LAMBKIN_ASSIGN_OR_RETURN(auto grp, txn.Prepare("UPDATE log_groups SET stored_bytes = "
                                                   "stored_bytes + ? WHERE account = ? AND "
                                                   "region = ? AND name = ?"));
    grp.Bind(1, bytes).Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
    LAMBKIN_RETURN_IF_ERROR(grp.Run());
    if (observer_ != nullptr) return observer_->OnAppend(txn, scope, group, events);
    return Status::Ok();
  });
}

Status LogStore::DeleteGroup(const Scope& scope, const std::string& group) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto events,
        txn.Prepare("DELETE FROM log_events WHERE stream_id IN (SELECT id FROM "
                    "log_streams WHERE account = ? AND region = ? AND group_name = ?)"));
    events.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
    LAMBKIN_RETURN_IF_ERROR(events.Run());
    LAMBKIN_ASSIGN_OR_RETURN(auto streams, txn.Prepare("DELETE FROM log_streams WHERE account = ? "
                                                       "AND region = ? AND group_name = ?"));
    streams.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
    LAMBKIN_RETURN_IF_ERROR(streams.Run());
    LAMBKIN_ASSIGN_OR_RETURN(
        auto grp,
        txn.Prepare("DELETE FROM log_groups WHERE account = ? AND region = ? AND name = ?"));
    grp.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
    return grp.Run();
  });
}

Status LogStore::DeleteStream(const Scope& scope, const std::string& group,
                              const std::string& stream) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
    LAMBKIN_ASSIGN_OR_RETURN(auto id, StreamId(txn, scope, group, stream));
    if (!id) return StreamNotFound();
    LAMBKIN_RETURN_IF_ERROR(DeleteStreamEvents(txn, scope, group, *id, INT64_MAX).status());
    LAMBKIN_ASSIGN_OR_RETURN(auto del, txn.Prepare("DELETE FROM log_streams WHERE id = ?"));
    del.Bind(1, *id);
    return del.Run();
  });
}

Status LogStore::PutRetention(const Scope& scope, const std::string& group,
                              std::optional<int64_t> retention_days) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("UPDATE log_groups SET retention_days = ? WHERE "
                                                  "account = ? AND region = ? AND name = ?"));
    st.Bind(1, retention_days).Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
    LAMBKIN_RETURN_IF_ERROR(st.Run());
    if (txn.Changes() == 0) return GroupNotFound();
    return Status::Ok();
  });
}

Result<int64_t> LogStore::DeleteExpired() {
  struct Expiring {
    Scope scope;
    std::string group;
  };
  std::vector<Expiring> groups;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT account, region, name FROM log_groups "
                                                  "WHERE retention_days IS NOT NULL"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      groups.push_back({Scope{st.ColumnText(0), st.ColumnText(1)}, st.ColumnText(2)});
    }
    return Status::Ok();
  }));
  int64_t deleted = 0;
  for (const Expiring& g : groups) {
    int64_t now = clock_->NowMillis();
    // The retention is read again in the write transaction: it may have changed, or the group
    // gone, since; another node sweeping at the same time finds nothing left to delete.
    LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](Txn& txn) -> Status {
      Result<int64_t> kept_since = KeptSince(txn, g.scope, g.group, now);
      if (!kept_since.ok()) {
        return kept_since.status().code() == StatusCode::kResourceNotFound ? Status::Ok()
                                                                           : kept_since.status();
      }
      if (*kept_since == INT64_MIN) return Status::Ok();
      LAMBKIN_ASSIGN_OR_RETURN(std::vector<int64_t> streams, GroupStreams(txn, g.scope, g.group));
      for (int64_t id : streams) {
        LAMBKIN_ASSIGN_OR_RETURN(int64_t n,
                                 DeleteStreamEvents(txn, g.scope, g.group, id, *kept_since));
        deleted += n;
      }
      return Status::Ok();
    }));
  }
  return deleted;
}

Result<std::vector<LogGroup>> LogStore::DescribeGroups(const Scope& scope,
                                                       const std::string& prefix,
                                                       const std::string& pattern,
                                                       const std::string& after, int limit) {
  std::vector<LogGroup> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    // A case-sensitive substring test on both engines (SQLite's LIKE ignores ASCII case).
    const char* contains = txn.engine() == store::Engine::kPostgres
                               ? "strpos(name, CAST(? AS TEXT)) > 0"
                               : "instr(name, CAST(? AS TEXT)) > 0";
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st,
        txn.Prepare(fmt::format(
            "SELECT name, created_at, stored_bytes, retention_days FROM log_groups WHERE "
            "account = ? AND region = ? AND substr(name, 1, length(CAST(? AS TEXT))) = ? AND "
            "({} OR length(CAST(? AS TEXT)) = 0) AND name > ? ORDER BY name LIMIT ?",
            contains)));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, prefix).Bind(4, prefix);
    st.Bind(5, pattern).Bind(6, pattern).Bind(7, after).Bind(8, limit);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2), st.ColumnOptionalInt(3)});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<LogStream>> LogStore::DescribeStreams(const Scope& scope,
                                                         const std::string& group,
                                                         const std::string& prefix,
                                                         bool order_by_last_event, bool descending,
                                                         int64_t offset, int limit) {
  std::vector<LogStream> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
    std::string order = order_by_last_event ? "COALESCE(last_event, created_at)" : "name";
    std::string sql = fmt::format(
        "SELECT name, created_at, first_event, last_event, last_ingestion, stored_bytes FROM "
        "log_streams WHERE account = ? AND region = ? AND group_name = ? AND substr(name, 1, "
        "length(CAST(? AS TEXT))) = ? ORDER BY {0} {1}, name {1} LIMIT ? OFFSET ?",
        order, descending ? "DESC" : "ASC");
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, prefix);
    st.Bind(5, prefix).Bind(6, limit).Bind(7, offset);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnInt(1), st.ColumnOptionalInt(2),
                     st.ColumnOptionalInt(3), st.ColumnOptionalInt(4), st.ColumnInt(5)});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<EventsPage> LogStore::GetEvents(const Scope& scope, const std::string& group,
                                       const std::string& stream, int64_t start, int64_t end,
                                       const std::string& token, bool start_from_head, int limit) {
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<Token> tok, ParseToken(token));
  bool forward = tok ? tok->direction == 'f' : start_from_head;
  EventsPage page;
  int64_t now = clock_->NowMillis();
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(int64_t kept_since, KeptSince(txn, scope, group, now));
    start = std::max(start, kept_since);
    LAMBKIN_ASSIGN_OR_RETURN(auto id, StreamId(txn, scope, group, stream));
    if (!id) return StreamNotFound();
    std::string sql = forward
                          ? "SELECT seq, timestamp, ingestion_time, message FROM log_events WHERE "
                            "stream_id = ? AND timestamp >= ? AND timestamp < ? AND seq > ? "
                            "ORDER BY seq LIMIT ?"
                          : "SELECT seq, timestamp, ingestion_time, message FROM log_events WHERE "
                            "stream_id = ? AND timestamp >= ? AND timestamp < ? AND seq < ? "
                            "ORDER BY seq DESC LIMIT ?";
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare(sql));
    int64_t bound = tok ? tok->seq : (forward ? 0 : INT64_MAX);
    st.Bind(1, *id).Bind(2, start).Bind(3, end > 0 ? end : INT64_MAX).Bind(4, bound);
    st.Bind(5, limit);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      LogEvent e;
      e.seq = st.ColumnInt(0);
      e.timestamp = st.ColumnInt(1);
      e.ingestion_time = st.ColumnInt(2);
      e.message = st.ColumnText(3);
      page.events.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!forward) std::reverse(page.events.begin(), page.events.end());
  // As CloudWatch: tokens are always returned; at the end the forward token repeats.
  int64_t first = page.events.empty() ? (tok ? tok->seq : 0) : page.events.front().seq;
  int64_t last = page.events.empty() ? (tok ? tok->seq : 0) : page.events.back().seq;
  page.next_forward_token = fmt::format("f/{}", last);
  page.next_backward_token = fmt::format("b/{}", first);
  if (page.events.empty() && !tok) {
    page.next_forward_token = "f/0";
    page.next_backward_token = fmt::format("b/{}", INT64_MAX);
  }
  return page;
}

std::string LogGroupArn(const functions::Scope& scope, std::string_view group) {
  return fmt::format("arn:{}:logs:{}:{}:log-group:{}", catalog::PartitionOf(scope.region),
                     scope.region, scope.account, group);
}

Result<FilterPage> LogStore::Filter(const Scope& scope, const std::string& group,
                                    const std::vector<std::string>& streams,
                                    const std::string& stream_prefix, const std::string& pattern,
                                    int64_t start, int64_t end, const std::string& token,
                                    int limit) {
  LAMBKIN_ASSIGN_OR_RETURN(FilterPattern matcher, FilterPattern::Parse(pattern));
  // Results are ordered by (timestamp, seq); the token is the position of the last one.
  int64_t after_ts = INT64_MIN, after_seq = 0;
  if (!token.empty()) {
    if (std::sscanf(token.c_str(), "%ld/%ld", &after_ts, &after_seq) != 2) {
      return InvalidParameter("The specified nextToken is invalid.");
    }
  }
  FilterPage page;
  int64_t now = clock_->NowMillis();
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(int64_t kept_since, KeptSince(txn, scope, group, now));
    LAMBKIN_ASSIGN_OR_RETURN(int64_t group_id, GroupId(txn, scope, group));
    start = std::max(start, kept_since);
    // The streams this call reads, by id (nullopt: a stream of the group it skips). Without a
    // stream name or prefix every stream of the group is read: their names are looked up as
    // their events come, so the cost follows the page, not how many streams the group has.
    std::unordered_map<int64_t, std::optional<std::string>> wanted;
    const bool restricted = !streams.empty() || !stream_prefix.empty();
    if (restricted) {
      LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id, name FROM log_streams WHERE "
                                                    "account = ? AND region = ? AND "
                                                    "group_name = ?"));
      st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        std::string name = st.ColumnText(1);
        if (!name.starts_with(stream_prefix)) continue;
        if (!streams.empty() && std::find(streams.begin(), streams.end(), name) == streams.end()) {
          continue;
        }
        wanted.emplace(st.ColumnInt(0), std::move(name));
      }
      if (wanted.empty()) return Status::Ok();
    }
    LAMBKIN_ASSIGN_OR_RETURN(auto stream_name,
                             txn.Prepare("SELECT name FROM log_streams WHERE id = ? AND account = "
                                         "? AND region = ? AND group_name = ?"));
    // The name of stream `id` when this call reads it, else nullptr.
    auto read_stream = [&](int64_t id) -> Result<const std::string*> {
      auto it = wanted.find(id);
      if (it == wanted.end()) {
        if (restricted) return nullptr;
        stream_name.Bind(1, id).Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
        LAMBKIN_ASSIGN_OR_RETURN(bool row, stream_name.Step());
        std::optional<std::string> name;
        if (row) name = stream_name.ColumnText(0);
        LAMBKIN_RETURN_IF_ERROR(stream_name.Reset());
        it = wanted.emplace(id, std::move(name)).first;
      }
      return it->second ? &*it->second : nullptr;
    };
    // The group's events in order, from log_events_by_group alone (one table, so that neither
    // engine plans a sort of the whole group instead), a batch at a time (PostgreSQL hands over
    // a whole result at once): the page ends after `limit` matches, not after every event of the
    // group was read. A pattern that matches rarely reads on with bigger batches.
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT seq, timestamp, ingestion_time, message, stream_id FROM "
                             "log_events WHERE group_id = ? AND (timestamp, seq) > (?, ?) AND "
                             "timestamp >= ? AND timestamp < ? ORDER BY timestamp, seq LIMIT ?"));
    int64_t read_ts = after_ts, read_seq = after_seq;  // the last event read
    int64_t last_seq = 0, last_ts = 0;                 // the last event returned
    int64_t batch = std::clamp<int64_t>(int64_t{limit} + 1, 64, 1024);
    while (true) {
      st.Bind(1, group_id).Bind(2, read_ts).Bind(3, read_seq).Bind(4, start);
      st.Bind(5, end > 0 ? end : INT64_MAX).Bind(6, batch);
      int64_t rows = 0;
      bool full = false;
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        ++rows;
        read_seq = st.ColumnInt(0);
        read_ts = st.ColumnInt(1);
        LAMBKIN_ASSIGN_OR_RETURN(const std::string* stream, read_stream(st.ColumnInt(4)));
        if (stream == nullptr) continue;
        std::string message = st.ColumnText(3);
        if (!matcher.Matches(message)) continue;
        if (static_cast<int>(page.events.size()) == limit) {
          page.next_token = fmt::format("{}/{}", last_ts, last_seq);
          full = true;
          break;
        }
        LogEvent e;
        e.seq = read_seq;
        e.timestamp = read_ts;
        e.ingestion_time = st.ColumnInt(2);
        e.message = std::move(message);
        e.stream = *stream;
        last_seq = e.seq;
        last_ts = e.timestamp;
        page.events.push_back(std::move(e));
      }
      LAMBKIN_RETURN_IF_ERROR(st.Reset());
      if (full || rows < batch) break;
      batch = std::min<int64_t>(batch * 4, 16384);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Result<std::vector<StreamRef>> LogStore::Streams(Txn& txn) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st,
                           txn.Prepare("SELECT id, account, region, group_name FROM log_streams"));
  std::vector<StreamRef> out;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnInt(0), Scope{st.ColumnText(1), st.ColumnText(2)}, st.ColumnText(3)});
  }
  return out;
}

namespace {

// The smallest string above every string that starts with `prefix`; empty if there is none.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

// Cuts the wanted heads to what the index holds and drops those another one already covers, so
// no event is read twice. nullopt when a prefix is empty (every event is wanted).
std::optional<ScanRequest::Heads> Normalize(const ScanRequest::Heads& heads) {
  std::set<std::string> prefixes, equal;
  for (const auto& p : heads.prefix) prefixes.insert(p.substr(0, kHeadBytes));
  if (prefixes.contains("")) return std::nullopt;
  // Whether a prefix other than `self` already covers `v`.
  auto covered = [&](const std::string& v, const std::string* self) {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
      return (self == nullptr || p != *self) && v.starts_with(p);
    });
  };
  ScanRequest::Heads out;
  for (const auto& p : prefixes) {
    if (!covered(p, &p)) out.prefix.push_back(p);
  }
  for (const auto& v : heads.equal) equal.insert(v.substr(0, kHeadBytes));
  for (const auto& v : equal) {
    if (!covered(v, nullptr)) out.equal.push_back(v);
  }
  return out;
}

// One shard of a scan: events with seq in (lo, hi].
Status ScanShard(Database* db, const ScanRequest& request,
                 const std::unordered_set<int64_t>& streams, int64_t head_from, int64_t lo,
                 int64_t hi, const std::function<void(int64_t, int64_t, std::string_view)>& visit,
                 ScanStats& stats) {
  return db->Read([&](Txn& txn) -> Status {
    auto run = [&](Database::Txn& t, std::string_view sql, int64_t from, int64_t to,
                   const std::string* a, const std::string* b) -> Status {
      if (from >= to) return Status::Ok();
      LAMBKIN_ASSIGN_OR_RETURN(auto st, t.Prepare(sql));
      st.Bind(1, from).Bind(2, to);
      if (a != nullptr) st.BindBytes(3, *a);
      if (b != nullptr) st.BindBytes(4, *b);
      while (true) {
        LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) return Status::Ok();
        int64_t stream = st.ColumnInt(0), ts = st.ColumnInt(1);
        if (ts < request.since || !streams.contains(stream)) continue;
        std::string_view message = st.ColumnView(2);
        ++stats.events;
        stats.bytes += static_cast<int64_t>(message.size());
        visit(stream, ts, message);
      }
    };
    constexpr std::string_view kAll =
        "SELECT stream_id, timestamp, message FROM log_events WHERE seq > ? AND seq <= ?";
    if (!request.heads) return run(txn, kAll, lo, hi, nullptr, nullptr);
    // Rows stored before the head index existed are read in full.
    LAMBKIN_RETURN_IF_ERROR(run(txn, kAll, lo, std::min(hi, head_from - 1), nullptr, nullptr));
    int64_t from = std::max(lo, head_from - 1);
    // SQLite's planner is told to use the head index; PostgreSQL's picks it by itself.
    const std::string by_head = txn.engine() == store::Engine::kSqlite
                                    ? "FROM log_events INDEXED BY log_events_by_head"
                                    : "FROM log_events";
    for (const auto& v : request.heads->equal) {
      std::string head(v.substr(0, kHeadBytes));
      LAMBKIN_RETURN_IF_ERROR(run(txn,
                                  "SELECT stream_id, timestamp, message " + by_head +
                                      " WHERE seq > ? AND seq <= ? AND head = ?",
                                  from, hi, &head, nullptr));
    }
    for (const auto& p : request.heads->prefix) {
      std::string low(p.substr(0, kHeadBytes)), high = PrefixEnd(low);
      LAMBKIN_RETURN_IF_ERROR(
          high.empty() ? run(txn, kAll, from, hi, nullptr, nullptr)
                       : run(txn,
                             "SELECT stream_id, timestamp, message " + by_head +
                                 " WHERE seq > ? AND seq <= ? AND head >= ? AND head < ?",
                             from, hi, &low, &high));
    }
    return Status::Ok();
  });
}

}  // namespace

Result<ScanStats> LogStore::Scan(const ScanRequest& request, int shards,
                                 const ScanVisitor& visit) const {
  if (request.streams.empty()) return ScanStats{};
  int64_t max_seq = 0, head_from = 1;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT COALESCE(MAX(seq), 0), (SELECT value "
                                                  "FROM logs_meta WHERE key = "
                                                  "'head_indexed_from') FROM log_events"));
    LAMBKIN_RETURN_IF_ERROR(st.Step().status());
    max_seq = st.ColumnInt(0);
    head_from = st.ColumnOptionalInt(1).value_or(max_seq + 1);
    return Status::Ok();
  }));
  std::unordered_set<int64_t> streams(request.streams.begin(), request.streams.end());
  ScanRequest normalized{{}, request.since, std::nullopt};
  if (request.heads) normalized.heads = Normalize(*request.heads);
  shards = std::max(1, shards);
  std::vector<Status> results(shards);
  std::vector<ScanStats> stats(shards);
  std::vector<std::thread> threads;
  for (int i = 0; i < shards; ++i) {
    int64_t lo = max_seq * i / shards, hi = max_seq * (i + 1) / shards;
    auto work = [&, i, lo, hi] {
      results[i] = ScanShard(
          db_, normalized, streams, head_from, lo, hi,
          [&](int64_t stream, int64_t ts, std::string_view m) { visit(i, stream, ts, m); },
          stats[i]);
    };
    if (i + 1 == shards) {
      work();  // the last shard on the calling thread
    } else {
      threads.emplace_back(work);
    }
  }
  for (auto& t : threads) t.join();
  ScanStats total;
  for (int i = 0; i < shards; ++i) {
    LAMBKIN_RETURN_IF_ERROR(results[i]);
    total.events += stats[i].events;
    total.bytes += stats[i].bytes;
  }
  return total;
}

namespace {
constexpr int64_t kRetentionDays[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                      365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
}  // namespace

bool ValidRetentionDays(int64_t days) {
  return std::find(std::begin(kRetentionDays), std::end(kRetentionDays), days) !=
         std::end(kRetentionDays);
}

std::string RetentionDaysList() { return fmt::format("{}", fmt::join(kRetentionDays, ", ")); }

}  // namespace lambkin::logs
