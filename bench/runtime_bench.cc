// Runtime versions as whole OCI images: what they cost, measured against a baseline in the same
// run.
//  1. Cold start of a bare sandbox: bubblewrap with the sandbox's namespace flags running
//     /usr/bin/true on provided.al2023's root filesystem (`--ro-bind <rootfs> /`, today's
//     sandbox) against the host mounts sandboxes used before (/usr, the merged-/usr symlinks,
//     /etc), interleaved; the difference is what the runtime root adds (aim <= 2 ms).
//  2. Build time and size of each built-in runtime version (runtimes/*/runtime.json, packages
//     from the cache that `make build` filled) into a fresh output, then the same build again
//     to show it is reused.
//  3. Registry pull throughput of python3.11's layer blob from a real `lambkin serve` against
//     reading the same blob from disk (page cache warm for both).
//
//   runtime_bench --lambkin build/src/lambkin [--runtimes build/runtimes]
//                 [--definitions runtimes] [--runs 60] [--pulls 5] [--parts 123]
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "common/crypto.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr char kBwrap[] = "/usr/bin/bwrap";

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "runtime_bench: %s\n", what.c_str());
  std::exit(1);
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

nlohmann::json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) Fail("cannot read " + path.string());
  return nlohmann::json::parse(in);
}

// "sha256:<hex>" -> "<hex>".
std::string Hex(const std::string& digest) {
  if (!digest.starts_with("sha256:")) Fail("not a sha256 digest: " + digest);
  return digest.substr(7);
}

// Sorted values: the value at quantile q (nearest rank).
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(std::lround(q * static_cast<double>(v.size() - 1)));
  return v[std::min(i, v.size() - 1)];
}

// --- 1. cold start --------------------------------------------------------------------------

// The namespace flags of src/exec/sandbox.cc.
std::vector<std::string> SandboxFlags() {
  return {kBwrap,
          "--unshare-user",
          "--uid",
          "993",
          "--gid",
          "990",
          "--unshare-pid",
          "--unshare-ipc",
          "--unshare-uts",
          "--unshare-net",
          "--unshare-cgroup-try",
          "--hostname",
          "localhost",
          "--cap-drop",
          "ALL",
          "--die-with-parent",
          "--new-session"};
}

// Today's: the runtime version's root filesystem is the whole of /.
std::vector<std::string> RuntimeRootArgs(const std::string& rootfs, const std::string& code) {
  std::vector<std::string> a = SandboxFlags();
  a.insert(a.end(),
           {"--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--ro-bind", code, "/var/task", "--chdir", "/var/task", "/usr/bin/true"});
  return a;
}

// Before: the host's /usr, its merged-/usr symlinks (or real directories), /etc.
std::vector<std::string> HostMountArgs(const std::string& code) {
  std::vector<std::string> a = SandboxFlags();
  a.insert(a.end(), {"--ro-bind", "/usr", "/usr"});
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code ec;
    auto st = fs::symlink_status(top, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_symlink(st)) {
      a.insert(a.end(), {"--symlink", fs::read_symlink(top, ec).string(), top});
    } else {
      a.insert(a.end(), {"--ro-bind", top, top});
    }
  }
  a.insert(a.end(), {"--ro-bind", "/etc", "/etc", "--proc", "/proc", "--dev", "/dev", "--tmpfs",
                     "/tmp", "--dir", "/var", "--ro-bind", code, "/var/task", "--chdir",
                     "/var/task", "/usr/bin/true"});
  return a;
}

// Spawns bubblewrap, waits for it; milliseconds from spawn to exit.
double RunMs(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = -1;
  if (int e = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); e != 0) {
    Fail(std::string("posix_spawn bwrap: ") + std::strerror(e));
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) Fail("waitpid");
  double ms = Seconds(std::chrono::steady_clock::now() - t0) * 1e3;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (const auto& s : args) line += s + " ";
    Fail("bwrap failed (status " + std::to_string(status) + "): " + line);
  }
  return ms;
}

