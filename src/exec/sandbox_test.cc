// Starts real sandboxes (bubblewrap, lambkin-init) and checks from inside what a function sees.

#include "exec/sandbox.h"
#include "exec/testing.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

namespace lambkin::exec {
namespace {

namespace fs = std::filesystem;

// As the server does, before any thread: the test's mounts go with the test process.
const bool kPrivateMounts = EnterPrivateMountNamespace().ok();

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kPrivateMounts);
    root_ = fs::temp_directory_path() / ("lambkin-sandbox-test-" + std::to_string(::getpid()));
    // Like a server's data directory under /root: the sandbox's host user may not walk there.
    fs::create_directories(root_ / "data" / "code");
    std::ofstream(root_ / "data" / "code" / "secret-of-the-function") << "code\n";
    fs::permissions(root_, fs::perms(0700));
    // The root filesystem: the built-in provided.al2023 runtime version, as the catalog
    // unpacks it (make build makes its layout).
    Status unpacked = testing::UnpackBuiltinRootfs((root_ / "blobs").string(), rootfs());
    ASSERT_TRUE(unpacked.ok()) << unpacked.message();
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string rootfs() const { return (root_ / "data" / "rootfs").string(); }

  // Runs `script` as the runtime's bootstrap; returns what it printed, as KEY=VALUE lines.
  std::map<std::string, std::string> Run(const std::string& script, int64_t tmp_bytes = 512 << 20,
                                         uid_t* host_uid = nullptr,
                                         NetworkMode network = NetworkMode::kNone,
                                         bool prepared = false, int64_t memory_bytes = 128 << 20,
                                         std::string* memory_limit = nullptr) {
    fs::path bootstrap = root_ / "data" / "code" / "bootstrap";
    std::ofstream(bootstrap) << "#!/bin/sh\n" << script;
    fs::permissions(bootstrap, fs::perms(0755));
    SandboxOptions options;
    options.init = LAMBKIN_INIT_PATH;
    options.data_dir = (root_ / "data").string();
    options.network = network;
    Sandbox sandbox(options);
    auto check = sandbox.Check();
    EXPECT_TRUE(check.ok()) << check.status().message();
    if (prepared) {  // a launcher made ahead of time, already in its cgroups
      for (int i = 0; i < 500 && sandbox.ReadyLaunchers() == 0; ++i) ::usleep(10000);
      EXPECT_GT(sandbox.ReadyLaunchers(), 0u);
    }
    SandboxRequest request;
    request.name = "sandbox-test-" + std::to_string(::getpid()) + "-" + std::to_string(runs_++);
    request.code_dir = (root_ / "data" / "code").string();
    request.rootfs_dir = rootfs();
    request.tmp_bytes = tmp_bytes;
    request.memory_bytes = memory_bytes;
    request.program = "/var/task/bootstrap";
    request.env = {"PATH=/usr/bin:/bin"};
    return Collect(sandbox, request, host_uid, memory_limit);
  }

  // Runs `request` in a sandbox of its own; what it printed, as KEY=VALUE lines.
  std::map<std::string, std::string> RunRequest(SandboxRequest request,
                                                std::optional<StartFailure>* failure = nullptr) {
    SandboxOptions options;
    options.init = LAMBKIN_INIT_PATH;
    options.data_dir = (root_ / "data").string();
    Sandbox sandbox(options);
    auto check = sandbox.Check();
    EXPECT_TRUE(check.ok()) << check.status().message();
    request.name = "sandbox-test-" + std::to_string(::getpid()) + "-" + std::to_string(runs_++);
    return Collect(sandbox, request, nullptr, nullptr, failure);
  }

