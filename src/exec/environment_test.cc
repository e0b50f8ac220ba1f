#include "exec/environment.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "exec/sandbox.h"
#include "exec/testing.h"
#include "logs/log_store.h"
#include "oci/image.h"
#include "store/database.h"

namespace lambkin::exec {
namespace {

namespace fs = std::filesystem;

// As the server does, before any thread: the test's mounts go with the test process.
const bool kPrivateMounts = EnterPrivateMountNamespace().ok();

constexpr EnvState kAll[] = {EnvState::kInitializing, EnvState::kReady, EnvState::kInvoking,
                             EnvState::kAwaitingNext, EnvState::kStopped};

// Every edge of the execution environment's state machine, and only these, is allowed.
TEST(EnvStateTest, TransitionTableIsExactlyTheLifecycle) {
  const std::set<std::pair<EnvState, EnvState>> allowed = {
      {EnvState::kInitializing, EnvState::kReady},    {EnvState::kReady, EnvState::kInvoking},
      {EnvState::kInvoking, EnvState::kAwaitingNext}, {EnvState::kAwaitingNext, EnvState::kReady},
      {EnvState::kInitializing, EnvState::kStopped},  {EnvState::kReady, EnvState::kStopped},
      {EnvState::kInvoking, EnvState::kStopped},      {EnvState::kAwaitingNext, EnvState::kStopped},
  };
  for (EnvState from : kAll) {
    for (EnvState to : kAll) {
      EXPECT_EQ(EnvTransitionAllowed(from, to), allowed.contains({from, to}))
          << EnvStateName(from) << " -> " << EnvStateName(to);
    }
  }
}

}  // namespace
}  // namespace lambkin::exec

namespace lambkin::exec {
namespace {

TEST(ImageCommandTest, ImageConfigOverridesEachMemberItGives) {
  oci::ImageConfig image;
  image.entrypoint = {"/lambda-entrypoint.sh"};
  image.cmd = {"app.handler"};
  image.working_dir = "/var/task";
  struct Case {
    std::string name;
    std::optional<functions::ImageConfigOverrides> overrides;
    std::vector<std::string> argv;
    std::string working_dir;
  };
  using Strings = std::vector<std::string>;
  std::vector<Case> cases = {
      {"none", std::nullopt, {"/lambda-entrypoint.sh", "app.handler"}, "/var/task"},
      {"empty",
       functions::ImageConfigOverrides{},
       {"/lambda-entrypoint.sh", "app.handler"},
       "/var/task"},
      {"command only",
       functions::ImageConfigOverrides{std::nullopt, Strings{"other.handler"}, std::nullopt},
       {"/lambda-entrypoint.sh", "other.handler"},
       "/var/task"},
      {"entry point only",
       functions::ImageConfigOverrides{Strings{"sh", "-c"}, std::nullopt, std::nullopt},
       {"sh", "-c", "app.handler"},
       "/var/task"},
      {"all",
       functions::ImageConfigOverrides{Strings{"sh"}, Strings{"-c", "echo test"}, "/app1"},
       {"sh", "-c", "echo test"},
       "/app1"},
      {"an empty Command clears Cmd",
       functions::ImageConfigOverrides{std::nullopt, Strings{}, std::nullopt},
       {"/lambda-entrypoint.sh"},
       "/var/task"},
  };
  for (const Case& c : cases) {
    ImageCommand command = ResolveImageCommand(image, c.overrides);
    EXPECT_EQ(command.Argv(), c.argv) << c.name;
    EXPECT_EQ(command.working_dir, c.working_dir) << c.name;
  }
  // No Entrypoint: Cmd[0] is the program. No WorkingDir: "/". Nothing: nothing to run.
  oci::ImageConfig bare;
  bare.cmd = {"/bin/run", "x"};
  EXPECT_EQ(ResolveImageCommand(bare, std::nullopt).Argv(), (Strings{"/bin/run", "x"}));
  EXPECT_EQ(ResolveImageCommand(bare, std::nullopt).working_dir, "/");
  EXPECT_TRUE(ResolveImageCommand(oci::ImageConfig{}, std::nullopt).Argv().empty());
}

// Real environments (bubblewrap, lambkin-init, the Runtime API on the server's HTTP stack) on
// an image-shaped root filesystem: the built-in provided.al2023 userland with the function's
// files in /app, as `FROM` a runtime version makes it.
class ImageEnvironmentTest : public ::testing::Test, public EnvironmentObserver {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kPrivateMounts);
    root_ = fs::temp_directory_path() / ("lambkin-env-test-" + std::to_string(::getpid()));
    fs::create_directories(root_ / "data");
    Status unpacked = testing::UnpackBuiltinRootfs((root_ / "blobs").string(), rootfs());
    ASSERT_TRUE(unpacked.ok()) << unpacked.message();
    fs::create_directories(fs::path(rootfs()) / "app");
    // A runtime in bash and curl: answers its one invocation with its arguments, working
    // directory and environment (as it was given, in order: bash's own `env` reorders it).
    std::ofstream(fs::path(rootfs()) / "app/runtime.sh")
        << "#!/bin/bash\n"
           "api=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime\n"
           "curl -sS -D /tmp/headers -o /tmp/event $api/invocation/next\n"
           "id=$(grep -i '^lambda-runtime-aws-request-id:' /tmp/headers | cut -d' ' -f2 | tr -d "
           "'\\r')\n"
           "echo 'printed by the function'\n"
           "{ echo \"args=$*\"; echo \"pwd=$(pwd)\"; tr '\\0' '\\n' </proc/$$/environ; } "
           ">/tmp/out\n"
           "curl -sS -o /dev/null --data-binary @/tmp/out $api/invocation/$id/response\n"
           "sleep 30\n";
    fs::permissions(fs::path(rootfs()) / "app/runtime.sh", fs::perms(0755));

