// Sandbox: how an execution environment is isolated from the host, the server and the others.
//
// Every environment is a bubblewrap sandbox with, as on Lambda:
// - its own network namespace holding only loopback: no route to the host, its loopback, the
//   server's listeners or other environments, and none of the host's sockets in /proc/net.
//   lambkin-init (src/exec/init_main.cc) makes the Runtime API's listening socket at
//   127.0.0.1:9001 and the AWS endpoint's at 127.0.0.1:9002 inside it and hands both to the
//   server over a control socket, so the server serves them without a bridge process;
// - its own user, PID, IPC and UTS namespaces. The sandbox user is uid 993 inside and, when
//   the server runs as root, a host uid of its own from `uid_base` (never root, never shared
//   with a running environment); no capabilities, no_new_privs, no supplementary groups;
// - a system-call filter modelled on Docker's default profile (exec/seccomp.h);
// - limits: memory, 1,024 tasks and a CPU share and ceiling (exec/cgroup.h), 1,024 open files;
// - a file system of the host's /usr and /etc read-only (the runtime's userland until runtime
//   versions carry their own), the function's code read-only at /var/task, the runtime
//   version's bundle read-only at /var/runtime, /opt, a private /tmp of EphemeralStorage MB
//   on a disk of its own (exec/scratch_disk.h), fresh /proc and /dev. Nothing else of the
//   host: not the data directory, not other functions' code, not the server's configuration.
//   bubblewrap mounts them as the sandbox's host user, which need not be able to reach the
//   data directory (it may sit in /root): when the server runs as root it exposes the data
//   directory through a bind mount at /run/lambkin/<id>/data (every directory on the way
//   0711: walk through, not list), and the sandbox's host user walks there. Files of the data
//   directory that hold secrets are 0600.
//
// Cold starts pay for as little as possible: a background thread keeps launchers ready
// (exec/process.h's PreparedProcess, already in cgroups of their own, which they take over with
// the function's limits) and tears down retired sandboxes; /tmp disks are made ahead too.
//
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "exec/cgroup.h"
#include "exec/process.h"
#include "exec/scratch_disk.h"

namespace lambkin::exec {

// What an environment's network reaches beyond its own loopback.
enum class NetworkMode {
  kNone,      // nothing
  kOutbound,  // the outside world through user-mode networking (slirp4netns), never the host
};
Result<NetworkMode> ParseNetworkMode(std::string_view text);

// Gives the calling process a mount namespace of its own (a slave of the host's: the host's
// mounts still appear in it, its own never leave it), so that what the sandboxes need mounted
// — the data directory's stage, /tmp disks — disappears with the process however it ends,
// SIGKILL included, and never clutters the host's mount table. Only as root; elsewhere a no-op.
// REQUIRES: the process has started no thread yet (unshare refuses a threaded process).
Status EnterPrivateMountNamespace();

struct SandboxOptions {
  std::string bwrap = "/usr/bin/bwrap";
  // lambkin-init; empty: the one beside the running executable. Copied into the data
  // directory, so sandboxes find it wherever the server is installed.
  std::string init;
  // The server's data directory: code, runtime versions and /tmp disk images live there.
  // Empty (unit tests): paths are used as they are and /tmp is a tmpfs.
  std::string data_dir;
  // Directories outside the data directory that root filesystems of runtime versions may be
  // in (the built-in runtimes' shared store): mounted read-only where sandboxes reach them.
  std::vector<std::string> shared_dirs;
  // Host uids (and gids) given to environments when the server runs as root; uid_base - 1 is
  // the group of the outbound networking processes.
  uint32_t uid_base = 2000000000;
  uint32_t uid_count = 65536;
  NetworkMode network = NetworkMode::kNone;
  std::string slirp4netns = "/usr/bin/slirp4netns";
  std::string nft = "/usr/sbin/nft";
};

// What one environment runs.
struct SandboxRequest {
  std::string name;  // unique, for cgroups
  // The function's code, mounted read-only at /var/task. Empty for an image function: its
  // image is the whole root filesystem, /var/task included.
  std::string code_dir;
  // The function's layers merged (CodePackageStore::Merged), mounted read-only at /opt; empty
  // for none.
  std::string opt_dir;
  // The runtime version's (or the function image's) root filesystem, mounted read-only as /
  // (it has the mount points /proc, /dev, /tmp, /var/task, /opt, /var/lambkin/init and
  // /etc/resolv.conf: catalog::AddMountPoints).
  std::string rootfs_dir;
  int64_t tmp_bytes = 512LL << 20;
  int64_t memory_bytes = 128LL << 20;
  // What runs: `program` (a path inside the sandbox, or a name looked up in the PATH of `env`)
  // with `args` after it, in `working_dir`.
  std::string program;
  std::vector<std::string> args;
  std::string working_dir = "/var/task";
  std::vector<std::string> env;
};

// Why the sandbox's init could not start the program (it says so before it exits).
struct StartFailure {
  enum class Kind { kWorkingDir, kProgram };
  Kind kind;
  int error;  // errno
};

class Sandbox;

// A started sandbox. Destroying it kills what still runs in it and gives its resources back.
class SandboxedProcess {
 public:
  ~SandboxedProcess();
  SandboxedProcess(const SandboxedProcess&) = delete;
  SandboxedProcess& operator=(const SandboxedProcess&) = delete;

