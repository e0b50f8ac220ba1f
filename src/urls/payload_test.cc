#include "urls/payload.h"

#include <gtest/gtest.h>

namespace lambkin::urls {
namespace {

using nlohmann::json;

server::HttpRequest Request(std::string method, std::string target) {
  server::HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  EXPECT_TRUE(server::ParseTarget(r.target, r));
  return r;
}

EventContext Context() {
  EventContext c;
  c.url_id = "abcdefghijklmnopqrstuvwxyz012345";
  c.domain_name = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost";
  c.raw_path = "/my/path";
  c.account_id = "anonymous";
  c.source_ip = "127.0.0.1";
  c.request_id = "req-1";
  c.time_ms = 1583348638390;
  return c;
}

TEST(RequestEvent, PayloadFormat2WithQueryCookiesAndJoinedHeaders) {
  server::HttpRequest r = Request("POST", "/my/path?parameter1=value1&parameter1=value2&p2=v");
  r.headers = {
      {"user-agent", "curl/8"}, {"x-multi", "a"}, {"x-multi", "b"}, {"cookie", "c1=v1; c2=v2"}};
  r.body = "Hello from client!";
  json e = json::parse(RequestEvent(r, Context()));
  EXPECT_EQ(e["version"], "2.0");
  EXPECT_EQ(e["routeKey"], "$default");
  EXPECT_EQ(e["rawPath"], "/my/path");
  EXPECT_EQ(e["rawQueryString"], "parameter1=value1&parameter1=value2&p2=v");
  EXPECT_EQ(e["cookies"], json({"c1=v1", "c2=v2"}));
  EXPECT_EQ(e["headers"]["x-multi"], "a,b");
  EXPECT_FALSE(e["headers"].contains("cookie"));
  EXPECT_EQ(e["queryStringParameters"]["parameter1"], "value1,value2");
  EXPECT_EQ(e["queryStringParameters"]["p2"], "v");
  EXPECT_EQ(e["body"], "Hello from client!");
  EXPECT_EQ(e["isBase64Encoded"], false);
  const json& rc = e["requestContext"];
  EXPECT_EQ(rc["accountId"], "anonymous");
  EXPECT_EQ(rc["apiId"], "abcdefghijklmnopqrstuvwxyz012345");
  EXPECT_EQ(rc["domainPrefix"], "abcdefghijklmnopqrstuvwxyz012345");
  EXPECT_EQ(rc["http"]["method"], "POST");
  EXPECT_EQ(rc["http"]["path"], "/my/path");
  EXPECT_EQ(rc["http"]["sourceIp"], "127.0.0.1");
  EXPECT_EQ(rc["http"]["userAgent"], "curl/8");
  EXPECT_EQ(rc["stage"], "$default");
  EXPECT_EQ(rc["time"], "04/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(rc["timeEpoch"], 1583348638390);
  EXPECT_FALSE(rc.contains("authorizer"));
}

TEST(RequestEvent, BinaryBodiesAreBase64AndEmptyPartsAbsent) {
  server::HttpRequest r = Request("PUT", "/");
  r.body = std::string("\xff\x00\x01", 3);
  json e = json::parse(RequestEvent(r, Context()));
  EXPECT_EQ(e["body"], "/wAB");
  EXPECT_EQ(e["isBase64Encoded"], true);
  EXPECT_FALSE(e.contains("cookies"));
  EXPECT_FALSE(e.contains("queryStringParameters"));
  EXPECT_EQ(e["rawQueryString"], "");
  server::HttpRequest empty = Request("GET", "/");
  EXPECT_FALSE(json::parse(RequestEvent(empty, Context())).contains("body"));
}

TEST(ResultResponse, StructuredAndInferredAndErrors) {
  server::HttpResponse r =
      ResultResponse(R"({"statusCode":201,"headers":{"X-A":"1","content-type":"text/plain"},)"
                     R"("cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true})",
                     false);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "hi");
  int set_cookies = 0;
  std::string content_type;
  for (const auto& [k, v] : r.headers) {
    if (k == "Set-Cookie") ++set_cookies;
    if (k == "content-type" || k == "Content-Type") content_type = v;
  }
  EXPECT_EQ(set_cookies, 2);
  EXPECT_EQ(content_type, "text/plain");

  r = ResultResponse(R"({"message":"hello"})", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"message":"hello"})");
  r = ResultResponse(R"("just a string")", false);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"("just a string")");
  r = ResultResponse(R"({"errorMessage":"boom"})", true);
  EXPECT_EQ(r.status, 502);
}

TEST(IsUtf8, TextAndNot) {
  EXPECT_TRUE(IsUtf8("héllo"));
  EXPECT_FALSE(IsUtf8("\xff"));
  EXPECT_FALSE(IsUtf8(std::string("a\0b", 3)));
}

}  // namespace
}  // namespace lambkin::urls
