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

#include "common/crypto.h"

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

struct Server {
  pid_t pid = -1;
  unsigned port = 0;
};

Server Start(const std::string& binary, const std::string& data) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    execl(binary.c_str(), binary.c_str(), "serve", "--data", data.c_str(), "--listen",
          "127.0.0.1:0", "--threads", "2", nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  Server s{pid, 0};
  if (std::sscanf(line.c_str(), "lambkin listening on http://127.0.0.1:%u", &s.port) != 1) {
    std::fprintf(stderr, "server did not start: %s\n", line.c_str());
    std::exit(1);
  }
  // Keep draining the server's stdout so it never blocks.
  std::thread([fd = fds[0]] {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
  }).detach();
  return s;
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kb;
      in >> kb;
      return kb;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

int Request(tcp::socket& socket, http::verb verb, const std::string& target,
            const std::string& body) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization,
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/lambda/"
          "aws4_request, SignedHeaders=host, Signature=0");
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return static_cast<int>(res.result_int());
}

double Throughput(unsigned port, const std::string& target, int connections, double seconds) {
  std::atomic<long> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      boost::asio::io_context ioc;
      tcp::socket socket(ioc);
      socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
      socket.set_option(tcp::no_delay(true));
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (Request(socket, http::verb::get, target, "") != 200) {
          std::fprintf(stderr, "unexpected status for %s\n", target.c_str());
          std::exit(1);
        }
        ++n;
      }
      total += n;
    });
  }
  auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

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
  std::string data =
      std::filesystem::temp_directory_path() / ("lambkin-bench-" + lambkin::RandomUuid());
  Server server = Start(binary, data);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long idle_rss = RssKb(server.pid);

  {
    boost::asio::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port)});
    std::string empty_zip("PK\x05\x06", 4);
    empty_zip.append(18, '\0');
    std::string create = R"({"FunctionName":"bench","Runtime":"provided.al2023","Handler":"h",)"
                         R"("Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":")" +
                         lambkin::Base64Encode(empty_zip) + R"("}})";
    if (Request(socket, http::verb::post, "/2015-03-31/functions", create) != 201) {
      std::fprintf(stderr, "CreateFunction failed\n");
      return 1;
    }
  }

  const std::string config_target =
      "/2021-07-20/functions/bench/runtime-management-config?Qualifier=%24LATEST";
  Throughput(server.port, "/lambkin/v1/health", connections, 0.5);  // warm-up
  double baseline = Throughput(server.port, "/lambkin/v1/health", connections, seconds);
  double config = Throughput(server.port, config_target, connections, seconds);
  long loaded_rss = RssKb(server.pid);

  kill(server.pid, SIGTERM);
  waitpid(server.pid, nullptr, 0);
  std::filesystem::remove_all(data);

  std::printf("connections: %d, %.1f s per route\n", connections, seconds);
  std::printf("trivial handler (GET /lambkin/v1/health): %10.0f req/s\n", baseline);
  std::printf("GetRuntimeManagementConfig:               %10.0f req/s\n", config);
  std::printf("ratio GetRuntimeManagementConfig / trivial: %.2f (aim >= 0.5)\n", config / baseline);
  std::printf("idle RSS: %.1f MB (aim <= 30 MB); RSS after load: %.1f MB\n", idle_rss / 1024.0,
              loaded_rss / 1024.0);
  return 0;
}
