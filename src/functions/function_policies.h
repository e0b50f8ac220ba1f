// FunctionPolicies: each function's resource-based policies (AddPermission, RemovePermission,
// GetPolicy), one per qualifier — the function itself (unqualified, which also covers
// $LATEST), a published version, or an alias — kept in the store, so every node sharing it
// authorises with the same policy.
//
// A statement is stored as the JSON text AWS builds for it (the API layer builds it); the
// policy is {"Version":"2012-10-17","Id":"default","Statement":[...]} in the order statements
// were added. As AWS does, the policy's RevisionId is that of the version or alias it is
// attached to: adding or removing a statement gives the version (or alias) a new RevisionId, and
// a RevisionId precondition is checked against it. Statements go with their function
// (FOREIGN KEY … ON DELETE CASCADE). Errors carry AWS's wording. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "functions/model.h"
#include "store/database.h"

namespace lambkin::functions {

// A function's (per qualifier) and a layer version's policy may hold at most 20 KB, as on
// Lambda. OK when `document` (the policy as GetPolicy would answer it) fits, else AWS's
// kPolicyLengthExceeded.
inline constexpr size_t kMaxPolicyBytes = 20480;
Status CheckPolicyLength(const std::string& document);

// Its table, as numbered migrations (subsystem "function_policies").
const store::Migrations& PolicySchema();

struct FunctionPolicy {
  std::string document;     // the policy's JSON text, as GetPolicy answers it
  std::string revision_id;  // the policy's own, new at each Add and Remove
};

class FunctionPolicies {
 public:
  explicit FunctionPolicies(store::Database* db) : db_(db) {}

  // Adds statement `sid` (its JSON text `statement`) to the policy of `qualifier` (empty: the
  // function). kInvalidParameterValue for $LATEST, kResourceNotFound for a missing function,
  // version or alias, kPreconditionFailed when `revision_id` is not the policy's current one
  // (while there is no policy: the version's or alias's),
  // kResourceConflict when `sid` is taken.
  Status Add(const Scope& scope, const std::string& name, const std::string& qualifier,
             const std::string& sid, const std::string& statement,
             const std::optional<std::string>& revision_id);
  // Removes statement `sid`; kResourceNotFound when the function, the qualifier, the policy or
  // the statement does not exist, kPreconditionFailed on a stale `revision_id`.
  Status Remove(const Scope& scope, const std::string& name, const std::string& qualifier,
                const std::string& sid, const std::optional<std::string>& revision_id);
  // kResourceNotFound when there is no such function, qualifier or policy.
  Result<FunctionPolicy> Get(const Scope& scope, const std::string& name,
                             const std::string& qualifier);
  // The policy document of `qualifier` for authorisation (one indexed read; "$LATEST" reads the
  // function's), nullopt when it has none.
  Result<std::optional<std::string>> Document(const Scope& scope, const std::string& name,
                                              const std::string& qualifier);

 private:
  store::Database* db_;
};

// The policy document AWS writes around `statements` (each a statement's JSON text).
std::string PolicyDocument(const std::vector<std::string>& statements);

}  // namespace lambkin::functions
