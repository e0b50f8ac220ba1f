#include "bench_util.h"

#include "common/clock.h"
#include "iam/authenticator.h"
#include "iam/sigv4.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/crypto.h"
#include "common/files.h"

namespace lambkin::bench {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string ReadFileOrExit(const std::string& path) {
  Result<std::string> bytes = ReadWholeFile(path);
  if (!bytes.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", path.c_str(), bytes.status().message().c_str());
    std::exit(1);
  }
  return std::move(bytes).value();
}

Server StartServer(const std::string& binary, const std::string& extra_args) {
  Server s;
  s.data_dir = std::filesystem::temp_directory_path() / ("lambkin-bench-" + RandomUuid());
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    std::string cmd = "exec " + binary + " serve --data " + s.data_dir +
                      " --listen 127.0.0.1:0 --threads 2 " + extra_args;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  s.pid = pid;
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

void StopServer(Server& s) {
  kill(s.pid, SIGTERM);
  waitpid(s.pid, nullptr, 0);
  std::filesystem::remove_all(s.data_dir);
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

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Connection::Connection(unsigned port, Credentials credentials)
    : socket_(ioc_), credentials_(std::move(credentials)) {
  socket_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  socket_.set_option(tcp::no_delay(true));
}

int Connection::Request(const std::string& method, const std::string& target,
                        const std::string& body, std::string* response_body) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  // Signed like an SDK request; a signature stays valid for 15 minutes, so each distinct
  // request is signed once (the server verifies every one).
  std::string key = method + " " + target + "\n" + body;
  auto signed_headers = signatures_.find(key);
  if (signed_headers == signatures_.end()) {
    std::string date = iam::AmzDate(SystemClock().NowMillis());
    std::vector<std::pair<std::string, std::string>> headers = {{"x-amz-date", date}};
    // The operator API is its own service in the credential scope.
    std::string service = target.starts_with("/lambkin/") ? "lambkin" : "lambda";
    iam::SigV4Credential credential{credentials_.access_key, date.substr(0, 8), "us-east-1",
                                    service};
    if (credentials_.sign) {
      headers.emplace_back(
          "authorization",
          iam::SignedAuthorization(method, target, headers, body, credential, credentials_.secret));
    }
    signed_headers = signatures_.emplace(key, std::move(headers)).first;
  }
  for (const auto& [name, value] : signed_headers->second) req.set(name, value);
  req.keep_alive(true);
  req.body() = body;
  req.prepare_payload();
  http::write(socket_, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket_, buffer, res);
  if (response_body != nullptr) *response_body = std::move(res.body());
  return static_cast<int>(res.result_int());
}

void CreateBenchFunction(unsigned port, const Credentials& credentials) {
  Connection conn(port, credentials);
  std::string empty_zip("PK\x05\x06", 4);
  empty_zip.append(18, '\0');
  std::string create = R"({"FunctionName":"bench","Runtime":"provided.al2023","Handler":"h",)"
                       R"("Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":")" +
                       Base64Encode(empty_zip) + R"("}})";
  std::string body;
  if (int status = conn.Request("POST", "/2015-03-31/functions", create, &body); status != 201) {
    std::fprintf(stderr, "CreateFunction failed (%d): %s\n", status, body.c_str());
    std::exit(1);
  }
}

double Throughput(unsigned port, const std::string& target, int connections, double seconds,
                  const Credentials& credentials) {
  return Throughput(std::vector<unsigned>{port}, target, connections, seconds, credentials);
}

double Throughput(const std::vector<unsigned>& ports, const std::string& target, int connections,
                  double seconds, const Credentials& credentials) {
  std::atomic<long> total{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&, port = ports[i % ports.size()]] {
      Connection conn(port, credentials);
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        std::string body;
        if (int status = conn.Request("GET", target, "", &body); status != 200) {
          std::fprintf(stderr, "unexpected status %d for %s: %s\n", status, target.c_str(),
                       body.c_str());
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

}  // namespace lambkin::bench
