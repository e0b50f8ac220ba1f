// Serving function URLs: a request for http://<url-id>.lambda-url.<region>.<domain>/… (the Host
// header) or /lambda-url/<url-id>/… (the path form, for clients that cannot set Host) becomes the
// payload format 2.0 event of a synchronous invoke of the URL's function (or alias), and its
// result the HTTP response (urls/payload.h). AuthType AWS_IAM: the request must be SigV4-signed
// for service `lambda`, by a caller allowed lambda:InvokeFunctionUrl on the function (identity
// policy, or the function policy across accounts); AuthType NONE: the function policy must
// allow anyone lambda:InvokeFunctionUrl (with lambda:FunctionUrlAuthType NONE). Anything else,
// and an unknown URL, is AWS's 403 {"Message":"Forbidden"}.
#include <fmt/format.h>

#include "common/ascii.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "iam/authorizer.h"
#include "lambdaapi/api.h"
#include "lambdaapi/invoke.h"
#include "urls/payload.h"

namespace lambkin::lambdaapi {

using server::HttpResponse;

namespace {

constexpr size_t kUrlIdLength = 32;
constexpr std::string_view kPathPrefix = "lambda-url";

HttpResponse Message(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.body = fmt::format(R"({{"Message":"{}"}})", message);
  return r;
}

HttpResponse Forbidden() { return Message(403, "Forbidden"); }

bool IsUrlId(std::string_view s) {
  return s.size() == kUrlIdLength && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

// The url-id, the region the host names ("" for the path form) and the path the function
// sees, when the request is for a function URL.
struct UrlAddress {
  std::string url_id;
  std::string region;
  std::string raw_path;
};

std::optional<UrlAddress> AddressOf(const server::HttpRequest& request, std::string_view domain) {
  if (!request.path.empty() && request.path[0] == kPathPrefix) {
    if (request.path.size() < 2) return UrlAddress{};  // /lambda-url: no such URL
    UrlAddress a{request.path[1], "", "/"};
    // The raw path after /lambda-url/<url-id>, still encoded as received.
    std::string prefix = fmt::format("/{}/{}", kPathPrefix, request.path[1]);
    if (request.raw_path.size() > prefix.size())
      a.raw_path = request.raw_path.substr(prefix.size());
    return a;
  }
  const std::string* host_header = request.FindHeader("host");
  if (host_header == nullptr) return std::nullopt;
  std::string host = AsciiLower(*host_header);
  if (size_t colon = host.rfind(':');
      colon != std::string::npos && host.find(']') == std::string::npos) {
    host.resize(colon);
  }
  // <url-id>.lambda-url.<region>.<domain>
  std::string suffix = fmt::format(".{}", domain);
  if (!host.ends_with(suffix)) return std::nullopt;
  std::string_view rest(host);
  rest.remove_suffix(suffix.size());
  size_t first = rest.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  std::string_view id = rest.substr(0, first);
  rest.remove_prefix(first + 1);
  if (!rest.starts_with("lambda-url.")) return std::nullopt;
  rest.remove_prefix(11);
  if (rest.empty() || rest.find('.') != std::string_view::npos) return std::nullopt;
  return UrlAddress{std::string(id), std::string(rest),
                    request.raw_path.empty() ? "/" : request.raw_path};
}

// The Cors configuration's headers on a response to a request from `origin`.
void AddCorsHeaders(const nlohmann::json& cors, const std::string& origin, HttpResponse& r,
                    bool preflight) {
  auto joined = [&](const char* member) {
    std::string out;
    for (const auto& v : cors.value(member, nlohmann::json::array())) {
      if (!out.empty()) out += ",";
      out += v.get<std::string>();
    }
    return out;
  };
  bool any = false;
  bool allowed = false;
  for (const auto& o : cors.value("AllowOrigins", nlohmann::json::array())) {
    any = any || o == "*";
    allowed = allowed || o == "*" || AsciiEqualIgnoreCase(o.get<std::string>(), origin);
  }
  if (!allowed) return;
  r.SetHeader("Access-Control-Allow-Origin", any ? "*" : origin);
  if (cors.value("AllowCredentials", false)) {
    r.SetHeader("Access-Control-Allow-Credentials", "true");
  }
  if (std::string expose = joined("ExposeHeaders"); !expose.empty() && !preflight) {
    r.SetHeader("Access-Control-Expose-Headers", expose);
  }
  if (!preflight) return;
  if (std::string methods = joined("AllowMethods"); !methods.empty()) {
    r.SetHeader("Access-Control-Allow-Methods", methods);
  }
  if (std::string headers = joined("AllowHeaders"); !headers.empty()) {
    r.SetHeader("Access-Control-Allow-Headers", headers);
  }
  if (cors.contains("MaxAge")) {
    r.SetHeader("Access-Control-Max-Age", std::to_string(cors["MaxAge"].get<int64_t>()));
  }
}

}  // namespace

bool LambdaApi::HandleFunctionUrl(const server::HttpRequest& request,
                                  server::Respond& respond) const {
  if (ctx_.urls == nullptr) return false;
  std::string domain = ctx_.url_settings != nullptr ? ctx_.url_settings->domain : "localhost";
  std::optional<UrlAddress> address = AddressOf(request, domain);
  if (!address) return false;
  if (!IsUrlId(address->url_id)) {
    respond(Forbidden());
    return true;
  }
  Result<std::optional<functions::FunctionUrlConfig>> found = ctx_.urls->Find(address->url_id);
  if (!found.ok()) {
    respond(Message(503, "Service Unavailable"));
    return true;
  }
  if (!*found || (!address->region.empty() && address->region != (*found)->scope.region)) {
    respond(Forbidden());
    return true;
  }
  const functions::FunctionUrlConfig& url = **found;
  nlohmann::json cors = url.cors.empty() ? nlohmann::json() : nlohmann::json::parse(url.cors);
  std::string origin = request.Header("origin").value_or("");
  if (request.method == "OPTIONS" && !cors.is_null() && !origin.empty() &&
      request.FindHeader("access-control-request-method") != nullptr) {
    // A CORS preflight is answered from the configuration, without the function.
    HttpResponse r;
    r.status = 200;
    AddCorsHeaders(cors, origin, r, /*preflight=*/true);
    respond(std::move(r));
    return true;
  }

  // Who may call it.
  iam::RequestContext asked;
  asked.action = "lambda:InvokeFunctionUrl";
  asked.resource = functions::FunctionArn(url.scope, url.function_name, url.qualifier);
  asked.Set("lambda:FunctionUrlAuthType", {url.auth_type});
  asked.Set("lambda:FunctionArn", {functions::FunctionArn(url.scope, url.function_name)});
  asked.Set("lambda:InvokedViaFunctionUrl", {"true"});
  iam::ResourcePolicy policy{
      url.scope.account, asked.resource, [this, &url]() -> Result<std::optional<iam::Policy>> {
        LAMBKIN_ASSIGN_OR_RETURN(
            std::optional<std::string> doc,
            ctx_.policies->Document(url.scope, url.function_name, url.qualifier));
        if (!doc) return std::optional<iam::Policy>();
        LAMBKIN_ASSIGN_OR_RETURN(iam::Policy p, iam::Policy::ParseResourcePolicy(*doc, SIZE_MAX));
        return std::optional<iam::Policy>(std::move(p));
      }};
  urls::EventContext event;
  if (url.auth_type == "AWS_IAM") {
    Result<iam::Identity> identity = ctx_.auth->Authenticate(request, "lambda");
    if (!identity.ok() || !identity->Allow(asked, &policy).ok()) {
      respond(Forbidden());
      return true;
    }
    const iam::Caller& caller = *identity->caller;
    std::string access_key;
    if (auto auth = request.Header("authorization")) {
      size_t at = auth->find("Credential=");
      if (at != std::string::npos) {
        access_key = auth->substr(at + 11, auth->find('/', at) - at - 11);
      }
    }
    event.account_id = caller.account;
    // The caller's organization, as authorisation saw it (aws:PrincipalOrgID).
    const std::vector<std::string>* org = asked.Find("aws:principalorgid");
    nlohmann::json org_id =
        org != nullptr && !org->empty() ? nlohmann::json(org->front()) : nlohmann::json(nullptr);
    event.iam = nlohmann::json{{"accessKey", access_key},
                               {"accountId", caller.account},
                               {"callerId", caller.principal_arn},
                               {"cognitoIdentity", nullptr},
                               {"principalOrgId", std::move(org_id)},
                               {"userArn", caller.arn},
                               {"userId", caller.principal_arn}};
  } else {
    if (ctx_.policies == nullptr || !iam::AuthorizeAnonymous(asked, policy).ok()) {
      respond(Forbidden());
      return true;
    }
    event.account_id = "anonymous";
  }

  event.url_id = url.url_id;
  event.domain_name = fmt::format("{}.lambda-url.{}.{}", url.url_id, url.scope.region, domain);
  event.raw_path = address->raw_path;
  event.source_ip = request.remote_address;
  event.request_id = RandomUuid();
  event.time_ms = ctx_.wall_clock != nullptr ? ctx_.wall_clock->NowMillis() : 0;
  if (request.body.size() > 6291456) {
    respond(Message(413, "Request Entity Too Large"));
    return true;
  }
  SyncInvocation invocation{
      url.scope, url.function_name, url.qualifier, urls::RequestEvent(request, event), "",
      false,     event.request_id};
  // The path form shares the server's origin with the console, whose tab keeps its credentials
  // in sessionStorage: a page a function returns there is sandboxed into an origin of its own,
  // so its scripts cannot read them (the Host form is an origin of its own already).
  bool same_origin_as_console = address->region.empty();
  InvokeSynchronously(
      ctx_, request, std::move(invocation), respond,
      [respond, cors = std::move(cors), origin, same_origin_as_console](
          Result<exec::InvokeOutcome> outcome, const std::string& request_id) {
        HttpResponse r;
        if (!outcome.ok()) {
          r = outcome.status().code() == StatusCode::kTooManyRequests
                  ? Message(429, "Rate Exceeded.")
                  : Message(502, "Internal Server Error");
        } else {
          r = urls::ResultResponse(outcome->payload, outcome->function_error.has_value());
        }
        r.SetHeader("x-amzn-RequestId", request_id);
        if (!cors.is_null() && !origin.empty()) AddCorsHeaders(cors, origin, r, false);
        if (same_origin_as_console) {
          r.headers.emplace_back("Content-Security-Policy",
                                 "sandbox allow-scripts allow-forms allow-popups allow-modals "
                                 "allow-downloads");
        }
        respond(std::move(r));
      });
  return true;
}

}  // namespace lambkin::lambdaapi
