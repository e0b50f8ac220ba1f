#include "cluster/forwarder.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

namespace lambkin::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(2);
// An invocation may run for Lambda's longest timeout (15 minutes) and then some.
constexpr auto kExchangeTimeout = std::chrono::minutes(16);
constexpr size_t kMaxIdlePerNode = 32;
constexpr uint64_t kMaxResponseBytes = 64ULL << 20;

// Hop-by-hop headers and those the sending stack sets itself.
bool Passed(std::string_view name) {
  return name != "connection" && name != "keep-alive" && name != "transfer-encoding" &&
         name != "content-length" && name != "te" && name != "upgrade" && name != kForwardedHeader;
}

}  // namespace

struct Forwarder::Connection {
  explicit Connection(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

struct Exchange : std::enable_shared_from_this<Exchange> {
  Forwarder* owner;
  asio::io_context& ioc;
  std::string address;
  http::request<http::string_body> request;
  Forwarder::Done done;
  std::unique_ptr<Forwarder::Connection> conn;
  bool reused = false;
  std::unique_ptr<http::response_parser<http::string_body>> parser;
  tcp::resolver resolver;

  Exchange(Forwarder* f, asio::io_context& io) : owner(f), ioc(io), resolver(io) {}

  void Fail(const std::string& what, beast::error_code ec) {
    done(Unavailable(
        fmt::format("node {} cannot be reached ({}: {})", address, what, ec.message())));
  }

  void Start() {
    conn = owner->TakeIdle(address);
    if (conn == nullptr) return Connect();
    reused = true;
    Write();
  }

  // A new connection (also when a kept-alive one turns out to be closed by the peer).
  void Connect() {
    reused = false;
    conn = std::make_unique<Forwarder::Connection>(ioc);
    size_t colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    std::string port = colon == std::string::npos ? "80" : address.substr(colon + 1);
    resolver.async_resolve(
        host, port,
        [self = shared_from_this()](beast::error_code ec, const tcp::resolver::results_type& r) {
          if (ec) return self->Fail("resolve", ec);
          self->conn->stream.expires_after(kConnectTimeout);
          self->conn->stream.async_connect(r, [self](beast::error_code ec2, const tcp::endpoint&) {
            if (ec2) return self->Fail("connect", ec2);
            self->conn->stream.socket().set_option(tcp::no_delay(true));
            self->Write();
          });
        });
  }

  void Write() {
    conn->stream.expires_after(kExchangeTimeout);
    http::async_write(conn->stream, request,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) {
                          if (self->reused) return self->Connect();
                          return self->Fail("write", ec);
                        }
                        self->Read();
                      });
  }

  void Read() {
    parser = std::make_unique<http::response_parser<http::string_body>>();
    parser->body_limit(kMaxResponseBytes);
    http::async_read(
        conn->stream, conn->buffer, *parser,
        [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) {
            // Nothing came back on a reused connection: the peer had closed it; the request
            // never reached a handler.
            if (self->reused && (ec == http::error::end_of_stream ||
                                 ec == asio::error::connection_reset || ec == asio::error::eof)) {
              return self->Connect();
            }
            return self->Fail("read", ec);
          }
          http::response<http::string_body> res = self->parser->release();
          server::HttpResponse out;
          out.status = static_cast<int>(res.result_int());
          for (const auto& field : res) {
            std::string name(field.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (!Passed(name) || name == "date" || name == "server") continue;
            out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
          }
          out.body = std::move(res.body());
          if (res.keep_alive()) self->owner->PutIdle(self->address, std::move(self->conn));
          self->done(std::move(out));
        });
  }
};

Forwarder::Forwarder(asio::io_context& ioc, std::string self_id)
    : ioc_(ioc), self_id_(std::move(self_id)) {}

Forwarder::~Forwarder() = default;

std::unique_ptr<Forwarder::Connection> Forwarder::TakeIdle(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = idle_.find(address);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<Connection> c = std::move(it->second.back());
  it->second.pop_back();
  return c;
}

void Forwarder::PutIdle(const std::string& address, std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  auto& pool = idle_[address];
  if (pool.size() < kMaxIdlePerNode) pool.push_back(std::move(conn));
}

void Forwarder::Send(const std::string& address, const server::HttpRequest& request, Done done) {
  auto ex = std::make_shared<Exchange>(this, ioc_);
  ex->address = address;
  ex->done = std::move(done);
  http::request<http::string_body>& req = ex->request;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  for (const auto& [name, value] : request.headers) {
    if (Passed(name)) req.insert(name, value);
  }
  req.set(kForwardedHeader, self_id_);
  req.keep_alive(true);
  req.body() = request.body;
  req.prepare_payload();
  ex->Start();
}

}  // namespace lambkin::cluster
