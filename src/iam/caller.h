// Who is calling, and in which region: derived from each request's SigV4 credentials.
//
// The region is the credential scope's (Authorization header, or X-Amz-Credential for
// presigned requests); a request without credentials gets the default region. Until signature
// verification lands, every access key maps to the configured account. Pure function;
// thread-safe.
#pragma once

#include <string>

#include "catalog/regions.h"
#include "common/status.h"
#include "functions/model.h"
#include "server/request.h"

namespace lambkin::iam {

// kUnrecognizedClient for a malformed credential scope or a region not served here.
Result<functions::Scope> CallerScope(const server::HttpRequest& request,
                                     const catalog::RegionSet& regions, const std::string& account);

}  // namespace lambkin::iam
