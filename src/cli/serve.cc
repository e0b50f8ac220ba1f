#include "cli/serve.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "admin/admin_api.h"
#include "catalog/catalog.h"
#include "catalog/regions.h"
#include "cli/json_file.h"
#include "cli/operator_credentials.h"
#include "cluster/cluster.h"
#include "cluster/forwarder.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/periodic.h"
#include "compliance/package_index.h"
#include "console/console_files.h"
#include "exec/event_queue.h"
#include "exec/invoker.h"
#include "exec/sandbox.h"
#include "functions/code_package.h"
#include "functions/function_policies.h"
#include "functions/function_service.h"
#include "functions/function_urls.h"
#include "iam/authenticator.h"
#include "iam/directory.h"
#include "iam/role_sessions.h"
#include "images/image_store.h"
#include "insights/insight_rules.h"
#include "insightsapi/insights_api.h"
#include "lambdaapi/api.h"
#include "lambdaapi/errors.h"
#include "logs/log_store.h"
#include "logs/log_writer.h"
#include "logsapi/logs_api.h"
#include "metrics/lambda_metrics.h"
#include "metrics/prometheus.h"
#include "oci/image.h"
#include "oci/registry_client.h"
#include "registry/catalog_images.h"
#include "registry/registry_api.h"
#include "rollout/engine.h"
#include "server/http_server.h"
#include "store/database.h"
#include "stsapi/sts_api.h"

