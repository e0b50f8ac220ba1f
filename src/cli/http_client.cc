#include "cli/http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

#include <cctype>

namespace lambkin::cli {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

Result<ClientResponse> Request(const std::string& endpoint, http::verb verb,
                               const std::string& path, const std::string& body,
                               const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string_view rest = endpoint;
  if (!rest.starts_with("http://")) {
    return InvalidParameter(fmt::format("endpoint {} must start with http://", endpoint));
  }
  rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  std::string host(rest.substr(0, colon));
  std::string port = colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1));
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::minutes(10));  // a clock advance may run a long sweep
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::host, std::string(rest));
    req.set(http::field::user_agent, "lambkin-cli");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (verb != http::verb::get) req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return ClientResponse{static_cast<int>(res.result_int()), std::move(res.body())};
  } catch (const std::exception& e) {
    return Internal(fmt::format("cannot reach the Lambkin server at {}: {}", endpoint, e.what()));
  }
}

}  // namespace

Result<ClientResponse> HttpGet(const std::string& endpoint, const std::string& path) {
  return Request(endpoint, http::verb::get, path, "", {});
}

Result<ClientResponse> HttpPost(const std::string& endpoint, const std::string& path,
                                const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  return Request(endpoint, http::verb::post, path, body, headers);
}

Result<ClientResponse> HttpDelete(const std::string& endpoint, const std::string& path) {
  return Request(endpoint, http::verb::delete_, path, "", {});
}

Result<nlohmann::json> AdminCall(const std::string& endpoint, const std::string& path,
                                 const std::optional<nlohmann::json>& body) {
  Result<ClientResponse> res =
      body ? HttpPost(endpoint, path, body->dump(), {{"Content-Type", "application/json"}})
           : HttpGet(endpoint, path);
  if (!res.ok()) return res.status();
  nlohmann::json answer = res->body.empty() ? nlohmann::json::object()
                                            : nlohmann::json::parse(res->body, nullptr, false);
  if (res->status / 100 != 2 || answer.is_discarded()) {
    std::string message = res->body;
    if (!answer.is_discarded() && answer.is_object()) {
      message = answer.value("message", answer.value("Message", res->body));
    }
    return Status(StatusCode::kInternal, message);
  }
  return answer;
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace lambkin::cli
