// ExecutionEnvironment: one sandbox (exec/sandbox.h) running one runtime version's bootstrap for
// one function version (or, for an image function, its image's command on the image's root
// filesystem), speaking the Lambda Runtime API at 127.0.0.1:9001 inside the sandbox's
// own network namespace, with Lambkin's AWS APIs at 127.0.0.1:9002 (AWS_ENDPOINT_URL) and the
// execution role's credentials in its environment.
//
// Its life is an explicit state machine (see EnvState); each Runtime API call or event is
// accepted only in the states listed for it, anything else is refused as AWS refuses it (403
// InvalidStateTransition, 400 InvalidRequestID):
//
//   kInitializing --first /next--> kReady --Deliver--> kInvoking --/response|/error-->
//   kAwaitingNext kAwaitingNext --/next--> kReady          (an invocation may be reserved for it
//   before that) kInitializing --/init/error, exit, init timeout--> kStopped kInvoking --timeout,
//   exit--> kStopped    any --Shutdown()--> kStopped
//
// One invocation at a time; one runtime version for the environment's whole life. Every
// environment writes INIT_START once, then START / its output / END / REPORT per invocation, to
// its own log stream. All of its work runs on its own strand of the server's io_context, so
// its methods may be called from any thread. The observer (its pool) hears when it can take
// work and when it has stopped.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "exec/log_levels.h"
#include "exec/sandbox.h"
#include "functions/model.h"
#include "logs/log_writer.h"
#include "oci/image.h"
#include "server/http_server.h"

namespace lambkin::exec {

enum class EnvState { kInitializing, kReady, kInvoking, kAwaitingNext, kStopped };
std::string_view EnvStateName(EnvState s);
// Whether the state machine allows `from` -> `to`.
bool EnvTransitionAllowed(EnvState from, EnvState to);

struct InvokeRequest {
  std::string request_id;
  std::string payload;
  std::string invoked_function_arn;
  std::string client_context;  // decoded JSON; empty when none
  bool tail = false;           // collect the last 4 KB of log for LogType: Tail
};

struct InvokeOutcome {
  std::string payload;
  std::string content_type = "application/json";
  std::optional<std::string> function_error;  // X-Amz-Function-Error
  std::string executed_version;
  std::string log_tail;  // raw bytes, up to 4 KB, from START to REPORT
};

using InvokeCallback = std::function<void(InvokeOutcome)>;

// What an image function runs (images.md §2): the image config's Entrypoint, Cmd and
// WorkingDir, each replaced by the function's ImageConfig member (EntryPoint, Command,
// WorkingDirectory) when that member is given; an absent member keeps the image's value.
struct ImageCommand {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;  // "/" when neither the image nor ImageConfig names one
  // Entrypoint ++ Cmd; without an Entrypoint, Cmd[0] is the program. Empty: nothing to run.
  std::vector<std::string> Argv() const;
};
ImageCommand ResolveImageCommand(const oci::ImageConfig& image,
                                 const std::optional<functions::ImageConfigOverrides>& overrides);

struct EnvironmentConfig {
  functions::Scope scope;
  std::string function_name;
  std::string version;  // "$LATEST" or the number
  functions::FunctionConfig function;
  // The runtime version the environment runs (for an image function, the one its image was
  // built FROM); an empty name when there is none (an image without a recognised base).
  int64_t runtime_version_id = 0;
  std::string runtime_version_name;
  std::string runtime_version_arn;
  std::string code_dir;  // empty for an image function
  std::string opt_dir;   // the layers merged, at /opt; empty for none
  std::string rootfs_dir;
  // The runtime version's image config Env (zip), or the function image's Env (image).
  std::vector<std::string> image_env;
  // Image functions only: what runs instead of the runtime version's /var/runtime/bootstrap.
  std::optional<ImageCommand> image_command;
  Sandbox* sandbox = nullptr;
  // Serves the AWS endpoint inside the environment (the server's public APIs, authenticated
  // like any other request).
  std::shared_ptr<const server::Handler> api_handler;
  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN of the execution role's
  // session ("NAME=value"); empty when the function has none.
  std::vector<std::string> credentials;
  std::chrono::milliseconds init_timeout{10000};
};

class Environment;

class EnvironmentObserver {
 public:
  virtual ~EnvironmentObserver() = default;
  // The environment finished an invocation and can take the next one.
  virtual void OnAvailable(const std::shared_ptr<Environment>& env) = 0;
  // The environment has stopped (its process is gone); drop it.
  virtual void OnStopped(const std::shared_ptr<Environment>& env) = 0;
};

class Environment : public std::enable_shared_from_this<Environment> {
 public:
  Environment(boost::asio::io_context& ioc, server::HttpServer* http, logs::LogWriter* logs,
              const Clock* clock, EnvironmentConfig config, EnvironmentObserver* observer);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  // Starts the sandboxed bootstrap; `first` is delivered when the runtime first asks for work.
  void Start(InvokeRequest first, InvokeCallback done);
  // Gives the environment its next invocation. REQUIRES: the observer was told it is available
  // and it was given nothing since.
  void Assign(InvokeRequest request, InvokeCallback done);
  // Stops the environment; an invocation in flight or reserved fails (Runtime.ExitError).
  void Shutdown();
  // Kills the process and waits for it, at once, without the strand. Only for when the
  // server's io_context no longer runs (shutdown); callbacks are not called.
  void Terminate();

