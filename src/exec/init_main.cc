// lambkin-init: the first program of every execution environment, inside its sandbox.
//
// The sandbox has its own network namespace with nothing but loopback. Before the runtime
// starts, init makes the environment's two endpoints there — the Runtime API on
// 127.0.0.1:9001 (AWS_LAMBDA_RUNTIME_API, as in Lambda) and Lambkin's AWS APIs on
// 127.0.0.1:9002 (AWS_ENDPOINT_URL) — and hands both listening sockets to the server over
// the control socket it inherited as fd 3 (SCM_RIGHTS). The server accepts on them from the
// host side, so requests reach it without a bridge process and nothing in the sandbox can
// reach anything else. Init waits for the server's go-ahead (one byte: its listeners and,
// with outbound networking, the sandbox's network are ready), closes every other inherited
// descriptor and marks the control socket close-on-exec, so that the function's code never
// holds one, changes to the working directory (--workdir, for an image function its WorkingDir)
// and execs the runtime: the program and its arguments. A program without a '/' is looked up
// in the PATH of the runtime's environment, as a container runtime does for an image's
// Entrypoint. When the directory or the program fails, init tells the server which and why on
// the control socket (exec/descriptors.h) before it exits, so that the server can report
// Runtime.InvalidWorkingDir or Runtime.InvalidEntrypoint rather than a bare exit status.
//
// Usage: lambkin-init [--workdir DIR] PROGRAM [ARG...]
//
// Statically linked: it runs before anything of the runtime's root filesystem is trusted.
// Exit codes: 111 when the endpoints cannot be made, 112 when the server does not answer,
// 113 when the working directory cannot be entered, 127 when the runtime cannot be executed.
//
// `lambkin-init --launch` is the other half of exec/process.h's PreparedProcess: started ahead
// of time in an environment's cgroups (moving a process between cgroup v1 groups waits for an
// RCU grace period, several milliseconds a cold start would otherwise pay), it waits on fd 3
// for what to become — descriptors, limits, user, program, arguments, environment — and
// becomes it (bubblewrap, which then starts init's first half inside the sandbox).

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "exec/descriptors.h"

