// A minimal blocking HTTP client for the operator verbs that talk to a running server. Every
// request is signed with SigV4 as an AWS SDK signs (host, x-amz-date and, with temporary
// credentials, x-amz-security-token), with the credentials and region the AWS credential chain
// finds (cli/credentials.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/credentials.h"
#include "common/status.h"
#include "common/uri.h"

namespace lambkin::cli {

// Where the server is and who is calling it.
struct ApiClient {
  std::string endpoint;  // "http://127.0.0.1:9001"
  AwsCredentials credentials;
  std::string region;
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

// Sends `method` `path` (with query, encoded as it goes on the wire) with `body` and `headers`
// (lower-case names), signed for `service`'s credential scope in the client's region.
Result<ClientResponse> SendSigned(const ApiClient& client, std::string_view service,
                                  std::string_view method, const std::string& path,
                                  const std::string& body,
                                  std::vector<std::pair<std::string, std::string>> headers = {});

// Calls an operator API endpoint that answers JSON (GET when `body` is nullopt, else POST it)
// and returns the parsed answer. A non-2xx answer is an error carrying the server's error type
// and message; a 403 also says which key signed and where it came from.
Result<nlohmann::json> AdminCall(const ApiClient& client, const std::string& path,
                                 const std::optional<nlohmann::json>& body = std::nullopt);
// DELETE on an operator API endpoint; errors as AdminCall's.
Status AdminDelete(const ApiClient& client, const std::string& path);

// The message for a failed call: the AWS error type and message of `response`, and, for a 403,
// the key that signed and where it was found.
std::string DescribeFailure(const ApiClient& client, const ClientResponse& response);

}  // namespace lambkin::cli
