// A real OCI registry for tests: Debian's docker-registry (distribution 2.8) started on a
// loopback port with storage of its own, and skopeo to push OCI layouts into it. Test-only;
// shared by the registry client's and the image store's tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "oci/test_util.h"

namespace lambkin::oci::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

inline constexpr char kRegistryBinary[] = "/usr/bin/docker-registry";
inline constexpr char kSkopeo[] = "/usr/bin/skopeo";

inline int FreePort() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

inline bool Answers(int port) {
  asio::io_context ioc;
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), ec);
  return !ec;
}

// Runs a shell command; its exit status (output into `log`).
inline int RunShell(const std::string& command, const std::string& log) {
  int rc = std::system((command + " >>" + log + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A docker-registry process with its own storage and configuration.
class Registry {
 public:
  // `htpasswd`: an htpasswd file's content, turning on Basic authentication. `storage_extra`:
  // more of the storage section (YAML, indented by two).
  explicit Registry(const std::string& dir, const std::string& htpasswd = "",
                    const std::string& storage_extra = "")
      : storage_(dir + "/storage"), port_(FreePort()) {
    std::filesystem::create_directories(storage_);
    std::string config =
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        "    rootdirectory: " +
        storage_ + "\n" + storage_extra + "http:\n  addr: 127.0.0.1:" + std::to_string(port_) +
        "\n";
    if (!htpasswd.empty()) {
      WriteFile(dir + "/htpasswd", htpasswd);
      config += "auth:\n  htpasswd:\n    realm: lambkin-test\n    path: " + dir + "/htpasswd\n";
    }
    WriteFile(dir + "/config.yml", config);
    log_ = dir + "/registry.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execl(kRegistryBinary, "docker-registry", "serve", (dir + "/config.yml").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !Answers(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // an outside process
    }
  }
  ~Registry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool up() const { return Answers(port_); }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string BlobData(const std::string& digest) const {
    std::string hex = digest.substr(7);
    return storage_ + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  }
  const std::string& log() const { return log_; }

 private:
  std::string storage_;
  int port_;
  pid_t pid_ = -1;
  std::string log_;
};

// skopeo copy --all of `source` (oci:<layout>:<name>) to docker://`destination` over plain
// HTTP; "" on success, else what skopeo said.
inline std::string SkopeoCopy(const std::string& source, const std::string& destination,
                              const std::string& log, const std::string& extra = "") {
  std::string command = std::string(kSkopeo) + " --insecure-policy copy --all --quiet " +
                        "--dest-tls-verify=false " + extra + " " + source + " docker://" +
                        destination;
  if (RunShell(command, log) == 0) return "";
  return command + "\n" + ReadFile(log);
}

}  // namespace lambkin::oci::testing
