#include "cli/rollout_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "common/clock.h"

namespace lambkin::cli {

using nlohmann::json;

namespace {

std::string Bar(double fraction, int width) {
  int full = static_cast<int>(std::lround(fraction * width));
  return "[" + std::string(full, '#') + std::string(width - full, '-') + "]";
}

void PrintRollout(const json& r, int64_t now, int events) {
  std::printf("%s (%s)  severity %s, pacing %s  %s  published %s\n",
              Str(r, "RuntimeVersion").c_str(), Str(r, "Runtime").c_str(),
              Str(r, "Severity").c_str(), Str(r, "Pacing").c_str(), Str(r, "State").c_str(),
              Str(r, "CreatedAt").c_str());
  std::printf("  %-16s %-4s %-9s %-29s %8s %9s  %s\n", "REGION", "WAVE", "PHASE", "PROGRESS",
              "MIGRATED", "REMAINING", "NEXT STEP");
  for (const auto& g : r["Regions"]) {
    int64_t migrated = g["Migrated"], remaining = g["Remaining"];
    std::string phase = Str(g, "Phase");
    double fraction = phase == "complete"         ? 1.0
                      : migrated + remaining == 0 ? 0.0
                                                  : static_cast<double>(migrated) /
                                                        static_cast<double>(migrated + remaining);
    std::string progress = fmt::format("{} {:3.0f}%", Bar(fraction, 20), fraction * 100);
    if (phase == "phase2")
      progress += fmt::format(" b{}/{}", g["Batch"].get<int>(), g["Batches"].get<int>());
    std::string next = Str(g, "NextStep");
    if (!g["NextStepAtMillis"].is_null()) {
      int64_t due = g["NextStepAtMillis"];
      next += due <= now ? " now" : " in " + FormatDuration(due - now);
    }
    if (g["Held"].is_string()) phase = "HELD";
    std::printf("  %-16s %-4d %-9s %-29s %8lld %9lld  %s\n", Str(g, "Region").c_str(),
                g["Wave"].get<int>(), phase.c_str(), progress.c_str(),
                static_cast<long long>(migrated), static_cast<long long>(remaining), next.c_str());
    if (g["Held"].is_string()) std::printf("      held: %s\n", Str(g, "Held").c_str());
  }
  const auto& list = r["Events"];
  if (events > 0 && !list.empty()) {
    std::printf("  recent events:\n");
    size_t from = list.size() > static_cast<size_t>(events) ? list.size() - events : 0;
    for (size_t i = from; i < list.size(); ++i) {
      const auto& e = list[i];
      std::string region = Str(e, "Region");
      std::printf("    %s %-14s %s\n", Str(e, "At").c_str(), region.empty() ? "*" : region.c_str(),
                  Str(e, "Text").c_str());
    }
  }
  auto found = r.find("PredictedBreaks");
  const json& predicted = found != r.end() ? *found : json::array();
  if (predicted.is_array() && !predicted.empty()) {
    std::printf("  predicted to break on %s (bundled packages the new runtime outgrows):\n",
                Str(r, "RuntimeVersion").c_str());
    for (const auto& p : predicted) {
      std::printf("    %s %s %s:%s  %s  %s\n", Str(p, "Account").c_str(), Str(p, "Region").c_str(),
                  Str(p, "FunctionName").c_str(), Str(p, "Version").c_str(),
                  p["Held"].get<bool>() ? "HELD out of phase 2" : "not held",
                  Str(p, "Reason").c_str());
    }
  }
}

std::string CauseLabel(const json& e) {
  std::string cause = Str(e, "Cause");
  if (cause == "create") return "create (phase 1)";
  if (cause == "function-update") return "function update (phase 1)";
  if (cause == "runtime-change") return "runtime changed";
  if (cause == "publish") return "published from $LATEST";
  if (cause == "pin") return "Manual pin";
  if (cause == "auto") return "back to Auto";
  if (cause == "phase2") return fmt::format("phase-2 sweep (batch {})", e["Batch"].dump());
  if (cause == "revert") return "reverted by the health gate";
  if (cause == "block") return "version blocked: moved back";
  if (cause == "image-rebase") return "image rebased on a newer runtime version";
  return cause;
}

}  // namespace

int RuntimeLifecycle(const AdminOptions& o, const std::string& verb, const std::string& version,
                     const std::string& reason) {
  json body = json::object();
  if (!reason.empty()) body["Reason"] = reason;
  Result<json> r = AdminCall(
      o.client, fmt::format("/lambkin/v1/runtime-versions/{}/{}", UriEncode(version, false), verb),
      body);
  if (!r.ok()) return Fail("runtime " + verb, r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("%s is now %s\n", Str(*r, "Name").c_str(), Str(*r, "State").c_str());
  }
  return 0;
}

int RolloutStatus(const AdminOptions& o, const std::string& runtime, int events) {
  std::string path = "/lambkin/v1/rollouts";
  if (!runtime.empty()) path += "?runtime=" + UriEncode(runtime, false);
  Result<json> r = AdminCall(o.client, path);
  if (!r.ok()) return Fail("rollout status", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  std::printf("now %s\n", Str(*r, "Now").c_str());
  if ((*r)["Rollouts"].empty()) std::printf("No rollouts.\n");
  for (const auto& rollout : (*r)["Rollouts"]) {
    std::printf("\n");
    PrintRollout(rollout, (*r)["NowMillis"], events);
  }
  const json& stale = (*r)["StaleImages"];
  if (stale.is_array() && !stale.empty()) {
    std::printf(
        "\nImage functions are never patched by rollouts; these were built FROM older "
        "runtime versions:\n");
    for (const auto& s : stale) {
      int64_t behind = s["VersionsBehind"].get<int64_t>();
      std::printf("  %s %s %s:%s  FROM %s, %lld version%s behind: %s\n", Str(s, "Account").c_str(),
                  Str(s, "Region").c_str(), Str(s, "FunctionName").c_str(),
                  Str(s, "Version").c_str(), Str(s, "BaseRuntimeVersion").c_str(),
                  static_cast<long long>(behind), behind == 1 ? "" : "s", Str(s, "Action").c_str());
    }
  }
  return 0;
}

int RolloutCommand(const AdminOptions& o, const std::string& verb, const std::string& version,
                   const std::string& region) {
  json body = json::object();
  if (!region.empty()) body["Region"] = region;
  Result<json> r = AdminCall(
      o.client, fmt::format("/lambkin/v1/rollouts/{}/{}", UriEncode(version, false), verb), body);
  if (!r.ok()) return Fail("rollout " + verb, r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  for (const auto& rollout : (*r)["Rollouts"]) {
    if (Str(rollout, "RuntimeVersion") != version) continue;
    PrintRollout(rollout, (*r)["NowMillis"], 3);
  }
  return 0;
}

int RolloutHistory(const AdminOptions& o, const std::string& function, const std::string& qualifier,
                   const std::string& region) {
  std::string path = "/lambkin/v1/history?function=" + UriEncode(function, false);
  if (!region.empty()) path += "&region=" + UriEncode(region, false);
  if (!qualifier.empty()) path += "&qualifier=" + UriEncode(qualifier, false);
  Result<json> r = AdminCall(o.client, path);
  if (!r.ok()) return Fail("rollout history", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  std::printf("%s\n", Str(*r, "FunctionArn").c_str());
  std::printf("  %-28s %-9s %-22s %-22s %-14s %s\n", "AT", "QUALIFIER", "FROM", "TO", "MODE",
              "CAUSE");
  for (const auto& e : (*r)["History"]) {
    std::string from = e["From"].is_null() ? "-" : e["From"].get<std::string>();
    std::printf("  %-28s %-9s %-22s %-22s %-14s %s\n", Str(e, "At").c_str(),
                Str(e, "Qualifier").c_str(), from.c_str(), Str(e, "To").c_str(),
                Str(e, "UpdateMode").c_str(), CauseLabel(e).c_str());
  }
  return 0;
}

int ImageRebase(const AdminOptions& o, const std::string& function, const std::string& region,
                bool publish) {
  std::string path =
      fmt::format("/lambkin/v1/functions/{}/image-rebase", UriEncode(function, false));
  if (!region.empty()) path += "?region=" + UriEncode(region, false);
  json body = json::object();
  if (publish) body["Publish"] = true;
  Result<json> r = AdminCall(o.client, path, body);
  if (!r.ok()) return Fail("image rebase", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else if (!(*r)["Rebased"].get<bool>()) {
    std::printf("%s\n", Str(*r, "Message").c_str());
  } else {
    std::printf("%s: rebased from %s to %s (%lld base layers replaced)\n  now %s\n  (%s)\n",
                Str(*r, "FunctionArn").c_str(), Str(*r, "From").c_str(), Str(*r, "To").c_str(),
                static_cast<long long>((*r)["ReplacedLayers"].get<int64_t>()),
                Str(*r, "ImageUri").c_str(), Str(*r, "ResolvedImageUri").c_str());
    if ((*r).contains("Version"))
      std::printf("  published as version %s\n", Str(*r, "Version").c_str());
  }
  return 0;
}

int ClockShow(const AdminOptions& o) {
  Result<json> r = AdminCall(o.client, "/lambkin/v1/clock");
  if (!r.ok()) return Fail("clock show", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("%s (%s clock)\n", Str(*r, "Now").c_str(),
                (*r)["Simulated"].get<bool>() ? "simulated" : "real");
  }
  return 0;
}

int ClockAdvance(const AdminOptions& o, const std::string& duration) {
  if (!ParseDurationMillis(duration)) {
    return Fail("clock advance",
                InvalidParameter(fmt::format(
                    "{} is not a duration (examples: 72h, 30m, 2d, 1h30m, 90s)", duration)));
  }
  Result<json> r = AdminCall(o.client, "/lambkin/v1/clock/advance", json{{"Duration", duration}});
  if (!r.ok()) return Fail("clock advance", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("clock advanced by %s: now %s\n", duration.c_str(), Str(*r, "Now").c_str());
  }
  return 0;
}

}  // namespace lambkin::cli

namespace lambkin::cli {

int RuntimeShow(const AdminOptions& o, const std::string& version) {
  Result<json> r = AdminCall(
      o.client, fmt::format("/lambkin/v1/runtime-versions/{}", UriEncode(version, false)));
  if (!r.ok()) return Fail("runtime show", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  const json& v = *r;
  std::printf("%s (%s), %s, severity %s, published %s\n", Str(v, "Name").c_str(),
              Str(v, "Runtime").c_str(), Str(v, "State").c_str(), Str(v, "Severity").c_str(),
              Str(v, "PublishedAt").c_str());
  std::printf("  image   %s\n  from    %s\n", Str(v["Image"], "Digest").c_str(),
              Str(v["Image"], "Source").c_str());
  std::printf("  %s x86_64 %s\n", Str(v, "Region").c_str(), Str(v["Arns"], "x86_64").c_str());
  std::printf("  %s arm64  %s\n", Str(v, "Region").c_str(), Str(v["Arns"], "arm64").c_str());
  const json& bom = v["BillOfMaterials"];
  std::printf("bill of materials: %zu packages\n", bom.size());
  std::printf("  %-8s %-40s %s\n", "KIND", "NAME", "VERSION");
  for (const auto& e : bom) {
    std::printf("  %-8s %-40s %s\n", Str(e, "Ecosystem").c_str(), Str(e, "Name").c_str(),
                Str(e, "Version").c_str());
  }
  return 0;
}

int RuntimeDiff(const AdminOptions& o, const std::string& from, const std::string& to) {
  Result<json> r = AdminCall(o.client, fmt::format("/lambkin/v1/runtime-versions/{}/diff/{}",
                                                   UriEncode(from, false), UriEncode(to, false)));
  if (!r.ok()) return Fail("runtime diff", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return 0;
  }
  const json& d = *r;
  std::printf("%s -> %s: %zu changed, %zu added, %zu removed\n", Str(d, "From").c_str(),
              Str(d, "To").c_str(), d["Changed"].size(), d["Added"].size(), d["Removed"].size());
  for (const auto& c : d["Changed"]) {
    std::printf("  ~ %-6s %-36s %s -> %s\n", Str(c, "Ecosystem").c_str(), Str(c, "Name").c_str(),
                Str(c, "From").c_str(), Str(c, "To").c_str());
  }
  for (const auto& c : d["Added"]) {
    std::printf("  + %-6s %-36s %s\n", Str(c, "Ecosystem").c_str(), Str(c, "Name").c_str(),
                Str(c, "Version").c_str());
  }
  for (const auto& c : d["Removed"]) {
    std::printf("  - %-6s %-36s %s\n", Str(c, "Ecosystem").c_str(), Str(c, "Name").c_str(),
                Str(c, "Version").c_str());
  }
  return 0;
}

}  // namespace lambkin::cli