    auto db = store::Database::Open((root_ / "logs.db").string(), logs::Schema());
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = std::move(*db);
    log_store_ = std::make_unique<logs::LogStore>(db_.get(), &clock_);
    log_writer_ = std::make_unique<logs::LogWriter>(log_store_.get());
    http_ = std::make_unique<server::HttpServer>(2);
    server_thread_ = std::thread([this] { http_->Run(/*handle_signals=*/false); });
    SandboxOptions options;
    options.init = LAMBKIN_INIT_PATH;
    options.data_dir = (root_ / "data").string();
    sandbox_ = std::make_unique<Sandbox>(options);
    ASSERT_TRUE(sandbox_->Check().ok());
  }

  void TearDown() override {
    // Environments still held by the server's handlers go with it, before their sandbox.
    if (http_) http_->Stop();
    if (server_thread_.joinable()) server_thread_.join();
    http_.reset();
    sandbox_.reset();
    log_writer_.reset();
    fs::remove_all(root_);
  }

  void OnAvailable(const std::shared_ptr<Environment>&) override {}
  void OnStopped(const std::shared_ptr<Environment>&) override {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

  std::string rootfs() const { return (root_ / "data" / "rootfs").string(); }

  EnvironmentConfig Config(ImageCommand command, std::vector<std::string> image_env = {}) {
    EnvironmentConfig c;
    c.scope = scope_;
    c.function_name = "fn";
    c.version = "$LATEST";
    c.function.package_type = functions::PackageType::kImage;
    c.function.environment =
        std::map<std::string, std::string>{{"FN_VAR", "function"}, {"SHARED", "function"}};
    c.rootfs_dir = rootfs();
    c.image_env = std::move(image_env);
    c.image_command = std::move(command);
    c.sandbox = sandbox_.get();
    return c;
  }

  // Starts an environment with `config`, gives it one invocation and stops it.
  InvokeOutcome InvokeOnce(EnvironmentConfig config) {
    {
      std::lock_guard lock(mu_);
      stopped_ = false;
    }
    auto env = std::make_shared<Environment>(http_->io_context(), http_.get(), log_writer_.get(),
                                             &clock_, std::move(config), this);
    std::promise<InvokeOutcome> outcome;
    InvokeRequest request;
    request.request_id = "request-1";
    request.payload = "{}";
    env->Start(request, [&outcome](InvokeOutcome o) { outcome.set_value(std::move(o)); });
    std::future<InvokeOutcome> f = outcome.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    env->Shutdown();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return stopped_; });
    return f.get();
  }

  // The function's log, every stream, in order.
  std::string Log(const std::string& function = "fn") {
    log_writer_->Flush();
    auto page = log_store_->Filter(scope_, "/aws/lambda/" + function, {}, "", "", 0, 0, "", 1000);
    EXPECT_TRUE(page.ok()) << page.status().message();
    std::string out;
    if (page.ok()) {
      for (const auto& e : page->events) out += e.message;
    }
    return out;
  }

  static std::map<std::string, std::string> Lines(const std::string& text) {
    std::map<std::string, std::string> kv;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    return kv;
  }

  fs::path root_;
  SystemClock clock_;
  functions::Scope scope_{"123456789012", "us-east-1"};
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<logs::LogStore> log_store_;
  std::unique_ptr<logs::LogWriter> log_writer_;
  std::unique_ptr<server::HttpServer> http_;
  std::thread server_thread_;
  std::unique_ptr<Sandbox> sandbox_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

