// StsApi: the AWS Security Token Service's GetCallerIdentity (Query protocol: a form body
// Action=GetCallerIdentity&Version=2011-06-15, an XML answer), which AWS CLIs, SDKs and tools
// (Terraform's provider, the CDK) call to learn who and which account their credentials are.
// It needs no permission, as on AWS: any signed caller may ask who it is. Lambkin issues no
// credentials through STS: its other operations are refused as not implemented.
#pragma once

#include <optional>

#include "iam/authenticator.h"
#include "server/request.h"

namespace lambkin::stsapi {

class StsApi {
 public:
  explicit StsApi(const iam::Authenticator* auth) : auth_(auth) {}
  // nullopt when the request is not an STS call.
  std::optional<server::HttpResponse> Handle(const server::HttpRequest& request) const;

 private:
  const iam::Authenticator* auth_;
};

// The caller's unique id as GetCallerIdentity's UserId writes it: AIDA… for a user, AROA…:
// <session> for an assumed-role session, the account for its root. IAM keeps no unique ids in
// Lambkin, so the 17 characters after the prefix are derived from the principal's ARN.
std::string CallerUserId(const iam::Caller& caller);

}  // namespace lambkin::stsapi
