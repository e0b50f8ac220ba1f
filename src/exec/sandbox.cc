#include "exec/sandbox.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/crypto.h"
#include "exec/descriptors.h"
#include "exec/seccomp.h"

namespace lambkin::exec {

namespace {

// Lambda runs functions as an unprivileged user; this is its uid and gid inside.
constexpr char kUid[] = "993";
constexpr char kGid[] = "990";
constexpr rlim_t kMaxOpenFiles = 1024;  // Lambda's
constexpr rlim_t kMaxTasks = 1024;      // Lambda's processes and threads

Status Errno(std::string_view what) {
  return Internal(fmt::format("sandbox: {}: {}", what, std::strerror(errno)));
}

std::string DefaultInit() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "lambkin-init";
  return (self.parent_path() / "lambkin-init").string();
}

// Descriptors the server opened for bubblewrap; closed when the launch is over.
struct Descriptors {
  std::vector<int> fds;
  ~Descriptors() { CloseAll(); }
  void CloseAll() {
    for (int fd : fds) ::close(fd);
    fds.clear();
  }
  // Adds `fd`; returns the number it has in the child (3 + position).
  std::string Add(int fd) {
    fds.push_back(fd);
    return std::to_string(2 + fds.size());
  }
};

// The table holding the rule that keeps environments' outbound traffic off the host.
constexpr char kFirewallTable[] = "lambkin_sandbox";
// slirp4netns's built-in DNS forwarder, inside the environment.
constexpr char kOutboundResolvConf[] = "nameserver 10.0.2.3\n";

gid_t NetworkGroup(const SandboxOptions& o) { return static_cast<gid_t>(o.uid_base - 1); }

}  // namespace

Status EnterPrivateMountNamespace() {
  if (::geteuid() != 0) return Status::Ok();
  if (::unshare(CLONE_NEWNS) != 0) return Errno("unshare(CLONE_NEWNS)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    return Errno("making the mount namespace a slave of the host's");
  }
  return Status::Ok();
}

Result<NetworkMode> ParseNetworkMode(std::string_view text) {
  if (text == "none") return NetworkMode::kNone;
  if (text == "outbound") return NetworkMode::kOutbound;
  return InvalidParameter(fmt::format("network must be none or outbound, not '{}'", text));
}

Sandbox::Sandbox(SandboxOptions options) : options_(std::move(options)) {
  if (options_.init.empty()) options_.init = DefaultInit();
  switch_user_ = ::geteuid() == 0;
  if (!options_.data_dir.empty()) {
    std::error_code ec;
    data_dir_ = std::filesystem::weakly_canonical(options_.data_dir, ec).string();
    if (ec) data_dir_ = options_.data_dir;
    staged_ = Stage();
    std::string mounts = stage_dir_.empty() ? data_dir_ + "/scratch" : stage_dir_ + "/tmp";
    disks_ = std::make_unique<ScratchDisks>(data_dir_ + "/scratch", mounts);
  }
  init_visible_ = Visible(options_.init);
  // Last: the thread reads the options (Stage() moves `init` into the data directory).
  retirer_ = std::thread([this] { MaintenanceLoop(); });
}

Sandbox::~Sandbox() {
  {
    std::lock_guard lock(retire_mu_);
    stopping_ = true;
  }
  retire_cv_.notify_all();
  if (retirer_.joinable()) retirer_.join();
  // What the thread left goes now, while the uid pool it gives back to still exists.
  retiring_.clear();
  prepared_.clear();
  disks_.reset();
  if (!stage_dir_.empty()) {
    // Never a recursive removal here: the data directory is mounted below.
    ::umount2((stage_dir_ + "/data").c_str(), MNT_DETACH);
    for (const auto& [dir, at] : shared_) {
      ::umount2(at.c_str(), MNT_DETACH);
      ::rmdir(at.c_str());
    }
    for (const char* dir : {"/data", "/tmp", ""}) ::rmdir((stage_dir_ + dir).c_str());
  }
}

