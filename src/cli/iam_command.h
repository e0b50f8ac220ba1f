// `lambkin iam`: the IAM directory of a running server (docs/iam.md).
//   lambkin iam show                       organisation, SCPs, users, roles, key ids
//   lambkin iam apply FILE                 apply a declaration (what it names is created or
//                                          replaced, `null` removes, the rest stays)
//   lambkin iam create-access-key --user U | --role R --session S [--account A]
//   lambkin iam delete-access-key ID
#pragma once

#include <string>

#include "cli/rollout_command.h"

namespace lambkin::cli {

struct AccessKeyOptions {
  std::string account;  // default: the server's configured account
  std::string user;
  std::string role;
  std::string session;
};

int IamShow(const AdminOptions& o);
int IamApply(const AdminOptions& o, const std::string& file);
int IamCreateAccessKey(const AdminOptions& o, const AccessKeyOptions& key);
int IamDeleteAccessKey(const AdminOptions& o, const std::string& id);

}  // namespace lambkin::cli