void ColdStart(const fs::path& runtimes, int runs) {
  if (::access(kBwrap, X_OK) != 0) Fail("bubblewrap (/usr/bin/bwrap) is needed");
  std::string hex = Hex(ReadJson(runtimes / "provided.al2023" / "lambkin-build.json")["manifest"]);
  std::string rootfs = fs::absolute(runtimes / "rootfs" / hex).string();
  if (!fs::exists(fs::path(rootfs) / "usr/bin/true")) Fail("no root filesystem at " + rootfs);
  fs::path code = fs::temp_directory_path() / ("lambkin-runtime-bench-" + lambkin::RandomUuid());
  fs::create_directories(code);
  std::ofstream(code / "bootstrap") << "#!/bin/sh\n";

  std::vector<std::string> a = RuntimeRootArgs(rootfs, code.string());
  std::vector<std::string> b = HostMountArgs(code.string());
  for (int i = 0; i < 5; ++i) {  // warm up: page cache, dentries
    RunMs(a);
    RunMs(b);
  }
  std::vector<double> ta, tb;
  ta.reserve(runs);
  tb.reserve(runs);
  for (int i = 0; i < runs; ++i) {
    ta.push_back(RunMs(a));
    tb.push_back(RunMs(b));
  }
  fs::remove_all(code);

  std::printf(
      "1. sandbox cold start, bwrap running /usr/bin/true (%d runs each, A/B interleaved)\n", runs);
  std::printf(
      "  A runtime root (provided.al2023 %.12s, --ro-bind <rootfs> /): median %.2f ms, "
      "p90 %.2f ms\n",
      hex.c_str(), Quantile(ta, 0.5), Quantile(ta, 0.9));
  std::printf(
      "  B host mounts (/usr, merged-/usr symlinks, /etc, /var):      median %.2f ms, "
      "p90 %.2f ms\n",
      Quantile(tb, 0.5), Quantile(tb, 0.9));
  std::printf("  added by the runtime root: %.2f ms (aim: <= 2 ms); ratio A/B %.2f\n",
              Quantile(ta, 0.5) - Quantile(tb, 0.5), Quantile(ta, 0.5) / Quantile(tb, 0.5));
}

// --- 2. build time and size -----------------------------------------------------------------

struct BuildLine {
  bool ok = false;
  std::string verb;  // built | unchanged
  int packages = 0;
  double unpacked_mb = 0;
  double layer_mb = 0;
  double seconds = 0;  // as the builder reports it
  double wall = 0;     // the whole command, process start included
  std::string output;
};

BuildLine RunBuild(const std::string& binary, const std::string& definition,
                   const std::string& output) {
  std::string cmd = binary + " runtime build " + definition + " --output " + output + " 2>&1";
  BuildLine r;
  auto t0 = std::chrono::steady_clock::now();
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) Fail("popen " + cmd);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) {
    r.output += buf;
    char verb[16];
    char runtime[64];
    char digest[80];
    if (std::sscanf(buf, "%15s %63[^:]: %79s (%d packages, %lf MB unpacked, %lf MB layer) in %lf s",
                    verb, runtime, digest, &r.packages, &r.unpacked_mb, &r.layer_mb,
                    &r.seconds) == 7) {
      r.ok = true;
      r.verb = verb;
    }
  }
  int status = pclose(p);
  r.wall = Seconds(std::chrono::steady_clock::now() - t0);
  if (status != 0) r.ok = false;
  return r;
}

void BuildTimes(const std::string& binary, const fs::path& definitions) {
  std::vector<fs::path> dirs;
  if (!fs::is_directory(definitions)) Fail("no runtime definitions in " + definitions.string());
  for (const auto& e : fs::directory_iterator(definitions)) {
    if (fs::exists(e.path() / "runtime.json")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  fs::path out = fs::temp_directory_path() / ("lambkin-runtime-bench-" + lambkin::RandomUuid());
  std::printf("\n2. runtime build into a fresh output (packages from the cache), then again\n");
  std::printf("  %-16s %9s %9s %9s %12s %9s | %-9s %9s %9s\n", "runtime", "build s", "wall s",
              "packages", "unpacked MB", "layer MB", "again", "build s", "wall s");
  double total = 0;
  double total_again = 0;
  for (const auto& dir : dirs) {
    BuildLine first = RunBuild(binary, dir.string(), out.string());
    if (!first.ok) Fail("runtime build " + dir.string() + ":\n" + first.output);
    BuildLine again = RunBuild(binary, dir.string(), out.string());
    if (!again.ok) Fail("runtime build " + dir.string() + " again:\n" + again.output);
    std::printf("  %-16s %9.1f %9.2f %9d %12.1f %9.1f | %-9s %9.1f %9.2f\n", dir.filename().c_str(),
                first.seconds, first.wall, first.packages, first.unpacked_mb, first.layer_mb,
                again.verb.c_str(), again.seconds, again.wall);
    total += first.wall;
    total_again += again.wall;
  }
  std::error_code ec;
  fs::remove_all(out, ec);
  std::printf("  all %zu: %.1f s built, %.2f s again (ratio %.3f)\n", dirs.size(), total,
              total_again, total_again / total);
}

// --- 3. registry pull -----------------------------------------------------------------------

constexpr size_t kChunk = 1 << 20;

// GET `target` on a keep-alive connection, reading the whole body through a 1 MiB buffer (the
// same chunk size as the disk reads below), appended to `copy` when given; the body's size.
size_t Get(tcp::socket& socket, const std::string& target, std::string* copy = nullptr) {
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(true);
  http::write(socket, req);
  // Beast reads the socket into the flat buffer no more than its free capacity at a time:
  // without room it reads a few hundred bytes per system call.
  beast::flat_buffer buffer;
  buffer.reserve(kChunk);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  http::read_header(socket, buffer, parser);
  if (parser.get().result() != http::status::ok) {
    Fail("GET " + target + ": " + std::to_string(parser.get().result_int()));
  }
  static std::vector<char> chunk(kChunk);
  size_t size = 0;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    boost::system::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec && ec != http::error::need_buffer) Fail("GET " + target + ": " + ec.message());
    size_t n = chunk.size() - parser.get().body().size;
    if (copy != nullptr) copy->append(chunk.data(), n);
    size += n;
  }
  return size;
}