namespace lambkin::cli {

namespace {

constexpr char kDefaultAccount[] = "123456789012";

struct Config {
  std::string account = kDefaultAccount;
  catalog::RegionSet regions = catalog::RegionSet::Default();
  exec::InvokerOptions invoker;
  exec::EventQueueOptions events;
  std::string rollout_json = "{}";
  insights::InsightsOptions insights;
  // Per registry host[:port]: the credential runtime-version pulls present, and whether it
  // speaks plain HTTP.
  oci::RegistryCredentials registry_credentials;
  bool registry_anonymous_pull = false;
  server::ServerLimits http;  // `http`: connection limits and timeouts of the listener
  // `images.strict_index`: refuse image indexes as AWS does, instead of resolving them to the
  // function's architecture.
  bool strict_image_index = false;
  std::string store;  // "sqlite" or a postgres:// URI (the config file's `store`)
  // `account_limits`: the quotas GetAccountSettings reports and PutFunctionConcurrency keeps.
  functions::AccountLimits account_limits;
  // `logs.retention_sweep_interval`: how often this node deletes expired log events.
  int64_t retention_sweep_ms = 10LL * 60 * 1000;
  // `metrics.flush_interval`: how often this node adds the metrics it counted to the store.
  int64_t metrics_flush_ms = 10LL * 1000;
};

// The `account_limits`, `logs` and `metrics` members of the config file.
Status LoadLimitsAndLogs(const nlohmann::json& doc, Config& config) {
  try {
    if (doc.contains("account_limits")) {
      const auto& a = doc["account_limits"];
      if (!a.is_object()) return InvalidParameter("config: account_limits must be an object");
      functions::AccountLimits& limits = config.account_limits;
      limits.concurrent_executions = a.value("concurrent_executions", limits.concurrent_executions);
      limits.total_code_size = a.value("code_storage_bytes", limits.total_code_size);
      if (limits.concurrent_executions < limits.min_unreserved_concurrency ||
          limits.total_code_size < 0) {
        return InvalidParameter(fmt::format(
            "config: account_limits: concurrent_executions must be at least {} (the unreserved "
            "minimum) and code_storage_bytes at least 0",
            limits.min_unreserved_concurrency));
      }
    }
    if (doc.contains("logs")) {
      const auto& l = doc["logs"];
      if (!l.is_object()) return InvalidParameter("config: logs must be an object");
      if (l.contains("retention_sweep_interval")) {
        auto every = ParseDurationMillis(l["retention_sweep_interval"].get<std::string>());
        if (!every || *every < 1000) {
          return InvalidParameter(
              "config: logs.retention_sweep_interval: a duration of at least 1s");
        }
        config.retention_sweep_ms = *every;
      }
    }
    if (doc.contains("metrics")) {
      const auto& m = doc["metrics"];
      if (!m.is_object()) return InvalidParameter("config: metrics must be an object");
      if (m.contains("flush_interval")) {
        auto every = ParseDurationMillis(m["flush_interval"].get<std::string>());
        if (!every || *every < 100 || *every > 60000) {
          return InvalidParameter("config: metrics.flush_interval: a duration from 100ms to 1m");
        }
        config.metrics_flush_ms = *every;
      }
    }
  } catch (const nlohmann::json::exception& ex) {
    return InvalidParameter(fmt::format("config: {}", ex.what()));
  }
  return Status::Ok();
}

Result<Config> LoadConfig(const std::string& path) {
  Config config;
  if (path.empty()) return config;
  LAMBKIN_ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonObject(path, "config file"));
  if (doc.contains("account_id")) {
    const auto& a = doc["account_id"];
    if (!a.is_string() || a.get<std::string>().size() != 12 ||
        a.get<std::string>().find_first_not_of("0123456789") != std::string::npos) {
      return InvalidParameter("config: account_id must be 12 digits");
    }
    config.account = a.get<std::string>();
  }
  if (doc.contains("execution")) {
    const auto& e = doc["execution"];
    if (!e.is_object()) return InvalidParameter("config: execution must be an object");
    try {
      if (e.contains("max_environments")) {
        config.invoker.max_environments = e["max_environments"].get<int>();
      }
      if (e.contains("init_timeout_ms")) {
        config.invoker.init_timeout =
            std::chrono::milliseconds(e["init_timeout_ms"].get<int64_t>());
      }
      if (e.contains("idle_timeout_ms")) {
        config.invoker.idle_timeout =
            std::chrono::milliseconds(e["idle_timeout_ms"].get<int64_t>());
      }
      if (e.contains("network")) {
        Result<exec::NetworkMode> mode = exec::ParseNetworkMode(e["network"].get<std::string>());
        if (!mode.ok()) return InvalidParameter("config: execution." + mode.status().message());
        config.invoker.sandbox.network = *mode;
      }
      if (e.contains("event_retry_delays_ms")) {
        config.events.retry_delays_ms = e["event_retry_delays_ms"].get<std::vector<int64_t>>();
      }
      if (e.contains("event_lease_ms")) {
        config.events.claim_lease_ms = e["event_lease_ms"].get<int64_t>();
        if (config.events.claim_lease_ms < 1000) {
          return InvalidParameter("config: execution.event_lease_ms must be at least 1000");
        }
      }
    } catch (const nlohmann::json::exception& ex) {
      return InvalidParameter(fmt::format("config: execution: {}", ex.what()));
    }
  }
  if (doc.contains("store")) {
    if (!doc["store"].is_string()) return InvalidParameter("config: store must be a string");
    config.store = doc["store"].get<std::string>();
  }
  if (doc.contains("registries")) {
    const auto& r = doc["registries"];
    if (!r.is_object()) return InvalidParameter("config: registries must be an object");
    try {
      for (const auto& [host, entry] : r.items()) {
        oci::RegistryCredential c;
        c.username = entry.value("username", "");
        c.password = entry.value("password", "");
        c.insecure = entry.value("insecure", false);
        config.registry_credentials[host] = c;
      }
    } catch (const nlohmann::json::exception& ex) {
      return InvalidParameter(fmt::format("config: registries: {}", ex.what()));
    }
  }
  if (doc.contains("regions")) {
    LAMBKIN_ASSIGN_OR_RETURN(config.regions, catalog::RegionSet::FromJson(doc["regions"].dump()));
  }
  if (doc.contains("rollout")) config.rollout_json = doc["rollout"].dump();
  LAMBKIN_RETURN_IF_ERROR(LoadLimitsAndLogs(doc, config));
  if (doc.contains("insights")) {
    const auto& i = doc["insights"];
    if (!i.is_object()) return InvalidParameter("config: insights must be an object");
    try {
      if (i.contains("max_rules_per_region")) {
        config.insights.max_rules_per_region = i["max_rules_per_region"].get<int>();
      }
      if (i.contains("backfill_window")) {
        auto window = ParseDurationMillis(i["backfill_window"].get<std::string>());
        if (!window) return InvalidParameter("config: insights.backfill_window: not a duration");
        config.insights.backfill_window_ms = *window;
      }
      if (i.contains("backfill_threads")) {
        config.insights.backfill_threads = i["backfill_threads"].get<int>();
      }
    } catch (const nlohmann::json::exception& ex) {
      return InvalidParameter(fmt::format("config: insights: {}", ex.what()));
    }
    if (config.insights.max_rules_per_region < 0 || config.insights.backfill_threads < 1) {
      return InvalidParameter(
          "config: insights: max_rules_per_region must be >= 0 and backfill_threads >= 1");
    }
  }
  if (doc.contains("http")) {
    const auto& h = doc["http"];
    if (!h.is_object()) return InvalidParameter("config: http must be an object");
    const std::pair<const char*, int*> seconds[] = {{"idle_seconds", &config.http.idle_seconds},
                                                    {"header_seconds", &config.http.header_seconds},
                                                    {"body_seconds", &config.http.body_seconds},
                                                    {"write_seconds", &config.http.write_seconds}};
    for (const auto& [name, field] : seconds) {
      if (!h.contains(name)) continue;
      if (!h[name].is_number_integer() || h[name].get<int64_t>() < 1 ||
          h[name].get<int64_t>() > 86400) {
        return InvalidParameter(fmt::format("config: http.{} must be 1 to 86400 seconds", name));
      }
      *field = h[name].get<int>();
    }
    if (h.contains("max_connections")) {
      if (!h["max_connections"].is_number_integer() || h["max_connections"].get<int64_t>() < 16) {
        return InvalidParameter("config: http.max_connections must be an integer >= 16");
      }
      config.http.max_connections = h["max_connections"].get<size_t>();
    }
    if (h.contains("max_header_bytes")) {
      if (!h["max_header_bytes"].is_number_integer() ||
          h["max_header_bytes"].get<int64_t>() < 1024 ||
          h["max_header_bytes"].get<int64_t>() > 1 << 20) {
        return InvalidParameter("config: http.max_header_bytes must be 1024 to 1048576");
      }
      config.http.max_header_bytes = h["max_header_bytes"].get<size_t>();
    }
  }
  if (doc.contains("images")) {
    const auto& i = doc["images"];
    if (!i.is_object() || (i.contains("strict_index") && !i["strict_index"].is_boolean())) {
      return InvalidParameter("config: images must be an object; strict_index a boolean");
    }
    config.strict_image_index = i.value("strict_index", false);
  }
  if (doc.contains("registry")) {
    const auto& r = doc["registry"];
    if (!r.is_object() || (r.contains("anonymous_pull") && !r["anonymous_pull"].is_boolean())) {
      return InvalidParameter("config: registry must be an object; anonymous_pull a boolean");
    }
    config.registry_anonymous_pull = r.value("anonymous_pull", false);
  }
  return config;
}

int Fail(const Status& s) {
  log::Error("serve", s.message());
  return 1;
}

// A line of what the server says on stdout: as it always read in text, or a JSON line.
void Say(std::string_view line) {
  if (log::Json()) {
    std::string_view message = line;
    if (message.starts_with("lambkin ")) message.remove_prefix(8);
    while (message.starts_with(' ')) message.remove_prefix(1);
    log::Info("serve", message);
  } else {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  }
}

// Open connections and files are descriptors: take every one the hard limit allows.
void RaiseDescriptorLimit() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int Serve(const ServeOptions& options) {
  log::SetFormat(options.log_format == "json" ? log::Format::kJson : log::Format::kText);
  RaiseDescriptorLimit();
  // The local time zone, read once: with TZ unset glibc checks /etc/localtime at every
  // mktime(), which libarchive calls twice per zip entry it reads.
  ::setenv("TZ", ":/etc/localtime", 0);
  // First, while the process has one thread: the mounts sandboxes need go when it goes.
  if (Status s = exec::EnterPrivateMountNamespace(); !s.ok()) return Fail(s);
  Result<Config> config = LoadConfig(options.config_file);
  if (!config.ok()) return Fail(config.status());

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return Fail(Internal(fmt::format("cannot create {}: {}", options.data_dir, ec.message())));
  // Execution environments' sandboxes (another host user each) mount what they need from here:
  // they may walk through the directory, not list it. What holds secrets is 0600.
  ::chmod(options.data_dir.c_str(), 0711);
  // One server per data directory.
  std::string lock_path = options.data_dir + "/LOCK";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return Fail(Internal(fmt::format("{} is in use by another lambkin server", options.data_dir)));
  }

