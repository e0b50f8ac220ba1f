// HttpServer: the one asynchronous HTTP/1.1 stack (Boost.Beast on Asio) behind every API and
// every execution environment's Runtime API endpoint.
//
// It accepts connections on any number of listening addresses, each with its own Handler,
// keeps connections alive, reads each request in full (up to kMaxBodyBytes), converts it to an
// HttpRequest and hands it to the listener's Handler on one of its worker threads; whatever the
// handler passes to `respond` (at once or later) is written back. A request that cannot be
// parsed is answered with 400; an oversized body with 413. Every response carries
// x-amzn-RequestId (the handler may set it; otherwise a fresh UUID is used). A response may
// name a range of a file as its body (HttpResponse::file), sent piece by piece, or be the
// headers of a HEAD answer (HttpResponse::head_length).
//
// Run() blocks until Stop() is called (from any thread) or SIGINT/SIGTERM arrives when signal
// handling is enabled. Listen() and Close() may be called from any thread, before or while the
// server runs. Handlers must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::server {

// AWS's limit on a CreateFunction request, the largest request the Lambda API accepts.
inline constexpr uint64_t kMaxBodyBytes = 70167211;

// What one client may hold on a Listen()ed address, so that idle or slow clients (slowloris)
// cannot exhaust the server. A timed-out request header or body is answered 408 and the
// connection closed; a keep-alive connection idle too long is closed; past max_connections a
// new connection is answered 503 and closed. Time spent in a handler (an invocation, a long
// poll) never counts.
struct ServerLimits {
  size_t max_connections = 16384;
  int idle_seconds = 60;    // waiting for a request's first byte (keep-alive included)
  int header_seconds = 10;  // from a request's first byte to its last header line
  int body_seconds = 120;   // plus one second per 64 KiB of declared Content-Length
  int write_seconds = 60;   // sending a response, plus one second per 64 KiB of it
  size_t max_header_bytes = size_t{64} * 1024;
};
// Connections one adopted listener (an execution environment's endpoints) may hold at once: a
// function cannot spend the server's descriptors by opening connections to its own endpoints.
inline constexpr size_t kMaxAdoptedConnections = 64;

class HttpServer {
 public:
  explicit HttpServer(int threads);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` ("127.0.0.1:9001", port 0 picks a free port), serves it with `handler` under
  // the server's limits, and returns the bound port.
  Result<uint16_t> Listen(const std::string& address, Handler handler);
  // The limits of listeners made by Listen() from now on.
  void SetLimits(const ServerLimits& limits);
  // Requests being handled or answered on Listen()ed listeners right now.
  size_t InFlight() const;
  // Connections open on Listen()ed listeners right now.
  size_t Connections() const;
  // Serves connections accepted on `fd`, a listening TCP socket made elsewhere (an execution
  // environment's init makes its endpoints inside the environment's network namespace); the
  // server owns the descriptor from here on, also on error. Returns the listener's id.
  Result<uint64_t> Adopt(int fd, Handler handler);
  // Stops accepting on the listener `id` (Listen's port, or Adopt's id); connections already
  // open finish their current request.
  void Close(uint64_t id);
  // From now on SIGINT and SIGTERM stop the server gracefully (also one that arrives before
  // Run: it is handled once Run starts), instead of killing the process: see Drain.
  void HandleSignals();
  // A graceful stop: Listen()ed listeners stop accepting, keep-alive connections close after
  // their current answer, and Run returns once every request in flight there was answered, or
  // after `deadline_seconds` (adopted listeners, which in-flight invocations need, keep serving
  // until then). `on_start` runs first (once), e.g. to log. Safe from any thread.
  void Drain(int deadline_seconds);
  void SetDrainDeadline(int seconds);
  void OnDrain(std::function<void()> on_start);
  void Run(bool handle_signals);
  void Stop();
  // The server's I/O context, for timers and child-process watches that share its threads.
  boost::asio::io_context& io_context();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lambkin::server
