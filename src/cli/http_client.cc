#include "cli/http_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fmt/format.h>

#include <cctype>

#include "common/clock.h"
#include "iam/sigv4.h"

namespace lambkin::cli {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// The operator API's credential scope service (admin::kSigningService).
constexpr char kOperatorService[] = "lambkin";

struct Endpoint {
  std::string host;  // the Host header: host[:port]
  std::string name;  // to resolve
  std::string port;
};

Result<Endpoint> ParseEndpoint(const std::string& endpoint) {
  std::string_view rest = endpoint;
  if (!rest.starts_with("http://")) {
    return InvalidParameter(fmt::format("endpoint {} must start with http://", endpoint));
  }
  rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  return Endpoint{std::string(rest), std::string(rest.substr(0, colon)),
                  colon == std::string_view::npos ? "80" : std::string(rest.substr(colon + 1))};
}

Result<ClientResponse> Send(const std::string& endpoint, const Endpoint& to, http::verb verb,
                            const std::string& path, const std::string& body,
                            const std::vector<std::pair<std::string, std::string>>& headers) {
  try {
    boost::asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::minutes(10));  // a clock advance may run a long sweep
    stream.connect(resolver.resolve(to.name, to.port));
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::user_agent, "lambkin-cli");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) req.body() = body;
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

Result<nlohmann::json> JsonAnswer(const ApiClient& client, const ClientResponse& res) {
  nlohmann::json answer =
      res.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(res.body, nullptr, false);
  if (res.status / 100 != 2 || answer.is_discarded()) {
    return Status(res.status == 403 ? StatusCode::kAccessDenied : StatusCode::kInternal,
                  DescribeFailure(client, res));
  }
  return answer;
}

}  // namespace

Result<ClientResponse> SendSigned(const ApiClient& client, std::string_view service,
                                  std::string_view method, const std::string& path,
                                  const std::string& body,
                                  std::vector<std::pair<std::string, std::string>> headers) {
  LAMBKIN_ASSIGN_OR_RETURN(Endpoint to, ParseEndpoint(client.endpoint));
  std::string date = iam::AmzDate(SystemClock().NowMillis());
  headers.emplace_back("host", to.host);
  headers.emplace_back("x-amz-date", date);
  if (client.credentials.session_token) {
    headers.emplace_back("x-amz-security-token", *client.credentials.session_token);
  }
  iam::SigV4Credential credential{client.credentials.access_key_id, date.substr(0, 8),
                                  client.region, std::string(service)};
  std::string authorization = iam::SignedAuthorization(method, path, headers, body, credential,
                                                       client.credentials.secret_access_key);
  headers.emplace_back("authorization", std::move(authorization));
  return Send(client.endpoint, to, http::string_to_verb(method), path, body, headers);
}

std::string DescribeFailure(const ApiClient& client, const ClientResponse& res) {
  nlohmann::json answer = nlohmann::json::parse(res.body, nullptr, false);
  std::string message = res.body;
  std::string type;
  if (!answer.is_discarded() && answer.is_object()) {
    message = answer.value("message", answer.value("Message", res.body));
    type = answer.value("__type", "");
  }
  if (res.status != 403) return message;
  std::string out =
      fmt::format("{}: {} (signed with access key {} from {}, region {})", type, message,
                  client.credentials.access_key_id, client.credentials.source, client.region);
  if (client.credentials.development && type != "AccessDeniedException") {
    out +=
        "\nOnly a server in development mode accepts the development key. Give the CLI an "
        "operator's credentials, e.g. a --production server's first key: "
        "AWS_SHARED_CREDENTIALS_FILE=<data dir>/operator-credentials "
        "AWS_PROFILE=lambkin-operator lambkin ...";
  }
  return out;
}

Result<nlohmann::json> AdminCall(const ApiClient& client, const std::string& path,
                                 const std::optional<nlohmann::json>& body) {
  Result<ClientResponse> res =
      body ? SendSigned(client, kOperatorService, "POST", path, body->dump(),
                        {{"content-type", "application/json"}})
           : SendSigned(client, kOperatorService, "GET", path, "");
  if (!res.ok()) return res.status();
  return JsonAnswer(client, *res);
}

Status AdminDelete(const ApiClient& client, const std::string& path) {
  LAMBKIN_ASSIGN_OR_RETURN(ClientResponse res,
                           SendSigned(client, kOperatorService, "DELETE", path, ""));
  return JsonAnswer(client, res).status();
}

}  // namespace lambkin::cli
