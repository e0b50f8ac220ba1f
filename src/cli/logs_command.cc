#include "cli/logs_command.h"

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "common/clock.h"

namespace lambkin::cli {

namespace {

// A development-credential scope naming the region, as any AWS client would send it.
std::string Authorization(const std::string& region) {
  return fmt::format(
      "AWS4-HMAC-SHA256 Credential=AKIALAMBKINDEV000001/20260101/{}/logs/aws4_request, "
      "SignedHeaders=host;x-amz-target, Signature=0",
      region);
}

}  // namespace

int LogsTail(const LogsTailOptions& o) {
  SystemClock clock;
  std::string group = fmt::format("/aws/lambda/{}", o.function);
  int64_t start = clock.NowMillis() - o.since_ms;
  std::set<std::string> seen;  // event ids printed at the current start time
  while (true) {
    std::string token;
    int64_t newest = start;
    do {
      nlohmann::json req = {{"logGroupName", group}, {"startTime", start}, {"limit", 10000}};
      if (!token.empty()) req["nextToken"] = token;
      Result<ClientResponse> res = HttpPost(o.endpoint, "/", req.dump(),
                                            {{"Content-Type", "application/x-amz-json-1.1"},
                                             {"X-Amz-Target", "Logs_20140328.FilterLogEvents"},
                                             {"Authorization", Authorization(o.region)}});
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