  Result<rollout::RolloutOptions> rollout_options =
      rollout::RolloutOptions::FromJson(config->regions, config->rollout_json);
  if (!rollout_options.ok()) return Fail(rollout_options.status());
  if (options.clock != "real" && options.clock != "simulated") {
    return Fail(InvalidParameter("--clock must be real or simulated"));
  }
  SystemClock system_clock;
  SimulatedClock simulated_clock;
  bool simulated = options.clock == "simulated";
  const Clock& clock = simulated ? static_cast<const Clock&>(simulated_clock) : system_clock;

  std::string store_location = !options.store.empty() ? options.store : config->store;
  if (store_location.empty() || store_location == "sqlite") {
    store_location = options.data_dir + "/lambkin.db";
  } else if (!store::IsPostgresUrl(store_location)) {
    return Fail(InvalidParameter("--store must be sqlite or a postgres:// URI"));
  }
  auto db = store::Database::Open(
      store_location,
      catalog::Schema() + functions::Schema() + logs::Schema() + exec::EventQueueSchema() +
          exec::EventInvokeConfigSchema() + rollout::HealthSchema() + rollout::Schema() +
          insights::Schema() + iam::Schema() + cluster::Schema() + functions::PolicySchema() +
          functions::UrlSchema() + compliance::PackageIndex::Schema() + metrics::Schema());
  if (!db.ok()) return Fail(db.status());
  // Images (runtime versions) in one content-addressed store; pulls use the operator's
  // registry credentials.
  auto blobs = oci::BlobStore::Open(options.data_dir + "/blobs");
  if (!blobs.ok()) return Fail(blobs.status());
  catalog::ImageFetcher fetch = [&config](std::string_view source, const oci::Platform& platform,
                                          oci::BlobStore* store) {
    return oci::FetchImage(source, platform, config->registry_credentials, store);
  };
  auto catalog = catalog::Catalog::Open(db->get(), &config->regions, options.data_dir, &clock,
                                        blobs->get(), fetch);
  if (!catalog.ok()) return Fail(catalog.status());
  rollout::RolloutEngine rollouts(db->get(), catalog->get(), &config->regions, &clock,
                                  *rollout_options);
  if (simulated) {
    if (Status s = rollouts.UseSimulatedClock(&simulated_clock); !s.ok()) return Fail(s);
  }
  // The built-in runtimes' root filesystems, used in place by the catalog and the sandboxes.
  const std::string shared_rootfs = options.runtimes_dir + "/rootfs";
  (*catalog)->AddSharedRootFilesystems(shared_rootfs);
  if (Status s = (*catalog)->RegisterBuiltins(options.runtimes_dir); !s.ok()) return Fail(s);
  functions::CodePackageStore code(db->get(), options.data_dir + "/code");
  if (Status s = code.Init(); !s.ok()) return Fail(s);
  functions::FunctionService service(db->get(), catalog->get(), &config->regions, &code, &clock);
  functions::LayerService layers(db->get(), &code, &clock);
  service.SetAccountLimits(config->account_limits);
  logs::LogStore log_store(db->get(), &clock);
  // Every node deletes expired log events: idempotent write transactions, serialised by the
  // store; reads hide expired events themselves, the sweep only reclaims the space.
  Periodic retention(std::chrono::milliseconds(config->retention_sweep_ms), [&log_store] {
    if (Result<int64_t> deleted = log_store.DeleteExpired(); !deleted.ok()) {
      log::Warning(
          "logs", fmt::format("retention sweep failed (retrying): {}", deleted.status().message()));
    }
  });
  insights::InsightRules insight_rules(db->get(), &log_store, &clock, config->insights);
  if (Status s = insight_rules.Start(); !s.ok()) return Fail(s);
  logs::LogWriter log_writer(&log_store);
  server::HttpServer http(options.threads);
  // --max-connections wins over the configuration file's http.max_connections when given.
  server::ServerLimits limits = config->http;
  if (options.max_connections > 0) {
    limits.max_connections = static_cast<size_t>(options.max_connections);
  }
  http.SetLimits(limits);
  config->invoker.sandbox.data_dir = options.data_dir;
  config->invoker.sandbox.shared_dirs = {shared_rootfs};
  if (!options.network.empty()) {
    Result<exec::NetworkMode> mode = exec::ParseNetworkMode(options.network);
    if (!mode.ok()) return Fail(mode.status());
    config->invoker.sandbox.network = *mode;
  }
  // Functions' container images: in the same blob store, pulled with the same registry
  // credentials, unpacked under <data>/images.
  images::ImageStore image_store(blobs->get(), {options.data_dir, config->registry_credentials});
  exec::Invoker invoker(http.io_context(), &http, catalog->get(), &code, &log_writer, &clock,
                        config->invoker);
  invoker.SetImageStore(&image_store);
  Result<std::vector<std::string>> sandbox = invoker.CheckSandbox();
  if (!sandbox.ok()) return Fail(sandbox.status());
  service.SetObserver(&invoker);
  rollouts.SetObserver(&invoker);
  // What each deployed package bundles (the compliance report, the rollout's predictions).
  compliance::PackageIndex packages(db->get(), &code);
  rollouts.SetPackageIndex(&packages);
  invoker.SetInvocationObserver(rollouts.health());
  // CloudWatch's Lambda metrics (and the Prometheus counters), from every invocation here.
  metrics::LambdaMetrics lambda_metrics(db->get(), &clock, catalog->get());
  invoker.SetMetricsSink(&lambda_metrics);
  Periodic metrics_flush(std::chrono::milliseconds(config->metrics_flush_ms), [&lambda_metrics] {
    if (Status s = lambda_metrics.Flush(); !s.ok()) {
      log::Warning("metrics", fmt::format("flush failed (retrying): {}", s.message()));
    }
  });
  // This process's node id: its Event leases and its row among the nodes sharing the store
  // (this one alone on SQLite); its address is known once listening.
  const std::string node_id = RandomUuid();
  cluster::Cluster nodes(db->get(), {node_id, ""});
  config->events.node_id = node_id;
  config->events.home_of = [&nodes](const functions::Scope& scope, const std::string& function) {
    return nodes.Home(cluster::FunctionKey(scope.account, scope.region, function));
  };
  config->events.other_nodes = [&nodes] { return nodes.Others(); };
  exec::EventInvokeConfigStore event_invoke_configs(db->get());
  exec::EventQueue events(db->get(), http.io_context(), &invoker, &service, &clock, config->events);
  // The directory: the development user (unless in production), then the declaration file.
  iam::Directory directory(db->get());
  if (Status s = directory.Load(); !s.ok()) return Fail(s);
  nlohmann::json developer = iam::DevelopmentDeclaration(config->account);
  if (options.production) {
    developer["accounts"][config->account]["users"][iam::kDevelopmentUser] = nullptr;
  }
  if (Status s = directory.Apply(developer); !s.ok()) return Fail(s);
  if (!options.iam_file.empty()) {
    Result<nlohmann::json> declaration = ReadJsonObject(options.iam_file, "IAM declaration");
    if (!declaration.ok()) return Fail(declaration.status());
    if (Status s = directory.Apply(*declaration); !s.ok()) {
      return Fail(Status(s.code(), fmt::format("{}: {}", options.iam_file, s.message())));
    }
  }
  // A production server's first operator key is written next to its data, never sent anywhere.
  std::optional<std::string> operator_credentials;
  if (options.production) {
    Result<std::optional<std::string>> written = EnsureOperatorCredentials(
        &directory, config->account, std::filesystem::absolute(options.data_dir, ec).string());
    if (!written.ok()) return Fail(written.status());
    operator_credentials = *written;
  }
  iam::Authenticator auth(&config->regions, &system_clock, &directory,
                          options.auth == "none" ? iam::AuthMode::kNone : iam::AuthMode::kSigV4,
                          config->account);
  cluster::Forwarder forwarder(http.io_context(), node_id);
  // Image pulls of CreateFunction/UpdateFunctionCode run here, never on an I/O thread.
  boost::asio::thread_pool image_pulls(2);
  functions::FunctionPolicies policies(db->get());
  functions::FunctionUrls urls(db->get(), &clock);
  lambdaapi::FunctionUrlSettings url_settings;
  url_settings.domain = options.function_url_domain;
  lambdaapi::ApiContext lambda_context{&service,
                                       catalog->get(),
                                       &config->regions,
                                       &auth,
                                       &invoker,
                                       &events,
                                       options.production ? &directory : nullptr,
                                       &system_clock,
                                       &nodes,
                                       &forwarder,
                                       &image_store,
                                       config->strict_image_index,
                                       [&image_pulls](std::function<void()> work) {
                                         boost::asio::post(image_pulls, std::move(work));
                                       }};
  lambda_context.layers = &layers;
  lambda_context.event_invoke_configs = &event_invoke_configs;
  lambda_context.policies = &policies;
  lambda_context.urls = &urls;
  lambda_context.url_settings = &url_settings;
  lambdaapi::LambdaApi lambda(std::move(lambda_context));
  admin::AdminApi admin({catalog->get(), &config->regions, &code, &service, &rollouts,
                         &insight_rules, &log_writer, &clock, simulated, config->account,
                         &directory, &auth, &image_store, blobs->get(),
                         &config->registry_credentials, &layers, db->get(), &packages});
  logsapi::LogsApi logs_api(&log_store, &log_writer, &auth);
  insightsapi::InsightsApi insights_api(&insight_rules, &log_writer, &auth);
  insights_api.SetMetrics(&lambda_metrics);
  stsapi::StsApi sts_api(&auth);
  // Runtime-version images, pulled through the OCI distribution API under /v2/.
  registry::CatalogImages images(catalog->get());
  registry::RegistryApi registry_api(
      {&images, blobs->get(), &directory, &system_clock, config->regions.default_region(),
       options.registry_anonymous_pull || config->registry_anonymous_pull ||
           options.auth == "none"});

