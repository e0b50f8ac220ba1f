#include "exec/invoker.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include <boost/asio/post.hpp>

#include <fmt/format.h>

namespace lambkin::exec {

namespace {

constexpr int64_t kCredentialMarginMs = int64_t{5} * 60 * 1000;

std::string FunctionKey(const functions::Scope& s, const std::string& name) {
  return fmt::format("{}|{}|{}", s.account, s.region, name);
}

// The name as invoked, with its qualifier: "fn" or "fn:prod".
std::string ResourceOf(const std::string& invoked_arn, const std::string& function) {
  size_t at = invoked_arn.find(":function:");
  return at == std::string::npos ? function : invoked_arn.substr(at + 10);
}

}  // namespace

Invoker::Invoker(boost::asio::io_context& ioc, server::HttpServer* http, catalog::Catalog* catalog,
                 functions::CodePackageStore* code, logs::LogWriter* logs, const Clock* clock,
                 InvokerOptions options)
    : ioc_(ioc),
      http_(http),
      catalog_(catalog),
      code_(code),
      logs_(logs),
      clock_(clock),
      options_(std::move(options)),
      sandbox_(options_.sandbox),
      reap_timer_(ioc) {
  ScheduleReap();
}

Invoker::~Invoker() {
  TerminateAll();
  // Cold starts still waiting for an image find the invoker shutting down.
  blocking_.join();
}

void Invoker::Invoke(const functions::Scope& scope, const functions::FunctionVersion& version,
                     std::optional<int64_t> reserved, InvokeRequest request, const Done& answer) {
  std::string fkey = FunctionKey(scope, version.function_name);
  std::string vkey = fkey + "|" + version.version;
  // What the metrics count: the resource as invoked (the ARN's name and qualifier), when it
  // began, and the function's busy environments then.
  auto record = std::make_shared<InvocationSample>();
  record->scope = scope;
  record->function = version.function_name;
  record->resource = ResourceOf(request.invoked_function_arn, version.function_name);
  auto started = std::chrono::steady_clock::now();
  InvocationMetricsSink* sink = metrics_sink_;
  Done done = answer;
  if (sink != nullptr) {
    done = [answer, sink, record](Result<InvokeOutcome> r) {
      if (!r.ok() && r.status().code() == StatusCode::kTooManyRequests) {
        record->throttled = true;
        sink->OnInvocationSample(*record);
      }
      answer(std::move(r));
    };
  }
  auto finish = [done, observer = invocation_observer_, sink, record, started, scope,
                 name = version.function_name, qualifier = version.version,
                 rv = version.runtime_version](InvokeOutcome o) {
    if (observer != nullptr) {
      observer->OnInvocation(scope, name, qualifier, rv, o.function_error.has_value());
    }
    if (sink != nullptr) {
      record->executed_version = o.executed_version.empty() ? qualifier : o.executed_version;
      record->runtime_version = rv;
      record->error = o.function_error.has_value();
      record->duration_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      sink->OnInvocationSample(*record);
    }
    done(std::move(o));
  };
  std::vector<std::shared_ptr<Environment>> outdated;
  std::shared_ptr<Environment> env;
  // An environment is not reused within a few minutes of its credentials' expiry.
  int64_t credentials_needed_until = SystemClock().NowMillis() + kCredentialMarginMs;
  const std::string fingerprint = functions::ConfigFingerprint(version.config);
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return done(Internal("The server is shutting down"));
    // Reserved concurrency bounds concurrent executions, warm or not.
    if (reserved && static_cast<int64_t>(BusyLocked(fkey)) >= *reserved) {
      return done(Status(StatusCode::kTooManyRequests,
                         "ReservedFunctionConcurrentInvocationLimitExceeded"));
    }
    if (sink != nullptr) record->concurrency = BusyLocked(fkey) + 1;
    auto& idle = idle_[vkey];
    while (!idle.empty() && !env) {
      Environment* e = idle.back();
      idle.pop_back();
      Entry& entry = all_.at(e);
      if (entry.config == fingerprint && entry.runtime_version == version.runtime_version &&
          (entry.credentials_expire_ms == 0 ||
           entry.credentials_expire_ms > credentials_needed_until)) {
        env = entry.env;
      } else {
        entry.Stop();  // configuration or runtime version changed
        outdated.push_back(entry.env);
      }
    }
  }
  for (auto& o : outdated) o->Shutdown();
  if (env) return env->Assign(std::move(request), finish);

  if (version.config.package_type == functions::PackageType::kImage && images_ != nullptr &&
      !images_->IsLocal(version.config.image_digest)) {
    // Pulling and unpacking an image takes seconds to minutes: not on an I/O thread.
    boost::asio::post(blocking_, [this, scope, version, fingerprint, reserved,
                                  request = std::move(request), done, finish]() mutable {
      StartNew(scope, version, fingerprint, reserved, std::move(request), done, finish);
    });
    return;
  }
  StartNew(scope, version, fingerprint, reserved, std::move(request), done, finish);
}

