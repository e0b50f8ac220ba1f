#include "exec/sandbox.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace lambkin::exec {

namespace {

// Lambda runs functions as an unprivileged user.
constexpr char kUid[] = "993";
constexpr char kGid[] = "990";

}  // namespace

std::vector<std::string> SandboxArgv(const SandboxSpec& spec) {
  std::vector<std::string> a = {spec.bwrap,      "--unshare-user",
                                "--uid",         kUid,
                                "--gid",         kGid,
                                "--unshare-pid", "--unshare-ipc",
                                "--unshare-uts", "--hostname",
                                "localhost",     "--cap-drop",
                                "ALL",           "--die-with-parent",
                                "--new-session", "--ro-bind",
                                "/usr",          "/usr"};
  // Merged-/usr hosts have /bin, /lib... as symlinks into /usr; others have real directories.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code ec;
    auto st = std::filesystem::symlink_status(top, ec);
    if (ec || !std::filesystem::exists(st)) continue;
    if (std::filesystem::is_symlink(st)) {
      a.insert(a.end(), {"--symlink", std::filesystem::read_symlink(top, ec).string(), top});
    } else {
      a.insert(a.end(), {"--ro-bind", top, top});
    }
  }
  // Amazon Linux's /bin/sh is bash; scripts written for Lambda rely on it.
  if (::access("/usr/bin/bash", X_OK) == 0)
    a.insert(a.end(), {"--ro-bind", "/usr/bin/bash", "/usr/bin/sh"});
  a.insert(a.end(), {"--ro-bind",    "/etc",      "/etc",
                     "--proc",       "/proc",     "--dev",
                     "/dev",         "--size",    std::to_string(spec.tmp_bytes),
                     "--tmpfs",      "/tmp",      "--dir",
                     "/var",         "--ro-bind", spec.code_dir,
                     "/var/task",    "--ro-bind", spec.runtime_dir,
                     "/var/runtime", "--dir",     "/opt",
                     "--chdir",      "/var/task", spec.program});
  return a;
}

}  // namespace lambkin::exec
