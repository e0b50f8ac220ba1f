// Helpers shared by the benchmarks: a real `lambkin serve` on a fresh data directory and a
// free port, and a blocking keep-alive HTTP client.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

namespace lambkin::bench {

struct Server {
  pid_t pid = -1;
  unsigned port = 0;
  std::string data_dir;
};

// Starts `binary serve` and waits until it listens. Exits the process on failure.
Server StartServer(const std::string& binary, const std::string& extra_args = "");
void StopServer(Server& server);
long RssKb(pid_t pid);

// One keep-alive connection to the server.
class Connection {
 public:
  explicit Connection(unsigned port);
  // Sends a request with the development credentials; returns the status, fills `body`.
  int Request(const std::string& method, const std::string& target, const std::string& body,
              std::string* response_body = nullptr);

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> signatures_;
};

}  // namespace lambkin::bench