Result<EnvironmentConfig> Invoker::NewEnvironmentConfig(const functions::Scope& scope,
                                                        const functions::FunctionVersion& version,
                                                        int64_t* credentials_expire_ms) {
  EnvironmentConfig config;
  config.scope = scope;
  config.function_name = version.function_name;
  config.version = version.version;
  config.function = version.config;
  const functions::FunctionConfig& f = version.config;
  if (f.package_type == functions::PackageType::kImage) {
    // The image is the whole root filesystem; its config says what runs, in which directory.
    if (images_ == nullptr) return Internal("this server has no image store to run images from");
    std::string resolved = functions::ResolvedImageUri(f);
    std::string repository = resolved.substr(0, resolved.find('@'));
    oci::Platform platform{
        "linux", std::string(oci::OciArchitecture(catalog::ArchitectureName(f.architecture))), ""};
    LAMBKIN_ASSIGN_OR_RETURN(images::LocalImage image,
                             images_->Local(repository, f.image_digest, platform));
    config.rootfs_dir = image.rootfs;
    config.image_env = image.config.env;
    config.image_command = ResolveImageCommand(image.config, f.image_config);
    // The runtime version the image was built FROM, when it was recognised: INIT_START names
    // it (exec/environment.cc).
    if (f.image_base != 0) {
      if (auto base = catalog_->Get(f.image_base)) {
        config.runtime_version_id = base->id;
        config.runtime_version_name = base->name;
        config.runtime_version_arn = catalog_->Arn(*base, scope.region, f.architecture);
      }
    }
  } else {
    // The code unpacked once per package, the runtime version's bundle.
    LAMBKIN_ASSIGN_OR_RETURN(config.code_dir, code_->Unpacked(functions::CodeSha256Hex(f)));
    if (!f.layers.empty()) {
      std::vector<std::string> layers;
      for (const functions::FunctionLayer& l : f.layers) layers.push_back(l.sha256_hex);
      LAMBKIN_ASSIGN_OR_RETURN(config.opt_dir, code_->Merged(layers));
    }
    auto rv = catalog_->Get(version.runtime_version);
    if (!rv) {
      return Internal("runtime version of the function is missing from the catalogue");
    }
    config.runtime_version_id = rv->id;
    config.runtime_version_name = rv->name;
    config.runtime_version_arn = catalog_->Arn(*rv, scope.region, f.architecture);
    LAMBKIN_ASSIGN_OR_RETURN(config.rootfs_dir, catalog_->LocalRootFilesystem(rv->id));
    config.image_env = rv->image_env;
  }
  config.sandbox = &sandbox_;
  config.api_handler = api_handler_;
  config.init_timeout = options_.init_timeout;
  if (credentials_) {
    // Lambda names the role session after the function; a session name takes at least two
    // characters, so a one-character name gets AWS's suffix.
    std::string session = version.function_name.size() < 2
                              ? version.function_name + "@lambda_function"
                              : version.function_name;
    if (auto c = credentials_(f.role, session)) {
      config.credentials = {"AWS_ACCESS_KEY_ID=" + c->access_key_id,
                            "AWS_SECRET_ACCESS_KEY=" + c->secret_access_key,
                            "AWS_SESSION_TOKEN=" + c->session_token};
      *credentials_expire_ms = c->expiration_ms;
    }
  }
  return config;
}

void Invoker::StartNew(const functions::Scope& scope, const functions::FunctionVersion& version,
                       const std::string& fingerprint, std::optional<int64_t> reserved,
                       InvokeRequest request, const Done& done, const InvokeCallback& finish) {
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return done(Internal("The server is shutting down"));
  }
  std::string fkey = FunctionKey(scope, version.function_name);
  std::string vkey = fkey + "|" + version.version;
  int64_t credentials_expire_ms = 0;
  Result<EnvironmentConfig> config = NewEnvironmentConfig(scope, version, &credentials_expire_ms);
  if (!config.ok()) return done(config.status());
  auto env =
      std::make_shared<Environment>(ioc_, http_, logs_, clock_, std::move(config).value(), this);
  std::vector<std::shared_ptr<Environment>> evicted;
  {
    // Limits are checked and the slot taken in one step, so concurrent callers cannot
    // overshoot them.
    std::lock_guard lock(mu_);
    if (shutting_down_) return done(Internal("The server is shutting down"));
    size_t live =
        std::count_if(all_.begin(), all_.end(), [](const auto& kv) { return !kv.second.stopping; });
    if (reserved && static_cast<int64_t>(BusyLocked(fkey)) >= *reserved) {
      return done(Status(StatusCode::kTooManyRequests,
                         "ReservedFunctionConcurrentInvocationLimitExceeded"));
    }
    // Idle environments never keep a caller out: the least recently used one makes room.
    if (static_cast<int>(live) >= options_.max_environments && !EvictIdleLocked(&evicted)) {
      return done(Status(StatusCode::kTooManyRequests, "ConcurrentInvocationLimitExceeded"));
    }
    all_[env.get()] =
        Entry{env, fkey, vkey, fingerprint, version.runtime_version, credentials_expire_ms};
  }
  for (auto& e : evicted) e->Shutdown();
  env->Start(std::move(request), finish);
}

