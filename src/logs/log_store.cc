#include "logs/log_store.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace lambkin::logs {

using store::Database;
using Txn = Database::Txn;

const char kLogsSchema[] = R"sql(
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
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, timestamp, seq);
)sql";

namespace {

Status GroupNotFound() { return NotFound("The specified log group does not exist."); }
Status StreamNotFound() { return NotFound("The specified log stream does not exist."); }

Result<bool> GroupExists(Txn& txn, const Scope& scope, const std::string& group) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare("SELECT 1 FROM log_groups WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group);
  return st.Step();
}

Result<std::optional<int64_t>> StreamId(Txn& txn, const Scope& scope, const std::string& group,
                                        const std::string& stream) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st, txn.Prepare("SELECT id FROM log_streams WHERE account = ? AND "
                                                "region = ? AND group_name = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, stream);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(st.ColumnInt(0));
}

Status InsertGroup(Txn& txn, const Scope& scope, const std::string& group, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(
      auto st,
      txn.Prepare("INSERT INTO log_groups (account, region, name, created_at) VALUES (?,?,?,?)"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, now);
  return st.Run();
}

Result<int64_t> InsertStream(Txn& txn, const Scope& scope, const std::string& group,
                             const std::string& stream, int64_t now) {
  LAMBKIN_ASSIGN_OR_RETURN(auto st,
                           txn.Prepare("INSERT INTO log_streams (account, region, "
                                       "group_name, name, created_at) VALUES (?,?,?,?,?)"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, stream).Bind(5, now);
  LAMBKIN_RETURN_IF_ERROR(st.Run());
  return txn.LastInsertRowId();
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

Status LogStore::CreateGroup(const Scope& scope, const std::string& group) {
  int64_t now = clock_->NowMillis();
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (exists) return Conflict("The specified log group already exists");
    return InsertGroup(txn, scope, group, now);
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
    LAMBKIN_ASSIGN_OR_RETURN(auto id, StreamId(txn, scope, group, stream));
    if (!id) {
      LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
      if (!exists) {
        if (!create) return GroupNotFound();
        LAMBKIN_RETURN_IF_ERROR(InsertGroup(txn, scope, group, now));
      }
      if (!create) return StreamNotFound();
      LAMBKIN_ASSIGN_OR_RETURN(id, InsertStream(txn, scope, group, stream, now));
    }
    if (events.empty()) return Status::Ok();
    int64_t bytes = 0, first = events.front().timestamp, last = events.front().timestamp;
    LAMBKIN_ASSIGN_OR_RETURN(auto insert, txn.Prepare("INSERT INTO log_events (stream_id, "
                                                      "timestamp, ingestion_time, message) "
                                                      "VALUES (?,?,?,?)"));
    for (const auto& e : events) {
      insert.Bind(1, *id).Bind(2, e.timestamp).Bind(3, now).Bind(4, e.message);
      LAMBKIN_RETURN_IF_ERROR(insert.Run());
      // A cached statement is reset by its destructor; reuse needs an explicit reset.
      LAMBKIN_RETURN_IF_ERROR(insert.Reset());
      bytes += static_cast<int64_t>(e.message.size());
      first = std::min(first, e.timestamp);
      last = std::max(last, e.timestamp);
    }
    LAMBKIN_ASSIGN_OR_RETURN(
        auto upd, txn.Prepare("UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?), "
                              "?), last_event = MAX(COALESCE(last_event, ?), ?), last_ingestion = "
                              "?, stored_bytes = stored_bytes + ? WHERE id = ?"));
    upd.Bind(1, first).Bind(2, first).Bind(3, last).Bind(4, last).Bind(5, now).Bind(6, bytes);
    upd.Bind(7, *id);
    LAMBKIN_RETURN_IF_ERROR(upd.Run());
    LAMBKIN_ASSIGN_OR_RETURN(auto grp, txn.Prepare("UPDATE log_groups SET stored_bytes = "
                                                   "stored_bytes + ? WHERE account = ? AND "
                                                   "region = ? AND name = ?"));
    grp.Bind(1, bytes).Bind(2, scope.account).Bind(3, scope.region).Bind(4, group);
    return grp.Run();
  });
}

Result<std::vector<LogGroup>> LogStore::DescribeGroups(const Scope& scope,
                                                       const std::string& prefix,
                                                       const std::string& after, int limit) {
  std::vector<LogGroup> out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT name, created_at, stored_bytes FROM log_groups WHERE "
                             "account = ? AND region = ? AND substr(name, 1, length(?)) = ? AND "
                             "name > ? ORDER BY name LIMIT ?"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, prefix).Bind(4, prefix);
    st.Bind(5, after).Bind(6, limit);
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      out.push_back({st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2)});
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
        "length(?)) = ? ORDER BY {0} {1}, name {1} LIMIT ? OFFSET ?",
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
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
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
  Status s = db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, GroupExists(txn, scope, group));
    if (!exists) return GroupNotFound();
    LAMBKIN_ASSIGN_OR_RETURN(
        auto st, txn.Prepare("SELECT e.seq, e.timestamp, e.ingestion_time, e.message, s.name "
                             "FROM log_events e JOIN log_streams s ON e.stream_id = s.id WHERE "
                             "s.account = ? AND s.region = ? AND s.group_name = ? AND "
                             "substr(s.name, 1, length(?)) = ? AND e.timestamp >= ? AND "
                             "e.timestamp < ? AND (e.timestamp > ? OR (e.timestamp = ? AND "
                             "e.seq > ?)) ORDER BY e.timestamp, e.seq"));
    st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, group).Bind(4, stream_prefix);
    st.Bind(5, stream_prefix).Bind(6, start).Bind(7, end > 0 ? end : INT64_MAX);
    st.Bind(8, after_ts).Bind(9, after_ts).Bind(10, after_seq);
    int64_t last_seq = 0, last_ts = 0;
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      std::string name = st.ColumnText(4);
      if (!streams.empty() && std::find(streams.begin(), streams.end(), name) == streams.end()) {
        continue;
      }
      std::string message = st.ColumnText(3);
      if (!matcher.Matches(message)) continue;
      if (static_cast<int>(page.events.size()) == limit) {
        page.next_token = fmt::format("{}/{}", last_ts, last_seq);
        break;
      }
      LogEvent e;
      e.seq = st.ColumnInt(0);
      e.timestamp = st.ColumnInt(1);
      e.ingestion_time = st.ColumnInt(2);
      e.message = std::move(message);
      e.stream = std::move(name);
      last_seq = e.seq;
      last_ts = e.timestamp;
      page.events.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Result<FilterPattern> FilterPattern::Parse(const std::string& pattern) {
  FilterPattern p;
  size_t i = 0;
  while (i < pattern.size()) {
    while (i < pattern.size() && pattern[i] == ' ') ++i;
    if (i >= pattern.size()) break;
    char kind = 0;
    if (pattern[i] == '?' || pattern[i] == '-') kind = pattern[i++];
    std::string term;
    if (i < pattern.size() && pattern[i] == '"') {
      size_t close = pattern.find('"', i + 1);
      if (close == std::string::npos) return InvalidParameter("Invalid filter pattern");
      term = pattern.substr(i + 1, close - i - 1);
      i = close + 1;
    } else {
      size_t sp = pattern.find(' ', i);
      if (sp == std::string::npos) sp = pattern.size();
      term = pattern.substr(i, sp - i);
      i = sp;
    }
    if (term.empty()) continue;
    (kind == '?' ? p.any_ : kind == '-' ? p.none_ : p.all_).push_back(std::move(term));
  }
  return p;
}

bool FilterPattern::Matches(std::string_view message) const {
  for (const auto& t : all_) {
    if (message.find(t) == std::string_view::npos) return false;
  }
  for (const auto& t : none_) {
    if (message.find(t) != std::string_view::npos) return false;
  }
  if (any_.empty()) return true;
  return std::any_of(any_.begin(), any_.end(), [&](const std::string& t) {
    return message.find(t) != std::string_view::npos;
  });
}

}  // namespace lambkin::logs
