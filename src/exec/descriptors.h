// Descriptors passed between the server and the first programs of its sandboxes: messages
// carrying descriptors over a Unix socket (SCM_RIGHTS), and a child's descriptors put in place
// before it executes its program.
//
// Header-only and on libc alone, so that lambkin-init (static, without the project's libraries)
// and the server share one implementation. Nothing here allocates: PlaceDescriptors runs
// between fork and exec, and the receiving side in the launcher before any program is trusted.
// Thread-safe (no state).
#pragma once

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace lambkin::exec {

// The most descriptors one message or one child takes.
inline constexpr size_t kMaxPassedDescriptors = 16;

// What lambkin-init tells the server on its control socket when, after the go-ahead, it cannot
// start the runtime: one of these tags, then the errno (4 bytes, native order), then it exits.
// A successful exec closes the socket instead (it is close-on-exec).
inline constexpr char kInitBadWorkingDir = 'W';  // chdir to the working directory failed
inline constexpr char kInitBadProgram = 'X';     // the program cannot be executed
inline constexpr size_t kInitFailureSize = 1 + sizeof(int);

// Sends `data` (`size` bytes, one message) with `fds` attached. True when all of it went.
inline bool SendWithDescriptors(int socket, const void* data, size_t size, const int* fds,
                                size_t n_fds) {
  if (n_fds > kMaxPassedDescriptors) return false;
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedDescriptors)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n_fds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == static_cast<ssize_t>(size);
}

// What ReceiveWithDescriptors got besides the bytes.
struct Received {
  int fds[kMaxPassedDescriptors];  // close-on-exec; beyond `max_fds` they were closed
  size_t n_fds = 0;
  ucred cred{};  // the sender, when the socket has SO_PASSCRED
  bool has_cred = false;
};

// Receives one message into `buf`: its length, 0 at end of file, or -1 (errno set; EMSGSIZE
// when the bytes or the descriptors did not fit, and then every descriptor is closed).
// Keeps at most `max_fds` descriptors (<= kMaxPassedDescriptors) and closes any others.
inline ssize_t ReceiveWithDescriptors(int socket, void* buf, size_t size, size_t max_fds,
                                      Received* out) {
  iovec iov{buf, size};
  alignas(cmsghdr) char
      control[CMSG_SPACE(sizeof(int) * kMaxPassedDescriptors) + CMSG_SPACE(sizeof(ucred))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t len;
  do {
    len = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (len < 0 && errno == EINTR);
  if (len < 0) return -1;
  out->n_fds = 0;
  out->has_cred = false;
  bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      std::memcpy(&out->cred, CMSG_DATA(c), sizeof(ucred));
      out->has_cred = true;
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (!truncated && out->n_fds < max_fds && out->n_fds < kMaxPassedDescriptors) {
          out->fds[out->n_fds++] = fd;
        } else {
          ::close(fd);  // more than asked for: the message is refused whole
          truncated = true;
        }
      }
    }
  }
  if (truncated) {
    for (size_t i = 0; i < out->n_fds; ++i) ::close(out->fds[i]);
    out->n_fds = 0;
    errno = EMSGSIZE;
    return -1;
  }
  return len;
}

// In a child about to execute its program: `fds` become its descriptors 3, 4, ... (without
// close-on-exec) and every other descriptor from there on is marked close-on-exec, so that
// nothing else reaches the program (libraries open descriptors without close-on-exec, Asio's
// sockets among them). Moves them out of the way first, as a source may sit where another's
// target is. False on failure. Async-signal-safe.
inline bool PlaceDescriptors(const int* fds, size_t n_fds) {
  if (n_fds > kMaxPassedDescriptors) return false;
  int moved[kMaxPassedDescriptors];
  for (size_t i = 0; i < n_fds; ++i) {
    moved[i] = ::fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
    if (moved[i] < 0) return false;
  }
  for (size_t i = 0; i < n_fds; ++i) {
    if (::dup2(moved[i], static_cast<int>(3 + i)) < 0) return false;
  }
  return ::syscall(SYS_close_range, 3 + n_fds, ~0U, CLOSE_RANGE_CLOEXEC) == 0;
}

}  // namespace lambkin::exec