namespace {

using lambkin::exec::kMaxPassedDescriptors;
using lambkin::exec::PlaceDescriptors;
using lambkin::exec::Received;
using lambkin::exec::ReceiveWithDescriptors;
using lambkin::exec::SendWithDescriptors;

constexpr int kControlFd = 3;

int ListenOn(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

[[noreturn]] void Die(int code, const char* what) {
  std::fprintf(stderr, "lambkin-init: %s: %s\n", what, std::strerror(errno));
  _exit(code);
}

// Tells the server why the runtime could not start (see the file comment), then dies.
[[noreturn]] void StartFailed(char tag, int code, const char* what) {
  int error = errno;
  char message[lambkin::exec::kInitFailureSize];
  message[0] = tag;
  std::memcpy(message + 1, &error, sizeof error);
  (void)::send(kControlFd, message, sizeof message, MSG_NOSIGNAL);
  errno = error;
  Die(code, what);
}

// execv of `program`, or of the first executable `program` in $PATH when it has no '/' (the
// error of the most telling failure when none can run, as execvp reports it; never /bin/sh for
// a file that is not an executable).
void Exec(const char* program, char** argv) {
  if (std::strchr(program, '/') != nullptr) {
    ::execv(program, argv);
    return;
  }
  const char* path = std::getenv("PATH");
  if (path == nullptr || *path == '\0') path = "/usr/local/bin:/usr/bin:/bin";
  int error = ENOENT;
  static char candidate[4096];
  for (const char* p = path;;) {
    const char* end = std::strchr(p, ':');
    size_t len = end != nullptr ? static_cast<size_t>(end - p) : std::strlen(p);
    // An empty entry is the working directory.
    int n = len == 0 ? std::snprintf(candidate, sizeof candidate, "./%s", program)
                     : std::snprintf(candidate, sizeof candidate, "%.*s/%s", static_cast<int>(len),
                                     p, program);
    if (n > 0 && static_cast<size_t>(n) < sizeof candidate) {
      ::execv(candidate, argv);
      if (errno != ENOENT && errno != ENOTDIR) error = errno;  // EACCES, ENOEXEC: say so
    }
    if (end == nullptr) break;
    p = end + 1;
  }
  errno = error;
}

}  // namespace

// The launcher's message (exec/process.cc writes it): "LNCH", uid, gid, switch (0/1), the
// number of limits and each (resource, value), argc, envc, then the strings, NUL-terminated;
// the descriptors ride along as SCM_RIGHTS and become 3, 4, ...
[[noreturn]] void Launch() {
  // In its cgroups already (they were joined before this program started): say so.
  if (::send(kControlFd, "R", 1, MSG_NOSIGNAL) != 1) _exit(0);
  static char buf[1 << 20];
  Received received;
  ssize_t len =
      ReceiveWithDescriptors(kControlFd, buf, sizeof buf, kMaxPassedDescriptors, &received);
  if (len == 0) _exit(0);  // the server let it go unused
  if (len < 0) Die(112, "launch message");
  size_t pos = 0;
  auto u32 = [&](uint32_t& v) {
    if (pos + 4 > static_cast<size_t>(len)) Die(112, "launch message short");
    std::memcpy(&v, buf + pos, 4);
    pos += 4;
  };
  uint32_t magic = 0, uid = 0, gid = 0, switch_user = 0, n_limits = 0, argc = 0, envc = 0;
  u32(magic);
  if (std::memcmp(&magic, "LNCH", 4) != 0) Die(112, "not a launch message");
  u32(uid);
  u32(gid);
  u32(switch_user);
  u32(n_limits);
  if (n_limits > 16) Die(112, "launch message: too many limits");
  int resources[16];
  uint64_t values[16];
  for (uint32_t i = 0; i < n_limits; ++i) {
    uint32_t r = 0, lo = 0, hi = 0;
    u32(r);
    u32(lo);
    u32(hi);
    resources[i] = static_cast<int>(r);
    values[i] = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  u32(argc);
  u32(envc);
  if (argc == 0 || argc + envc > 4000) Die(112, "launch message: bad argument count");
  static char* strings[4002];
  for (uint32_t i = 0; i < argc + envc; ++i) {
    char* s = buf + pos;
    void* end = std::memchr(s, '\0', static_cast<size_t>(len) - pos);
    if (end == nullptr) Die(112, "launch message: unterminated string");
    strings[i + (i >= argc ? 1 : 0)] = s;
    pos = static_cast<size_t>(static_cast<char*>(end) - buf) + 1;
  }
  strings[argc] = nullptr;
  strings[argc + 1 + envc] = nullptr;

  // The descriptors become 3, 4, ... (the control socket, at 3, is replaced or closes on exec).
  if (!PlaceDescriptors(received.fds, received.n_fds)) Die(112, "placing descriptors");
  for (uint32_t i = 0; i < n_limits; ++i) {
    rlimit limit{values[i], values[i]};
    if (::setrlimit(resources[i], &limit) != 0) Die(112, "setrlimit");
  }
  if (switch_user != 0) {
    gid_t g = gid;
    uid_t u = uid;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(g, g, g) != 0 || ::setresuid(u, u, u) != 0) {
      Die(112, "cannot become the sandbox's user");
    }
  }
  ::execve(strings[0], strings, strings + argc + 1);
  Die(127, strings[0]);
}

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--launch") == 0) Launch();
  const char* workdir = nullptr;
  int first = 1;  // the program's index in argv
  if (argc >= 3 && std::strcmp(argv[1], "--workdir") == 0) {
    workdir = argv[2];
    first = 3;
  }
  if (argc <= first) {
    std::fprintf(stderr, "usage: lambkin-init [--workdir DIR] PROGRAM [ARG...]\n");
    return 2;
  }
  int fds[2] = {ListenOn(9001), ListenOn(9002)};
  if (fds[0] < 0 || fds[1] < 0) Die(111, "cannot listen on 127.0.0.1:9001/9002");

  const char tag = 'L';
  if (!SendWithDescriptors(kControlFd, &tag, 1, fds, 2)) Die(112, "cannot reach the server");
  ::close(fds[0]);
  ::close(fds[1]);

  char go = 0;
  ssize_t n;
  do {
    n = ::read(kControlFd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'G') Die(112, "the server did not start the environment");
  // Nothing but stdin, stdout and stderr reaches the runtime: not the control socket (closed
  // by the exec), and not a descriptor bubblewrap was given (a host directory's O_PATH
  // descriptor is a way out).
  ::close_range(kControlFd + 1, ~0U, 0);
  if (::fcntl(kControlFd, F_SETFD, FD_CLOEXEC) != 0) Die(112, "control socket");

  if (workdir != nullptr && ::chdir(workdir) != 0) {
    StartFailed(lambkin::exec::kInitBadWorkingDir, 113, workdir);
  }
  Exec(argv[first], argv + first);
  StartFailed(lambkin::exec::kInitBadProgram, 127, argv[first]);
}