  // The caller takes the child's pidfd and output descriptor and closes them.
  const ChildProcess& child() const { return child_; }
  // The server's end of the control socket (non-blocking); readable when init has sent the
  // environment's endpoints.
  int control_fd() const { return control_fd_; }
  const EnvironmentCgroup* cgroup() const { return cgroup_.get(); }
  uid_t host_uid() const { return host_uid_; }

  // Takes the two listening sockets init sent: [0] the Runtime API, [1] the AWS endpoint.
  // kInternal if what arrived is not two listening TCP sockets from this sandbox's init.
  Result<std::array<int, 2>> ReceiveEndpoints();
  // Lets init run the runtime, once the sandbox's outbound network (if any) is up.
  Status Go();
  // After Go: what init said when it could not enter the working directory or execute the
  // program; nullopt when it said nothing (the program runs, or has run). Does not block.
  std::optional<StartFailure> TakeStartFailure();
  // Kills every process of the sandbox.
  void Kill();

 private:
  friend class Sandbox;
  SandboxedProcess() = default;
  Sandbox* sandbox_ = nullptr;
  ChildProcess child_;
  int control_fd_ = -1;
  std::unique_ptr<EnvironmentCgroup> cgroup_;
  std::unique_ptr<ScratchDisk> tmp_;
  uid_t host_uid_ = 0;
  bool owns_uid_ = false;
  pid_t init_pid_ = -1;       // as the server sees it (SCM_CREDENTIALS)
  pid_t network_pid_ = -1;    // slirp4netns, in outbound mode
  int network_exit_fd_ = -1;  // closing it ends slirp4netns
};

class Sandbox {
 public:
  explicit Sandbox(SandboxOptions options);
  ~Sandbox();

  // What is missing for sandboxes to start, or what they do without (warnings, one per line,
  // for the server's start-up output). kInternal when environments cannot start at all.
  Result<std::vector<std::string>> Check();

  // Starts `request.program` in a new sandbox.
  Result<std::unique_ptr<SandboxedProcess>> Launch(const SandboxRequest& request);
  // How many launchers are ready (tests).
  size_t ReadyLaunchers();
  // Destroys `process` (kills what is left, removes its cgroups, detaches its /tmp, gives its
  // uid back) on a background thread, off the caller's.
  void Retire(std::unique_ptr<SandboxedProcess> process);

 private:
  friend class SandboxedProcess;
  Result<uid_t> AcquireUid();
  void ReleaseUid(uid_t uid);
  // Sets up /run/lambkin/<id>/data; an error names what failed.
  Status Stage();
  // Installs the host firewall rule that keeps outbound networking off the host.
  Status GuardOutbound();
  // Starts slirp4netns for the network namespace of `init_pid`.
  Result<std::pair<pid_t, int>> StartOutbound(pid_t init_pid);
  // Where the sandbox's host user finds `host_path`.
  std::string Visible(const std::string& host_path) const;

  SandboxOptions options_;
  bool switch_user_;      // the server runs as root: environments get host uids of their own
  std::string data_dir_;  // canonical
  // Each shared directory (canonical) and where it is mounted for sandboxes.
  std::vector<std::pair<std::string, std::string>> shared_;
  std::string stage_dir_;     // /run/lambkin/<id> when staged
  std::string init_visible_;  // Visible(options_.init), found once
  Status staged_ = Status::Ok();
  std::unique_ptr<ScratchDisks> disks_;
  // A launcher made ahead of time, already in the cgroups it will run in.
  struct Prepared {
    std::unique_ptr<EnvironmentCgroup> cgroup;
    std::unique_ptr<PreparedProcess> process;
  };
  static constexpr size_t kPreparedDepth = 2;
  Result<Prepared> Prepare();

  // The background thread: destroys retired sandboxes and keeps kPreparedDepth launchers
  // ready.
  void MaintenanceLoop();
  std::mutex retire_mu_;  // guards what follows
  std::condition_variable retire_cv_;
  std::deque<std::unique_ptr<SandboxedProcess>> retiring_;
  std::deque<Prepared> prepared_;
  bool prepare_failed_ = false;  // cgroups are not available: launch directly
  bool stopping_ = false;
  std::thread retirer_;

  std::mutex mu_;
  uint32_t next_unused_ = 0;    // uids never given out: uid_base + next_unused_ onwards
  std::deque<uid_t> released_;  // given back, reused oldest first
};

}  // namespace lambkin::exec
