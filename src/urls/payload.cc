#include "urls/payload.h"

#include <ctime>

#include <fmt/format.h>

#include "common/ascii.h"
#include "common/crypto.h"

namespace lambkin::urls {

using nlohmann::json;

namespace {

// "12/Mar/2020:19:03:58 +0000", requestContext.time.
std::string EventTime(int64_t millis) {
  std::time_t secs = static_cast<std::time_t>(millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%d/%b/%Y:%H:%M:%S +0000", &tm);
  return buf;
}

// The raw query string: the request target after '?'.
std::string RawQuery(const server::HttpRequest& request) {
  size_t q = request.target.find('?');
  return q == std::string::npos ? std::string() : request.target.substr(q + 1);
}

void SplitCookies(std::string_view header, json& cookies) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view one = header.substr(0, end);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (!one.empty()) cookies.push_back(std::string(one));
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
}

}  // namespace

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && c < 0xC2)) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    if (c == 0) return false;
    i += n;
  }
  return true;
}

std::string RequestEvent(const server::HttpRequest& request, const EventContext& context) {
  json headers = json::object();
  json cookies = json::array();
  for (const auto& [name, value] : request.headers) {
    if (name == "cookie") {
      SplitCookies(value, cookies);
      continue;
    }
    auto it = headers.find(name);
    if (it == headers.end()) {
      headers[name] = value;
    } else {
      it->get_ref<std::string&>() += "," + value;
    }
  }
  json query = json::object();
  for (const auto& [name, value] : request.query) {
    auto it = query.find(name);
    if (it == query.end()) {
      query[name] = value;
    } else {
      it->get_ref<std::string&>() += "," + value;
    }
  }
  std::string user_agent = request.Header("user-agent").value_or("");
  json http = {{"method", request.method},
               {"path", context.raw_path},
               {"protocol", "HTTP/1.1"},
               {"sourceIp", context.source_ip},
               {"userAgent", user_agent}};
  json request_context = {{"accountId", context.account_id},
                          {"apiId", context.url_id},
                          {"domainName", context.domain_name},
                          {"domainPrefix", context.url_id},
                          {"http", http},
                          {"requestId", context.request_id},
                          {"routeKey", "$default"},
                          {"stage", "$default"},
                          {"time", EventTime(context.time_ms)},
                          {"timeEpoch", context.time_ms}};
  if (context.iam) request_context["authorizer"] = {{"iam", *context.iam}};
  json event = {{"version", "2.0"},
                {"routeKey", "$default"},
                {"rawPath", context.raw_path},
                {"rawQueryString", RawQuery(request)},
                {"headers", headers},
                {"requestContext", request_context},
                {"isBase64Encoded", false}};
  if (!cookies.empty()) event["cookies"] = cookies;
  if (!query.empty()) event["queryStringParameters"] = query;
  if (!request.body.empty()) {
    if (IsUtf8(request.body)) {
      event["body"] = request.body;
    } else {
      event["body"] = Base64Encode(request.body);
      event["isBase64Encoded"] = true;
    }
  }
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

server::HttpResponse ResultResponse(std::string_view payload, bool function_error) {
  server::HttpResponse r;
  if (function_error) {
    r.status = 502;
    r.SetHeader("Content-Type", "application/json");
    r.body = R"({"Message":"Internal Server Error"})";
    return r;
  }
  json result = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!result.is_object() || !result.contains("statusCode")) {
    // Anything else is the body itself, as JSON.
    r.status = 200;
    r.SetHeader("Content-Type", "application/json");
    r.body = std::string(payload);
    return r;
  }
  const json& status = result["statusCode"];
  if (!status.is_number_integer() || status.get<int64_t>() < 100 || status.get<int64_t>() > 599) {
    r.status = 502;
    r.SetHeader("Content-Type", "application/json");
    r.body = R"({"Message":"Internal Server Error"})";
    return r;
  }
  r.status = static_cast<int>(status.get<int64_t>());
  bool has_content_type = false;
  if (auto h = result.find("headers"); h != result.end() && h->is_object()) {
    for (const auto& [name, value] : h->items()) {
      std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      has_content_type = has_content_type || AsciiEqualIgnoreCase(name, "content-type");
      r.SetHeader(name, std::move(text));
    }
  }
  if (auto c = result.find("cookies"); c != result.end() && c->is_array()) {
    for (const json& cookie : *c) {
      if (cookie.is_string()) r.headers.emplace_back("Set-Cookie", cookie.get<std::string>());
    }
  }
  if (!has_content_type) r.SetHeader("Content-Type", "application/json");
  if (auto b = result.find("body"); b != result.end() && !b->is_null()) {
    std::string body = b->is_string() ? b->get<std::string>() : b->dump();
    bool base64 = result.value("isBase64Encoded", false);
    if (base64) {
      std::optional<std::string> decoded = Base64Decode(body);
      if (decoded) body = std::move(*decoded);
    }
    r.body = std::move(body);
  }
  return r;
}

}  // namespace lambkin::urls
