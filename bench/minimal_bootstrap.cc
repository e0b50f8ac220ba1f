// A minimal compiled custom-runtime bootstrap for the invoke benchmark: one keep-alive
// connection to the Runtime API, GET next, POST the event back as the response, repeat.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int fd = -1;
std::string buffer;

bool Fill() {
  char chunk[65536];
  ssize_t n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<size_t>(n));
  return true;
}

// Reads one HTTP response; returns its headers and body.
bool ReadResponse(std::string& headers, std::string& body) {
  size_t end;
  while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) return false;
  }
  headers = buffer.substr(0, end + 4);
  buffer.erase(0, end + 4);
  size_t length = 0;
  const char* cl = strcasestr(headers.c_str(), "\r\ncontent-length:");
  if (cl != nullptr) length = std::strtoul(cl + 17, nullptr, 10);
  while (buffer.size() < length) {
    if (!Fill()) return false;
  }
  body = buffer.substr(0, length);
  buffer.erase(0, length);
  return true;
}

void Send(const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) std::exit(1);
    off += static_cast<size_t>(n);
  }
}

}  // namespace

int main() {
  const char* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (api == nullptr) return 1;
  std::string host(api);
  int port = std::atoi(host.substr(host.find(':') + 1).c_str());
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return 1;
  std::string headers, body;
  for (;;) {
    Send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n");
    if (!ReadResponse(headers, body)) return 1;
    const char* id = strcasestr(headers.c_str(), "\r\nlambda-runtime-aws-request-id:");
    if (id == nullptr) return 1;
    id += 32;
    while (*id == ' ') ++id;
    std::string request_id(id, std::strcspn(id, "\r"));
    Send("POST /2018-06-01/runtime/invocation/" + request_id +
         "/response HTTP/1.1\r\nHost: runtime\r\nContent-Type: "
         "application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body);
    if (!ReadResponse(headers, body)) return 1;
  }
}
