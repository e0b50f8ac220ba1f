// lambkin: the server (`lambkin serve`) and the operator verbs that talk to it.
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/compliance_command.h"
#include "cli/credentials.h"
#include "cli/http_client.h"
#include "cli/iam_command.h"
#include "cli/insights_command.h"
#include "cli/logs_command.h"
#include "cli/rollout_command.h"
#include "cli/runtime_command.h"
#include "cli/serve.h"

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  // File names in packages and image layers are UTF-8 (libarchive converts through the locale).
  std::setlocale(LC_CTYPE, "C.UTF-8");
  CLI::App app{"Lambkin: a self-hosted AWS Lambda with real runtime management"};
  app.require_subcommand(1);

  lambkin::cli::ServeOptions serve;
  serve.runtimes_dir = EnvOr("LAMBKIN_RUNTIMES_DIR", LAMBKIN_DEFAULT_RUNTIMES_DIR);
  serve.console_dir = EnvOr("LAMBKIN_CONSOLE_DIR", LAMBKIN_DEFAULT_CONSOLE_DIR);
  auto* serve_cmd = app.add_subcommand("serve", "Run the Lambkin server");
  serve_cmd
      ->add_option("--data", serve.data_dir, "Data directory (the SQLite store unless --store)")
      ->capture_default_str();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free)")
      ->capture_default_str();
  serve_cmd->add_option("--config", serve.config_file, "JSON configuration file");
  serve_cmd->add_option("--runtimes", serve.runtimes_dir, "Built-in runtime bundles")
      ->capture_default_str();
  serve_cmd->add_option("--console", serve.console_dir, "The web console's built files")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-connections", serve.max_connections,
                   "Connections the listener holds at once; past it, 503 and close (default "
                   "16384, or the configuration's http.max_connections)")
      ->check(CLI::Range(16, 1 << 20));
  serve_cmd
      ->add_option("--shutdown-timeout", serve.shutdown_seconds,
                   "Seconds in-flight requests may take to finish after SIGTERM")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  serve_cmd
      ->add_option("--log-format", serve.log_format,
                   "text, or json: JSON lines (the server's messages and one per request, with "
                   "its request id)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  serve_cmd->add_option("--metrics-listen", serve.metrics_listen,
                        "HOST:PORT of a Prometheus endpoint (GET /metrics, unauthenticated: bind "
                        "it where only your scraper reaches)");
  serve_cmd->add_option("--threads", serve.threads, "Worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve_cmd
      ->add_option("--clock", serve.clock,
                   "real, or simulated: `lambkin clock advance` moves time forward")
      ->capture_default_str()
      ->check(CLI::IsMember({"real", "simulated"}));
  serve_cmd->add_option(
      "--iam", serve.iam_file,
      "IAM declaration (organisation, SCPs, users, roles, keys) applied at start");
  serve_cmd
      ->add_option("--auth", serve.auth,
                   "sigv4, or none: accept unsigned requests as the development user (trials, "
                   "benchmarks)")
      ->capture_default_str()
      ->check(CLI::IsMember({"sigv4", "none"}));
  serve_cmd->add_flag("--production", serve.production,
                      "No development user: the README's development key is removed and refused");
  serve_cmd
      ->add_option("--network", serve.network,
                   "What functions reach beyond their own loopback: none (default), or outbound "
                   "(the world through slirp4netns, never this host)")
      ->check(CLI::IsMember({"none", "outbound"}));
  serve_cmd->add_option("--store", serve.store,
                        "sqlite (the file in --data, default) or postgres://USER@HOST:PORT/DB "
                        "(one database that several nodes share)");
  serve_cmd
      ->add_option("--function-url-domain", serve.function_url_domain,
                   "Domain of function URLs: <url-id>.lambda-url.<region>.<domain>")
      ->capture_default_str();
  serve_cmd->add_option("--advertise", serve.advertise,
                        "HOST:PORT the other nodes reach this one at (default: the listen "
                        "address)");
  serve_cmd->add_flag("--registry-anonymous-pull", serve.registry_anonymous_pull,
                      "Anyone may pull runtime-version images from /v2/, without credentials");

  std::string endpoint = EnvOr("LAMBKIN_ENDPOINT", "http://127.0.0.1:9001");
  // Every --region of the operator verbs: the region of what they act on, and of the signature
  // (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1).
  std::string region_flag;
  auto* runtime_cmd = app.add_subcommand("runtime", "Runtime versions in the catalogue");
  runtime_cmd->require_subcommand(1);
  lambkin::cli::RuntimeListOptions list;
  auto* list_cmd = runtime_cmd->add_subcommand("list", "List runtime versions and their ARNs");
  list_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  list_cmd->add_option("--region", region_flag, "Region whose ARNs to show");
  list_cmd->add_flag("--json", list.json, "Machine-readable output");

  lambkin::cli::RuntimePublishOptions publish;
  auto* publish_cmd =
      runtime_cmd->add_subcommand("publish", "Publish a bundle as a new runtime version");
  publish_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  publish_cmd->add_option("--runtime", publish.runtime, "Runtime identifier (python3.12)")
      ->required();
  publish_cmd->add_option("--version", publish.version,
                          "Version number (must rise; default: the next one)");
  publish_cmd
      ->add_option("--image", publish.image,
                   "The runtime version's image: oci:<layout dir>[:<ref>], or a registry "
                   "reference (host/repository:tag, host/repository@sha256:…)")
      ->required();
  publish_cmd->add_option("--severity", publish.severity, "critical|high|medium|low")
      ->capture_default_str()
      ->check(CLI::IsMember({"critical", "high", "medium", "low"}));
  publish_cmd->add_option("--notes", publish.notes, "Release notes");
  publish_cmd->add_flag("--json", publish.json, "Machine-readable output");
  publish_cmd->add_flag("--fast-track", publish.fast_track,
                        "Emergency: roll out with the critical pacing whatever the severity");

  lambkin::cli::RuntimeBuildOptions build;
  auto* build_cmd = runtime_cmd->add_subcommand(
      "build", "Build runtime versions from their definitions' pinned Debian packages");
  build_cmd
      ->add_option("definitions", build.definitions, "Definition directories (runtimes/python3.11)")
      ->required();
  build_cmd->add_option("--output", build.output, "Where each runtime's OCI layout is written")
      ->capture_default_str();
  build_cmd->add_option("--cache", build.cache,
                        "Package cache (default $LAMBKIN_CACHE_DIR or ~/.cache/lambkin)");
  build_cmd->add_flag("--refresh", build.refresh,
                      "Resolve the newest package versions into a new lock file first");
  build_cmd->add_flag("--quiet", build.quiet, "Say nothing about runtimes already built");
  build_cmd->add_flag("--publish", build.publish,
                      "Publish each build as the next version of its runtime");
  build_cmd->add_option("--endpoint", endpoint, "Server URL for --publish (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  build_cmd->add_option("--severity", build.publish_options.severity, "critical|high|medium|low")
      ->capture_default_str()
      ->check(CLI::IsMember({"critical", "high", "medium", "low"}));
  build_cmd->add_option("--notes", build.publish_options.notes, "Release notes");

  lambkin::cli::AdminOptions admin;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
        ->capture_default_str();
    cmd->add_flag("--json", admin.json, "Machine-readable output");
  };
  std::string version_name, reason, runtime_filter, duration, qualifier, function;
  int events = 8;
  std::vector<CLI::App*> lifecycle_cmds;
  for (const char* v : {"deprecate", "block"}) {
    auto* cmd = runtime_cmd->add_subcommand(
        v, std::string(v) == "block"
               ? "Withdraw a bad version: abort its rollout, move Auto functions back"
               : "Mark an older version deprecated: no new Manual pins");
    cmd->add_option("version", version_name, "Runtime version name (python:3.12.v2) or ARN")
        ->required();
    if (std::string(v) == "block") cmd->add_option("--reason", reason, "Why, for the record");
    add_common(cmd);
    lifecycle_cmds.push_back(cmd);
  }

  lambkin::cli::LifecycleOptions lifecycle;
  auto* lifecycle_cmd = runtime_cmd->add_subcommand(
      "lifecycle",
      "A runtime's deprecation, block-create and block-update dates (or all runtimes')");
  lifecycle_cmd->add_option("runtime", lifecycle.runtime, "Runtime identifier (python3.11)");
  lifecycle_cmd->add_option("--deprecation-date", lifecycle.deprecation_date,
                            "YYYY-MM-DD (UTC): no more security patches from then");
  lifecycle_cmd->add_option("--create-block-date", lifecycle.create_block_date,
                            "YYYY-MM-DD: CreateFunction refused from then");
  lifecycle_cmd->add_option("--update-block-date", lifecycle.update_block_date,
                            "YYYY-MM-DD: UpdateFunctionCode/Configuration refused from then");
  lifecycle_cmd->add_flag("--clear", lifecycle.clear, "Remove every date");
  add_common(lifecycle_cmd);

  auto* compliance_cmd =
      app.add_subcommand("compliance", "Who must act to keep each function version patched");
  compliance_cmd->require_subcommand(1);
  lambkin::cli::ComplianceReportOptions compliance_report;
  auto* compliance_report_cmd = compliance_cmd->add_subcommand(
      "report",
      "Every function version: update mode, runtime version lag, lifecycle, "
      "dependencies, who must act");
  compliance_report_cmd->add_option("--region", compliance_report.region, "Only this region");
  compliance_report_cmd->add_option("--runtime", compliance_report.runtime,
                                    "Only this runtime (python3.11)");
  compliance_report_cmd->add_flag("--csv", compliance_report.csv, "CSV for auditors");
  add_common(compliance_report_cmd);
  std::string package_file, package_runtime, package_region;
  auto* check_package_cmd = compliance_cmd->add_subcommand(
      "check-package",
      "How a deployment package's bundled packages sit against a runtime, now and in its "
      "published newer versions (exit 3 when at risk)");
  check_package_cmd->add_option("file", package_file, "The .zip deployment package")->required();
  check_package_cmd->add_option("--runtime", package_runtime, "Runtime identifier (python3.11)")
      ->required();
  check_package_cmd->add_option("--region", package_region, "Region (default: the server's)");
  add_common(check_package_cmd);

  auto* show_cmd =
      runtime_cmd->add_subcommand("show", "A runtime version, its image and bill of materials");
  show_cmd->add_option("version", version_name, "Runtime version name (python:3.11.v2) or ARN")
      ->required();
  add_common(show_cmd);
  std::string other_version;
  auto* diff_cmd = runtime_cmd->add_subcommand(
      "diff", "What changed between two runtime versions: upgraded, added, removed packages");
  diff_cmd->add_option("from", version_name, "The older version (python:3.11.v1)")->required();
  diff_cmd->add_option("to", other_version, "The newer version (python:3.11.v2)")->required();
  add_common(diff_cmd);

  auto* rollout_cmd = app.add_subcommand("rollout", "Rollouts of runtime versions");
  rollout_cmd->require_subcommand(1);
  auto* status_cmd = rollout_cmd->add_subcommand("status", "Phase and progress per region");
  status_cmd->add_option("--runtime", runtime_filter, "Only this runtime (python3.12)");
  status_cmd->add_option("--events", events, "Recent events to show per rollout")
      ->capture_default_str();
  add_common(status_cmd);
  std::vector<CLI::App*> verb_cmds;
  for (const char* v : {"pause", "resume", "advance", "abort", "fast-track"}) {
    std::string what = v;
    std::string help = what == "pause"     ? "Stop the rollout's clock"
                       : what == "resume"  ? "End a pause; release held regions"
                       : what == "advance" ? "Skip the current wait (wave, phase 1, bake, hold)"
                       : what == "abort"   ? "Stop and block the version; move Auto functions back"
                                           : "Switch to the critical (emergency) pacing";
    auto* cmd = rollout_cmd->add_subcommand(v, help);
    cmd->add_option("version", version_name, "Runtime version name (python:3.12.v2)")->required();
    if (what == "resume" || what == "advance") {
      cmd->add_option("--region", region_flag, "Only this region");
    }
    add_common(cmd);
    verb_cmds.push_back(cmd);
  }
  auto* history_cmd =
      rollout_cmd->add_subcommand("history", "Every runtime version change of a function");
  history_cmd->add_option("function", function, "Function name")->required();
  history_cmd->add_option("--qualifier", qualifier, "$LATEST or a version number");
  history_cmd->add_option("--region", region_flag, "Region of the function");
  add_common(history_cmd);

  auto* image_cmd = app.add_subcommand("image", "Container-image functions");
  image_cmd->require_subcommand(1);
  bool rebase_publish = false;
  auto* rebase_cmd = image_cmd->add_subcommand(
      "rebase",
      "Rebuild a function's image on its runtime's newest version (swap the base layers, push, "
      "deploy)");
  rebase_cmd->add_option("function", function, "Function name")->required();
  rebase_cmd->add_option("--region", region_flag, "Region of the function");
  rebase_cmd->add_flag("--publish", rebase_publish, "Also publish a version of the result");
  add_common(rebase_cmd);

  auto* clock_cmd = app.add_subcommand("clock", "The server's clock (simulated mode)");
  clock_cmd->require_subcommand(1);
  auto* clock_show = clock_cmd->add_subcommand("show", "Print the server's time");
  add_common(clock_show);
  auto* clock_advance =
      clock_cmd->add_subcommand("advance", "Move a simulated clock forward, running due steps");
  clock_advance->add_option("duration", duration, "How far: 72h, 30m, 2d, 1h30m")->required();
  add_common(clock_advance);

  auto* logs_cmd = app.add_subcommand("logs", "Function logs");
  logs_cmd->require_subcommand(1);
  lambkin::cli::LogsTailOptions tail;
  auto* tail_cmd = logs_cmd->add_subcommand("tail", "Print a function's log events");
  tail_cmd->add_option("function", tail.function, "Function name")->required();
  tail_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  tail_cmd->add_option("--region", region_flag, "Region of the function");
  tail_cmd->add_flag("-f,--follow", tail.follow, "Keep printing new events");
  int64_t since_minutes = 10;
  tail_cmd->add_option("--since-minutes", since_minutes, "Start this many minutes ago")
      ->capture_default_str();

  auto* insights_cmd = app.add_subcommand("insights", "Contributor Insights rules");
  insights_cmd->require_subcommand(1);
  lambkin::cli::InsightsReportOptions report;
  auto* report_cmd = insights_cmd->add_subcommand(
      "report", "Chart a rule's contributors over time (one line per runtime version)");
  report_cmd->add_option("rule", report.rule, "Rule name")->required();
  report_cmd->add_option("--period", report.period, "Length of a datapoint: 5m, 1h, 6h")
      ->capture_default_str();
  report_cmd->add_option("--since", report.since, "How far back from now: 3h, 2d")
      ->capture_default_str();
  report_cmd->add_option("--region", region_flag, "Region of the rule");
  report_cmd->add_option("--max", report.max_contributors, "Most contributors to show (1-100)")
      ->capture_default_str();
  report_cmd->add_option("--width", report.width, "Chart width in columns")->capture_default_str();
  report_cmd->add_option("--height", report.height, "Chart height in rows")->capture_default_str();
  report_cmd->add_option("--png", report.png, "Also write the chart as a PNG image");
  report_cmd->add_option("--svg", report.svg, "Also write the chart as an SVG image");
  add_common(report_cmd);

  auto* iam_cmd = app.add_subcommand("iam", "Accounts, organisation, SCPs, users, roles, keys");
  iam_cmd->require_subcommand(1);
  auto* iam_show = iam_cmd->add_subcommand("show", "The IAM directory (secrets are never shown)");
  add_common(iam_show);
  std::string iam_file, key_id;
  auto* iam_apply =
      iam_cmd->add_subcommand("apply", "Apply a declaration: create or replace what it names");
  iam_apply->add_option("file", iam_file, "Declaration (JSON, docs/iam.md)")->required();
  add_common(iam_apply);
  lambkin::cli::AccessKeyOptions key;
  auto* iam_create_key =
      iam_cmd->add_subcommand("create-access-key", "A new access key for a user or a role session");
  iam_create_key->add_option("--account", key.account, "Account (default: the server's)");
  iam_create_key->add_option("--user", key.user, "User name");
  iam_create_key->add_option("--role", key.role, "Role name");
  iam_create_key->add_option("--session", key.session, "Session name (with --role)");
  add_common(iam_create_key);
  auto* iam_delete_key = iam_cmd->add_subcommand("delete-access-key", "Revoke an access key");
  iam_delete_key->add_option("id", key_id, "Access key id")->required();
  add_common(iam_delete_key);

  CLI11_PARSE(app, argc, argv);
  if (serve_cmd->parsed()) return lambkin::cli::Serve(serve);

  // The operator verbs sign every call, as the AWS CLI would with the same environment.
  lambkin::Result<lambkin::cli::ClientIdentity> identity =
      lambkin::cli::ResolveClientIdentity(lambkin::cli::SystemCredentialSources(), region_flag);
  if (!identity.ok()) {
    std::fprintf(stderr, "lambkin: %s\n", identity.status().message().c_str());
    return 1;
  }
  lambkin::cli::ApiClient client{endpoint, identity->credentials, identity->region};
  admin.client = client;
  if (iam_show->parsed()) return lambkin::cli::IamShow(admin);
  if (iam_apply->parsed()) return lambkin::cli::IamApply(admin, iam_file);
  if (iam_create_key->parsed()) return lambkin::cli::IamCreateAccessKey(admin, key);
  if (iam_delete_key->parsed()) return lambkin::cli::IamDeleteAccessKey(admin, key_id);
  if (report_cmd->parsed()) {
    report.region = client.region;
    return lambkin::cli::InsightsReport(admin, report);
  }
  for (auto* cmd : lifecycle_cmds) {
    if (cmd->parsed()) {
      return lambkin::cli::RuntimeLifecycle(admin, cmd->get_name(), version_name, reason);
    }
  }
  for (auto* cmd : verb_cmds) {
    if (cmd->parsed()) {
      return lambkin::cli::RolloutCommand(admin, cmd->get_name(), version_name, region_flag);
    }
  }
  if (show_cmd->parsed()) return lambkin::cli::RuntimeShow(admin, version_name);
  if (lifecycle_cmd->parsed()) return lambkin::cli::RuntimeLifecycleDates(admin, lifecycle);
  if (compliance_report_cmd->parsed()) {
    return lambkin::cli::ComplianceReport(admin, compliance_report);
  }
  if (check_package_cmd->parsed()) {
    return lambkin::cli::CheckPackage(admin, package_file, package_runtime, package_region);
  }
  if (diff_cmd->parsed()) return lambkin::cli::RuntimeDiff(admin, version_name, other_version);
  if (status_cmd->parsed()) return lambkin::cli::RolloutStatus(admin, runtime_filter, events);
  if (history_cmd->parsed()) {
    return lambkin::cli::RolloutHistory(admin, function, qualifier, client.region);
  }
  if (rebase_cmd->parsed()) {
    return lambkin::cli::ImageRebase(admin, function, client.region, rebase_publish);
  }
  if (clock_show->parsed()) return lambkin::cli::ClockShow(admin);
  if (clock_advance->parsed()) return lambkin::cli::ClockAdvance(admin, duration);
  if (build_cmd->parsed()) {
    build.publish_options.client = client;
    return lambkin::cli::RuntimeBuild(build);
  }
  if (publish_cmd->parsed()) {
    publish.client = client;
    return lambkin::cli::RuntimePublish(publish);
  }
  if (tail_cmd->parsed()) {
    tail.client = client;
    tail.since_ms = since_minutes * 60 * 1000;
    return lambkin::cli::LogsTail(tail);
  }
  if (list_cmd->parsed()) {
    list.client = client;
    list.region = client.region;
    return lambkin::cli::RuntimeList(list);
  }
  return 0;
}