Status Sandbox::Stage() {
  // lambkin-init travels with the data directory: sandboxes reach it like the code.
  std::string init = data_dir_ + "/sandbox/lambkin-init";
  std::error_code ec;
  std::filesystem::create_directories(data_dir_ + "/sandbox", ec);
  ::chmod((data_dir_ + "/sandbox").c_str(), 0755);
  std::string partial = init + ".partial";
  std::filesystem::copy_file(options_.init, partial,
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec || ::chmod(partial.c_str(), 0755) != 0 || ::rename(partial.c_str(), init.c_str()) != 0) {
    return Internal(fmt::format("cannot copy {} into {}: {}", options_.init, data_dir_,
                                ec ? ec.message() : std::strerror(errno)));
  }
  options_.init = init;
  if (!switch_user_) return Status::Ok();  // the sandbox is this server's own user
  std::string stage = "/run/lambkin/" + Sha256Hex(data_dir_).substr(0, 16);
  for (const std::string& dir :
       {std::string("/run/lambkin"), stage, stage + "/data", stage + "/tmp"}) {
    if (::mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) return Errno(dir);
    if (::chmod(dir.c_str(), 0711) != 0) return Errno(dir);
  }
  // What a previous run left mounted goes first.
  while (::umount2((stage + "/data").c_str(), MNT_DETACH) == 0) {
  }
  if (::mount(data_dir_.c_str(), (stage + "/data").c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return Errno("bind mount of the data directory");
  }
  stage_dir_ = stage;
  for (const std::string& shared : options_.shared_dirs) {
    std::string canonical = std::filesystem::weakly_canonical(shared, ec).string();
    if (ec || !std::filesystem::is_directory(canonical, ec)) continue;
    std::string at = fmt::format("{}/shared{}", stage, shared_.size());
    if (::mkdir(at.c_str(), 0711) != 0 && errno != EEXIST) return Errno(at);
    while (::umount2(at.c_str(), MNT_DETACH) == 0) {
    }
    if (::mount(canonical.c_str(), at.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, at.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      return Errno("bind mount of " + canonical);
    }
    shared_.emplace_back(canonical, at);
  }
  return Status::Ok();
}

std::string Sandbox::Visible(const std::string& host_path) const {
  if (stage_dir_.empty()) return host_path;
  std::error_code ec;
  std::string path = std::filesystem::weakly_canonical(host_path, ec).string();
  if (ec) path = host_path;
  if (path.starts_with(data_dir_ + "/"))
    return stage_dir_ + "/data" + path.substr(data_dir_.size());
  for (const auto& [dir, at] : shared_) {
    if (path.starts_with(dir + "/")) return at + path.substr(dir.size());
  }
  return host_path;
}

Result<std::vector<std::string>> Sandbox::Check() {
  LAMBKIN_RETURN_IF_ERROR(staged_);
  if (::access(options_.bwrap.c_str(), X_OK) != 0) {
    return Internal(fmt::format("bubblewrap ({}) is needed to run functions", options_.bwrap));
  }
  if (::access(options_.init.c_str(), X_OK) != 0) {
    return Internal(fmt::format("{} is needed to run functions", options_.init));
  }
  LAMBKIN_RETURN_IF_ERROR(SandboxSeccompProgram().status());
  if (options_.network == NetworkMode::kOutbound) LAMBKIN_RETURN_IF_ERROR(GuardOutbound());
  std::vector<std::string> warnings;
  if (!switch_user_) {
    warnings.push_back(
        "not running as root: every environment runs as this server's own host user");
  }
  if (!disks_ || !disks_->Available()) {
    warnings.push_back(
        "no loop devices or not root: /tmp is a tmpfs, charged to the function's memory");
  }
  return warnings;
}

Status Sandbox::GuardOutbound() {
  if (!switch_user_) {
    return Internal("outbound networking for functions needs the server to run as root");
  }
  for (const std::string* tool : {&options_.slirp4netns, &options_.nft}) {
    if (::access(tool->c_str(), X_OK) != 0) {
      return Internal(fmt::format("outbound networking for functions needs {}", *tool));
    }
  }
  // slirp4netns runs in its own group; sockets of that group may not reach any address of
  // this host (its loopback, its interfaces): only the world outside.
  std::string rules = fmt::format(
      "table inet {0}\ndelete table inet {0}\ntable inet {0} {{\n  chain output {{\n"
      "    type filter hook output priority 0; policy accept;\n"
      "    meta skgid {1} fib daddr type local reject\n  }}\n}}\n",
      kFirewallTable, NetworkGroup(options_));
  std::string path = data_dir_.empty() ? "/tmp/lambkin-firewall.nft" : data_dir_ + "/firewall.nft";
  {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Errno(path);
    bool written = ::write(fd, rules.data(), rules.size()) == static_cast<ssize_t>(rules.size());
    ::close(fd);
    if (!written) return Errno(path);
  }
  Status s = RunProgram({options_.nft, "-f", path});
  if (!s.ok()) {
    return Internal(
        fmt::format("cannot install the firewall rule for outbound networking: {}", s.message()));
  }
  return Status::Ok();
}

Result<std::pair<pid_t, int>> Sandbox::StartOutbound(pid_t init_pid) {
  std::string ns = fmt::format("/proc/{}/ns/net", init_pid);
  int netns = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0) return Errno(ns);
  Descriptors fds;
  fds.Add(netns);
  // The user namespace that owns the network namespace (bubblewrap nests a second one).
  int userns = ::ioctl(netns, NS_GET_USERNS);
  if (userns < 0) return Errno("NS_GET_USERNS");
  fds.Add(userns);
  int ready[2], exit_pipe[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return Errno("pipe");
  fds.Add(ready[1]);
  if (::pipe2(exit_pipe, O_CLOEXEC) != 0) {
    ::close(ready[0]);
    return Errno("pipe");
  }
  fds.Add(exit_pipe[0]);
  SpawnSpec spec;
  // Descriptors 3..6 in the child: netns, userns, ready, exit.
  spec.argv = {options_.slirp4netns,
               "--configure",
               "--disable-host-loopback",
               "--enable-sandbox",
               "--enable-seccomp",
               "--ready-fd",
               "5",
               "--exit-fd",
               "6",
               "--userns-path",
               "/proc/self/fd/4",
               "--netns-type=path",
               "/proc/self/fd/3",
               "tap0"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.fds = fds.fds;
  spec.uid = 0;  // it needs /dev/net/tun; the firewall rule holds its group
  spec.gid = NetworkGroup(options_);
  spec.discard_output = true;
  Result<ChildProcess> child = Spawn(spec);
  if (!child.ok()) {
    ::close(ready[0]);
    ::close(exit_pipe[1]);
    return child.status();
  }
  ::close(child->pidfd);
  fds.CloseAll();  // ours of the ready pipe among them: its end of file says slirp4netns died
  // slirp4netns writes '1' once the tap device is configured (a few milliseconds).
  pollfd p{ready[0], POLLIN, 0};
  char byte = 0;
  bool up = ::poll(&p, 1, 5000) == 1 && ::read(ready[0], &byte, 1) == 1 && byte == '1';
  ::close(ready[0]);
  if (!up) {
    ::close(exit_pipe[1]);
    KillProcessGroup(child->pid);
    ::waitpid(child->pid, nullptr, 0);
    return Internal("slirp4netns did not bring the environment's network up");
  }
  return std::make_pair(child->pid, exit_pipe[1]);
}

size_t Sandbox::ReadyLaunchers() {
  std::lock_guard lock(retire_mu_);
  return prepared_.size();
}

void Sandbox::Retire(std::unique_ptr<SandboxedProcess> process) {
  process->Kill();
  {
    std::lock_guard lock(retire_mu_);
    if (!stopping_) {
      retiring_.push_back(std::move(process));
      process = nullptr;
    }
  }
  retire_cv_.notify_one();
  // Without the thread (the server is stopping) it goes here and now.
}

Result<Sandbox::Prepared> Sandbox::Prepare() {
  Prepared p;
  // Lambda's smallest function until it is given its own limits.
  p.cgroup = EnvironmentCgroup::Create(RandomUuid(),
                                       {int64_t{128} << 20, static_cast<int64_t>(kMaxTasks)});
  if (!p.cgroup) return Internal("no cgroups to prepare launchers in");
  LAMBKIN_ASSIGN_OR_RETURN(p.process,
                           PreparedProcess::Prepare(options_.init, p.cgroup->procs_files()));
  return p;
}

void Sandbox::MaintenanceLoop() {
  LowerThreadPriority();
  std::unique_lock lock(retire_mu_);
  while (true) {
    retire_cv_.wait(lock, [&] {
      return stopping_ || !retiring_.empty() ||
             (!prepare_failed_ && prepared_.size() < kPreparedDepth);
    });
    if (stopping_) return;
    // An empty pool costs the next cold start milliseconds: refill it first.
    bool starved = !prepare_failed_ && prepared_.empty();
    if (!retiring_.empty() && !starved) {
      std::unique_ptr<SandboxedProcess> p = std::move(retiring_.front());
      retiring_.pop_front();
      lock.unlock();
      p.reset();
      lock.lock();
      continue;
    }
    lock.unlock();
    Result<Prepared> prepared = Prepare();
    lock.lock();
    if (prepared.ok()) {
      prepared_.push_back(std::move(*prepared));
    } else {
      prepare_failed_ = true;
    }
  }
}

Result<uid_t> Sandbox::AcquireUid() {
  std::lock_guard lock(mu_);
  if (next_unused_ < options_.uid_count) return options_.uid_base + next_unused_++;
  if (released_.empty()) {
    return Status(StatusCode::kTooManyRequests, "no free sandbox user id is left");
  }
  uid_t uid = released_.front();
  released_.pop_front();
  return uid;
}

void Sandbox::ReleaseUid(uid_t uid) {
  std::lock_guard lock(mu_);
  released_.push_back(uid);
}

Result<std::unique_ptr<SandboxedProcess>> Sandbox::Launch(const SandboxRequest& request) {
  std::unique_ptr<SandboxedProcess> p(new SandboxedProcess());
  p->sandbox_ = this;
  if (switch_user_) {
    LAMBKIN_ASSIGN_OR_RETURN(p->host_uid_, AcquireUid());
    p->owns_uid_ = true;
  } else {
    p->host_uid_ = ::geteuid();
  }
  uid_t uid = p->host_uid_;
  gid_t gid = switch_user_ ? static_cast<gid_t>(uid) : ::getegid();

  if (disks_ && disks_->Available()) {
    LAMBKIN_ASSIGN_OR_RETURN(p->tmp_, disks_->Create(request.tmp_bytes, uid, gid));
  }
  CgroupLimits limits{request.memory_bytes, static_cast<int64_t>(kMaxTasks)};
  std::unique_ptr<PreparedProcess> launcher;
  {
    std::lock_guard lock(retire_mu_);
    if (!prepared_.empty()) {
      Prepared ready = std::move(prepared_.front());
      prepared_.pop_front();
      if (ready.cgroup->SetLimits(limits)) {
        p->cgroup_ = std::move(ready.cgroup);
        launcher = std::move(ready.process);
      }
    }
  }
  retire_cv_.notify_one();  // make the next one
  if (!p->cgroup_) p->cgroup_ = EnvironmentCgroup::Create(request.name, limits);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Errno("socketpair");
  }
  int one = 1;  // init's message carries its pid, as the server sees it
  ::setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  p->control_fd_ = pair[0];
  Descriptors fds;
  fds.Add(pair[1]);  // fd 3 in init: its control socket
  LAMBKIN_ASSIGN_OR_RETURN(int seccomp, SandboxSeccompFd());
  std::string seccomp_fd = fds.Add(seccomp);

  std::vector<std::string> a = {options_.bwrap, "--unshare-user", "--uid", kUid, "--gid", kGid,
                                "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
                                "--unshare-cgroup-try", "--hostname", "localhost", "--cap-drop",
                                "ALL", "--die-with-parent", "--new-session",
                                // The runtime version's root filesystem is the
                                // whole of /: nothing of the host's /usr or /etc.
                                "--ro-bind", Visible(request.rootfs_dir), "/"};
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev"});
  if (options_.network == NetworkMode::kOutbound) {
    int resolv = ::memfd_create("resolv.conf", MFD_CLOEXEC);
    if (resolv < 0) return Errno("memfd_create");
    std::string fd = fds.Add(resolv);
    if (::write(resolv, kOutboundResolvConf, sizeof kOutboundResolvConf - 1) !=
            static_cast<ssize_t>(sizeof kOutboundResolvConf - 1) ||
        ::lseek(resolv, 0, SEEK_SET) != 0) {
      return Errno("resolv.conf");
    }
    a.insert(a.end(), {"--ro-bind-data", fd, "/etc/resolv.conf"});
  }
  if (p->tmp_) {
    a.insert(a.end(), {"--bind", p->tmp_->path(), "/tmp"});
  } else {
    a.insert(a.end(), {"--size", std::to_string(request.tmp_bytes), "--tmpfs", "/tmp"});
  }
  if (!request.code_dir.empty()) {
    a.insert(a.end(), {"--ro-bind", Visible(request.code_dir), "/var/task"});
  }
  if (!request.opt_dir.empty()) {
    a.insert(a.end(), {"--ro-bind", Visible(request.opt_dir), "/opt"});
  }
  // Init enters the working directory itself, so that a missing one is reported as such.
  a.insert(a.end(), {"--ro-bind", init_visible_, "/var/lambkin/init", "--chdir", "/", "--seccomp",
                     seccomp_fd, "/var/lambkin/init", "--workdir",
                     request.working_dir.empty() ? "/" : request.working_dir, request.program});
  a.insert(a.end(), request.args.begin(), request.args.end());

  SpawnSpec spec;
  spec.argv = std::move(a);
  spec.env = request.env;
  if (p->cgroup_) spec.cgroup_procs = p->cgroup_->procs_files();
  spec.fds = fds.fds;
  spec.rlimits = {{RLIMIT_NOFILE, kMaxOpenFiles}, {RLIMIT_CORE, 0}};
  if (switch_user_) {
    spec.uid = uid;
    spec.gid = gid;
    // Where the pids controller is missing, the uid's own process limit stands in (the uid
    // is this environment's alone; bubblewrap's two processes count too).
    if (!p->cgroup_ || !p->cgroup_->limits_tasks()) {
      spec.rlimits.push_back({RLIMIT_NPROC, kMaxTasks + 2});
    }
  }
  if (launcher) {
    LAMBKIN_ASSIGN_OR_RETURN(p->child_, launcher->Launch(spec));
  } else {
    LAMBKIN_ASSIGN_OR_RETURN(p->child_, Spawn(spec));
  }
  ::fcntl(p->control_fd_, F_SETFL, ::fcntl(p->control_fd_, F_GETFL) | O_NONBLOCK);
  return p;
}

SandboxedProcess::~SandboxedProcess() {
  Kill();
  if (control_fd_ >= 0) ::close(control_fd_);
  if (network_exit_fd_ >= 0) ::close(network_exit_fd_);
  if (network_pid_ > 0) {
    KillProcessGroup(network_pid_);
    ::waitpid(network_pid_, nullptr, 0);
  }
  cgroup_.reset();
  tmp_.reset();
  // The uid is free again once nothing runs under it: the cgroup's processes are gone, and
  // bubblewrap's PID 1 takes the rest of its namespace with it.
  if (owns_uid_) sandbox_->ReleaseUid(host_uid_);
}

void SandboxedProcess::Kill() {
  if (child_.pid > 0) KillProcessGroup(child_.pid);
  if (cgroup_) cgroup_->KillAll();
}

Result<std::array<int, 2>> SandboxedProcess::ReceiveEndpoints() {
  char tag = 0;
  Received got;
  ssize_t n = ReceiveWithDescriptors(control_fd_, &tag, 1, 2, &got);
  if (n < 0 && errno == EAGAIN) return Status(StatusCode::kTooManyRequests, "not yet");
  if (got.has_cred) init_pid_ = got.cred.pid;
  if (n != 1 || tag != 'L' || got.n_fds != 2) {
    for (size_t i = 0; i < got.n_fds; ++i) ::close(got.fds[i]);
    return Internal("the sandbox's init did not send its endpoints");
  }
  std::array<int, 2> fds{got.fds[0], got.fds[1]};
  // Only listening TCP sockets are served.
  for (int fd : fds) {
    int listening = 0, domain = 0, type = 0;
    socklen_t len = sizeof(int);
    bool ok = ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
    len = sizeof(int);
    ok = ok && ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_INET;
    len = sizeof(int);
    ok = ok && ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
    if (!ok) {
      ::close(fds[0]);
      ::close(fds[1]);
      return Internal("the sandbox's init sent something other than listening sockets");
    }
  }
  return fds;
}

Status SandboxedProcess::Go() {
  if (sandbox_->options_.network == NetworkMode::kOutbound) {
    if (init_pid_ <= 0) return Internal("the sandbox's init did not say who it is");
    LAMBKIN_ASSIGN_OR_RETURN(auto network, sandbox_->StartOutbound(init_pid_));
    network_pid_ = network.first;
    network_exit_fd_ = network.second;
  }
  char go = 'G';
  if (::send(control_fd_, &go, 1, MSG_NOSIGNAL) != 1) return Errno("control socket");
  // Kept open: init reports a program it cannot start on it (TakeStartFailure).
  return Status::Ok();
}

std::optional<StartFailure> SandboxedProcess::TakeStartFailure() {
  if (control_fd_ < 0) return std::nullopt;
  char message[kInitFailureSize];
  ssize_t n = ::recv(control_fd_, message, sizeof message, MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(sizeof message) ||
      (message[0] != kInitBadWorkingDir && message[0] != kInitBadProgram)) {
    return std::nullopt;
  }
  StartFailure failure{message[0] == kInitBadWorkingDir ? StartFailure::Kind::kWorkingDir
                                                        : StartFailure::Kind::kProgram,
                       0};
  std::memcpy(&failure.error, message + 1, sizeof failure.error);
  return failure;
}

}  // namespace lambkin::exec
