// LogStore: CloudWatch-compatible log groups, streams and events, stored append-only.
//
// Groups and streams are scoped by account and region like every Lambkin resource. Events are
// never changed once stored; each gets an ingestion time from the injected clock. They go when
// their stream or group is deleted, or when they are older (by event timestamp, against the
// clock) than their group's retention: reads never return such events, and DeleteExpired() (run
// periodically by every node's retention sweep, cli/serve.cc) removes them. Reads page with
// opaque tokens.
// Thread-safe (the store serialises writers, so several nodes may sweep one store).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "functions/model.h"
#include "logs/filter_pattern.h"
#include "store/database.h"

namespace lambkin::logs {

// Its tables, as numbered migrations (store/database.h).
const store::Migrations& Schema();

using Scope = functions::Scope;

struct LogEvent {
  int64_t timestamp = 0;  // ms since epoch, as given by the writer
  std::string message;
  int64_t ingestion_time = 0;
  std::string stream;  // filled in by Filter()
  int64_t seq = 0;     // position in the store (for paging)
};

struct LogGroup {
  std::string name;
  int64_t creation_time = 0;
  int64_t stored_bytes = 0;
  std::optional<int64_t> retention_days;  // nullopt: events never expire
};

constexpr int64_t kDayMillis = 24LL * 3600 * 1000;
// Whether `days` is a retention period CloudWatch Logs accepts (1, 3, 5, 7, 14, ... 3653).
bool ValidRetentionDays(int64_t days);
// The accepted periods as AWS lists them in its error: "1, 3, 5, ..., 3653".
std::string RetentionDaysList();

struct LogStream {
  std::string name;
  int64_t creation_time = 0;
  std::optional<int64_t> first_event;
  std::optional<int64_t> last_event;
  std::optional<int64_t> last_ingestion;
  int64_t stored_bytes = 0;
};

struct EventsPage {
  std::vector<LogEvent> events;
  std::string next_forward_token;
  std::string next_backward_token;
};

struct FilterPage {
  std::vector<LogEvent> events;
  std::vector<std::string> searched_streams;
  std::string next_token;  // empty on the last page
};

// Sees every batch of events inside the transaction that stores it, so what it derives (the
// Contributor Insights aggregates) commits or rolls back with the events themselves.
class AppendObserver {
 public:
  virtual ~AppendObserver() = default;
  virtual Status OnAppend(store::Database::Txn& txn, const Scope& scope, const std::string& group,
                          const std::vector<LogEvent>& events) = 0;
};

// A stream as a backfill sees it.
struct StreamRef {
  int64_t id = 0;
  Scope scope;
  std::string group;
};

// Which stored events a backfill reads: those of `streams` with timestamp >= `since`. When
// `heads` is set, only events whose first CLF field (cut to kHeadBytes) equals one of `equal`
// or starts with one of `prefix` are needed, and the store may answer from its head index.
struct ScanRequest {
  std::vector<int64_t> streams;
  int64_t since = 0;
  struct Heads {
    std::vector<std::string> equal;
    std::vector<std::string> prefix;
  };
  std::optional<Heads> heads;
};

// Counts of a scan, for the caller's figures.
struct ScanStats {
  int64_t events = 0;  // events handed to the visitor
  int64_t bytes = 0;   // their message bytes
};

// arn:<partition>:logs:<region>:<account>:log-group:<group>, what IAM authorises logs calls on.
std::string LogGroupArn(const functions::Scope& scope, std::string_view group);

// CloudWatch Logs: a log group has at most 50 tags.
inline constexpr size_t kMaxGroupTags = 50;

class LogStore {
 public:
  LogStore(store::Database* db, const Clock* clock) : db_(db), clock_(clock) {}
  const Clock* clock() const { return clock_; }
  store::Database* db() const { return db_; }
  // Set before the first Append.
  void SetAppendObserver(AppendObserver* observer) { observer_ = observer; }