  std::map<std::string, std::string> Collect(Sandbox& sandbox, const SandboxRequest& request,
                                             uid_t* host_uid, std::string* memory_limit,
                                             std::optional<StartFailure>* failure = nullptr) {
    auto launched = sandbox.Launch(request);
    EXPECT_TRUE(launched.ok()) << launched.status().message();
    if (!launched.ok()) return {};
    SandboxedProcess& p = **launched;
    if (host_uid) *host_uid = p.host_uid();
    if (memory_limit) {
      // The memory cgroup the sandbox's first process is in, as the host sees it.
      std::ifstream cg("/proc/" + std::to_string(p.child().pid) + "/cgroup");
      for (std::string line; std::getline(cg, line);) {
        auto at = line.find(":memory:");
        if (at == std::string::npos) continue;
        std::ifstream limit("/sys/fs/cgroup/memory" + line.substr(at + 8) +
                            "/memory.limit_in_bytes");
        std::getline(limit, *memory_limit);
      }
    }
    pollfd pfd{p.control_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&pfd, 1, 10000), 1);
    auto endpoints = p.ReceiveEndpoints();
    EXPECT_TRUE(endpoints.ok()) << endpoints.status().message();
    Status go = p.Go();
    EXPECT_TRUE(go.ok()) << go.message();
    if (!go.ok()) p.Kill();
    std::string out;
    char buf[4096];
    while (true) {
      pollfd o{p.child().output_fd, POLLIN, 0};
      if (::poll(&o, 1, 20000) != 1) break;
      ssize_t n = ::read(p.child().output_fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::waitpid(p.child().pid, nullptr, 0);
    if (failure) *failure = p.TakeStartFailure();
    if (endpoints.ok()) {  // the server holds them while the environment lives
      ::close((*endpoints)[0]);
      ::close((*endpoints)[1]);
    }
    ::close(p.child().output_fd);
    ::close(p.child().pidfd);
    std::map<std::string, std::string> kv;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    kv["_output"] = out;
    return kv;
  }

  fs::path root_;
  int runs_ = 0;
};

TEST_F(SandboxTest, RunsAsNobodyWithoutCapabilitiesUnderSeccomp) {
  uid_t host_uid = 0;
  auto kv =
      Run("echo uid=$(id -u)\n"
          "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t' | "
          "sed 's/:/=/'\n"
          "cat /etc/shadow >/dev/null 2>&1 && echo shadow=readable || echo shadow=denied\n"
          "ls /proc/self/fd | tr '\\n' ' ' | sed 's/^/fds=/'; echo\n",
          512 << 20, &host_uid);
  EXPECT_EQ(kv["uid"], "993") << kv["_output"];
  EXPECT_EQ(kv["CapEff"], "0000000000000000");
  EXPECT_EQ(kv["CapBnd"], "0000000000000000");
  EXPECT_EQ(kv["NoNewPrivs"], "1");
  EXPECT_EQ(kv["Seccomp"], "2");
  EXPECT_EQ(kv["shadow"], "denied");
  // stdin, stdout, stderr and the directory ls reads: nothing of the server's.
  EXPECT_EQ(kv["fds"], "0 1 2 3 ") << kv["_output"];
  if (::geteuid() == 0) {
    EXPECT_NE(host_uid, 0u);
    EXPECT_GE(host_uid, SandboxOptions().uid_base);
  }
}

TEST_F(SandboxTest, HasOnlyItsOwnNetworkAndEndpoints) {
  auto kv =
      Run("echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)\n"
          "echo listening=$(tail -n +2 /proc/net/tcp | awk '$4 == \"0A\" {print $2}' | sort | "
          "tr '\\n' ,)\n"
          "echo tcp6=$(tail -n +2 /proc/net/tcp6 | wc -l)\n");
  EXPECT_EQ(kv["ifaces"], "lo,") << kv["_output"];
  EXPECT_EQ(kv["listening"], "0100007F:2329,0100007F:232A,") << kv["_output"];
  EXPECT_EQ(kv["tcp6"], "0");
}

TEST_F(SandboxTest, SeesOnlyItsOwnFiles) {
  auto kv =
      Run("echo task=$(ls /var/task)\n"
          "touch /var/task/x 2>/dev/null && echo task_write=yes || echo task_write=no\n"
          "echo root=$(ls / | tr '\\n' ,)\n"
          "echo homes=$(ls -A /home | tr '\\n' ,)\n"
          "echo os=$(. /etc/os-release; echo $ID)\n"
          "test -e /usr/bin/cmake && echo host_usr=visible || echo host_usr=hidden\n"
          "echo tmp_fs=$(awk '$2 == \"/tmp\" {print $3}' /proc/mounts)\n"
          "touch /tmp/x && echo tmp_write=yes || echo tmp_write=no\n");
  EXPECT_EQ(kv["task"], "bootstrap secret-of-the-function") << kv["_output"];
  EXPECT_EQ(kv["task_write"], "no");
  EXPECT_EQ(kv["tmp_write"], "yes");
  // / is the runtime version's root filesystem: its own /etc, empty homes, nothing of the
  // host's.
  EXPECT_EQ(kv["homes"], "") << kv["_output"];
  EXPECT_EQ(kv["os"], "debian") << kv["_output"];
  // The build machine's /usr (which has cmake) is not there.
  ASSERT_EQ(::access("/usr/bin/cmake", X_OK), 0);
  EXPECT_EQ(kv["host_usr"], "hidden");
  EXPECT_EQ(kv["tmp_fs"], ::geteuid() == 0 ? "ext4" : "tmpfs");
}

TEST_F(SandboxTest, TmpIsStorageOfItsOwnSize) {
  if (::geteuid() != 0) GTEST_SKIP() << "disks for /tmp need root";
  // 64 MB asked: 60 MB fit, 80 MB do not.
  auto kv =
      Run("dd if=/dev/zero of=/tmp/a bs=1M count=60 conv=fsync 2>/dev/null && echo a=ok || echo "
          "a=fail\n"
          "dd if=/dev/zero of=/tmp/b bs=1M count=20 conv=fsync 2>/tmp/err; echo b=$?\n"
          "grep -q 'No space left' /tmp/err && echo enospc=yes || echo enospc=no\n",
          64 << 20);
  EXPECT_EQ(kv["a"], "ok") << kv["_output"];
  EXPECT_NE(kv["b"], "0");
  EXPECT_EQ(kv["enospc"], "yes") << kv["_output"];
}

TEST_F(SandboxTest, ALauncherMadeAheadTakesTheFunctionsLimitsAndIdentity) {
  uid_t host_uid = 0;
  std::string memory_limit;
  auto kv =
      Run("echo uid=$(id -u)\n"
          "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'\n"
          "echo nofile=$(ulimit -n)\n",
          512 << 20, &host_uid, NetworkMode::kNone, /*prepared=*/true, int64_t{640} << 20,
          &memory_limit);
  EXPECT_EQ(kv["uid"], "993") << kv["_output"];
  EXPECT_EQ(kv["CapEff"], "0000000000000000");
  EXPECT_EQ(kv["NoNewPrivs"], "1");
  EXPECT_EQ(kv["Seccomp"], "2");
  EXPECT_EQ(kv["nofile"], "1024");
  if (::geteuid() == 0) {
    EXPECT_GE(host_uid, SandboxOptions().uid_base);
    if (::access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0) {
      EXPECT_EQ(memory_limit, std::to_string(int64_t{640} << 20));
    }
  }
}

TEST_F(SandboxTest, StoppingWithSandboxesStillToTearDown) {
  fs::path bootstrap = root_ / "data" / "code" / "bootstrap";
  std::ofstream(bootstrap) << "#!/bin/sh\nsleep 30\n";
  fs::permissions(bootstrap, fs::perms(0755));
  SandboxOptions options;
  options.init = LAMBKIN_INIT_PATH;
  options.data_dir = (root_ / "data").string();
  pid_t pid = -1;
  {
    Sandbox sandbox(options);
    ASSERT_TRUE(sandbox.Check().ok());
    for (int i = 0; i < 3; ++i) {
      SandboxRequest request;
      request.name = "sandbox-test-stop-" + std::to_string(::getpid()) + "-" + std::to_string(i);
      request.code_dir = (root_ / "data" / "code").string();
      request.rootfs_dir = rootfs();
      request.program = "/var/task/bootstrap";
      auto launched = sandbox.Launch(request);
      ASSERT_TRUE(launched.ok()) << launched.status().message();
      pid = (*launched)->child().pid;
      ::close((*launched)->child().output_fd);
      ::close((*launched)->child().pidfd);
      sandbox.Retire(std::move(*launched));
    }
  }  // the sandbox goes with sandboxes queued: each is ended and gives its uid back
  // The last one (its runtime sleeps 30 s) has ended by itself being killed, not by its end.
  pid_t reaped = 0;
  for (int i = 0; i < 200 && reaped == 0; ++i) {
    reaped = ::waitpid(pid, nullptr, WNOHANG);
    if (reaped == 0) ::usleep(10000);
  }
  EXPECT_EQ(reaped, pid) << "a sandbox outlived the server";
}

// An image function: the image is the whole root filesystem (its own /var/task, no code
// mounted), its command runs with arguments in its working directory, / stays read-only and
// /tmp writable.
TEST_F(SandboxTest, RunsAnImageCommandWithArgumentsInItsWorkingDirectory) {
  fs::create_directories(fs::path(rootfs()) / "app");
  std::ofstream(fs::path(rootfs()) / "var/task/from-the-image") << "image\n";
  std::ofstream(fs::path(rootfs()) / "app/entry.sh")
      << "#!/bin/sh\n"
         "echo argc=$#\n"
         "echo args=\"$1|$2\"\n"
         "echo pwd=$(pwd)\n"
         "echo task=$(ls /var/task)\n"
         "echo image_var=$IMAGE_VAR\n"
         "touch /app/x 2>/dev/null && echo app_write=yes || echo app_write=no\n"
         "touch /new 2>/dev/null && echo root_write=yes || echo root_write=no\n"
         "echo hi >/tmp/x && echo tmp_write=yes || echo tmp_write=no\n";
  fs::permissions(fs::path(rootfs()) / "app/entry.sh", fs::perms(0755));
  SandboxRequest request;
  request.rootfs_dir = rootfs();
  request.program = "/app/entry.sh";
  request.args = {"first arg", "second"};
  request.working_dir = "/app";
  request.env = {"PATH=/usr/bin:/bin", "IMAGE_VAR=set"};
  std::optional<StartFailure> failure;
  auto kv = RunRequest(request, &failure);
  EXPECT_FALSE(failure.has_value());
  EXPECT_EQ(kv["argc"], "2") << kv["_output"];
  EXPECT_EQ(kv["args"], "first arg|second");
  EXPECT_EQ(kv["pwd"], "/app");
  EXPECT_EQ(kv["task"], "from-the-image");
  EXPECT_EQ(kv["image_var"], "set");
  EXPECT_EQ(kv["app_write"], "no");
  EXPECT_EQ(kv["root_write"], "no");
  EXPECT_EQ(kv["tmp_write"], "yes");

  // A program named without a '/' is looked up in the PATH of its environment.
  request.program = "entry.sh";
  request.env = {"PATH=/nowhere:/app:/usr/bin:/bin"};
  kv = RunRequest(request, &failure);
  EXPECT_FALSE(failure.has_value());
  EXPECT_EQ(kv["args"], "first arg|second") << kv["_output"];
}

// What init cannot start it reports, and why, before it exits.
TEST_F(SandboxTest, ReportsAProgramOrWorkingDirectoryItCannotStart) {
  fs::create_directories(fs::path(rootfs()) / "app");
  std::ofstream(fs::path(rootfs()) / "app/not-executable") << "#!/bin/sh\necho ran=yes\n";
  fs::permissions(fs::path(rootfs()) / "app/not-executable", fs::perms(0644));
  std::ofstream(fs::path(rootfs()) / "app/ok") << "#!/bin/sh\necho ran=yes\n";
  fs::permissions(fs::path(rootfs()) / "app/ok", fs::perms(0755));
  struct Case {
    std::string program, working_dir;
    StartFailure::Kind kind;
    int error;
  };
  for (const Case& c : std::vector<Case>{
           {"/app/missing", "/app", StartFailure::Kind::kProgram, ENOENT},
           {"missing-in-path", "/", StartFailure::Kind::kProgram, ENOENT},
           {"/app/not-executable", "/app", StartFailure::Kind::kProgram, EACCES},
           {"/app/ok", "/no/such/dir", StartFailure::Kind::kWorkingDir, ENOENT},
       }) {
    SCOPED_TRACE(c.program + " in " + c.working_dir);
    SandboxRequest request;
    request.rootfs_dir = rootfs();
    request.program = c.program;
    request.working_dir = c.working_dir;
    request.env = {"PATH=/usr/bin:/bin"};
    std::optional<StartFailure> failure;
    auto kv = RunRequest(request, &failure);
    EXPECT_EQ(kv["ran"], "");
    ASSERT_TRUE(failure.has_value()) << kv["_output"];
    EXPECT_EQ(failure->kind, c.kind);
    EXPECT_EQ(failure->error, c.error) << std::strerror(failure->error);
  }
}

// The host's first IPv4 address that is not loopback, if any.
std::string HostAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).rfind("127.", 0) != 0) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

