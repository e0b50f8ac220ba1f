// The system-call filter of every execution environment, modelled on Docker's default seccomp
// profile (moby/moby profiles/seccomp/default.json) for a process without capabilities: an
// allow-list of the calls ordinary programs make, everything else failing with EPERM. As in
// Docker, clone may not create namespaces, clone3 fails with ENOSYS (so libcs fall back to
// clone), personality takes only the harmless personas and sockets may not be AF_VSOCK.
// Stricter than Docker: no ptrace / process_vm_* (a function has no business debugging
// another process) and no io_uring (a large kernel attack surface that bypasses this filter's
// view of I/O). Calls of other architectures (32-bit entry on x86-64) are killed.
//
// The filter is compiled once with libseccomp into a classic BPF program, the form
// bubblewrap's --seccomp FD loads just before it executes the sandbox's first program.
// Thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace lambkin::exec {

// The compiled BPF program (struct sock_filter[]), built on first use.
Result<std::string> SandboxSeccompProgram();

// A sealed memory file holding the program, positioned at its start, for bubblewrap's
// --seccomp; the caller owns (and closes) it.
Result<int> SandboxSeccompFd();

}  // namespace lambkin::exec
