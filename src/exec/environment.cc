#include "exec/environment.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "common/log.h"
#include "exec/log_levels.h"
#include "exec/process.h"
#include "functions/function_service.h"

namespace lambkin::exec {

namespace asio = boost::asio;
using server::HttpRequest;
using server::HttpResponse;
using server::Respond;

namespace {

// RIE's MaxPayloadSize: 6 MB plus a little.
constexpr size_t kMaxResponseBytes = 6291556;
constexpr size_t kTailBytes = 4096;
constexpr size_t kMaxEventBytes = size_t{256} * 1024;

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double MillisSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

// The start of the JSON format's init records: initializationType, phase[, status][, errorType].
nlohmann::ordered_json InitRecord(std::string_view status = {}, std::string_view error_type = {}) {
  nlohmann::ordered_json r = {{"initializationType", "on-demand"}, {"phase", "init"}};
  if (!status.empty()) r["status"] = status;
  if (!error_type.empty()) r["errorType"] = error_type;
  return r;
}

// Milliseconds as the JSON format's metrics write them: at most three decimals.
double Millis3(double ms) { return std::round(ms * 1000) / 1000; }

HttpResponse RuntimeJson(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse RuntimeError(int status, std::string_view type, std::string_view message) {
  return RuntimeJson(status, {{"errorMessage", message}, {"errorType", type}});
}

// errorType before errorMessage, as AWS's recorded answers write them.
std::string PlatformError(std::string_view type, std::string_view request_id,
                          std::string_view text) {
  return nlohmann::ordered_json{
      {"errorType", type},
      {"errorMessage", fmt::format("RequestId: {} Error: {}", request_id, text)}}
      .dump();
}

// RIE's normalisation of Lambda-Runtime-Function-Error-Type.
std::string NormaliseErrorType(const std::optional<std::string>& header) {
  if (!header || header->empty()) return "Runtime.Unknown";
  return *header;
}

std::string ExitText(int status) {
  // bwrap, the sandbox's first process, exits with 128+N when the runtime died of signal N.
  if (WIFEXITED(status) && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) < 128 + 32) {
    int sig = WEXITSTATUS(status) - 128;
    return fmt::format("Runtime exited with error: signal: {}",
                       sig == SIGKILL ? std::string("killed") : std::string(strsignal(sig)));
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0
               ? "Runtime exited without providing a reason"
               : fmt::format("Runtime exited with error: exit status {}", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return fmt::format("Runtime exited with error: signal: {}",
                       WTERMSIG(status) == SIGKILL ? std::string("killed")
                                                   : std::string(strsignal(WTERMSIG(status))));
  }
  return "Runtime exited without providing a reason";
}

// errno's text as Go spells it (what Lambda's own messages show): "no such file or directory".
std::string ErrnoText(int error) {
  std::string text = std::strerror(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

void ReservedEnvironment(const EnvironmentConfig& c, const std::string& stream,
                         std::vector<std::string>& env) {
  auto set = [&](const std::string& k, const std::string& v) { env.push_back(k + "=" + v); };
  const bool image = c.image_command.has_value();
  // Customer variables first (an image's Env before them); reserved names are not theirs to
  // set.
  static const std::set<std::string> kReserved = {"_HANDLER",
                                                  "AWS_REGION",
                                                  "AWS_DEFAULT_REGION",
                                                  "AWS_EXECUTION_ENV",
                                                  "AWS_LAMBDA_FUNCTION_NAME",
                                                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                                                  "AWS_LAMBDA_FUNCTION_VERSION",
                                                  "AWS_LAMBDA_INITIALIZATION_TYPE",
                                                  "AWS_LAMBDA_LOG_GROUP_NAME",
                                                  "AWS_LAMBDA_LOG_STREAM_NAME",
                                                  "AWS_ACCESS_KEY",
                                                  "AWS_ACCESS_KEY_ID",
                                                  "AWS_SECRET_ACCESS_KEY",
                                                  "AWS_SESSION_TOKEN",
                                                  "AWS_LAMBDA_RUNTIME_API",
                                                  "AWS_ENDPOINT_URL",
                                                  "LAMBDA_TASK_ROOT",
                                                  "LAMBDA_RUNTIME_DIR",
                                                  "LAMBKIN_RUNTIME_VERSION",
                                                  "LAMBKIN_RUNTIME_VERSION_ARN"};
  auto customer = [&](const std::string& k) {
    return !kReserved.contains(k) && !k.starts_with("_");
  };
  auto function_sets = [&](const std::string& k) {
    return c.function.environment && c.function.environment->contains(k) && customer(k);
  };
  auto has = [&](const std::string& k) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.starts_with(k + "="); });
  };
  // The image's Env (PATH, LANG, LD_LIBRARY_PATH, ...), for what the function does not set
  // itself: for an image function before the function's variables (images.md §2), for a zip
  // function after them.
  auto add_image_env = [&] {
    for (const auto& entry : c.image_env) {
      size_t eq = entry.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      std::string k = entry.substr(0, eq);
      if (!kReserved.contains(k) && !function_sets(k) && !has(k)) env.push_back(entry);
    }
  };
  if (image) add_image_env();
  if (c.function.environment) {
    for (const auto& [k, v] : *c.function.environment) {
      if (customer(k)) set(k, v);
    }
  }
  if (!image) add_image_env();
  // Both served inside the environment's own network namespace (exec/sandbox.h).
  set("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
  set("AWS_ENDPOINT_URL", "http://127.0.0.1:9002");
  for (const auto& credential : c.credentials) env.push_back(credential);
  if (!image) {
    set("_HANDLER", c.function.handler);
  } else if (!c.image_command->cmd.empty()) {
    // An image has no Handler: its Cmd's last element is what the AWS base images' entrypoint
    // (and the runtime interface emulator) take as the handler.
    set("_HANDLER", c.image_command->cmd.back());
  }
  set("AWS_REGION", c.scope.region);
  set("AWS_DEFAULT_REGION", c.scope.region);
  if (!image && !c.function.runtime.starts_with("provided")) {
    set("AWS_EXECUTION_ENV", fmt::format("AWS_Lambda_{}", c.function.runtime));
  }
  set("AWS_LAMBDA_FUNCTION_NAME", c.function_name);
  set("AWS_LAMBDA_FUNCTION_VERSION", c.version);
  set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", std::to_string(c.function.memory_size));
  set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
  set("AWS_LAMBDA_LOG_GROUP_NAME", functions::LogGroupName(c.function, c.function_name));
  set("AWS_LAMBDA_LOG_STREAM_NAME", stream);
  // Set once a LoggingConfig was given (AWS sets neither for a function that never had one);
  // Lambda's value replaces one the function sets itself.
  const functions::LoggingConfig& logging = c.function.logging;
  auto replace = [&](const std::string& k, const std::string& v) {
    std::erase_if(env, [&](const std::string& e) { return e.starts_with(k + "="); });
    set(k, v);
  };
  if (!logging.format.empty()) replace("AWS_LAMBDA_LOG_FORMAT", logging.format);
  if (logging.Json()) replace("AWS_LAMBDA_LOG_LEVEL", logging.application_level);
  set("LAMBDA_TASK_ROOT", "/var/task");
  set("LAMBDA_RUNTIME_DIR", "/var/runtime");
  // Lambkin's own: which runtime version this environment runs (Lambda logs it only in
  // INIT_START); images shared by several versions cannot say it themselves.
  if (!c.runtime_version_name.empty()) {
    set("LAMBKIN_RUNTIME_VERSION", c.runtime_version_name);
    set("LAMBKIN_RUNTIME_VERSION_ARN", c.runtime_version_arn);
  }
  if (!has("LANG")) set("LANG", "en_US.UTF-8");
  if (!has("TZ")) set("TZ", ":UTC");
  if (!has("PATH")) set("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
  if (!has("LD_LIBRARY_PATH")) {
    set("LD_LIBRARY_PATH",
        "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib");
  }
  if (c.function.runtime.starts_with("python") && !has("PYTHONPATH")) {
    set("PYTHONPATH", "/var/runtime");
  }
  if (c.function.runtime.starts_with("nodejs") && !has("NODE_PATH")) {
    set("NODE_PATH", "/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task");
  }
}

std::string Bracketed(const std::vector<std::string>& words) {
  return fmt::format("[{}]", fmt::join(words, " "));
}

}  // namespace

std::vector<std::string> ImageCommand::Argv() const {
  std::vector<std::string> argv = entrypoint;
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  return argv;
}

ImageCommand ResolveImageCommand(const oci::ImageConfig& image,
                                 const std::optional<functions::ImageConfigOverrides>& overrides) {
  ImageCommand c{image.entrypoint, image.cmd, image.working_dir};
  if (overrides) {
    if (overrides->entry_point) c.entrypoint = *overrides->entry_point;
    if (overrides->command) c.cmd = *overrides->command;
    if (overrides->working_directory) c.working_dir = *overrides->working_directory;
  }
  if (c.working_dir.empty()) c.working_dir = "/";
  return c;
}

std::string_view EnvStateName(EnvState s) {
  switch (s) {
    case EnvState::kInitializing:
      return "Initializing";
    case EnvState::kReady:
      return "Ready";
    case EnvState::kInvoking:
      return "Invoking";
    case EnvState::kAwaitingNext:
      return "AwaitingNext";
    case EnvState::kStopped:
      return "Stopped";
  }
  return "Unknown";
}

bool EnvTransitionAllowed(EnvState from, EnvState to) {
  if (to == EnvState::kStopped) return from != EnvState::kStopped;
  switch (from) {
    case EnvState::kInitializing:
      return to == EnvState::kReady;
    case EnvState::kReady:
      return to == EnvState::kInvoking;
    case EnvState::kInvoking:
      return to == EnvState::kAwaitingNext;
    case EnvState::kAwaitingNext:
      return to == EnvState::kReady;
    case EnvState::kStopped:
      return false;
  }
  return false;
}

Environment::Environment(asio::io_context& ioc, server::HttpServer* http, logs::LogWriter* logs,
                         const Clock* clock, EnvironmentConfig config,
                         EnvironmentObserver* observer)
    : strand_(asio::make_strand(ioc)),
      http_(http),
      logs_(logs),
      clock_(clock),
      config_(std::move(config)),
      observer_(observer),
      output_(strand_),
      exit_watch_(strand_),
      control_(strand_),
      timer_(strand_) {
  id_ = RandomUuid();
  id_.erase(std::remove(id_.begin(), id_.end(), '-'), id_.end());
  std::time_t secs = static_cast<std::time_t>(clock->NowMillis() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  log_group_ = functions::LogGroupName(config_.function, config_.function_name);
  // In a group of its own choosing, a stream also names the function (as AWS's do).
  const bool own_group = log_group_ == functions::DefaultLogGroupName(config_.function_name);
  log_stream_ =
      fmt::format("{:04}/{:02}/{:02}/{}[{}]{}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  own_group ? "" : config_.function_name, config_.version, id_);
  // AWS cannot create a group named aws/... for a function, so its logs go nowhere.
  deliver_logs_ = !log_group_.starts_with("aws/");
  const functions::LoggingConfig& logging = config_.function.logging;
  json_logs_ = logging.Json();
  if (json_logs_) {
    application_level_ = ParseLogLevel(logging.application_level).value_or(LogLevel::kInfo);
    system_level_ = ParseLogLevel(logging.system_level).value_or(LogLevel::kInfo);
  }
  last_used_ms_ = SteadyMillis();
}

Environment::~Environment() {
  // The listener (if still open) holds only a weak reference; it is closed by Stop() or with
  // the server. The server may already be going away here, so it is not touched.
  Terminate();
  // Removing cgroups and unmounting /tmp take milliseconds: not on an I/O thread.
  if (sandboxed_) config_.sandbox->Retire(std::move(sandboxed_));
}

void Environment::Terminate() {
  if (sandboxed_) sandboxed_->Kill();
  if (pid_ > 0) {
    KillProcessGroup(pid_);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

void Environment::Start(InvokeRequest first, InvokeCallback done) {
  asio::dispatch(strand_, [self = shared_from_this(),
                           p = Pending{std::move(first), std::move(done)}]() mutable {
    self->DoStart(std::move(p));
  });
}

void Environment::Assign(InvokeRequest request, InvokeCallback done) {
  asio::dispatch(strand_, [self = shared_from_this(),
                           p = Pending{std::move(request), std::move(done)}]() mutable {
    if (self->state_ == EnvState::kStopped || self->pending_ || self->current_) {
      // The pool only assigns to available environments; one that stopped meanwhile fails it.
      std::optional<Pending> failed(std::move(p));
      self->FailPending(failed, "Runtime.ExitError", "Runtime exited without providing a reason");
      return;
    }
    self->pending_ = std::move(p);
    if (self->state_ == EnvState::kReady && self->next_waiter_) self->Deliver();
  });
}

void Environment::Shutdown() {
  // Posted, never run inline: a caller on the strand (an observer told of availability) must
  // not stop the environment under the handler that is finishing an invocation.
  asio::post(strand_, [self = shared_from_this()] { self->Stop(); });
}

void Environment::SetState(EnvState to) {
  assert(EnvTransitionAllowed(state_, to));
  state_ = to;
}

void Environment::Log(std::string message) {
  if (message.size() > kMaxEventBytes) message.resize(kMaxEventBytes);
  if (collecting_tail_) tail_ += message;
  if (!deliver_logs_) return;
  logs_->Write(config_.scope, log_group_, log_stream_,
               logs::LogEvent{clock_->NowMillis(), std::move(message)});
}

void Environment::Platform(std::string_view type, nlohmann::ordered_json record, LogLevel level) {
  if (level < system_level_) return;
  std::string time = FormatAwsTimestamp(clock_->NowMillis()).substr(0, 23) + "Z";
  nlohmann::ordered_json event = {{"time", time}, {"type", type}, {"record", std::move(record)}};
  Log(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Environment::DoStart(Pending first) {
  pending_ = std::move(first);
  auto fail_start = [&](const Status& s) {
    log::Error("", fmt::format("cannot start environment {}: {}", id_, s.message()));
    state_ = EnvState::kStopped;
    FailPending(pending_, "Sandbox.Failure", s.message());
    if (sandboxed_) config_.sandbox->Retire(std::move(sandboxed_));
    NotifyStopped();
  };
  SandboxRequest request;
  request.name = id_;
  request.code_dir = config_.code_dir;
  request.opt_dir = config_.opt_dir;
  request.rootfs_dir = config_.rootfs_dir;
  request.tmp_bytes = config_.function.ephemeral_storage * 1024 * 1024;
  request.memory_bytes = config_.function.memory_size * 1024 * 1024;
  if (config_.image_command) {
    std::vector<std::string> argv = config_.image_command->Argv();
    if (!argv.empty()) {
      request.program = argv.front();
      request.args.assign(argv.begin() + 1, argv.end());
    }
    request.working_dir = config_.image_command->working_dir;
  } else {
    request.program = "/var/runtime/bootstrap";
  }
  ReservedEnvironment(config_, log_stream_, request.env);

  // INIT_START names the runtime version the environment runs. Lambkin's rule for image
  // functions: an image recognised as built FROM a runtime version (FunctionConfig::image_base)
  // names that version and its ARN exactly as a zip function does; an image without such a base
  // has no INIT_START line at all, there being no runtime version to name.
  if (json_logs_) {
    // The JSON format's platform.initStart, at DEBUG when there is no runtime version to name.
    nlohmann::ordered_json record = InitRecord();
    if (!config_.runtime_version_name.empty()) {
      record["runtimeVersion"] = config_.runtime_version_name;
      record["runtimeVersionArn"] = config_.runtime_version_arn;
    }
    record["functionName"] = config_.function_name;
    record["functionVersion"] = config_.version;
    record["instanceId"] = log_stream_;
    record["instanceMaxMemory"] = config_.function.memory_size * 1024 * 1024;
    Platform("platform.initStart", std::move(record),
             config_.runtime_version_name.empty() ? LogLevel::kDebug : LogLevel::kInfo);
  } else if (!config_.runtime_version_name.empty()) {
    Log(fmt::format("INIT_START Runtime Version: {}\tRuntime Version ARN: {}\n",
                    config_.runtime_version_name, config_.runtime_version_arn));
  }
  spawned_at_ = std::chrono::steady_clock::now();
  if (config_.image_command && request.program.empty()) {
    std::string text =
        "the image has no ENTRYPOINT or CMD, and the function's ImageConfig sets no EntryPoint "
        "or Command";
    LogImageLaunchError(text);
    return InitFailed("Runtime.InvalidEntrypoint", "error",
                      PlatformError("Runtime.InvalidEntrypoint",
                                    pending_ ? pending_->request.request_id : std::string(), text));
  }
  Result<std::unique_ptr<SandboxedProcess>> launched = config_.sandbox->Launch(request);
  if (!launched.ok()) return fail_start(launched.status());
  sandboxed_ = std::move(*launched);
  const ChildProcess& child = sandboxed_->child();
  pid_ = child.pid;
  output_.assign(child.output_fd);
  exit_watch_.assign(child.pidfd);
  int control = ::fcntl(sandboxed_->control_fd(), F_DUPFD_CLOEXEC, 0);
  if (control < 0) return fail_start(Internal("cannot watch the sandbox's control socket"));
  control_.assign(control);
  std::weak_ptr<Environment> weak = weak_from_this();
  ReadOutput();
  exit_watch_.async_wait(asio::posix::stream_descriptor::wait_read,
                         [weak](boost::system::error_code ec) {
                           if (ec) return;
                           if (auto self = weak.lock()) self->OnExit();
                         });
  control_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [weak](boost::system::error_code ec) {
                        if (ec) return;
                        if (auto self = weak.lock()) self->OnEndpoints();
                      });
  timer_.expires_after(config_.init_timeout);
  timer_.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->OnInitTimeout();
  });
}

void Environment::OnEndpoints() {
  boost::system::error_code ignored;
  control_.close(ignored);
  if (state_ == EnvState::kStopped || !sandboxed_) return;
  Result<std::array<int, 2>> endpoints = sandboxed_->ReceiveEndpoints();
  // Nothing arrived: init died first, and its exit tells the rest.
  if (!endpoints.ok()) {
    if (endpoints.status().code() == StatusCode::kInternal) {
      log::Error("", fmt::format("environment {}: {}", id_, endpoints.status().message()));
      sandboxed_->Kill();
    }
    return;
  }
  std::weak_ptr<Environment> weak = weak_from_this();
  Result<uint64_t> runtime =
      http_->Adopt((*endpoints)[0], [weak](const HttpRequest& request, Respond respond) {
        auto self = weak.lock();
        if (!self) return respond(RuntimeError(500, "Runtime.Unknown", "environment gone"));
        asio::dispatch(self->strand_, [self, request, respond = std::move(respond)]() mutable {
          self->OnRuntimeApi(request, std::move(respond));
        });
      });
  std::shared_ptr<const server::Handler> api = config_.api_handler;
  Result<uint64_t> aws =
      http_->Adopt((*endpoints)[1], [api](const HttpRequest& request, Respond respond) {
        if (!api) {
          server::HttpResponse r;
          r.status = 503;
          return respond(std::move(r));
        }
        (*api)(request, std::move(respond));
      });
  if (runtime.ok()) runtime_listener_ = *runtime;
  if (aws.ok()) api_listener_ = *aws;
  Status go = runtime.ok() && aws.ok() ? sandboxed_->Go()
                                       : (runtime.ok() ? aws.status() : runtime.status());
  if (!go.ok()) {
    log::Error("", fmt::format("environment {}: {}", id_, go.message()));
    sandboxed_->Kill();
  }
}

// Output is only ever read on the strand (the wait below just says it is there), so whatever
// the runtime printed before it called the Runtime API is logged before END: DrainOutput()
// at that moment finds it in the pipe, never in an I/O operation's buffer.
void Environment::ReadOutput() {
  std::weak_ptr<Environment> weak = weak_from_this();
  output_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [weak](boost::system::error_code ec) {
                       auto self = weak.lock();
                       if (!self || ec) return;
                       if (self->DrainOutput()) self->ReadOutput();
                     });
}

bool Environment::DrainOutput() {
  if (!output_.is_open()) return false;
  while (true) {
    ssize_t n = ::read(output_.native_handle(), buf_.data(), buf_.size());
    if (n > 0) {
      TakeOutput(std::string_view(buf_.data(), static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    // EOF: the process and everything it started are gone.
    boost::system::error_code ignored;
    output_.close(ignored);
    return false;
  }
}

void Environment::TakeOutput(std::string_view data) {
  partial_line_.append(data);
  size_t start = 0;
  while (true) {
    size_t nl = partial_line_.find('\n', start);
    if (nl == std::string::npos) break;
    LogOutput(partial_line_.substr(start, nl - start + 1));
    start = nl + 1;
  }
  partial_line_.erase(0, start);
  if (partial_line_.size() > kMaxEventBytes) {
    LogOutput(std::move(partial_line_));
    partial_line_.clear();
  }
}

void Environment::LogOutput(std::string line) {
  // Under the JSON format a line below ApplicationLogLevel is left out (plain text is INFO).
  if (json_logs_ && OutputLineLevel(line) < application_level_) return;
  Log(std::move(line));
}

void Environment::OnRuntimeApi(const HttpRequest& request, Respond respond) {
  const auto& p = request.path;
  auto is = [&](std::initializer_list<std::string_view> parts) {
    if (p.size() != parts.size()) return false;
    size_t k = 0;
    for (auto part : parts) {
      if (!part.empty() && p[k] != part) return false;
      ++k;
    }
    return true;
  };
  if (is({"2018-06-01", "runtime", "invocation", "next"}) && request.method == "GET") {
    return OnNext(std::move(respond));
  }
  if (is({"2018-06-01", "runtime", "invocation", "", "response"}) && request.method == "POST") {
    return OnResult(request, p[3], false, respond);
  }
  if (is({"2018-06-01", "runtime", "invocation", "", "error"}) && request.method == "POST") {
    return OnResult(request, p[3], true, respond);
  }
  if (is({"2018-06-01", "runtime", "init", "error"}) && request.method == "POST") {
    return OnInitError(request, respond);
  }
  if (is({"2018-06-01", "ping"})) {
    HttpResponse r;
    r.body = "pong";
    return respond(std::move(r));
  }
  if ((is({"2020-08-15", "logs"}) || is({"2022-07-01", "telemetry"})) && request.method == "PUT") {
    return respond(RuntimeJson(202, nlohmann::json::object()));
  }
  respond(RuntimeError(404, "InvalidRequest", "Unknown Runtime API path"));
}

void Environment::OnNext(Respond respond) {
  switch (state_) {
    case EnvState::kInitializing:
      init_duration_ms_ = MillisSince(spawned_at_);
      timer_.cancel();
      SetState(EnvState::kReady);
      if (json_logs_) {
        Platform("platform.initRuntimeDone", InitRecord("success"), LogLevel::kDebug);
        nlohmann::ordered_json report = InitRecord("success");
        report["metrics"] = {{"durationMs", Millis3(*init_duration_ms_)}};
        Platform("platform.initReport", std::move(report), LogLevel::kDebug);
      }
      break;
    case EnvState::kAwaitingNext:
      SetState(EnvState::kReady);
      break;
    case EnvState::kInvoking: {
      // A second /next while an invocation is out: deliver the same event again (as RIE).
      return respond(delivered_);
    }
    case EnvState::kReady:
      if (next_waiter_) {
        return respond(RuntimeError(403, "InvalidStateTransition",
                                    "State transition from Ready to Ready failed for runtime. "
                                    "Error: a /next request is already waiting"));
      }
      break;
    case EnvState::kStopped:
      return respond(RuntimeError(500, "Runtime.Unknown",
                                  "Container error. Non-recoverable state. Runtime should exit "
                                  "promptly."));
  }
  next_waiter_ = std::move(respond);
  if (pending_) Deliver();
}

void Environment::Deliver() {
  current_ = std::move(pending_);
  pending_.reset();
  SetState(EnvState::kInvoking);
  tail_.clear();
  invoke_started_at_ = std::chrono::steady_clock::now();
  last_used_ms_ = SteadyMillis();
  const InvokeRequest& r = current_->request;
  last_request_id_ = r.request_id;
  collecting_tail_ = r.tail;
  if (json_logs_) {
    Platform("platform.start",
             {{"requestId", r.request_id},
              {"functionArn", functions::FunctionArn(config_.scope, config_.function_name)},
              {"version", config_.version}},
             LogLevel::kInfo);
  } else {
    Log(fmt::format("START RequestId: {} Version: {}\n", r.request_id, config_.version));
  }
  int64_t timeout_ms = config_.function.timeout * 1000;
  HttpResponse& res = delivered_;
  res = HttpResponse();
  res.SetHeader("Lambda-Runtime-Aws-Request-Id", r.request_id);
  res.SetHeader("Lambda-Runtime-Deadline-Ms", std::to_string(clock_->NowMillis() + timeout_ms));
  res.SetHeader("Lambda-Runtime-Invoked-Function-Arn", r.invoked_function_arn);
  std::string hex = Sha256Hex(r.request_id);
  res.SetHeader("Lambda-Runtime-Trace-Id",
                fmt::format("Root=1-{:08x}-{};Parent={};Sampled=0", clock_->NowMillis() / 1000,
                            hex.substr(0, 24), hex.substr(24, 16)));
  if (!r.client_context.empty()) res.SetHeader("Lambda-Runtime-Client-Context", r.client_context);
  res.SetHeader("Content-Type", "application/json");
  res.body = r.payload;
  Respond waiter = std::move(*next_waiter_);
  next_waiter_.reset();
  timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  std::weak_ptr<Environment> weak = weak_from_this();
  timer_.async_wait([weak, id = r.request_id](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->OnTimeout(id);
  });
  waiter(res);
}

void Environment::OnResult(const HttpRequest& request, const std::string& id, bool is_error,
                           const Respond& respond) {
  // The request id is checked before any state transition (as RIE does): only the invocation
  // in flight may be answered, and only once.
  bool in_flight = state_ == EnvState::kInvoking && current_ && current_->request.request_id == id;
  if (!in_flight) {
    if (!id.empty() && id == last_request_id_) {
      return respond(RuntimeError(
          403, "InvalidStateTransition",
          fmt::format("State transition from {} to ResponseSent failed for runtime. Error: "
                      "invocation {} was already answered",
                      EnvStateName(state_), id)));
    }
    return respond(RuntimeError(400, "InvalidRequestID", "Invalid request ID"));
  }
  DrainOutput();
  InvokeOutcome outcome;
  if (!is_error && request.body.size() > kMaxResponseBytes) {
    respond(RuntimeError(
        413, "RequestEntityTooLarge",
        fmt::format("Exceeded maximum allowed payload size ({} bytes).", kMaxResponseBytes)));
    // AWS's recorded text: no size of the response itself.
    outcome.payload = nlohmann::json{{"errorType", "Function.ResponseSizeTooLarge"},
                                     {"errorMessage",
                                      fmt::format("Response payload size exceeded maximum allowed "
                                                  "payload size ({} bytes).",
                                                  kMaxResponseBytes)}}
                          .dump();
    outcome.function_error = "Unhandled";
  } else {
    respond(RuntimeJson(202, {{"status", "OK"}}));
    outcome.payload = request.body;
    if (auto ct = request.Header("content-type"); ct && !is_error) outcome.content_type = *ct;
    if (is_error) {
      outcome.function_error = "Unhandled";
      // A body of Content-Type application/vnd.aws.lambda.error.cause+json carries an
      // errorCause the caller does not see.
      nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
      if (body.is_object()) {
        body.erase("errorCause");
        if (!body.contains("errorType")) {
          body["errorType"] =
              NormaliseErrorType(request.Header("lambda-runtime-function-error-type"));
        }
        outcome.payload = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      } else {
        outcome.payload = nlohmann::json{
            {"errorType", NormaliseErrorType(request.Header("lambda-runtime-function-error-type"))},
            {"errorMessage",
             request.body}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
    }
  }
  SetState(EnvState::kAwaitingNext);
  // Available before the caller hears back: a caller that invokes again at once must find
  // this environment idle, not start a second one. An Assign from another thread waits on
  // the strand until Finish below has run.
  last_used_ms_ = SteadyMillis();
  observer_->OnAvailable(shared_from_this());
  Finish(std::move(outcome), /*timeout=*/false);
}

void Environment::OnInitError(const HttpRequest& request, const Respond& respond) {
  if (state_ != EnvState::kInitializing) {
    return respond(RuntimeError(403, "InvalidStateTransition",
                                fmt::format("State transition from {} to InitError failed for "
                                            "runtime. Error: init already finished",
                                            EnvStateName(state_))));
  }
  respond(RuntimeJson(202, {{"status", "OK"}}));
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  std::string type = body.is_object() && body.contains("errorType") && body["errorType"].is_string()
                         ? body["errorType"].get<std::string>()
                         : NormaliseErrorType(request.Header("lambda-runtime-function-error-type"));
  std::string payload =
      body.is_object() ? (body.erase("errorCause"),
                          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
                       : nlohmann::json{{"errorType", type}, {"errorMessage", request.body}}.dump(
                             -1, ' ', false, nlohmann::json::error_handler_t::replace);
  InitFailed(type, "error", payload);
}

void Environment::InitFailed(std::string_view error_type, std::string_view status,
                             const std::string& payload) {
  DrainOutput();
  double duration = MillisSince(spawned_at_);
  if (json_logs_) {
    std::string_view type = status == "error" ? error_type : std::string_view();
    Platform("platform.initRuntimeDone", InitRecord(status, type), LogLevel::kWarn);
    nlohmann::ordered_json report = InitRecord(status, type);
    report["metrics"] = {{"durationMs", Millis3(duration)}};
    Platform("platform.initReport", std::move(report), LogLevel::kWarn);
  } else {
    std::string line = fmt::format("INIT_REPORT Init Duration: {:.2f} ms\tPhase: init\tStatus: {}",
                                   duration, status);
    if (status == "error") line += fmt::format("\tError Type: {}", error_type);
    Log(line + "\n");
  }
  if (pending_) {
    InvokeOutcome o;
    o.payload = payload;
    o.function_error = "Unhandled";
    o.executed_version = config_.version;
    Pending p = std::move(*pending_);
    pending_.reset();
    p.done(std::move(o));
  }
  Stop();
}

void Environment::LogImageLaunchError(const std::string& reason) {
  const ImageCommand& c = *config_.image_command;
  Log(fmt::format("IMAGE\tLaunch error: {}\tEntrypoint: {}\tCmd: {}\tWorkingDir: [{}]\n", reason,
                  Bracketed(c.entrypoint), Bracketed(c.cmd), c.working_dir));
}

void Environment::OnInitTimeout() {
  if (state_ != EnvState::kInitializing) return;
  InitFailed(
      "Runtime.Unknown", "timeout",
      PlatformError("Sandbox.Timedout", pending_ ? pending_->request.request_id : std::string(),
                    fmt::format("Init phase timed out after {:.2f} seconds",
                                static_cast<double>(config_.init_timeout.count()) / 1000)));
}

void Environment::OnTimeout(const std::string& request_id) {
  if (state_ != EnvState::kInvoking || !current_ || current_->request.request_id != request_id) {
    return;
  }
  DrainOutput();
  InvokeOutcome o;
  o.payload = PlatformError("Sandbox.Timedout", request_id,
                            fmt::format("Task timed out after {:.2f} seconds",
                                        static_cast<double>(config_.function.timeout)));
  o.function_error = "Unhandled";
  Finish(std::move(o), /*timeout=*/true);
  Stop();
}

void Environment::OnExit() {
  int status = Reap(pid_);
  if (status < 0) status = 0;
  pid_ = -1;
  DrainOutput();
  if (!partial_line_.empty()) LogOutput(std::move(partial_line_) + "\n");
  partial_line_.clear();
  bool killed = (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
  bool oom = killed && sandboxed_ && sandboxed_->cgroup() && sandboxed_->cgroup()->LimitHit();
  std::string text = ExitText(status);
  std::optional<StartFailure> start_failure;
  if (state_ == EnvState::kInitializing && sandboxed_) {
    start_failure = sandboxed_->TakeStartFailure();
  }
  if (start_failure) {
    // Init could not enter the working directory or execute the program (RIE's
    // doRuntimeBootstrap failures; the wording is Go's, as Lambda's messages show it).
    bool dir = start_failure->kind == StartFailure::Kind::kWorkingDir;
    std::string type = dir ? "Runtime.InvalidWorkingDir" : "Runtime.InvalidEntrypoint";
    std::string program = config_.image_command ? config_.image_command->Argv().front()
                                                : std::string("/var/runtime/bootstrap");
    std::string reason =
        dir ? fmt::format("chdir {}: {}",
                          config_.image_command ? config_.image_command->working_dir
                                                : std::string("/var/task"),
                          ErrnoText(start_failure->error))
            : fmt::format("fork/exec {}: {}", program, ErrnoText(start_failure->error));
    if (config_.image_command) LogImageLaunchError(reason);
    InitFailed(
        type, "error",
        PlatformError(type, pending_ ? pending_->request.request_id : std::string(), reason));
  } else if (state_ == EnvState::kInitializing) {
    InitFailed(oom ? "Runtime.OutOfMemory" : "Runtime.ExitError", "error",
               PlatformError(oom ? "Runtime.OutOfMemory" : "Runtime.ExitError",
                             pending_ ? pending_->request.request_id : std::string(), text));
  } else if (state_ == EnvState::kInvoking && current_) {
    std::string id = current_->request.request_id;
    std::string_view type = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";
    if (!json_logs_) Log(fmt::format("RequestId: {} Error: {}\n{}\n", id, text, type));
    InvokeOutcome o;
    o.payload = PlatformError(type, id, text);
    o.function_error = "Unhandled";
    Finish(std::move(o), /*timeout=*/false, type);
  }
  FailPending(pending_, "Runtime.ExitError", text);
  Stop();
  NotifyStopped();
}

void Environment::NotifyStopped() {
  if (stop_notified_) return;
  stop_notified_ = true;
  observer_->OnStopped(shared_from_this());
}

void Environment::Finish(InvokeOutcome outcome, bool timeout, std::string_view error_type) {
  timer_.cancel();
  Pending p = std::move(*current_);
  current_.reset();
  double duration = MillisSince(invoke_started_at_);
  if (timeout && !json_logs_) {
    std::string now = FormatAwsTimestamp(clock_->NowMillis());
    Log(fmt::format("{}Z {} Task timed out after {:.2f} seconds\n", now.substr(0, 23),
                    p.request.request_id, duration / 1000.0));
  }
  int64_t memory_mb = config_.function.memory_size;
  int64_t used_mb = 0;
  if (sandboxed_ && sandboxed_->cgroup()) {
    if (auto peak = sandboxed_->cgroup()->PeakBytes()) used_mb = (*peak + (1 << 20) - 1) >> 20;
  }
  double init = cold_ ? init_duration_ms_.value_or(0) : 0;
  const int64_t billed = static_cast<int64_t>(std::ceil(duration + init));
  used_mb = std::min(used_mb, memory_mb);
  if (json_logs_) {
    // The JSON format's platform.runtimeDone and platform.report: an invocation the function
    // answered (with an error or not) is a success; a timeout or a crash is not (WARN).
    std::string_view status = timeout ? "timeout" : (error_type.empty() ? "success" : "error");
    LogLevel level = status == "success" ? LogLevel::kInfo : LogLevel::kWarn;
    nlohmann::ordered_json done = {{"requestId", p.request.request_id}, {"status", status}};
    if (!error_type.empty()) done["errorType"] = error_type;
    done["metrics"] = {{"durationMs", Millis3(duration)},
                       {"producedBytes", outcome.payload.size()}};
    Platform("platform.runtimeDone", std::move(done),
             status == "success" ? LogLevel::kDebug : LogLevel::kWarn);
    nlohmann::ordered_json metrics = {{"durationMs", Millis3(duration)},
                                      {"billedDurationMs", billed},
                                      {"memorySizeMB", memory_mb},
                                      {"maxMemoryUsedMB", used_mb}};
    if (cold_ && init_duration_ms_) metrics["initDurationMs"] = Millis3(init);
    nlohmann::ordered_json report = {
        {"requestId", p.request.request_id}, {"metrics", std::move(metrics)}, {"status", status}};
    if (!error_type.empty()) report["errorType"] = error_type;
    Platform("platform.report", std::move(report), level);
  } else {
    LogReport(p.request.request_id, duration, billed, used_mb, init, timeout);
  }
  collecting_tail_ = false;
  cold_ = false;
  outcome.executed_version = config_.version;
  if (p.request.tail) {
    outcome.log_tail = tail_.size() > kTailBytes ? tail_.substr(tail_.size() - kTailBytes) : tail_;
  }
  tail_.clear();
  last_used_ms_ = SteadyMillis();
  p.done(std::move(outcome));
}

void Environment::LogReport(const std::string& request_id, double duration, int64_t billed,
                            int64_t used_mb, double init, bool timeout) {
  std::string report = fmt::format(
      "REPORT RequestId: {}\tDuration: {:.2f} ms\tBilled Duration: {} ms\tMemory Size: {} "
      "MB\tMax Memory Used: {} MB\t",
      request_id, duration, billed, config_.function.memory_size, used_mb);
  if (cold_ && init_duration_ms_) report += fmt::format("Init Duration: {:.2f} ms\t", init);
  if (timeout) report += "Status: timeout\t";
  Log(fmt::format("END RequestId: {}\n", request_id));
  Log(report + "\n");
}

void Environment::FailPending(std::optional<Pending>& p, std::string_view type,
                              std::string_view text) {
  if (!p) return;
  InvokeOutcome o;
  o.payload = PlatformError(type, p->request.request_id, text);
  o.function_error = "Unhandled";
  o.executed_version = config_.version;
  Pending taken = std::move(*p);
  p.reset();
  taken.done(std::move(o));
}

void Environment::Stop() {
  if (state_ == EnvState::kStopped) return;
  SetState(EnvState::kStopped);
  timer_.cancel();
  if (pid_ > 0) KillProcessGroup(pid_);
  if (sandboxed_) sandboxed_->Kill();
  if (next_waiter_) {
    (*next_waiter_)(RuntimeError(500, "Runtime.Unknown",
                                 "Container error. Non-recoverable state. Runtime should exit "
                                 "promptly."));
    next_waiter_.reset();
  }
  if (current_) {
    std::optional<Pending> c = std::move(current_);
    current_.reset();
    FailPending(c, "Runtime.ExitError", "Runtime exited without providing a reason");
  }
  for (uint64_t* listener : {&runtime_listener_, &api_listener_}) {
    if (*listener != 0) http_->Close(*listener);
    *listener = 0;
  }
  // With a process still running, its exit (pidfd) completes the stop and tells the observer.
  if (pid_ <= 0) NotifyStopped();
}

}  // namespace lambkin::exec
