// Invoker: the execution environments of every function version, and the way invocations
// reach them.
//
// For each function version it keeps the environments that are warm and idle. An invocation
// goes to an idle environment of that version whose configuration and runtime version are
// still current (environments of an outdated configuration — what the environment is built
// from, not RevisionId — or runtime version are shut down instead: the next one starts on the
// new runtime version and logs a new INIT_START); if there
// is none, a new environment starts, unless the function is at its reserved concurrency or the
// server at its environment limit, in which case the invocation is throttled. Idle environments
// are reaped after a while. Thread-safe.
//
// An environment's root filesystem is its runtime version's (zip functions, with the code at
// /var/task) or its function's image (PackageType Image, from images::ImageStore). An image
// that is not yet unpacked on this node is pulled and unpacked on the invoker's own threads,
// never on the server's I/O threads; the invocation waits for it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "catalog/catalog.h"
#include "exec/environment.h"
#include "functions/code_package.h"
#include "functions/function_service.h"
#include "images/image_store.h"
#include "logs/log_writer.h"
#include "server/http_server.h"

namespace lambkin::exec {

struct InvokerOptions {
  SandboxOptions sandbox;
  int max_environments = 64;  // across all functions
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds init_timeout{std::chrono::seconds(10)};
};

// Short-lived credentials of a function's execution role.
struct SessionCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  int64_t expiration_ms = 0;  // real (wall-clock) time
};
// Mints a session `session_name` of `role_arn`; nullopt when the role cannot be assumed (then
// the environment has no credentials). Called on every cold start: cheap, thread-safe.
using CredentialSource = std::function<std::optional<SessionCredentials>(
    const std::string& role_arn, const std::string& session_name)>;

// Told the outcome of every invocation that reached an environment (the rollout's health gate
// counts errors per function version and runtime version). Called on an I/O thread: keep it
// short.
class InvocationObserver {
 public:
  virtual ~InvocationObserver() = default;
  // `error`: the invocation failed in the function, its init, or by timeout or crash.
  virtual void OnInvocation(const functions::Scope& scope, const std::string& function,
                            const std::string& version, int64_t runtime_version, bool error) = 0;
};

// One invocation as CloudWatch's Lambda metrics count it: answered (with its duration and
// whether it failed) or throttled. `resource` is the function name as invoked, with its
// qualifier when one was given ("fn" or "fn:prod"); `concurrency` the function's environments
// busy when it began, itself included.
struct InvocationSample {
  functions::Scope scope;
  std::string function;
  std::string resource;
  std::string executed_version;
  int64_t runtime_version = 0;  // catalog id; 0 for a throttle
  double duration_ms = 0;
  bool error = false;
  bool throttled = false;
  size_t concurrency = 0;
};
class InvocationMetricsSink {
 public:
  virtual ~InvocationMetricsSink() = default;
  // Called on an I/O thread: keep it short.
  virtual void OnInvocationSample(const InvocationSample& sample) = 0;
};

// Environments right now: warm (idle, ready for an invocation) and busy (starting or running).
struct EnvironmentCounts {
  size_t warm = 0;
  size_t busy = 0;
};

class Invoker : public EnvironmentObserver, public functions::FunctionObserver {
 public:
  Invoker(boost::asio::io_context& ioc, server::HttpServer* http, catalog::Catalog* catalog,
          functions::CodePackageStore* code, logs::LogWriter* logs, const Clock* clock,
          InvokerOptions options);
  ~Invoker() override;

  // REQUIRES: called before the first Invoke.
  void SetInvocationObserver(InvocationObserver* observer) { invocation_observer_ = observer; }
  // REQUIRES: called before the first Invoke.
  void SetMetricsSink(InvocationMetricsSink* sink) { metrics_sink_ = sink; }
  EnvironmentCounts Counts();
  // Counts an invocation refused before it reached the invoker (reserved concurrency 0).
  void RecordThrottle(const functions::Scope& scope, const std::string& function,
                      const std::string& invoked_arn);
  // What serves the AWS endpoint inside every environment (the server's public APIs).
  // REQUIRES: called before the first Invoke.
  void SetApiHandler(server::Handler handler) {
    api_handler_ = std::make_shared<const server::Handler>(std::move(handler));
  }
  // Where environments get their execution role's credentials. REQUIRES: before the first
  // Invoke; without it environments have none.
  void SetCredentialSource(CredentialSource source) { credentials_ = std::move(source); }
  // Where image functions' root filesystems come from. REQUIRES: before the first Invoke;
  // without it image functions fail to start.
  void SetImageStore(images::ImageStore* images) { images_ = images; }
  // Checks that sandboxes can start here; warnings name what they do without.
  Result<std::vector<std::string>> CheckSandbox() { return sandbox_.Check(); }

