#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ascii.h"
#include "common/crypto.h"

namespace lambkin::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// RFC 7231's IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". Every response carries one, so
// each thread formats it once per second.
const std::string& HttpDate(std::time_t t) {
  thread_local std::time_t formatted_at = -1;
  thread_local std::string text;
  if (t != formatted_at) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    text.assign(buf, n);
    formatted_at = t;
  }
  return text;
}

HttpResponse PlainError(int status, const std::string& type, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.SetHeader("x-amzn-ErrorType", type);
  r.body =
      nlohmann::json{{"Type", status >= 500 ? "Service" : "User"}, {"message", message}}.dump();
  return r;
}

// A Beast body that sends a range of an open file, 64 KiB at a time with pread, so a response
// of many megabytes costs one buffer, not its size in memory.
struct FileRangeBody {
  class Fd {
   public:
    Fd() = default;
    ~Fd() { reset(-1); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    void reset(int fd) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = fd;
    }
    int get() const { return fd_; }

   private:
    int fd_ = -1;
  };
  // Beast's Body concept names these two.
  struct value_type {  // NOLINT(readability-identifier-naming)
    Fd fd;
    uint64_t offset = 0;
    uint64_t length = 0;
  };

  static uint64_t size(const value_type& body) { return body.length; }

  class writer {  // NOLINT(readability-identifier-naming)
   public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>& /*header*/, const value_type& body)
        : body_(body) {}

    void init(beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      uint64_t remaining = body_.length - sent_;
      if (remaining == 0) return boost::none;
      size_t want = static_cast<size_t>(std::min<uint64_t>(remaining, buffer_.size()));
      ssize_t n;
      do {
        n = ::pread(body_.fd.get(), buffer_.data(), want, static_cast<off_t>(body_.offset + sent_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        // The file shrank or failed under us: end the connection rather than send a short body.
        ec = n == 0 ? beast::error_code(http::error::short_read)
                    : beast::error_code(errno, beast::system_category());
        return boost::none;
      }
      sent_ += static_cast<uint64_t>(n);
      return {{asio::const_buffer(buffer_.data(), static_cast<size_t>(n)), sent_ < body_.length}};
    }

   private:
    const value_type& body_;
    uint64_t sent_ = 0;
    std::array<char, size_t{64} * 1024> buffer_{};
  };
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handler> handler)
      : stream_(std::move(socket)), handler_(std::move(handler)) {}

  void Start() { ReadRequest(); }

 private:
  void ReadRequest() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(64 * 1024);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // Clients such as curl send `Expect: 100-continue` before a large body and wait for the
  // interim response; answer it at once, then read the body.
  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    auto& req = parser_->get();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec2, size_t) {
                          if (ec2) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::operation_aborted) {
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
      request.headers.emplace_back(AsciiLower(field.name_string()), std::string(field.value()));
    }
    request.body = std::move(req.body());
    beast::error_code peer_ec;
    tcp::endpoint peer = stream_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) request.remote_address = peer.address().to_string();
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    if (!ParseTarget(request.target, request)) {
      return Write(PlainError(400, "InvalidRequestContentException", "Malformed request target"),
                   keep_alive, version);
    }
    auto self = shared_from_this();
    Respond respond = [self, keep_alive, version](HttpResponse response) {
      asio::dispatch(self->stream_.get_executor(),
                     [self, keep_alive, version, r = std::move(response)]() mutable {
                       self->Write(std::move(r), keep_alive, version);
                     });
    };
    try {
      (*handler_)(request, std::move(respond));
    } catch (const std::exception& e) {
      // Handlers return errors as values; an exception here is a bug. Answer rather than die.
      Write(PlainError(500, "ServiceException", "Internal error"), false, version);
    }
  }

  void Write(HttpResponse response, bool keep_alive, unsigned version) {
    if (response.head_length) {
      auto res = std::make_shared<http::response<http::empty_body>>();
      Prepare(*res, response, keep_alive, version);
      res->content_length(*response.head_length);
      return Send(std::move(res), keep_alive);
    }
    if (response.file) {
      auto res = std::make_shared<http::response<FileRangeBody>>();
      const HttpResponse::FileBody& file = *response.file;
      res->body().fd.reset(::open(file.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (res->body().fd.get() < 0) {
        return Write(PlainError(500, "ServiceException", "Internal error"), false, version);
      }
      res->body().offset = file.offset;
      res->body().length = file.length;
      Prepare(*res, response, keep_alive, version);
      res->prepare_payload();
      return Send(std::move(res), keep_alive);
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    Prepare(*res, response, keep_alive, version);
    res->body() = std::move(response.body);
    res->prepare_payload();
    Send(std::move(res), keep_alive);
  }

  template <class Body>
  static void Prepare(http::response<Body>& res, HttpResponse& response, bool keep_alive,
                      unsigned version) {
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    res.keep_alive(keep_alive);
    bool has_request_id = false;
    // HttpResponse::SetHeader keeps one value per name; a header added several times on
    // purpose (a function URL's Set-Cookie) is sent several times.
    for (auto& [k, v] : response.headers) {
      if (beast::iequals(k, "x-amzn-RequestId")) has_request_id = true;
      res.insert(k, v);
    }
    if (!has_request_id) res.set("x-amzn-RequestId", RandomUuid());
    // SDKs correct their clock skew from the Date of a response (a refused signature's too).
    res.set(http::field::date, HttpDate(std::time(nullptr)));
  }

  template <class Message>
  void Send(std::shared_ptr<Message> res, bool keep_alive) {
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
  std::shared_ptr<const Handler> handler_;
};

struct Listener : std::enable_shared_from_this<Listener> {
  Listener(asio::io_context& ioc, Handler h)
      : acceptor(ioc), handler(std::make_shared<const Handler>(std::move(h))) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                          [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
                            if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) {
                              return;
                            }
                            if (!ec) {
                              beast::error_code ignored;
                              s.set_option(tcp::no_delay(true), ignored);
                              std::make_shared<Session>(std::move(s), self->handler)->Start();
                            }
                            self->Accept();
                          });
  }

  tcp::acceptor acceptor;
  std::shared_ptr<const Handler> handler;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(int n) : threads(n), ioc(n) {}

  int threads;
  asio::io_context ioc;
  std::mutex mu;
  std::map<uint64_t, std::shared_ptr<Listener>> listeners;  // by port, or by Adopt's id
  uint64_t next_adopted = uint64_t{1} << 16;                // above every port
  std::optional<asio::signal_set> signals;                  // SIGINT/SIGTERM stop the server
};

