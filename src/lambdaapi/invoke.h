// A synchronous invocation as Invoke (RequestResponse) and function URLs run it: on the
// function's home node (the request forwarded there whole when another node is home), through
// the invoker's warm environments, within the function's reserved concurrency.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "exec/invoker.h"
#include "lambdaapi/api.h"

namespace lambkin::lambdaapi {

struct SyncInvocation {
  functions::Scope scope;  // the function's
  std::string name;
  std::string qualifier;
  std::string payload;  // the event
  std::string client_context;
  bool log_tail = false;
  std::string request_id;  // empty: a new one
};

// `done` gets the outcome (or the error: not found, throttled…) with the request id, unless the
// request was forwarded to the home node, whose answer goes to `forwarded` as it came.
using SyncDone = std::function<void(Result<exec::InvokeOutcome>, const std::string& request_id)>;
void InvokeSynchronously(const ApiContext& ctx, const server::HttpRequest& request,
                         SyncInvocation invocation, server::Respond forwarded, SyncDone done);

}  // namespace lambkin::lambdaapi
