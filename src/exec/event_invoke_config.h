// Asynchronous invocation configuration (PutFunctionEventInvokeConfig and friends): per function
// qualifier ($LATEST, a version or an alias), how many times the event queue retries a failed
// `Event` invocation, how old an event may grow before it is dropped, and where the invocation
// record goes on success and on failure (a destination ARN; Lambkin delivers to Lambda
// functions only, checked by the API before anything is stored).
//
// The configurations live in the store (table `event_invoke_configs`, its rows removed with
// their function by a foreign key), so every node sharing it reads the same; the event queue
// reads the configuration of the qualifier an event was invoked with when it settles an
// attempt. AsyncPolicy turns a configuration (or its absence) into the numbers the queue uses,
// with Lambda's defaults. InvocationRecord() writes the record AWS sends to a destination.
// The functions are thread-safe (each is one store transaction); errors are Status values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "functions/model.h"
#include "store/database.h"

namespace lambkin::exec {

// Its table, as numbered migrations (store/database.h).
const store::Migrations& EventInvokeConfigSchema();

struct EventInvokeConfig {
  std::string qualifier;  // "$LATEST", a version number or an alias name
  std::optional<int64_t> maximum_retry_attempts;
  std::optional<int64_t> maximum_event_age_seconds;
  std::optional<std::string> on_success;  // destination ARN
  std::optional<std::string> on_failure;
  int64_t last_modified_ms = 0;
};

// An UpdateFunctionEventInvokeConfig: the members given replace the stored ones, the others
// are kept. A destination given as "" (or `{}`) removes that destination.
struct EventInvokeConfigUpdate {
  std::optional<int64_t> maximum_retry_attempts;
  std::optional<int64_t> maximum_event_age_seconds;
  std::optional<std::string> on_success;
  std::optional<std::string> on_failure;
};

// "$LATEST" for an empty qualifier: an unqualified name addresses $LATEST's configuration.
std::string ConfigQualifier(std::string_view qualifier);

// The configurations in the store. Holds no state of its own: thread-safe.
class EventInvokeConfigStore {
 public:
  explicit EventInvokeConfigStore(store::Database* db) : db_(db) {}

  // Stores `config` for `function`:`config.qualifier`, replacing any configuration it had
  // (PutFunctionEventInvokeConfig: members not given are unset). kResourceNotFound when the
  // function does not exist (the caller checks the qualifier).
  Status Put(const functions::Scope& scope, const std::string& function,
             const EventInvokeConfig& config) const;
  // Merges `update` into the stored configuration of `function`:`qualifier` and returns the
  // result; nullopt (nothing changed) when it has none.
  Result<std::optional<EventInvokeConfig>> Update(const functions::Scope& scope,
                                                  const std::string& function,
                                                  const std::string& qualifier,
                                                  const EventInvokeConfigUpdate& update,
                                                  int64_t now_ms) const;
  // The configuration of `function`:`qualifier`, nullopt when it has none.
  Result<std::optional<EventInvokeConfig>> Get(const functions::Scope& scope,
                                               const std::string& function,
                                               const std::string& qualifier) const;
  // Removes it; false when there was none.
  Result<bool> Delete(const functions::Scope& scope, const std::string& function,
                      const std::string& qualifier) const;
  // The configurations of `function` ordered by qualifier, those after `after` (a page's
  // marker, "" for the first), at most `limit`.
  Result<std::vector<EventInvokeConfig>> List(const functions::Scope& scope,
                                              const std::string& function, const std::string& after,
                                              int limit) const;

 private:
  store::Database* db_;
};

// What the event queue does with one event, from its qualifier's configuration.
struct AsyncPolicy {
  int64_t maximum_retry_attempts = 2;                    // Lambda's default
  int64_t maximum_event_age_ms = int64_t{21600} * 1000;  // 6 hours
  std::optional<std::string> on_success;
  std::optional<std::string> on_failure;
};
// `default_retries` stands for an unset MaximumRetryAttempts (the server's configured retry
// delays: two on Lambda).
AsyncPolicy PolicyOf(const std::optional<EventInvokeConfig>& config, int64_t default_retries = 2);

// A destination that is a Lambda function, as the event queue enqueues the record for it.
struct FunctionDestination {
  functions::Scope scope;
  std::string function;
  std::string qualifier;  // empty: unqualified
};
// Parses a Lambda function ARN (arn:<partition>:lambda:<region>:<account>:function:<name>
// [:<qualifier>]); nullopt for anything else.
std::optional<FunctionDestination> ParseFunctionDestination(std::string_view arn);

// The invocation record Lambda sends to a destination (AWS's "version 1.0" record):
// {version, timestamp, requestContext {requestId, functionArn (always qualified: $LATEST when
// invoked unqualified), condition, approximateInvokeCount}, requestPayload, responseContext
// {statusCode, executedVersion, functionError?}, responsePayload}. The response members are
// left out when no attempt produced a response. Payloads that are not JSON are written as
// strings.
struct InvocationResult {
  std::string executed_version;
  std::optional<std::string> function_error;
  std::string payload;
};
std::string InvocationRecord(std::string_view request_id, std::string_view function_arn,
                             std::string_view condition, int64_t invoke_count,
                             std::string_view request_payload,
                             const std::optional<InvocationResult>& response, int64_t now_ms);

}  // namespace lambkin::exec
