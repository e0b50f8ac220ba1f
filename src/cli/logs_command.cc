#include "cli/logs_command.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "common/clock.h"
#include "common/uri.h"
#include "functions/model.h"

namespace lambkin::cli {

namespace {

// FilterLogEvents as any AWS client sends it, signed by the client's credentials.
Result<ClientResponse> FilterLogEvents(const ApiClient& client, const std::string& body) {
  return SendSigned(client, "logs", "POST", "/", body,
                    {{"content-type", "application/x-amz-json-1.1"},
                     {"x-amz-target", "Logs_20140328.FilterLogEvents"}});
}

// The group the function writes to (its LoggingConfig.LogGroup); a function that is gone
// (its logs outlive it) or cannot be read is taken to have used its own /aws/lambda/<name>.
std::string FunctionLogGroup(const ApiClient& client, const std::string& function) {
  Result<ClientResponse> res = SendSigned(
      client, "lambda", "GET",
      fmt::format("/2015-03-31/functions/{}/configuration", UriEncode(function, false)), "");
  if (res.ok() && res->status == 200) {
    nlohmann::json config = nlohmann::json::parse(res->body, nullptr, false);
    if (config.is_object() && config.contains("LoggingConfig") &&
        config["LoggingConfig"].value("LogGroup", "") != "") {
      return config["LoggingConfig"]["LogGroup"].get<std::string>();
    }
  }
  return functions::DefaultLogGroupName(function);
}

}  // namespace

int LogsTail(const LogsTailOptions& o) {
  SystemClock clock;
  std::string group = FunctionLogGroup(o.client, o.function);
  // A group of the function's choosing may be shared: its streams are named
  // YYYY/MM/DD/<function>[<version>]<id>, and only this function's are shown.
  std::string own_streams = group == functions::DefaultLogGroupName(o.function)
                                ? std::string()
                                : fmt::format("/{}[", o.function);
  int64_t start = clock.NowMillis() - o.since_ms;
  std::set<std::string> seen;  // event ids printed at the current start time
  while (true) {
    std::string token;
    int64_t newest = start;
    do {
      nlohmann::json req = {{"logGroupName", group}, {"startTime", start}, {"limit", 10000}};
      if (!token.empty()) req["nextToken"] = token;
      Result<ClientResponse> res = FilterLogEvents(o.client, req.dump());
      if (!res.ok()) {
        std::fprintf(stderr, "lambkin logs tail: %s\n", res.status().message().c_str());
        return 1;
      }
      nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
      if (res->status != 200 || body.is_discarded()) {
        if (o.follow && res->status == 400 &&
            body.value("__type", "") == "ResourceNotFoundException") {
          break;  // no logs yet: keep waiting
        }
        std::fprintf(
            stderr, "lambkin logs tail: %s\n",
            body.is_discarded() ? res->body.c_str() : body.value("message", res->body).c_str());
        return 1;
      }
      for (const auto& e : body["events"]) {
        std::string id = e["eventId"];
        if (seen.contains(id)) continue;
        seen.insert(id);
        if (!own_streams.empty() &&
            e["logStreamName"].get<std::string>().find(own_streams) == std::string::npos) {
          continue;
        }
        std::string msg = e["message"];
        if (!msg.empty() && msg.back() == '\n') msg.pop_back();
        int64_t ts = e["timestamp"];
        newest = std::max(newest, ts);
        std::printf("%s %s %s\n", FormatAwsTimestamp(ts).c_str(),
                    e["logStreamName"].get<std::string>().c_str(), msg.c_str());
      }
      token = body.value("nextToken", "");
    } while (!token.empty());
    std::fflush(stdout);
    if (!o.follow) return 0;
    start = newest;
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }
}

}  // namespace lambkin::cli