  // Runs `request` on an environment of `version` (in `scope`). `reserved` is the function's
  // reserved concurrency, if set. `done` is called exactly once, possibly on another thread;
  // a throttled invocation gets kTooManyRequests-style Status via `throttled`.
  using Done = std::function<void(Result<InvokeOutcome>)>;
  void Invoke(const functions::Scope& scope, const functions::FunctionVersion& version,
              std::optional<int64_t> reserved, InvokeRequest request, const Done& done);

  // Retires the environments of a function (or of one of its versions): idle ones shut down
  // now, busy ones when their invocation ends. Called when the function is deleted or a
  // version's configuration or runtime version changes.
  void Retire(const functions::Scope& scope, const std::string& function,
              const std::optional<std::string>& version = std::nullopt);
  // Kills every environment at once and forgets them (the server has stopped its io_context).
  void TerminateAll();

  void OnFunctionChanged(const functions::Scope& scope, const std::string& function,
                         const std::optional<std::string>& version) override {
    Retire(scope, function, version);
  }
  void OnAvailable(const std::shared_ptr<Environment>& env) override;
  void OnStopped(const std::shared_ptr<Environment>& env) override;

 private:
  struct Entry {
    std::shared_ptr<Environment> env;
    std::string function_key;
    std::string version_key;
    std::string config;  // functions::ConfigFingerprint of the version it runs
    int64_t runtime_version = 0;
    int64_t credentials_expire_ms = 0;  // wall clock; 0 when it has none
    // Takes no further invocation: stopped once its invocation (if any) is done. A retiring
    // environment still running an invocation counts against the limits.
    bool retiring = false;
    bool stopping = false;  // being shut down: no longer counts against the limits
    // Marks an idle environment that is about to be shut down.
    void Stop() {
      retiring = true;
      stopping = true;
    }
  };
  // Environments of a function that are starting or running an invocation (retiring ones
  // too). REQUIRES: mu_.
  size_t BusyLocked(const std::string& function_key);
  // Makes room for a new environment when `max_environments` run: the least recently used
  // idle environment, of any function, is stopped (appended to `stop`, to shut down outside
  // the lock). False when every environment is busy. REQUIRES: mu_.
  bool EvictIdleLocked(std::vector<std::shared_ptr<Environment>>* stop);
  // What a new environment of `version` runs: its root filesystem (unpacked, or pulled and
  // unpacked, first when needed: this may take seconds), code, command and variables.
  Result<EnvironmentConfig> NewEnvironmentConfig(const functions::Scope& scope,
                                                 const functions::FunctionVersion& version,
                                                 int64_t* credentials_expire_ms);
  // Starts a new environment of `version` with `request` (Invoke found no idle one);
  // `fingerprint` is functions::ConfigFingerprint(version.config), computed once by Invoke.
  void StartNew(const functions::Scope& scope, const functions::FunctionVersion& version,
                const std::string& fingerprint, std::optional<int64_t> reserved,
                InvokeRequest request, const Done& done, const InvokeCallback& finish);
  void ScheduleReap();
  void Reap();

  boost::asio::io_context& ioc_;
  server::HttpServer* http_;
  catalog::Catalog* catalog_;
  functions::CodePackageStore* code_;
  logs::LogWriter* logs_;
  const Clock* clock_;
  InvokerOptions options_;
  InvocationObserver* invocation_observer_ = nullptr;
  InvocationMetricsSink* metrics_sink_ = nullptr;
  std::shared_ptr<const server::Handler> api_handler_;
  CredentialSource credentials_;
  images::ImageStore* images_ = nullptr;
  Sandbox sandbox_;
  boost::asio::steady_timer reap_timer_;
  // Where cold starts wait for an image to be pulled and unpacked.
  boost::asio::thread_pool blocking_{4};

  std::mutex mu_;
  std::map<Environment*, Entry> all_;
  std::map<std::string, std::vector<Environment*>> idle_;  // by version key, LIFO
  bool shutting_down_ = false;
};

}  // namespace lambkin::exec
