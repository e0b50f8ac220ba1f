// The HTTP request and response as the API layers see them: plain values, free of any HTTP
// library, so that every API resource can be parsed and tested without a socket.
//
// The server splits the raw path on '/' before percent-decoding each segment (an encoded %2F
// never splits), decodes query names and values the same way (a '+' stays a '+'), and lowercases
// header names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lambkin::server {

struct HttpRequest {
  std::string method;
  std::string target;             // raw, as received
  std::string raw_path;           // raw, still encoded (what SigV4 signs)
  std::vector<std::string> path;  // decoded segments, without the leading empty one
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names
  std::string body;
  std::string remote_address;  // the peer's IP address ("" when unknown)

  // The first query parameter / header with this name, if any.
  std::optional<std::string> Query(std::string_view name) const;
  std::optional<std::string> Header(std::string_view lowercase_name) const;
  // The same header read in place (nullptr when absent), for code every request runs.
  const std::string* FindHeader(std::string_view lowercase_name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Sent instead of `body` when set: `length` bytes of the file at `path` from `offset`, read
  // piece by piece as the socket takes them, so a large file (an image layer) never sits in
  // memory. The file must not shrink meanwhile; one that cannot be opened is answered with 500.
  struct FileBody {
    std::string path;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::optional<FileBody> file;
  // The answer to a HEAD request: the headers only, with Content-Length `*head_length` (the
  // size a GET would send) and no body.
  std::optional<uint64_t> head_length;

  HttpResponse& SetHeader(std::string name, std::string value);
};

// A handler answers by calling `respond` exactly once, now or later (from any thread), so a
// request can wait for something else (an invocation, a long poll) without holding a thread.
using Respond = std::function<void(HttpResponse)>;
using Handler = std::function<void(const HttpRequest&, Respond)>;

// Decodes %XX escapes; returns nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text);

// Fills raw_path, path and query of `request` from `target`. False if the target is malformed.
bool ParseTarget(std::string_view target, HttpRequest& request);

// Whether the decoded `path` matches a route pattern ("/2015-03-31/functions/{FunctionName}"):
// literal segments equal, each {Label} one non-empty segment, which is stored in `labels`.
bool MatchRoute(std::string_view pattern, const std::vector<std::string>& path,
                std::map<std::string, std::string>& labels);

}  // namespace lambkin::server