TEST_F(SandboxTest, OutboundReachesNeitherTheHostNorItsLoopback) {
  if (::geteuid() != 0 || ::access("/usr/bin/slirp4netns", X_OK) != 0 ||
      ::access("/usr/sbin/nft", X_OK) != 0) {
    GTEST_SKIP() << "outbound networking needs root, slirp4netns and nft";
  }
  // A service of the host's on every address.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string port = std::to_string(ntohs(addr.sin_port));
  std::string host = HostAddress();
  std::string probe;
  for (const std::string& target : {std::string("127.0.0.1"), std::string("10.0.2.2"), host}) {
    if (target.empty()) continue;
    probe += "timeout 3 bash -c 'exec 3<>/dev/tcp/" + target + "/" + port +
             "' 2>/dev/null && echo reach_" + target + "=yes || echo reach_" + target + "=no\n";
  }
  auto kv =
      Run("echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,)\n"
          "echo default_route=$(awk '$2 == \"00000000\" {print $1}' /proc/net/route)\n"
          "echo dns=$(cat /etc/resolv.conf)\n" +
              probe,
          512 << 20, nullptr, NetworkMode::kOutbound);
  ::close(listener);
  EXPECT_EQ(kv["ifaces"], "lo,tap0,") << kv["_output"];
  EXPECT_EQ(kv["default_route"], "tap0");
  EXPECT_EQ(kv["dns"], "nameserver 10.0.2.3");
  EXPECT_EQ(kv["reach_127.0.0.1"], "no") << kv["_output"];
  EXPECT_EQ(kv["reach_10.0.2.2"], "no") << kv["_output"];
  if (!host.empty()) {
    EXPECT_EQ(kv["reach_" + host], "no") << kv["_output"];
  }
}

}  // namespace
}  // namespace lambkin::exec
