// Request throughput of GetRuntimeManagementConfig over keep-alive HTTP, as a ratio against
// the server's trivial health handler measured in the same run, plus the server's idle RSS.
//
//   http_throughput_bench --lambkin build/src/lambkin [--seconds 3] [--connections 4]
//
// Starts a real `lambkin serve` on a fresh data directory and a free port, creates one
// function, and drives each route from N keep-alive connections for the same duration.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "bench_util.h"

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

using lambkin::bench::Throughput;

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/src/lambkin";
  double seconds = 3;
  int connections = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--lambkin")) binary = argv[i + 1];
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--connections")) connections = std::atoi(argv[i + 1]);
  }
  lambkin::bench::Server server = lambkin::bench::StartServer(binary);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long idle_rss = lambkin::bench::RssKb(server.pid);

  lambkin::bench::CreateBenchFunction(server.port);

  const std::string config_target =
      "/2021-07-20/functions/bench/runtime-management-config?Qualifier=%24LATEST";
  Throughput(server.port, "/lambkin/v1/health", connections, 0.5);  // warm-up
  double baseline = Throughput(server.port, "/lambkin/v1/health", connections, seconds);
  double config = Throughput(server.port, config_target, connections, seconds);
  long loaded_rss = lambkin::bench::RssKb(server.pid);
  lambkin::bench::StopServer(server);

  std::printf("connections: %d, %.1f s per route\n", connections, seconds);
  std::printf("trivial handler (GET /lambkin/v1/health): %10.0f req/s\n", baseline);
  std::printf("GetRuntimeManagementConfig:               %10.0f req/s\n", config);
  std::printf("ratio GetRuntimeManagementConfig / trivial: %.2f (aim >= 0.5)\n", config / baseline);
  std::printf("idle RSS: %.1f MB (aim <= 30 MB); RSS after load: %.1f MB\n", idle_rss / 1024.0,
              loaded_rss / 1024.0);
  return 0;
}
