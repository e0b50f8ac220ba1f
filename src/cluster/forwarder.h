// Forwarder: sends an HTTP request received by this node on to another node, as it was
// received (method, target, headers and body; the caller's SigV4 signature stays valid because
// the Host header is kept), and hands back that node's answer. The other node authenticates
// and authorises the request itself, so forwarding grants nothing. Connections are kept alive
// and reused per node, so a forwarded warm invoke costs one loopback round trip more than a
// direct one. The request gains the header kForwardedHeader, and a node never forwards a
// request that carries it (no loops).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/status.h"
#include "server/request.h"

namespace lambkin::cluster {

inline constexpr char kForwardedHeader[] = "x-lambkin-forwarded-by";

class Forwarder {
 public:
  // `self_id` names this node in kForwardedHeader.
  Forwarder(boost::asio::io_context& ioc, std::string self_id);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  using Done = std::function<void(Result<server::HttpResponse>)>;
  // Sends `request` to the node at `address` (host:port). `done` gets its answer, or
  // kUnavailable when the node cannot be reached (nothing was delivered, as far as this node
  // can tell, so the caller may try another node).
  void Send(const std::string& address, const server::HttpRequest& request, Done done);

  struct Connection;

 private:
  friend struct Exchange;
  std::unique_ptr<Connection> TakeIdle(const std::string& address);
  void PutIdle(const std::string& address, std::unique_ptr<Connection> conn);

  boost::asio::io_context& ioc_;
  std::string self_id_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

}  // namespace lambkin::cluster