void Invoker::RecordThrottle(const functions::Scope& scope, const std::string& function,
                             const std::string& invoked_arn) {
  if (metrics_sink_ == nullptr) return;
  InvocationSample sample;
  sample.scope = scope;
  sample.function = function;
  sample.resource = ResourceOf(invoked_arn, function);
  sample.throttled = true;
  metrics_sink_->OnInvocationSample(sample);
}

EnvironmentCounts Invoker::Counts() {
  std::lock_guard lock(mu_);
  EnvironmentCounts c;
  for (const auto& [key, idle] : idle_) c.warm += idle.size();
  c.busy = all_.size() - std::min(all_.size(), c.warm);
  return c;
}

size_t Invoker::BusyLocked(const std::string& function_key) {
  size_t busy = 0;
  for (const auto& [e, entry] : all_) {
    if (entry.function_key != function_key || entry.stopping) continue;
    const auto& idle = idle_[entry.version_key];
    if (std::find(idle.begin(), idle.end(), e) == idle.end()) ++busy;
  }
  return busy;
}

bool Invoker::EvictIdleLocked(std::vector<std::shared_ptr<Environment>>* stop) {
  std::vector<Environment*>* oldest_list = nullptr;
  std::vector<Environment*>::iterator oldest;
  for (auto& [key, idle] : idle_) {
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if (oldest_list == nullptr || (*it)->last_used_ms() < (*oldest)->last_used_ms()) {
        oldest_list = &idle;
        oldest = it;
      }
    }
  }
  if (oldest_list == nullptr) return false;
  Entry& entry = all_.at(*oldest);
  entry.Stop();
  stop->push_back(entry.env);
  oldest_list->erase(oldest);
  return true;
}

void Invoker::OnAvailable(const std::shared_ptr<Environment>& env) {
  {
    std::lock_guard lock(mu_);
    auto it = all_.find(env.get());
    if (it == all_.end() || shutting_down_) return;
    if (!it->second.retiring) {
      idle_[it->second.version_key].push_back(env.get());
      return;
    }
    it->second.Stop();
  }
  env->Shutdown();
}

void Invoker::Retire(const functions::Scope& scope, const std::string& function,
                     const std::optional<std::string>& version) {
  std::string fkey = FunctionKey(scope, function);
  std::string vkey = version ? fkey + "|" + *version : std::string();
  std::vector<std::shared_ptr<Environment>> now;
  {
    std::lock_guard lock(mu_);
    for (auto& [e, entry] : all_) {
      if (entry.function_key != fkey || (version && entry.version_key != vkey)) continue;
      entry.retiring = true;
      auto& idle = idle_[entry.version_key];
      auto it = std::find(idle.begin(), idle.end(), e);
      if (it != idle.end()) {
        idle.erase(it);
        entry.Stop();
        now.push_back(entry.env);
      }
    }
  }
  for (auto& e : now) e->Shutdown();
}

void Invoker::OnStopped(const std::shared_ptr<Environment>& env) {
  std::shared_ptr<Environment> keep;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = all_.find(env.get());
  if (it == all_.end()) return;
  auto& idle = idle_[it->second.version_key];
  idle.erase(std::remove(idle.begin(), idle.end(), env.get()), idle.end());
  keep = std::move(it->second.env);
  all_.erase(it);
}

void Invoker::TerminateAll() {
  std::vector<std::shared_ptr<Environment>> envs;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (auto& [e, entry] : all_) envs.push_back(entry.env);
    all_.clear();
    idle_.clear();
  }
  for (auto& e : envs) e->Terminate();
}

void Invoker::ScheduleReap() {
  reap_timer_.expires_after(
      std::min<std::chrono::milliseconds>(options_.idle_timeout, std::chrono::seconds(10)));
  reap_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    Reap();
    ScheduleReap();
  });
}

void Invoker::Reap() {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  std::vector<std::shared_ptr<Environment>> expired;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, idle] : idle_) {
      auto keep = std::remove_if(idle.begin(), idle.end(), [&](Environment* e) {
        if (now - e->last_used_ms() < options_.idle_timeout.count()) return false;
        all_.at(e).Stop();
        expired.push_back(all_.at(e).env);
        return true;
      });
      idle.erase(keep, idle.end());
    }
  }
  for (auto& e : expired) e->Shutdown();
}

}  // namespace lambkin::exec
