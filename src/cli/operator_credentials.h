// The first operator credential of a `--production` server, made on the server's own machine so
// that its secret never crosses the network: a random access key of the user
// `lambkin-operator`, an administrator of the server's account, written to
// `<data dir>/operator-credentials` (mode 0600) in the AWS shared-credentials format, profile
// `lambkin-operator`:
//
//   export AWS_SHARED_CREDENTIALS_FILE=<data dir>/operator-credentials
//   AWS_PROFILE=lambkin-operator lambkin iam show
//
// Made once: when the user does not exist and the file was never written. Later starts leave
// both alone, also when an operator has since removed the user (it does not come back).
// The file is written (as operator-credentials.new) before the key enters the directory and
// renamed into place after, so a crash in between never leaves a key nobody holds: the next
// start finishes the rename, or starts over.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "iam/directory.h"

namespace lambkin::cli {

constexpr char kOperatorUser[] = "lambkin-operator";
constexpr char kOperatorProfile[] = "lambkin-operator";
constexpr char kOperatorCredentialsFile[] = "operator-credentials";

// The file's path when this call wrote it, nullopt when there was nothing to do.
// REQUIRES: `directory` is loaded. Not thread-safe (start-up only).
Result<std::optional<std::string>> EnsureOperatorCredentials(iam::Directory* directory,
                                                             const std::string& account,
                                                             const std::string& data_dir);

}  // namespace lambkin::cli
