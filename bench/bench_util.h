// Helpers shared by the benchmarks: a real `lambkin serve` on a fresh data directory and a
// free port, and a blocking keep-alive HTTP client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

#include "iam/authenticator.h"

namespace lambkin::bench {

struct Server {
  pid_t pid = -1;
  unsigned port = 0;
  std::string data_dir;
};

// Starts `binary serve` and waits until it listens. Exits the process on failure.
Server StartServer(const std::string& binary, const std::string& extra_args = "");
void StopServer(Server& server);
// Milliseconds of a steady-clock duration.
inline double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
// The whole file; exits the process when it cannot be read.
std::string ReadFileOrExit(const std::string& path);
long RssKb(pid_t pid);
// CPU time (user + system) the process has used so far, in seconds.
double CpuSeconds(pid_t pid);

// How a connection signs its requests (default: the development key, as the SDKs sign).
struct Credentials {
  std::string access_key = iam::kDevelopmentAccessKey;
  std::string secret = iam::kDevelopmentSecretKey;
  bool sign = true;  // false: unsigned, for a server started with --auth none
};

// One keep-alive connection to the server.
class Connection {
 public:
  explicit Connection(unsigned port, Credentials credentials = {});
  // Sends a request signed with the connection's credentials (for the Lambda API, or for the
  // operator API when `target` is under /lambkin/); returns the status, fills `body`.
  int Request(const std::string& method, const std::string& target, const std::string& body,
              std::string* response_body = nullptr);

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  Credentials credentials_;
  std::string buffer_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> signatures_;
};

// Creates the function "bench" (provided.al2023, an empty package) every bench reads; exits the
// process on failure.
void CreateBenchFunction(unsigned port, const Credentials& credentials = {});

// GET requests per second on `target` from `connections` keep-alive connections for `seconds`;
// exits the process if one is not answered 200.
double Throughput(unsigned port, const std::string& target, int connections, double seconds,
                  const Credentials& credentials = {});
// The same with the connections spread over several servers (connection i to ports[i % n]).
double Throughput(const std::vector<unsigned>& ports, const std::string& target, int connections,
                  double seconds, const Credentials& credentials = {});

}  // namespace lambkin::bench
