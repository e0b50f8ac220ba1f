// The invocation and concurrency resources:
// POST /2015-03-31/functions/{FunctionName}/invocations, the deprecated
// POST /2014-11-13/functions/{FunctionName}/invoke-async/ and .../concurrency.
#include <random>

#include <fmt/format.h>

#include "cluster/cluster.h"
#include "cluster/forwarder.h"
#include "common/crypto.h"
#include "lambdaapi/api.h"
#include "lambdaapi/invoke.h"
#include "lambdaapi/names.h"
#include "lambdaapi/serialize.h"
#include "lambdaapi/validation.h"

namespace lambkin::lambdaapi {

using nlohmann::json;
using server::HttpResponse;

namespace {

constexpr size_t kMaxSyncPayload = 6291456;     // 6 MB
constexpr size_t kMaxAsyncPayload = 1048576;    // 1 MB
constexpr size_t kMaxInvokeAsyncArgs = 262144;  // 256 KB: InvokeAsync's own limit
constexpr size_t kMaxClientContext = 3583;

// A payload within `limit` bytes that is empty or JSON; `operation` names the limit's operation
// in AWS's message.
Status CheckPayload(const std::string& payload, size_t limit, std::string_view operation) {
  if (payload.size() > limit) {
    return {StatusCode::kRequestTooLarge,
            fmt::format("Request must be smaller than {} bytes for the {} operation", limit,
                        operation)};
  }
  if (!payload.empty() && json::parse(payload, nullptr, false).is_discarded()) {
    return {StatusCode::kInvalidRequestContent,
            "Could not parse request body into json: Could not parse payload into json"};
  }
  return Status::Ok();
}

double WeightDraw() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Sends a synchronous invoke to the first node of `placement` from `next` on that answers; the
// node that runs it authenticates it again. A node that cannot be reached is skipped (its
// heartbeat has not timed out yet); this node, when its turn comes, runs it through its own
// listener.
void ForwardInvoke(cluster::Forwarder* forwarder,
                   const std::shared_ptr<const server::HttpRequest>& request,
                   const std::shared_ptr<const std::vector<cluster::Node>>& placement, size_t next,
                   server::Respond respond) {
  if (next >= placement->size()) {
    return respond(ErrorResponse(Unavailable("No node can run the function now")));
  }
  const cluster::Node& node = (*placement)[next];
  forwarder->Send(node.address, *request,
                  [forwarder, request, placement, next,
                   respond = std::move(respond)](Result<HttpResponse> answer) mutable {
                    if (answer.ok()) return respond(std::move(*answer));
                    ForwardInvoke(forwarder, request, placement, next + 1, std::move(respond));
                  });
}

}  // namespace

void InvokeSynchronously(const ApiContext& ctx, const server::HttpRequest& request,
                         SyncInvocation invocation, server::Respond forwarded, SyncDone done) {
  if (ctx.cluster != nullptr && ctx.forwarder != nullptr && ctx.cluster->multi_node() &&
      request.FindHeader(cluster::kForwardedHeader) == nullptr) {
    // The function's home node keeps its warm environments and counts its concurrency.
    auto placement = std::make_shared<const std::vector<cluster::Node>>(ctx.cluster->Placement(
        cluster::FunctionKey(invocation.scope.account, invocation.scope.region, invocation.name)));
    if (!placement->empty() && placement->front().id != ctx.cluster->self().id) {
      return ForwardInvoke(ctx.forwarder, std::make_shared<const server::HttpRequest>(request),
                           placement, 0, std::move(forwarded));
    }
  }
  std::string request_id =
      invocation.request_id.empty() ? RandomUuid() : std::move(invocation.request_id);
  Result<functions::FunctionVersion> version = ctx.functions->ResolveInvocation(
      invocation.scope, invocation.name, invocation.qualifier, WeightDraw());
  if (!version.ok()) return done(version.status(), request_id);
  auto reserved = ctx.functions->GetReservedConcurrency(invocation.scope, invocation.name);
  if (!reserved.ok()) return done(reserved.status(), request_id);
  if (*reserved && **reserved == 0) {
    ctx.invoker->RecordThrottle(
        invocation.scope, invocation.name,
        functions::FunctionArn(invocation.scope, invocation.name, invocation.qualifier));
    return done(
        Status{StatusCode::kTooManyRequests, "ReservedFunctionConcurrentInvocationLimitExceeded"},
        request_id);
  }
  std::string invoked_arn =
      functions::FunctionArn(invocation.scope, invocation.name, invocation.qualifier);
  exec::InvokeRequest run{request_id, std::move(invocation.payload), invoked_arn,
                          std::move(invocation.client_context), invocation.log_tail};
  ctx.invoker->Invoke(invocation.scope, *version, *reserved, std::move(run),
                      [done = std::move(done), request_id](Result<exec::InvokeOutcome> outcome) {
                        done(std::move(outcome), request_id);
                      });
}

namespace ops {

void Invoke(const ApiContext& ctx, const Call& call, server::Respond respond) {
  auto fail = [&](const Status& s) { respond(ErrorResponse(s)); };
  if (ctx.invoker == nullptr || ctx.events == nullptr) {
    return fail({StatusCode::kNotImplemented, "This server does not run functions"});
  }
  Result<FunctionRef> ref = call.ResolveFunction(
      call.Label("FunctionName"), shapes::kNamespacedFunctionName, call.request.Query("Qualifier"));
  if (!ref.ok()) return fail(ref.status());
  std::string type = call.request.Header("x-amz-invocation-type").value_or("RequestResponse");
  std::string log_type = call.request.Header("x-amz-log-type").value_or("None");
  Validator v;
  v.Enum("invocationType", type, {"Event", "RequestResponse", "DryRun"});
  v.Enum("logType", log_type, {"None", "Tail"});
  if (!v.ok()) return fail(v.ToStatus());
  // Tenant isolation and durable executions are not implemented: refused, not ignored.
  for (auto [header, name] :
       {std::pair{"x-amz-tenant-id", "X-Amz-Tenant-Id"},
        std::pair{"x-amz-durable-execution-name", "X-Amz-Durable-Execution-Name"}}) {
    if (call.request.FindHeader(header) != nullptr) {
      return fail(InvalidParameter(
          fmt::format("Lambkin does not support {}: this feature is not implemented", name)));
    }
  }
  std::string client_context;
  if (auto cc = call.request.Header("x-amz-client-context")) {
    if (cc->size() > kMaxClientContext) {
      return fail(InvalidParameter(fmt::format(
          "Client context must be smaller than {} bytes when base64-encoded.", kMaxClientContext)));
    }
    auto decoded = Base64Decode(*cc);
    if (!decoded)
      return fail(InvalidParameter("Client context must be a valid Base64-encoded JSON object."));
    client_context = std::move(*decoded);
  }
  const std::string& payload = call.request.body;
  if (Status s = type == "Event" ? CheckPayload(payload, kMaxAsyncPayload, "InvokeAsync")
                                 : CheckPayload(payload, kMaxSyncPayload, "InvokeFunction");
      !s.ok()) {
    return fail(s);
  }
  if (type == "RequestResponse") {
    SyncInvocation invocation{call.scope,
                              ref->name,
                              ref->qualifier,
                              payload.empty() ? "{}" : payload,
                              std::move(client_context),
                              log_type == "Tail"};
    return InvokeSynchronously(
        ctx, call.request, std::move(invocation), respond,
        [respond](Result<exec::InvokeOutcome> outcome, const std::string& request_id) {
          if (!outcome.ok()) return respond(ErrorResponse(outcome.status()));
          HttpResponse r;
          r.status = 200;
          r.SetHeader("Content-Type", outcome->content_type);
          r.SetHeader("x-amzn-RequestId", request_id);
          r.SetHeader("X-Amz-Executed-Version", outcome->executed_version);
          if (outcome->function_error) {
            r.SetHeader("X-Amz-Function-Error", *outcome->function_error);
          }
          if (!outcome->log_tail.empty()) {
            r.SetHeader("X-Amz-Log-Result", Base64Encode(outcome->log_tail));
          }
          r.body = std::move(outcome->payload);
          respond(std::move(r));
        });
  }
  Result<functions::FunctionVersion> version =
      ctx.functions->ResolveInvocation(call.scope, ref->name, ref->qualifier, WeightDraw());
  if (!version.ok()) return fail(version.status());
  if (type == "DryRun") {
    HttpResponse r;
    r.status = 204;
    return respond(std::move(r));
  }
  std::string request_id = RandomUuid();
  Status queued = ctx.events->Enqueue(call.scope, ref->name, ref->qualifier,
                                      payload.empty() ? "{}" : payload, request_id);
  if (!queued.ok()) return fail(queued);
  HttpResponse r;
  r.status = 202;
  r.SetHeader("x-amzn-RequestId", request_id);
  respond(std::move(r));
}

// Queued exactly as an Invoke with InvocationType Event; the body is InvokeArgs, the payload.
HttpResponse InvokeAsync(const ApiContext& ctx, const Call& call) {
  if (ctx.events == nullptr) {
    return ErrorResponse({StatusCode::kNotImplemented, "This server does not run functions"});
  }
  ASSIGN_OR_ERROR(FunctionRef ref,
                  call.ResolveFunction(call.Label("FunctionName"), shapes::kNamespacedFunctionName,
                                       std::nullopt));
  const std::string& payload = call.request.body;
  RETURN_ERROR_IF(CheckPayload(payload, kMaxInvokeAsyncArgs, "InvokeAsync"));
  RETURN_ERROR_IF(
      ctx.functions->ResolveInvocation(call.scope, ref.name, ref.qualifier, WeightDraw()).status());
  std::string request_id = RandomUuid();
  RETURN_ERROR_IF(ctx.events->Enqueue(call.scope, ref.name, ref.qualifier,
                                      payload.empty() ? "{}" : payload, request_id));
  HttpResponse r = JsonResponse(202, {{"Status", 202}});
  r.SetHeader("x-amzn-RequestId", request_id);
  return r;
}

HttpResponse PutFunctionConcurrency(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(const Body& body, call.JsonBody());
  ASSIGN_OR_ERROR(auto reserved, body.Int("ReservedConcurrentExecutions"));
  Validator v;
  if (!reserved) {
    v.NotNull("reservedConcurrentExecutions");
  } else {
    v.Range("reservedConcurrentExecutions", *reserved, 0, INT32_MAX);
  }
  RETURN_ERROR_IF(v.ToStatus());
  RETURN_ERROR_IF(ctx.functions->PutReservedConcurrency(call.scope, name, reserved));
  return JsonResponse(200, {{"ReservedConcurrentExecutions", *reserved}});
}

HttpResponse GetFunctionConcurrency(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  ASSIGN_OR_ERROR(auto reserved, ctx.functions->GetReservedConcurrency(call.scope, name));
  json body = json::object();
  if (reserved) body["ReservedConcurrentExecutions"] = *reserved;
  return JsonResponse(200, body);
}

HttpResponse DeleteFunctionConcurrency(const ApiContext& ctx, const Call& call) {
  ASSIGN_OR_ERROR(std::string name, UnqualifiedFunctionName(call));
  return StatusResponse(ctx.functions->PutReservedConcurrency(call.scope, name, std::nullopt));
}

}  // namespace ops

}  // namespace lambkin::lambdaapi