  // Every API, on the server's listener and on the AWS endpoint inside each environment.
  server::Handler api = [&](const server::HttpRequest& request, server::Respond respond) {
    if (registry::IsRegistryRequest(request)) return respond(registry_api.Handle(request));
    if (lambda.Handle(request, respond)) return;
    if (auto r = logs_api.Handle(request)) return respond(std::move(*r));
    if (auto r = insights_api.Handle(request)) return respond(std::move(*r));
    if (auto r = sts_api.Handle(request)) return respond(std::move(*r));
    if (auto r = admin.Handle(request)) return respond(std::move(*r));
    respond(lambdaapi::ErrorResponse(
        {StatusCode::kNotImplemented,
         fmt::format("Lambkin does not implement {} {}", request.method, request.raw_path)}));
  };
  invoker.SetApiHandler(api);
  // Each environment is a session of its function's execution role, as on Lambda. A role the
  // directory does not hold (development mode accepts any) gives an environment without
  // credentials. Sessions expire by the real clock, whatever the server's clock says.
  invoker.SetCredentialSource(
      [&](const std::string& role_arn,
          const std::string& session) -> std::optional<exec::SessionCredentials> {
        Result<iam::RoleCredentials> c = directory.MintRoleSession(
            role_arn, session, system_clock.NowMillis(), iam::kDefaultRoleSessionMs);
        if (!c.ok()) return std::nullopt;
        return exec::SessionCredentials{c->access_key_id, c->secret_access_key, c->session_token,
                                        c->expiration_ms};
      });
  // The web console's files (public: every call the page makes is signed in the browser).
  Result<console::ConsoleFiles> console_files = console::ConsoleFiles::Load(options.console_dir);
  if (!console_files.ok()) return Fail(console_files.status());
  // The listener also serves function URLs (by Host or /lambda-url/ path) and the console; the
  // AWS endpoint inside environments serves neither.
  server::Handler listener = [&](const server::HttpRequest& request, server::Respond respond) {
    if (lambda.HandleFunctionUrl(request, respond)) return;
    if (auto r = console_files->Handle(request)) return respond(std::move(*r));
    api(request, std::move(respond));
  };
  Result<uint16_t> port = http.Listen(options.listen, listener);
  if (!port.ok()) return Fail(port.status());
  // Prometheus, on a listener of its own (scrapers do not sign requests): figures only, no
  // names beyond functions' and runtime versions', nothing to change. Environments cannot
  // reach it (their network namespace holds only their own loopback).
  std::optional<uint16_t> metrics_port;
  if (!options.metrics_listen.empty()) {
    server::Handler scrape = [&](const server::HttpRequest& request,
                                 const server::Respond& respond) {
      server::HttpResponse r;
      if (request.raw_path != "/metrics" || (request.method != "GET" && request.method != "HEAD")) {
        r.status = 404;
        r.SetHeader("Content-Type", "text/plain; charset=utf-8");
        r.body = "GET /metrics\n";
        return respond(std::move(r));
      }
      metrics::ServerGauges g;
      exec::EnvironmentCounts envs = invoker.Counts();
      g.environments_warm = envs.warm;
      g.environments_busy = envs.busy;
      g.http_in_flight = http.InFlight();
      g.http_connections = http.Connections();
      auto began = std::chrono::steady_clock::now();
      if (Result<exec::EventQueueStats> q = exec::ReadEventQueueStats(**db, clock.NowMillis());
          q.ok()) {
        g.store_ping_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        g.event_queue_depth = q->depth;
        g.event_queue_oldest_age_ms = q->oldest_age_ms;
      }
      if (auto list = rollouts.List(""); list.ok()) {
        for (const auto& r : *list) {
          for (const auto& region : r.regions) {
            g.rollouts.push_back({r.version.name, region.region, region.phase, region.base_count,
                                  region.migrated, region.remaining});
          }
        }
      }
      r.SetHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      r.body = metrics::RenderPrometheus(lambda_metrics.Counters(), g);
      respond(std::move(r));
    };
    Result<uint16_t> bound = http.Listen(options.metrics_listen, scrape);
    if (!bound.ok()) return Fail(bound.status());
    metrics_port = *bound;
  }
  url_settings.port = *port;
  std::string host = options.listen.substr(0, options.listen.rfind(':'));
  // A client may stop the server as soon as it says it listens: a stop before Run is handled.
  http.HandleSignals();
  // Peers reach this node at its advertised address. Caches follow changes made on any node.
  std::string advertise = options.advertise;
  if (advertise.empty()) {
    advertise =
        fmt::format("{}:{}", host == "0.0.0.0" || host == "[::]" ? "127.0.0.1" : host, *port);
  }
  nodes.SetAddress(advertise);
  auto report = [](std::string_view what, const Status& s) {
    if (!s.ok()) log::Error("", fmt::format("cannot reload {}: {}", what, s.message()));
  };
  nodes.Subscribe("iam", [&] { report("the IAM directory", directory.Load()); });
  nodes.Subscribe("catalog", [&] { report("the catalogue", (*catalog)->Reload()); });
  nodes.Subscribe("insights", [&] { report("insight rules", insight_rules.Reload()); });
  if (simulated) {
    nodes.Subscribe("clock", [&] { report("the clock", rollouts.ReloadSimulatedClock()); });
  }
  if (Status s = nodes.Start(); !s.ok()) return Fail(s);
  Say(fmt::format(
      "lambkin listening on http://{}:{} (data {}, default region {}, account {}, {} clock at {})",
      host, *port, options.data_dir, config->regions.default_region(), config->account,
      options.clock, FormatAwsTimestamp(clock.NowMillis())));
  for (const auto& v : (*catalog)->List())
    Say(fmt::format("  runtime {:<16} {}", v.runtime, v.name));
  if (nodes.multi_node()) {
    Say(fmt::format("  store {}, node {} at {} ({} live)", (*db)->display_name(), nodes.self().id,
                    advertise, nodes.Live().size()));
  }
  if (console_files->empty()) {
    Say(fmt::format("  warning: no console in {} (run `make build`)", options.console_dir));
  } else {
    Say(fmt::format("  console http://{}:{}/console/", host, *port));
  }
  if (metrics_port) {
    std::string mhost = options.metrics_listen.substr(0, options.metrics_listen.rfind(':'));
    Say(fmt::format("  metrics http://{}:{}/metrics", mhost, *metrics_port));
  }
  for (const auto& warning : *sandbox) Say(fmt::format("  warning: {}", warning));
  if (operator_credentials) {
    Say(
        fmt::format("first operator credentials (user {}, profile {}) written to {}; use them with "
                    "AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={}",
                    kOperatorUser, kOperatorProfile, *operator_credentials, *operator_credentials,
                    kOperatorProfile));
  }
  std::fflush(stdout);
  // SIGTERM (or SIGINT): no new requests; those in flight finish (up to the deadline), then
  // everything below stops in order and the logs are flushed.
  http.SetDrainDeadline(options.shutdown_seconds);
  http.OnDrain([&http, deadline = options.shutdown_seconds] {
    Say(fmt::format("lambkin stopping: no new requests; {} in flight get up to {} s to finish",
                    http.InFlight(), deadline));
    std::fflush(stdout);
  });
  events.Start();
  rollouts.Start();
  retention.Start();
  metrics_flush.Start();
  http.Run(/*handle_signals=*/true);
  nodes.Stop();
  retention.Stop();
  rollouts.Stop();
  events.Stop();
  invoker.TerminateAll();
  log_writer.Flush();
  metrics_flush.Stop(/*last_run=*/true);
  ::close(lock_fd);
  Say("lambkin stopped");
  std::fflush(stdout);
  return 0;
}

}  // namespace lambkin::cli