TEST_F(ImageEnvironmentTest, RunsTheImageCommandWithItsEnvironmentInOrder) {
  ImageCommand command{{"/app/runtime.sh"}, {"first", "app.handler"}, "/app"};
  InvokeOutcome outcome = InvokeOnce(Config(
      command, {"PATH=/usr/bin:/bin", "IMAGE_VAR=image", "SHARED=image", "AWS_REGION=image"}));
  ASSERT_FALSE(outcome.function_error.has_value()) << outcome.payload;
  auto kv = Lines(outcome.payload);
  EXPECT_EQ(kv["args"], "first app.handler") << outcome.payload;
  EXPECT_EQ(kv["pwd"], "/app");
  EXPECT_EQ(kv["IMAGE_VAR"], "image");
  EXPECT_EQ(kv["SHARED"], "function");       // the function's variable replaces the image's
  EXPECT_EQ(kv["AWS_REGION"], "us-east-1");  // reserved: not the image's to set
  EXPECT_EQ(kv["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
  EXPECT_EQ(kv["_HANDLER"], "app.handler");  // Cmd's last element
  EXPECT_FALSE(kv.contains("AWS_EXECUTION_ENV"));
  EXPECT_FALSE(kv.contains("LAMBKIN_RUNTIME_VERSION"));
  // The image's Env first, then the function's variables, then Lambda's.
  size_t image_at = outcome.payload.find("\nIMAGE_VAR=");
  size_t function_at = outcome.payload.find("\nFN_VAR=");
  size_t lambda_at = outcome.payload.find("\nAWS_LAMBDA_RUNTIME_API=");
  EXPECT_LT(image_at, function_at) << outcome.payload;
  EXPECT_LT(function_at, lambda_at) << outcome.payload;
  EXPECT_EQ(outcome.payload.find("SHARED=image"), std::string::npos);

  // No runtime version to name: no INIT_START; START, the output, END, REPORT as for zips.
  std::string log = Log();
  EXPECT_EQ(log.find("INIT_START"), std::string::npos) << log;
  size_t start = log.find("START RequestId: request-1 Version: $LATEST\n");
  size_t printed = log.find("printed by the function\n");
  size_t end = log.find("END RequestId: request-1\n");
  size_t report = log.find("REPORT RequestId: request-1\tDuration: ");
  EXPECT_NE(start, std::string::npos) << log;
  EXPECT_LT(start, printed) << log;
  EXPECT_LT(printed, end) << log;
  EXPECT_LT(end, report) << log;
}

TEST_F(ImageEnvironmentTest, NamesTheRuntimeVersionTheImageWasBuiltFrom) {
  EnvironmentConfig config = Config({{"/app/runtime.sh"}, {}, "/"});
  config.runtime_version_id = 7;
  config.runtime_version_name = "provided:al2023.v1";
  config.runtime_version_arn =
      "arn:aws:lambda:us-east-1::runtime:0123456789abcdef0123456789abcdef0123456789abcdef01234567"
      "89abcdef";
  InvokeOutcome outcome = InvokeOnce(config);
  ASSERT_FALSE(outcome.function_error.has_value()) << outcome.payload;
  EXPECT_FALSE(Lines(outcome.payload).contains("_HANDLER")) << "no Cmd, no handler";
  std::string log = Log();
  EXPECT_TRUE(
      log.starts_with("INIT_START Runtime Version: provided:al2023.v1\tRuntime Version "
                      "ARN: " +
                      config.runtime_version_arn + "\n"))
      << log;
}

TEST_F(ImageEnvironmentTest, AnEntrypointOrWorkingDirectoryThatCannotBeUsedFailsTheInit) {
  struct Case {
    ImageCommand command;
    std::string type, message, launch_error;
  };
  std::vector<Case> cases = {
      {{{"/app/missing"}, {"app.handler"}, "/app"},
       "Runtime.InvalidEntrypoint",
       "RequestId: request-1 Error: fork/exec /app/missing: no such file or directory",
       "IMAGE\tLaunch error: fork/exec /app/missing: no such file or directory\tEntrypoint: "
       "[/app/missing]\tCmd: [app.handler]\tWorkingDir: [/app]\n"},
      {{{}, {}, "/"},
       "Runtime.InvalidEntrypoint",
       "RequestId: request-1 Error: the image has no ENTRYPOINT or CMD, and the function's "
       "ImageConfig sets no EntryPoint or Command",
       "IMAGE\tLaunch error: the image has no ENTRYPOINT or CMD, and the function's ImageConfig "
       "sets no EntryPoint or Command\tEntrypoint: []\tCmd: []\tWorkingDir: [/]\n"},
      {{{"/app/runtime.sh"}, {}, "/no/such/dir"},
       "Runtime.InvalidWorkingDir",
       "RequestId: request-1 Error: chdir /no/such/dir: no such file or directory",
       "IMAGE\tLaunch error: chdir /no/such/dir: no such file or directory\tEntrypoint: "
       "[/app/runtime.sh]\tCmd: []\tWorkingDir: [/no/such/dir]\n"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.type + ": " + c.message);
    // Each case a function (and a log) of its own.
    EnvironmentConfig config = Config(c.command, {"PATH=/usr/bin:/bin"});
    config.function_name = "fn" + std::to_string(i);
    InvokeOutcome outcome = InvokeOnce(config);
    EXPECT_EQ(outcome.function_error, "Unhandled");
    nlohmann::json payload = nlohmann::json::parse(outcome.payload, nullptr, false);
    EXPECT_EQ(payload.value("errorType", ""), c.type) << outcome.payload;
    EXPECT_EQ(payload.value("errorMessage", ""), c.message) << outcome.payload;
    std::string log = Log(config.function_name);
    EXPECT_NE(log.find(c.launch_error), std::string::npos) << log;
    EXPECT_NE(log.find("\tPhase: init\tStatus: error\tError Type: " + c.type + "\n"),
              std::string::npos)
        << log;
    EXPECT_EQ(log.find("START RequestId"), std::string::npos) << log;
  }
}

}  // namespace
}  // namespace lambkin::exec
