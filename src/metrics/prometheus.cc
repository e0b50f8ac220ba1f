#include "metrics/prometheus.h"

#include <functional>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace lambkin::metrics {
namespace {

std::string Label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Family(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string RenderPrometheus(const std::vector<LambdaMetrics::Counter>& counters,
                             const ServerGauges& g) {
  std::string out;
  auto labels = [](const LambdaMetrics::Counter& c) {
    return fmt::format("region=\"{}\",function=\"{}\",runtime_version=\"{}\"", Label(c.region),
                       Label(c.function), Label(c.runtime_version));
  };
  // One counter family per figure: the value of a counter, or nullopt to leave it out.
  auto counter =
      [&](const char* name, const char* help,
          const std::function<std::optional<std::string>(const LambdaMetrics::Counter&)>& value) {
        Family(out, name, "counter", help);
        for (const auto& c : counters) {
          if (std::optional<std::string> v = value(c)) {
            out += fmt::format("{}{{{}}} {}\n", name, labels(c), *v);
          }
        }
      };
  auto when = [](bool present, auto v) -> std::optional<std::string> {
    return present ? std::optional<std::string>(fmt::format("{}", v)) : std::nullopt;
  };
  counter("lambkin_invocations_total",
          "Invocations answered (CloudWatch AWS/Lambda Invocations), by runtime version.",
          [&](const auto& c) { return when(c.invocations > 0, c.invocations); });
  counter("lambkin_errors_total",
          "Invocations that failed in the function, its init, a timeout or a crash (Errors).",
          [&](const auto& c) { return when(c.invocations > 0, c.errors); });
  counter("lambkin_throttles_total", "Invocations refused for concurrency (Throttles).",
          [&](const auto& c) { return when(c.throttles > 0, c.throttles); });
  counter("lambkin_invocation_duration_seconds_sum",
          "Total time of the invocations answered (Duration).", [&](const auto& c) {
            return when(c.invocations > 0, fmt::format("{:.6f}", c.duration_seconds));
          });
  Family(out, "lambkin_environments", "gauge", "Execution environments by state.");
  out += fmt::format("lambkin_environments{{state=\"warm\"}} {}\n", g.environments_warm);
  out += fmt::format("lambkin_environments{{state=\"busy\"}} {}\n", g.environments_busy);
  Family(out, "lambkin_http_requests_in_flight", "gauge",
         "Requests being handled on the listener.");
  out += fmt::format("lambkin_http_requests_in_flight {}\n", g.http_in_flight);
  Family(out, "lambkin_http_connections", "gauge", "Connections open on the listener.");
  out += fmt::format("lambkin_http_connections {}\n", g.http_connections);
  if (g.event_queue_depth) {
    Family(out, "lambkin_event_queue_depth", "gauge", "Event invocations waiting to run.");
    out += fmt::format("lambkin_event_queue_depth {}\n", *g.event_queue_depth);
    Family(out, "lambkin_event_queue_oldest_age_seconds", "gauge",
           "How long the oldest waiting event invocation has waited (the server's clock).");
    out += fmt::format("lambkin_event_queue_oldest_age_seconds {:.3f}\n",
                       static_cast<double>(g.event_queue_oldest_age_ms.value_or(0)) / 1000);
  }
  Family(out, "lambkin_store_up", "gauge", "Whether the store answered the scrape's query.");
  out += fmt::format("lambkin_store_up {}\n", g.store_ping_seconds ? 1 : 0);
  if (g.store_ping_seconds) {
    Family(out, "lambkin_store_latency_seconds", "gauge", "Time the store took to answer a query.");
    out += fmt::format("lambkin_store_latency_seconds {:.6f}\n", *g.store_ping_seconds);
  }
  Family(out, "lambkin_rollout_phase2_progress_ratio", "gauge",
         "Of the Auto function versions phase 2 moves in a region, the share moved.");
  for (const auto& r : g.rollouts) {
    double ratio = r.candidates > 0
                       ? static_cast<double>(r.migrated) / static_cast<double>(r.candidates)
                       : (r.phase == "complete" ? 1.0 : 0.0);
    out += fmt::format(
        "lambkin_rollout_phase2_progress_ratio{{runtime_version=\"{}\",region=\"{}\",phase=\"{}\"}}"
        " "
        "{:.4f}\n",
        Label(r.runtime_version), Label(r.region), Label(r.phase), ratio);
  }
  Family(out, "lambkin_rollout_remaining", "gauge",
         "Auto function versions phase 2 has still to move, by rollout and region.");
  for (const auto& r : g.rollouts) {
    out += fmt::format("lambkin_rollout_remaining{{runtime_version=\"{}\",region=\"{}\"}} {}\n",
                       Label(r.runtime_version), Label(r.region), r.remaining);
  }
  return out;
}

}  // namespace lambkin::metrics
