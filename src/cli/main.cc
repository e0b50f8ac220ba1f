// lambkin: the server (`lambkin serve`) and the operator verbs that talk to it.
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/logs_command.h"
#include "cli/runtime_command.h"
#include "cli/serve.h"

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Lambkin: a self-hosted AWS Lambda with real runtime management"};
  app.require_subcommand(1);

  lambkin::cli::ServeOptions serve;
  serve.runtimes_dir = EnvOr("LAMBKIN_RUNTIMES_DIR", LAMBKIN_DEFAULT_RUNTIMES_DIR);
  auto* serve_cmd = app.add_subcommand("serve", "Run the Lambkin server");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory (embedded SQLite store)")
      ->capture_default_str();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free)")
      ->capture_default_str();
  serve_cmd->add_option("--config", serve.config_file, "JSON configuration file");
  serve_cmd->add_option("--runtimes", serve.runtimes_dir, "Built-in runtime bundles")
      ->capture_default_str();
  serve_cmd->add_option("--threads", serve.threads, "Worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));

  std::string endpoint = EnvOr("LAMBKIN_ENDPOINT", "http://127.0.0.1:9001");
  auto* runtime_cmd = app.add_subcommand("runtime", "Runtime versions in the catalogue");
  runtime_cmd->require_subcommand(1);
  lambkin::cli::RuntimeListOptions list;
  auto* list_cmd = runtime_cmd->add_subcommand("list", "List runtime versions and their ARNs");
  list_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  list_cmd->add_option("--region", list.region, "Region whose ARNs to show");
  list_cmd->add_flag("--json", list.json, "Machine-readable output");

  lambkin::cli::RuntimePublishOptions publish;
  auto* publish_cmd =
      runtime_cmd->add_subcommand("publish", "Publish a bundle as a new runtime version");
  publish_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  publish_cmd->add_option("--runtime", publish.runtime, "Runtime identifier (python3.12)")
      ->required();
  publish_cmd->add_option("--version", publish.version, "Version number (must rise)")->required();
  publish_cmd->add_option("--bundle", publish.bundle, "Bundle directory (manifest.json, bootstrap)")
      ->required();
  publish_cmd->add_option("--severity", publish.severity, "critical|high|medium|low")
      ->capture_default_str()
      ->check(CLI::IsMember({"critical", "high", "medium", "low"}));
  publish_cmd->add_option("--notes", publish.notes, "Release notes");
  publish_cmd->add_flag("--json", publish.json, "Machine-readable output");

  auto* logs_cmd = app.add_subcommand("logs", "Function logs");
  logs_cmd->require_subcommand(1);
  lambkin::cli::LogsTailOptions tail;
  auto* tail_cmd = logs_cmd->add_subcommand("tail", "Print a function's log events");
  tail_cmd->add_option("function", tail.function, "Function name")->required();
  tail_cmd->add_option("--endpoint", endpoint, "Server URL (env LAMBKIN_ENDPOINT)")
      ->capture_default_str();
  tail_cmd->add_option("--region", tail.region, "Region of the function")->capture_default_str();
  tail_cmd->add_flag("-f,--follow", tail.follow, "Keep printing new events");
  int64_t since_minutes = 10;
  tail_cmd->add_option("--since-minutes", since_minutes, "Start this many minutes ago")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (publish_cmd->parsed()) {
    publish.endpoint = endpoint;
    return lambkin::cli::RuntimePublish(publish);
  }
  if (tail_cmd->parsed()) {
    tail.endpoint = endpoint;
    tail.since_ms = since_minutes * 60 * 1000;
    return lambkin::cli::LogsTail(tail);
  }
  if (serve_cmd->parsed()) return lambkin::cli::Serve(serve);
  if (list_cmd->parsed()) {
    list.endpoint = endpoint;
    return lambkin::cli::RuntimeList(list);
  }
  return 0;
}