// Reads the file at `path` through a 1 MiB buffer, appended to `copy` when given; its size.
size_t ReadFile(const std::string& path, std::string* copy = nullptr) {
  static std::vector<char> chunk(kChunk);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail("open " + path);
  size_t size = 0;
  ssize_t n;
  while ((n = ::read(fd, chunk.data(), chunk.size())) > 0) {
    if (copy != nullptr) copy->append(chunk.data(), static_cast<size_t>(n));
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  if (n < 0) Fail("read " + path);
  return size;
}

void RegistryPull(const std::string& binary, const fs::path& runtimes, int pulls) {
  fs::path layout = runtimes / "python3.11";
  std::string manifest = ReadJson(layout / "index.json")["manifests"][0]["digest"];
  std::string layer = ReadJson(layout / "blobs/sha256" / Hex(manifest))["layers"][0]["digest"];
  std::string path = (layout / "blobs/sha256" / Hex(layer)).string();
  size_t size = fs::file_size(path);

  lambkin::bench::Server server = lambkin::bench::StartServer(binary, "--registry-anonymous-pull");
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port)});
  socket.set_option(tcp::no_delay(true));
  std::string target = "/v2/python/blobs/" + layer;

  // Warm both, and check the registry serves the bytes on disk.
  {
    std::string pulled, read;
    Get(socket, target, &pulled);
    ReadFile(path, &read);
    if (pulled != read || read.size() != size) Fail("the registry's blob differs from disk");
  }
  std::vector<double> registry, disk;
  registry.reserve(pulls);
  disk.reserve(pulls);
  for (int i = 0; i < pulls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (Get(socket, target) != size) Fail("short blob from the registry");
    registry.push_back(Seconds(std::chrono::steady_clock::now() - t0));
    t0 = std::chrono::steady_clock::now();
    if (ReadFile(path) != size) Fail("short read");
    disk.push_back(Seconds(std::chrono::steady_clock::now() - t0));
  }
  lambkin::bench::StopServer(server);

  double mb = static_cast<double>(size) / 1e6;
  auto total = [](const std::vector<double>& v) {
    double t = 0;
    for (double x : v) t += x;
    return t;
  };
  auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  std::printf(
      "\n3. python3.11's layer blob (%.1f MB, %.12s), %d times each interleaved, page cache "
      "warm, 1 MiB reads\n",
      mb, Hex(layer).c_str(), pulls);
  std::printf(
      "  registry GET /v2/python/blobs/<digest> (anonymous, keep-alive): %7.0f MB/s "
      "(best %.0f)\n",
      mb * pulls / total(registry), mb / best(registry));
  std::printf(
      "  read(2) of build/runtimes/python3.11/blobs/sha256/<hex>:        %7.0f MB/s "
      "(best %.0f)\n",
      mb * pulls / total(disk), mb / best(disk));
  std::printf("  ratio registry / disk: %.2f (best %.2f)\n", total(disk) / total(registry),
              best(disk) / best(registry));
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/src/lambkin";
  fs::path runtimes = "build/runtimes";
  fs::path definitions = "runtimes";
  int runs = 60;
  int pulls = 5;
  std::string parts = "123";  // which of the three to run
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--lambkin")) binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--runtimes")) runtimes = argv[i + 1];
    if (!std::strcmp(argv[i], "--definitions")) definitions = argv[i + 1];
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--pulls")) pulls = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--parts")) parts = argv[i + 1];
  }
  if (parts.find('1') != std::string::npos) ColdStart(runtimes, runs);
  if (parts.find('2') != std::string::npos) BuildTimes(binary, definitions);
  if (parts.find('3') != std::string::npos) RegistryPull(binary, runtimes, pulls);
  return 0;
}