HttpServer::HttpServer(int threads) : impl_(std::make_unique<Impl>(threads)) {}

HttpServer::~HttpServer() { Stop(); }

boost::asio::io_context& HttpServer::io_context() { return impl_->ioc; }

Result<uint16_t> HttpServer::Listen(const std::string& address, Handler handler) {
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
  auto listener = std::make_shared<Listener>(impl_->ioc, std::move(handler));
  auto& acc = listener->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Internal(fmt::format("cannot listen on {}: {}", address, ec.message()));
  uint16_t bound = acc.local_endpoint().port();
  {
    std::lock_guard lock(impl_->mu);
    impl_->listeners[bound] = listener;
  }
  asio::post(impl_->ioc, [listener] { listener->Accept(); });
  return bound;
}

Result<uint64_t> HttpServer::Adopt(int fd, Handler handler) {
  auto listener = std::make_shared<Listener>(impl_->ioc, std::move(handler));
  beast::error_code ec;
  // The socket may come from another network namespace: its address says nothing here.
  listener->acceptor.assign(tcp::v4(), fd, ec);
  if (ec) {
    ::close(fd);
    return Internal(fmt::format("cannot serve an adopted socket: {}", ec.message()));
  }
  uint64_t id;
  {
    std::lock_guard lock(impl_->mu);
    id = impl_->next_adopted++;
    impl_->listeners[id] = listener;
  }
  asio::post(impl_->ioc, [listener] { listener->Accept(); });
  return id;
}

void HttpServer::Close(uint64_t id) {
  std::shared_ptr<Listener> listener;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->listeners.find(id);
    if (it == impl_->listeners.end()) return;
    listener = it->second;
    impl_->listeners.erase(it);
  }
  asio::post(impl_->ioc, [listener] {
    beast::error_code ec;
    listener->acceptor.close(ec);
  });
}

void HttpServer::HandleSignals() {
  if (impl_->signals) return;
  impl_->signals.emplace(impl_->ioc, SIGINT, SIGTERM);
  impl_->signals->async_wait([this](beast::error_code, int) { Stop(); });
}

void HttpServer::Run(bool handle_signals) {
  if (handle_signals) HandleSignals();
  auto guard = asio::make_work_guard(impl_->ioc);
  std::vector<std::thread> workers;
  for (int i = 1; i < impl_->threads; ++i) workers.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : workers) t.join();
}

void HttpServer::Stop() {
  // Pending handlers never run after stop(); listeners and sessions close when destroyed.
  impl_->ioc.stop();
}

}  // namespace lambkin::server
