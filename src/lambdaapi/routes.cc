// Every Lambda API route in one table, and the dispatch from a request to its operation.

#include <fmt/format.h>

#include "iam/authenticator.h"
#include "lambdaapi/api.h"
#include "lambdaapi/errors.h"

namespace lambkin::lambdaapi {

namespace {

struct Route {
  std::string_view method;
  std::string_view pattern;  // segments; {Label} captures one decoded segment
  Operation operation;
  AsyncOperation async_operation = nullptr;
};

constexpr Route kRoutes[] = {
    {"POST", "/2015-03-31/functions", ops::CreateFunction},
    {"GET", "/2015-03-31/functions", ops::ListFunctions},
    {"GET", "/2015-03-31/functions/{FunctionName}", ops::GetFunction},
    {"DELETE", "/2015-03-31/functions/{FunctionName}", ops::DeleteFunction},
    {"GET", "/2015-03-31/functions/{FunctionName}/configuration", ops::GetFunctionConfiguration},
    {"PUT", "/2015-03-31/functions/{FunctionName}/configuration", ops::UpdateFunctionConfiguration},
    {"PUT", "/2015-03-31/functions/{FunctionName}/code", ops::UpdateFunctionCode},
    {"POST", "/2015-03-31/functions/{FunctionName}/versions", ops::PublishVersion},
    {"GET", "/2015-03-31/functions/{FunctionName}/versions", ops::ListVersionsByFunction},
    {"POST", "/2015-03-31/functions/{FunctionName}/aliases", ops::CreateAlias},
    {"GET", "/2015-03-31/functions/{FunctionName}/aliases", ops::ListAliases},
    {"GET", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", ops::GetAlias},
    {"PUT", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", ops::UpdateAlias},
    {"DELETE", "/2015-03-31/functions/{FunctionName}/aliases/{Name}", ops::DeleteAlias},
    {"GET", "/2021-07-20/functions/{FunctionName}/runtime-management-config",
     ops::GetRuntimeManagementConfig},
    {"PUT", "/2021-07-20/functions/{FunctionName}/runtime-management-config",
     ops::PutRuntimeManagementConfig},
    {"POST", "/2015-03-31/functions/{FunctionName}/invocations", nullptr, ops::Invoke},
    {"PUT", "/2017-10-31/functions/{FunctionName}/concurrency", ops::PutFunctionConcurrency},
    {"GET", "/2019-09-30/functions/{FunctionName}/concurrency", ops::GetFunctionConcurrency},
    {"DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", ops::DeleteFunctionConcurrency},
};

// Matches `path` against a route pattern, filling `labels`.
bool Match(std::string_view pattern, const std::vector<std::string>& path,
           std::map<std::string, std::string>& labels) {
  size_t i = 0;
  pattern.remove_prefix(1);
  while (!pattern.empty()) {
    size_t slash = pattern.find('/');
    std::string_view seg = pattern.substr(0, slash);
    pattern = slash == std::string_view::npos ? std::string_view() : pattern.substr(slash + 1);
    if (i >= path.size()) return false;
    if (seg.starts_with('{')) {
      if (path[i].empty()) return false;
      labels[std::string(seg.substr(1, seg.size() - 2))] = path[i];
    } else if (seg != path[i]) {
      return false;
    }
    ++i;
  }
  return i == path.size();
}

}  // namespace

bool LambdaApi::Handle(const server::HttpRequest& request, server::Respond& respond) const {
  for (const Route& route : kRoutes) {
    std::map<std::string, std::string> labels;
    if (!Match(route.pattern, request.path, labels)) continue;
    if (route.method != request.method) continue;
    Result<functions::Scope> scope = ctx_.auth->Authenticate(request, "lambda");
    if (!scope.ok()) {
      respond(ErrorResponse(scope.status()));
      return true;
    }
    Call call{request, std::move(*scope), std::move(labels)};
    if (route.async_operation != nullptr) {
      route.async_operation(ctx_, call, std::move(respond));
    } else {
      respond(route.operation(ctx_, call));
    }
    return true;
  }
  return false;
}

}  // namespace lambkin::lambdaapi
