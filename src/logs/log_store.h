// LogStore: CloudWatch-compatible log groups, streams and events, stored append-only.
//
// Groups and streams are scoped by account and region like every Lambkin resource. Events are
// never changed or deleted once stored; each gets an ingestion time from the injected clock.
// Reads page with opaque tokens. Thread-safe (the store serialises writers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "functions/model.h"
#include "store/database.h"

namespace lambkin::logs {

extern const char kLogsSchema[];

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
};

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

class LogStore {
 public:
  LogStore(store::Database* db, const Clock* clock) : db_(db), clock_(clock) {}
  const Clock* clock() const { return clock_; }

  // kResourceConflict if it exists.
  Status CreateGroup(const Scope& scope, const std::string& group);
  // kResourceNotFound without the group, kResourceConflict if the stream exists.
  Status CreateStream(const Scope& scope, const std::string& group, const std::string& stream);
  // Appends events in order; with `create`, makes the group and stream first if missing.
  Status Append(const Scope& scope, const std::string& group, const std::string& stream,
                const std::vector<LogEvent>& events, bool create);

  Result<std::vector<LogGroup>> DescribeGroups(const Scope& scope, const std::string& prefix,
                                               const std::string& after, int limit);
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

 private:
  store::Database* db_;
  const Clock* clock_;
};

// CloudWatch's filter pattern for unstructured events: space-separated terms that must all
// occur in the message (ERROR timeout); "?term" terms of which at least one must occur
// (?ERROR ?WARN); "-term" terms that must not occur; a term in double quotes may contain
// spaces; an empty pattern matches everything. Matching is case-sensitive.
class FilterPattern {
 public:
  static Result<FilterPattern> Parse(const std::string& pattern);
  bool Matches(std::string_view message) const;

 private:
  std::vector<std::string> all_;
  std::vector<std::string> any_;
  std::vector<std::string> none_;
};

}  // namespace lambkin::logs