  // kResourceConflict if it exists, kInvalidParameterValue with more than kMaxGroupTags tags.
  Status CreateGroup(const Scope& scope, const std::string& group,
                     const std::map<std::string, std::string>& tags);
  // A group's tags; kResourceNotFound without the group.
  Result<std::map<std::string, std::string>> GroupTags(const Scope& scope,
                                                       const std::string& group);
  // Adds or replaces `add`, then removes `remove`, in one transaction; kResourceNotFound without
  // the group, kInvalidParameterValue when more than kMaxGroupTags would remain.
  Status TagGroup(const Scope& scope, const std::string& group,
                  const std::map<std::string, std::string>& add,
                  const std::vector<std::string>& remove);
  // kResourceNotFound without the group, kResourceConflict if the stream exists.
  Status CreateStream(const Scope& scope, const std::string& group, const std::string& stream);
  // Appends events in order; with `create`, makes the group and stream first if missing.
  Status Append(const Scope& scope, const std::string& group, const std::string& stream,
                const std::vector<LogEvent>& events, bool create);

  // Deletes a group with its streams and their events; kResourceNotFound without the group.
  Status DeleteGroup(const Scope& scope, const std::string& group);
  // Deletes a stream and its events; kResourceNotFound without the group or the stream.
  Status DeleteStream(const Scope& scope, const std::string& group, const std::string& stream);
  // Sets (nullopt: removes) the group's retention in days (REQUIRES: ValidRetentionDays).
  // kResourceNotFound without the group.
  Status PutRetention(const Scope& scope, const std::string& group,
                      std::optional<int64_t> retention_days);
  // Deletes the events older than their group's retention, one group per transaction, and
  // takes them off the streams' and groups' stored bytes. Returns how many were deleted.
  Result<int64_t> DeleteExpired();

  // The groups after `after` (by name) whose names start with `prefix` and contain `pattern`
  // (case-sensitive substring; empty: any).
  Result<std::vector<LogGroup>> DescribeGroups(const Scope& scope, const std::string& prefix,
                                               const std::string& pattern, const std::string& after,
                                               int limit);
  // order_by_last_event: newest activity first when `descending`.
  Result<std::vector<LogStream>> DescribeStreams(const Scope& scope, const std::string& group,
                                                 const std::string& prefix,
                                                 bool order_by_last_event, bool descending,
                                                 int64_t offset, int limit);
  // Events of one stream in [start, end) (0 = unbounded), from the head or the tail. `token` is
  // a token returned before ("f/<seq>" forward, "b/<seq>" backward).
  Result<EventsPage> GetEvents(const Scope& scope, const std::string& group,
                               const std::string& stream, int64_t start, int64_t end,
                               const std::string& token, bool start_from_head, int limit);
  // Events of the group's streams (all, or those named / prefixed) in [start, end) whose
  // message matches `pattern` (see FilterPattern), oldest first.
  Result<FilterPage> Filter(const Scope& scope, const std::string& group,
                            const std::vector<std::string>& streams,
                            const std::string& stream_prefix, const std::string& pattern,
                            int64_t start, int64_t end, const std::string& token, int limit);

  // Every stream, with its scope and group (for a backfill, inside the caller's transaction).
  static Result<std::vector<StreamRef>> Streams(store::Database::Txn& txn);
  // Reads the events `request` selects on `shards` reader connections in parallel (each shard
  // a contiguous range of the store) and calls `visit(shard, stream_id, timestamp, message)`
  // for each, from that shard's thread. Sees what was committed when it was called.
  using ScanVisitor =
      std::function<void(int shard, int64_t stream, int64_t timestamp, std::string_view message)>;
  Result<ScanStats> Scan(const ScanRequest& request, int shards, const ScanVisitor& visit) const;

 private:
  store::Database* db_;
  const Clock* clock_;
  AppendObserver* observer_ = nullptr;
};

}  // namespace lambkin::logs
