// lambkin-init: the first program of every execution environment, inside its sandbox.
//
// The sandbox has its own network namespace with nothing but loopback. Before the runtime
// starts, init makes the environment's two endpoints there — the Runtime API on
// 127.0.0.1:9001 (AWS_LAMBDA_RUNTIME_API, as in Lambda) and Lambkin's AWS APIs on
// 127.0.0.1:9002 (AWS_ENDPOINT_URL) — and hands both listening sockets to the server over
// the control socket it inherited as fd 3 (SCM_RIGHTS). The server accepts on them from the
// host side, so requests reach it without a bridge process and nothing in the sandbox can
// reach anything else. Init waits for the server's go-ahead (one byte: its listeners and,
// with outbound networking, the sandbox's network are ready), closes the control socket and
// every other inherited descriptor, so that the function's code never holds one, and execs the
// runtime: argv[1...].
//
// Statically linked: it runs before anything of the runtime's root filesystem is trusted.
// Exit codes: 111 when the endpoints cannot be made, 112 when the server does not answer,
// 127 when the runtime cannot be executed.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: lambkin-init PROGRAM [ARG...]\n");
    return 2;
  }
  int fds[2] = {ListenOn(9001), ListenOn(9002)};
  if (fds[0] < 0 || fds[1] < 0) Die(111, "cannot listen on 127.0.0.1:9001/9002");

  char tag = 'L';
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
  if (::sendmsg(kControlFd, &msg, MSG_NOSIGNAL) != 1) Die(112, "cannot reach the server");
  ::close(fds[0]);
  ::close(fds[1]);

  char go = 0;
  ssize_t n;
  do {
    n = ::read(kControlFd, &go, 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'G') Die(112, "the server did not start the environment");
  // Nothing but stdin, stdout and stderr reaches the runtime: not the control socket, and not
  // a descriptor bubblewrap was given (a host directory's O_PATH descriptor is a way out).
  ::close_range(kControlFd, ~0U, 0);

  ::execv(argv[1], argv + 1);
  Die(127, argv[1]);
}
