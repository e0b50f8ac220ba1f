// The bubblewrap sandbox of an execution environment.
//
// Inside, as on Lambda: the function's code read-only at /var/task, the runtime version bundle
// read-only at /var/runtime, a private writable /tmp of EphemeralStorage MB, the host's /usr
// (and /etc) read-only so interpreters run, /bin/sh being bash (Amazon Linux's), a fresh /proc
// and /dev, its own PID, IPC and user namespaces (an unprivileged uid with no capabilities),
// and the working directory /var/task. Nothing else of the host is visible: not other
// functions' code, not the server's data directory, not other environments.
#pragma once

#include <string>
#include <vector>

namespace lambkin::exec {

struct SandboxSpec {
  std::string bwrap = "/usr/bin/bwrap";
  std::string code_dir;     // mounted at /var/task
  std::string runtime_dir;  // mounted at /var/runtime
  int64_t tmp_bytes = 512LL * 1024 * 1024;
  std::string program = "/var/runtime/bootstrap";  // path inside the sandbox
};

// The argv that runs `spec.program` inside the sandbox.
std::vector<std::string> SandboxArgv(const SandboxSpec& spec);

}  // namespace lambkin::exec
