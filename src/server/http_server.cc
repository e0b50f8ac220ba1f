#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/ascii.h"
#include "common/crypto.h"
#include "common/log.h"

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

// What every session of one server shares, and what one listener's sessions share.
struct ServerState {
  std::atomic<bool> draining{false};
  std::atomic<size_t> in_flight{0};    // requests handled or being answered, public listeners
  std::atomic<size_t> connections{0};  // open connections, public listeners
};
struct ListenerState {
  std::shared_ptr<ServerState> server;
  ServerLimits limits;
  bool is_public = false;  // Listen()ed (limits and timeouts), or adopted (a cap only)
  size_t max_connections = 0;
  std::atomic<size_t> connections{0};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handler> handler,
          std::shared_ptr<ListenerState> state)
      : stream_(std::move(socket)), handler_(std::move(handler)), state_(std::move(state)) {
    ++state_->connections;
    if (state_->is_public) ++state_->server->connections;
  }
  ~Session() {
    Answered();
    --state_->connections;
    if (state_->is_public) --state_->server->connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start() { ReadRequest(); }

 private:
  // The deadline of the next operation: `seconds` on a public listener, none on an adopted one
  // (a function's own endpoints; their runtime long-polls and keeps connections as it likes).
  void Expire(int seconds, uint64_t bytes = 0) {
    if (state_->is_public) {
      stream_.expires_after(std::chrono::seconds(seconds) +
                            std::chrono::seconds(bytes / (uint64_t{64} * 1024)));
    } else {
      stream_.expires_never();
    }
  }

  bool Draining() const { return state_->is_public && state_->server->draining.load(); }

  void ReadRequest() {
    if (Draining()) return Close();
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(static_cast<uint32_t>(state_->limits.max_header_bytes));
    if (buffer_.size() > 0) return ReadHeader();  // the next request is already here
    // An idle connection waits at most idle_seconds for a request to begin.
    Expire(state_->limits.idle_seconds);
    stream_.async_read_some(buffer_.prepare(size_t{16} * 1024),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  // Once a request began, its header must be complete within header_seconds.
  void ReadHeader() {
    started_ = std::chrono::steady_clock::now();
    Expire(state_->limits.header_seconds);
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
      Expire(state_->limits.write_seconds);
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
    Expire(state_->limits.body_seconds, parser_->content_length().value_or(0));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // A timeout closes the socket (Beast's tcp_stream does): nothing can be answered.
    if (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Write(PlainError(413, "RequestEntityTooLargeException",
                              fmt::format("Request must be smaller than {} bytes for the "
                                          "CreateFunction operation",
                                          kMaxBodyBytes)),
                   false, 11);
    }
    if (ec == http::error::header_limit) {
      return Write(PlainError(431, "RequestHeaderFieldsTooLarge",
                              fmt::format("Request headers must be smaller than {} bytes",
                                          state_->limits.max_header_bytes)),
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
    if (state_->is_public && log::Json()) {
      method_ = request.method;
      path_ = request.raw_path;
      remote_ = request.remote_address;
    }
    // From here until its answer is written, the request is in flight (a drain waits for it).
    if (state_->is_public) {
      ++state_->server->in_flight;
      in_flight_ = true;
    }
    stream_.expires_never();  // the handler takes the time it needs
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
    // A draining server answers, then closes.
    keep_alive = keep_alive && !Draining();
    if (response.head_length) {
      auto res = std::make_shared<http::response<http::empty_body>>();
      Prepare(*res, response, keep_alive, version);
      res->content_length(*response.head_length);
      return Send(std::move(res), keep_alive, 0);
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
      return Send(std::move(res), keep_alive, file.length);
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    Prepare(*res, response, keep_alive, version);
    res->body() = std::move(response.body);
    res->prepare_payload();
    uint64_t size = res->body().size();
    Send(std::move(res), keep_alive, size);
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
  void Send(std::shared_ptr<Message> res, bool keep_alive, uint64_t bytes) {
    Expire(state_->limits.write_seconds, bytes);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (self->state_->is_public && log::Json()) {
                          self->LogRequest(res->result_int(), res->base()["x-amzn-RequestId"],
                                           res->payload_size().value_or(0));
                        }
                        self->Answered();
                        if (ec || !keep_alive) return self->Close();
                        self->ReadRequest();
                      });
  }

  void LogRequest(unsigned status, beast::string_view request_id, uint64_t bytes) {
    log::RequestLine line;
    line.request_id = std::string_view(request_id.data(), request_id.size());
    line.method = method_;
    line.path = path_;
    line.remote_address = remote_;
    line.status = static_cast<int>(status);
    line.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    line.response_bytes = bytes;
    log::Request(line);
  }

  void Answered() {
    if (in_flight_) {
      in_flight_ = false;
      --state_->server->in_flight;
    }
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<const Handler> handler_;
  std::shared_ptr<ListenerState> state_;
  bool in_flight_ = false;
  std::chrono::steady_clock::time_point started_;
  std::string method_, path_, remote_;  // for the JSON access log
};

struct Listener : std::enable_shared_from_this<Listener> {
  Listener(asio::io_context& ioc, Handler h, std::shared_ptr<ListenerState> s)
      : acceptor(ioc),
        retry(ioc),
        handler(std::make_shared<const Handler>(std::move(h))),
        state(std::move(s)) {}

  void Accept() {
    acceptor.async_accept(
        asio::make_strand(acceptor.get_executor()),
        [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
          if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
          if (ec) {
            // Out of descriptors (or another passing failure): try again shortly instead of
            // spinning on the error.
            self->retry.expires_after(std::chrono::milliseconds(100));
            self->retry.async_wait([self](beast::error_code e) {
              if (!e) self->Accept();
            });
            return;
          }
          if (self->state->connections.load() >= self->state->max_connections) {
            // Full: say so without reading anything, and close.
            static constexpr std::string_view kBusy =
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                "x-amzn-ErrorType: ServiceUnavailableException\r\nConnection: close\r\n"
                "Content-Length: 75\r\n\r\n"
                R"({"Type":"Service","message":"Too many connections: try again in a moment."})";
            beast::error_code ignored;
            s.non_blocking(true, ignored);
            [[maybe_unused]] ssize_t n =
                ::send(s.native_handle(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL);
            s.close(ignored);
          } else {
            beast::error_code ignored;
            s.set_option(tcp::no_delay(true), ignored);
            std::make_shared<Session>(std::move(s), self->handler, self->state)->Start();
          }
          self->Accept();
        });
  }

  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<const Handler> handler;
  std::shared_ptr<ListenerState> state;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(int n) : threads(n), ioc(n), drain_timer(ioc) {}

  int threads;
  std::shared_ptr<ServerState> state = std::make_shared<ServerState>();
  asio::io_context ioc;
  std::mutex mu;
  ServerLimits limits;
  std::map<uint64_t, std::shared_ptr<Listener>> listeners;  // by port, or by Adopt's id
  uint64_t next_adopted = uint64_t{1} << 16;                // above every port
  std::optional<asio::signal_set> signals;                  // SIGINT/SIGTERM stop the server
  int drain_deadline_seconds = 30;
  std::function<void()> on_drain;
  asio::steady_timer drain_timer;
  std::chrono::steady_clock::time_point drain_until;

  void PollDrain() {
    if (state->in_flight.load() == 0 || std::chrono::steady_clock::now() >= drain_until) {
      ioc.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([this](beast::error_code ec) {
      if (!ec) PollDrain();
    });
  }
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
  auto state = std::make_shared<ListenerState>();
  state->server = impl_->state;
  state->is_public = true;
  {
    std::lock_guard lock(impl_->mu);
    state->limits = impl_->limits;
  }
  state->max_connections = state->limits.max_connections;
  auto listener = std::make_shared<Listener>(impl_->ioc, std::move(handler), std::move(state));
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

void HttpServer::SetLimits(const ServerLimits& limits) {
  std::lock_guard lock(impl_->mu);
  impl_->limits = limits;
}

size_t HttpServer::InFlight() const { return impl_->state->in_flight.load(); }
size_t HttpServer::Connections() const { return impl_->state->connections.load(); }

Result<uint64_t> HttpServer::Adopt(int fd, Handler handler) {
  auto state = std::make_shared<ListenerState>();
  state->server = impl_->state;
  state->max_connections = kMaxAdoptedConnections;
  auto listener = std::make_shared<Listener>(impl_->ioc, std::move(handler), std::move(state));
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
  // The first signal drains; a second one stops at once.
  impl_->signals->async_wait([this](beast::error_code ec, int) {
    if (ec) return;
    Drain(impl_->drain_deadline_seconds);
    impl_->signals->async_wait([this](beast::error_code ec2, int) {
      if (!ec2) Stop();
    });
  });
}

void HttpServer::SetDrainDeadline(int seconds) { impl_->drain_deadline_seconds = seconds; }

void HttpServer::OnDrain(std::function<void()> on_start) { impl_->on_drain = std::move(on_start); }

void HttpServer::Drain(int deadline_seconds) {
  if (impl_->state->draining.exchange(true)) return;
  if (impl_->on_drain) impl_->on_drain();
  std::vector<std::shared_ptr<Listener>> closing;
  {
    std::lock_guard lock(impl_->mu);
    for (auto it = impl_->listeners.begin(); it != impl_->listeners.end();) {
      if (it->second->state->is_public) {
        closing.push_back(it->second);
        it = impl_->listeners.erase(it);
      } else {
        ++it;
      }
    }
  }
  asio::post(impl_->ioc, [this, closing = std::move(closing), deadline_seconds] {
    for (const auto& listener : closing) {
      beast::error_code ec;
      listener->acceptor.close(ec);
    }
    impl_->drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(deadline_seconds);
    impl_->PollDrain();
  });
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