  // Steady-clock milliseconds when it last started or finished work.
  int64_t last_used_ms() const { return last_used_ms_.load(); }

 private:
  struct Pending {
    InvokeRequest request;
    InvokeCallback done;
  };

  // All of these run on strand_.
  void DoStart(Pending first);
  void OnRuntimeApi(const server::HttpRequest& request, server::Respond respond);
  void OnNext(server::Respond respond);
  void OnResult(const server::HttpRequest& request, const std::string& id, bool is_error,
                const server::Respond& respond);
  void OnInitError(const server::HttpRequest& request, const server::Respond& respond);
  void OnExit();
  void OnTimeout(const std::string& request_id);
  void OnInitTimeout();
  void ReadOutput();
  // The sandbox's init has sent its endpoints: serve them and let the runtime start.
  void OnEndpoints();
  // Reads what the runtime has written so far; false at EOF.
  bool DrainOutput();
  void TakeOutput(std::string_view data);
  void Log(std::string message);
  // One line of the function's output (filtered by ApplicationLogLevel under the JSON format).
  void LogOutput(std::string line);
  // Under the JSON format, a platform record ({"time","type","record"}) at its system level.
  void Platform(std::string_view type, nlohmann::ordered_json record, LogLevel level);
  // The Text format's END and REPORT lines.
  void LogReport(const std::string& request_id, double duration, int64_t billed, int64_t used_mb,
                 double init, bool timeout);
  void SetState(EnvState to);
  void Deliver();
  // error_type: the platform error that ended the invocation (a crash), if any.
  void Finish(InvokeOutcome outcome, bool timeout, std::string_view error_type = {});
  void FailPending(std::optional<Pending>& p, std::string_view type, std::string_view text);
  void InitFailed(std::string_view error_type, std::string_view status, const std::string& payload);
  // Lambda's log line for an image that cannot be started ("IMAGE\tLaunch error: ...").
  void LogImageLaunchError(const std::string& reason);
  void Stop();
  void NotifyStopped();

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  server::HttpServer* http_;
  logs::LogWriter* logs_;
  const Clock* clock_;
  EnvironmentConfig config_;
  EnvironmentObserver* observer_;
  std::string id_;
  std::string log_stream_;
  std::string log_group_;
  std::atomic<int64_t> last_used_ms_{0};

  boost::asio::posix::stream_descriptor output_;
  boost::asio::posix::stream_descriptor exit_watch_;
  boost::asio::posix::stream_descriptor control_;  // a duplicate of the sandbox's, to wait on
  boost::asio::steady_timer timer_;
  std::unique_ptr<SandboxedProcess> sandboxed_;
  uint64_t runtime_listener_ = 0;  // HttpServer listener ids; 0 when none
  uint64_t api_listener_ = 0;
  pid_t pid_ = -1;
  EnvState state_ = EnvState::kInitializing;

  std::optional<Pending> pending_;              // reserved, not yet delivered
  std::optional<Pending> current_;              // delivered, not yet answered
  std::optional<server::Respond> next_waiter_;  // the runtime's outstanding /next
  server::HttpResponse delivered_;              // what /next answered for current_
  std::string tail_;
  std::string partial_line_;
  std::array<char, size_t{64} * 1024> buf_{};

  std::chrono::steady_clock::time_point spawned_at_;
  std::chrono::steady_clock::time_point invoke_started_at_;
  std::optional<double> init_duration_ms_;
  bool cold_ = true;
  // LoggingConfig: JSON platform records and level filtering, or Lambda's text lines.
  bool json_logs_ = false;
  bool deliver_logs_ = true;  // false for a group AWS could not create (aws/...)
  LogLevel application_level_ = LogLevel::kTrace;
  LogLevel system_level_ = LogLevel::kDebug;
  bool collecting_tail_ = false;
  bool stop_notified_ = false;
  std::string last_request_id_;
};

}  // namespace lambkin::exec
