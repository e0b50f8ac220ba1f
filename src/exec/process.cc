#include "exec/process.h"

#include "exec/descriptors.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace lambkin::exec {

namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// In the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const SpawnSpec& spec, char* const* argv, char* const* envp,
                            int out_write) {
  for (const auto& procs : spec.cgroup_procs) {
    int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) _exit(126);
    ::close(fd);
  }
  ::setsid();
  if (!PlaceDescriptors(spec.fds.data(), spec.fds.size())) _exit(126);
  for (const auto& [resource, value] : spec.rlimits) {
    rlimit limit{value, value};
    if (::setrlimit(resource, &limit) != 0) _exit(126);
  }
  if (spec.gid &&
      (::setgroups(0, nullptr) != 0 || ::setresgid(*spec.gid, *spec.gid, *spec.gid) != 0)) {
    _exit(126);
  }
  if (spec.uid && ::setresuid(*spec.uid, *spec.uid, *spec.uid) != 0) _exit(126);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull < 0 || ::dup2(devnull, 0) < 0) _exit(126);
  int out = spec.discard_output ? ::open("/dev/null", O_WRONLY) : out_write;
  if (out < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) _exit(126);
  // Signals the server ignores or blocks must not leak into the function.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) signal(sig, SIG_DFL);
  ::execve(argv[0], argv, envp);
  _exit(127);
}

}  // namespace

Result<ChildProcess> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return InvalidParameter("spawn: no program");
  if (spec.fds.size() > kMaxPassedDescriptors) {
    return InvalidParameter("spawn: too many descriptors");
  }
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    return Internal(fmt::format("spawn: pipe: {}", std::strerror(errno)));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return Internal(fmt::format("spawn: fork: {}", std::strerror(errno)));
  }
  if (pid == 0) ExecChild(spec, argv.data(), envp.data(), pipefd[1]);
  ::close(pipefd[1]);
  ::fcntl(pipefd[0], F_SETFL, ::fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    KillProcessGroup(pid);
    ::waitpid(pid, nullptr, 0);
    ::close(pipefd[0]);
    return Internal(fmt::format("spawn: pidfd_open: {}", std::strerror(errno)));
  }
  if (spec.discard_output) {
    ::close(pipefd[0]);
    pipefd[0] = -1;
  }
  return ChildProcess{pid, pidfd, pipefd[0]};
}

Result<std::unique_ptr<PreparedProcess>> PreparedProcess::Prepare(
    const std::string& launcher, const std::vector<std::string>& cgroup_procs) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Internal(fmt::format("prepare: socketpair: {}", std::strerror(errno)));
  }
  SpawnSpec spec;
  spec.argv = {launcher, "--launch"};
  spec.cgroup_procs = cgroup_procs;
  spec.fds = {pair[1]};
  Result<ChildProcess> child = Spawn(spec);
  ::close(pair[1]);
  if (!child.ok()) {
    ::close(pair[0]);
    return child.status();
  }
  std::unique_ptr<PreparedProcess> p(new PreparedProcess());
  p->child_ = *child;
  p->socket_ = pair[0];
  // Ready once it says so: it has joined its cgroups and waits for its program.
  pollfd ready{pair[0], POLLIN, 0};
  char byte = 0;
  if (::poll(&ready, 1, 10000) != 1 || ::recv(pair[0], &byte, 1, 0) != 1 || byte != 'R') {
    return Internal("prepare: the launcher did not start");  // the destructor ends it
  }
  return p;
}

PreparedProcess::~PreparedProcess() {
  if (socket_ >= 0) ::close(socket_);  // an unlaunched launcher exits at end of file
  if (launched_) return;
  KillProcessGroup(child_.pid);
  while (::waitpid(child_.pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::close(child_.pidfd);
  ::close(child_.output_fd);
}

Result<ChildProcess> PreparedProcess::Launch(const SpawnSpec& spec) {
  if (launched_) return Internal("launch: already launched");
  if (spec.argv.empty()) return InvalidParameter("launch: no program");
  if (spec.fds.size() > kMaxPassedDescriptors || spec.rlimits.size() > 16) {
    return InvalidParameter("launch: too many descriptors or limits");
  }
  std::string m = "LNCH";
  auto u32 = [&](uint32_t v) { m.append(reinterpret_cast<const char*>(&v), 4); };
  u32(spec.uid.value_or(0));
  u32(spec.gid.value_or(0));
  u32(spec.uid ? 1 : 0);
  u32(static_cast<uint32_t>(spec.rlimits.size()));
  for (const auto& [resource, value] : spec.rlimits) {
    u32(static_cast<uint32_t>(resource));
    u32(static_cast<uint32_t>(value & 0xffffffffu));
    u32(static_cast<uint32_t>(static_cast<uint64_t>(value) >> 32));
  }
  u32(static_cast<uint32_t>(spec.argv.size()));
  u32(static_cast<uint32_t>(spec.env.size()));
  for (const auto* list : {&spec.argv, &spec.env}) {
    for (const auto& str : *list) {
      m += str;
      m.push_back('\0');
    }
  }
  if (!SendWithDescriptors(socket_, m.data(), m.size(), spec.fds.data(), spec.fds.size())) {
    return Internal(fmt::format("launch: {}", std::strerror(errno)));
  }
  ::close(socket_);
  socket_ = -1;
  launched_ = true;
  return child_;
}

Status RunProgram(const std::vector<std::string>& argv) {
  SpawnSpec spec;
  spec.argv = argv;
  spec.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  LAMBKIN_ASSIGN_OR_RETURN(ChildProcess child, Spawn(spec));
  ::fcntl(child.output_fd, F_SETFL, ::fcntl(child.output_fd, F_GETFL) & ~O_NONBLOCK);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(child.output_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && output.size() < 4096) output.append(buf, static_cast<size_t>(n));
  }
  ::close(child.output_fd);
  ::close(child.pidfd);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Internal(fmt::format("{} failed ({}): {}", argv[0],
                              WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                              output));
}

void LowerThreadPriority() {
  // On Linux the nice value is per thread: PRIO_PROCESS with the thread's id.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
}

void KillProcessGroup(pid_t pid) {
  if (pid <= 0) return;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
}

int Reap(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == pid ? status : -1;
}

}  // namespace lambkin::exec
