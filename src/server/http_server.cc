#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/crypto.h"

namespace lambkin::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

HttpResponse PlainError(int status, const std::string& type, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.SetHeader("x-amzn-ErrorType", type);
  r.body = fmt::format(R"({{"Type":"User","message":"{}"}})", message);
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Handler* handler)
      : stream_(std::move(socket)), handler_(handler) {}

  void Start() { ReadRequest(); }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(64 * 1024);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Write(PlainError(413, "RequestEntityTooLargeException",
                              fmt::format("Request must be smaller than {} bytes for the "
                                          "CreateFunction operation",
                                          kMaxBodyBytes)),
                   false, 11);
    }
    if (ec) {
      return Write(PlainError(400, "InvalidRequestContentException", "Malformed HTTP request"),
                   false, 11);
    }
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    request.body = std::move(req.body());
    HttpResponse response;
    if (!ParseTarget(request.target, request)) {
      response = PlainError(400, "InvalidRequestContentException", "Malformed request target");
    } else {
      try {
        response = (*handler_)(request);
      } catch (const std::exception& e) {
        response = PlainError(500, "ServiceException", "Internal error");
        response.body = fmt::format(R"({{"Type":"Service","Message":"Internal error: {}"}})",
                                    "unexpected exception");
      }
    }
    Write(std::move(response), req.keep_alive(), req.version());
  }

  void Write(HttpResponse response, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(response.status));
    res->keep_alive(keep_alive);
    bool has_request_id = false;
    for (auto& [k, v] : response.headers) {
      if (beast::iequals(k, "x-amzn-RequestId")) has_request_id = true;
      res->set(k, v);
    }
    if (!has_request_id) res->set("x-amzn-RequestId", RandomUuid());
    res->body() = std::move(response.body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->ReadRequest();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Handler* handler_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(Handler h, int n) : handler(std::move(h)), threads(n), ioc(n), acceptor(ioc) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else {
        s.set_option(tcp::no_delay(true));
        std::make_shared<Session>(std::move(s), &handler)->Start();
      }
      Accept();
    });
  }

  Handler handler;
  int threads;
  asio::io_context ioc;
  tcp::acceptor acceptor;
};

HttpServer::HttpServer(Handler handler, int threads)
    : impl_(std::make_unique<Impl>(std::move(handler), threads)) {}

HttpServer::~HttpServer() { Stop(); }

Result<uint16_t> HttpServer::Listen(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return InvalidParameter(fmt::format("listen address {} must be HOST:PORT", address));
  }
  beast::error_code ec;
  auto ip = asio::ip::make_address(address.substr(0, colon), ec);
  if (ec) return InvalidParameter(fmt::format("bad listen host in {}", address));
  unsigned long port = 0;
  try {
    port = std::stoul(address.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidParameter(fmt::format("bad listen port in {}", address));
  }
  if (port > 65535) return InvalidParameter(fmt::format("bad listen port in {}", address));
  tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  auto& acc = impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Internal(fmt::format("cannot listen on {}: {}", address, ec.message()));
  return acc.local_endpoint().port();
}

void HttpServer::Run(bool handle_signals) {
  std::optional<asio::signal_set> signals;
  if (handle_signals) {
    signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    signals->async_wait([this](beast::error_code, int) { Stop(); });
  }
  impl_->Accept();
  std::vector<std::thread> workers;
  for (int i = 1; i < impl_->threads; ++i) workers.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : workers) t.join();
}

void HttpServer::Stop() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->ioc.stop();
}

}  // namespace lambkin::server
