// HttpServer: the one asynchronous HTTP/1.1 stack (Boost.Beast on Asio) behind every API.
//
// It accepts connections on one listening address, keeps them alive, reads each request in
// full (up to kMaxBodyBytes), converts it to an HttpRequest and hands it to the Handler on one
// of its worker threads; the handler's HttpResponse is written back. A request that cannot be
// parsed is answered with 400; an oversized body with 413. Every response carries
// x-amzn-RequestId (the handler may set it; otherwise a fresh UUID is used).
//
// Run() blocks until Stop() is called (from any thread) or SIGINT/SIGTERM arrives when signal
// handling is enabled. The Handler must be thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::server {

// AWS's limit on a CreateFunction request, the largest request the Lambda API accepts.
inline constexpr uint64_t kMaxBodyBytes = 70167211;

class HttpServer {
 public:
  HttpServer(Handler handler, int threads);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` ("127.0.0.1:9001", port 0 picks a free port) and returns the bound port.
  Result<uint16_t> Listen(const std::string& address);
  void Run(bool handle_signals);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lambkin::server
