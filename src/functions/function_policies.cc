#include "functions/function_policies.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/crypto.h"
#include "functions/function_service.h"

namespace lambkin::functions {

namespace {

using Txn = store::Database::Txn;

constexpr char kPolicyDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS function_policy_statements (
  account TEXT NOT NULL,
  region TEXT NOT NULL,
  name TEXT NOT NULL,
  qualifier TEXT NOT NULL,             -- '' for the function itself, a version or an alias
  sid TEXT NOT NULL,
  seq INTEGER NOT NULL,                -- the order statements were added in
  statement TEXT NOT NULL,             -- the statement's JSON text
  alias TEXT,                          -- = qualifier when it is an alias: goes with the alias
  PRIMARY KEY (account, region, name, qualifier, sid),
  FOREIGN KEY (account, region, name) REFERENCES functions ON DELETE CASCADE,
  FOREIGN KEY (account, region, name, alias) REFERENCES aliases ON DELETE CASCADE
);
)sql";

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// An alias name as the model writes it: (?!^[0-9]+$)([a-zA-Z0-9-_]+).
bool AliasName(std::string_view s) {
  return !s.empty() && !AllDigits(s) && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
}

// What a policy is attached to: the version (number; 0 is $LATEST) or the alias, with the
// version's (alias's) current RevisionId.
struct Target {
  bool alias = false;
  int64_t version = 0;
  std::string revision_id;
};

Result<bool> FunctionExists(Txn& txn, const Scope& scope, const std::string& name) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare("SELECT 1 FROM functions WHERE account = ? AND region = ? AND name = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
  return st.Step();
}

// The version or alias `qualifier` names (empty: $LATEST), or nullopt when it does not exist;
// `alias` tells which kind was looked for.
Result<std::optional<Target>> FindTarget(Txn& txn, const Scope& scope, const std::string& name,
                                         const std::string& qualifier) {
  Target t;
  t.alias = AliasName(qualifier) && qualifier != "$LATEST";
  if (!t.alias) {
    // Version numbers are far below 19 digits; a longer one names nothing.
    if (!qualifier.empty() && (!AllDigits(qualifier) || qualifier.size() > 18)) {
      return std::optional<Target>();
    }
    t.version = qualifier.empty() ? 0 : std::stoll(qualifier);
  }
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare(t.alias ? "SELECT revision_id FROM aliases WHERE account = ? AND region = ? "
                            "AND name = ? AND alias = ?"
                          : "SELECT revision_id FROM function_versions WHERE account = ? AND "
                            "region = ? AND name = ? AND version = ?"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name);
  if (t.alias) {
    st.Bind(4, qualifier);
  } else {
    st.Bind(4, t.version);
  }
  LAMBKIN_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<Target>();
  t.revision_id = st.ColumnText(0);
  return std::optional<Target>(std::move(t));
}

Status MissingTarget(const Scope& scope, const std::string& name, const std::string& qualifier) {
  if (AliasName(qualifier)) {
    return NotFound(fmt::format("Cannot find alias arn: {}", FunctionArn(scope, name, qualifier)));
  }
  return NotFound(fmt::format("Function not found: {}", FunctionArn(scope, name, qualifier)));
}

// A policy's statements (in the order they were added) and its RevisionId: a policy has its own,
// new at each AddPermission and RemovePermission, kept when the function changes (AWS's
// recorded answers: publishing a version leaves GetPolicy's RevisionId as it was).
struct PolicyRows {
  std::vector<std::string> statements;
  std::string revision_id;  // empty when there is no statement
};

Result<PolicyRows> Statements(Txn& txn, const Scope& scope, const std::string& name,
                              const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare("SELECT statement, revision_id FROM function_policy_statements WHERE "
                  "account = ? AND region = ? AND name = ? AND qualifier = ? ORDER BY seq"));
  st.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, qualifier);
  PolicyRows out;
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.statements.push_back(st.ColumnText(0));
    out.revision_id = st.ColumnText(1);
  }
  return out;
}

// A RevisionId precondition is checked against the policy's; while there is no policy, against
// the version's (alias's) own (AWS's recording: the first AddPermission on an alias with the
// RevisionId CreateAlias answered succeeds, "wrong" is refused).
Status CheckRevision(const PolicyRows& policy, const Target& target,
                     const std::optional<std::string>& revision_id) {
  const std::string& current = policy.statements.empty() ? target.revision_id : policy.revision_id;
  if (!revision_id || *revision_id == current) return Status::Ok();
  return Status(StatusCode::kPreconditionFailed,
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetPolicy API to retrieve the latest Revision Id");
}

// A statement added or removed: the policy has a new revision.
Status NewRevision(Txn& txn, const Scope& scope, const std::string& name,
                   const std::string& qualifier) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare("UPDATE function_policy_statements SET revision_id = ? WHERE account = ? AND "
                  "region = ? AND name = ? AND qualifier = ?"));
  st.Bind(1, RandomUuid()).Bind(2, scope.account).Bind(3, scope.region).Bind(4, name);
  st.Bind(5, qualifier);
  return st.Run();
}

// Stores from before policies had their own RevisionId: each policy gets one.
Status GivePoliciesRevisions(Txn& txn) {
  LAMBKIN_RETURN_IF_ERROR(
      store::AddColumnIfMissing(txn, "function_policy_statements", "revision_id", "TEXT"));
  struct Key {
    std::string account, region, name, qualifier;
  };
  std::vector<Key> policies;
  {
    LAMBKIN_ASSIGN_OR_RETURN(store::Statement st,
                             txn.Prepare("SELECT DISTINCT account, region, name, qualifier FROM "
                                         "function_policy_statements WHERE revision_id IS NULL"));
    while (true) {
      LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      policies.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2), st.ColumnText(3)});
    }
  }
  for (const Key& k : policies) {
    LAMBKIN_RETURN_IF_ERROR(NewRevision(txn, Scope{k.account, k.region}, k.name, k.qualifier));
  }
  return Status::Ok();
}

Status NoSuchResource() { return NotFound("The resource you requested does not exist."); }

}  // namespace

const store::Migrations& PolicySchema() {
  static const store::Migrations kMigrations = {
      {"function_policies", 1, kPolicyDdl, "", nullptr},
      {"function_policies", 2, "", "", GivePoliciesRevisions},
  };
  return kMigrations;
}

std::string PolicyDocument(const std::vector<std::string>& statements) {
  std::string doc = R"({"Version":"2012-10-17","Id":"default","Statement":[)";
  for (size_t i = 0; i < statements.size(); ++i) {
    if (i > 0) doc += ',';
    doc += statements[i];
  }
  doc += "]}";
  return doc;
}

Status CheckPolicyLength(const std::string& document) {
  if (document.size() <= kMaxPolicyBytes) return Status::Ok();
  return Status(StatusCode::kPolicyLengthExceeded,
                fmt::format("The final policy size ({}) is bigger than the limit ({}).",
                            document.size(), kMaxPolicyBytes));
}

Status FunctionPolicies::Add(const Scope& scope, const std::string& name,
                             const std::string& qualifier, const std::string& sid,
                             const std::string& statement,
                             const std::optional<std::string>& revision_id) {
  if (qualifier == "$LATEST") {
    return InvalidParameter("We currently do not support adding policies for $LATEST.");
  }
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, FunctionExists(txn, scope, name));
    if (!exists) {
      return NotFound(fmt::format("Function not found: {}", FunctionArn(scope, name, qualifier)));
    }
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<Target> target, FindTarget(txn, scope, name, qualifier));
    if (!target) return MissingTarget(scope, name, qualifier);
    LAMBKIN_ASSIGN_OR_RETURN(PolicyRows before, Statements(txn, scope, name, qualifier));
    LAMBKIN_RETURN_IF_ERROR(CheckRevision(before, *target, revision_id));
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement insert,
        txn.Prepare("INSERT INTO function_policy_statements (account, region, name, qualifier, "
                    "sid, seq, statement, alias) SELECT ?1, ?2, ?3, ?4, ?5, COALESCE(MAX(seq), 0) "
                    "+ 1, ?6, ?7 "
                    "FROM function_policy_statements WHERE account = ?1 AND region = ?2 AND "
                    "name = ?3 AND qualifier = ?4 ON CONFLICT DO NOTHING"));
    insert.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, qualifier);
    insert.Bind(5, sid).Bind(6, statement);
    insert.Bind(7, target->alias ? std::optional<std::string>(qualifier) : std::nullopt);
    LAMBKIN_RETURN_IF_ERROR(insert.Run());
    if (txn.Changes() == 0) {
      return Conflict(fmt::format(
          "The statement id ({}) provided already exists. Please provide a new statement id, or "
          "remove the existing statement.",
          sid));
    }
    // Checked with the statement in (rolled back when too large), after the duplicate Sid: it
    // was added last.
    before.statements.push_back(statement);
    LAMBKIN_RETURN_IF_ERROR(CheckPolicyLength(PolicyDocument(before.statements)));
    return NewRevision(txn, scope, name, qualifier);
  });
}

Status FunctionPolicies::Remove(const Scope& scope, const std::string& name,
                                const std::string& qualifier, const std::string& sid,
                                const std::optional<std::string>& revision_id) {
  return db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(bool exists, FunctionExists(txn, scope, name));
    if (!exists) {
      return NotFound(fmt::format("No policy found for: {}", FunctionArn(scope, name, qualifier)));
    }
    std::string key = qualifier == "$LATEST" ? "" : qualifier;
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<Target> target, FindTarget(txn, scope, name, key));
    if (!target) return MissingTarget(scope, name, qualifier);
    LAMBKIN_ASSIGN_OR_RETURN(PolicyRows policy, Statements(txn, scope, name, key));
    if (policy.statements.empty()) {
      return NotFound("No policy is associated with the given resource.");
    }
    LAMBKIN_RETURN_IF_ERROR(CheckRevision(policy, *target, revision_id));
    LAMBKIN_ASSIGN_OR_RETURN(
        store::Statement del,
        txn.Prepare("DELETE FROM function_policy_statements WHERE account = ? AND region = ? AND "
                    "name = ? AND qualifier = ? AND sid = ?"));
    del.Bind(1, scope.account).Bind(2, scope.region).Bind(3, name).Bind(4, key).Bind(5, sid);
    LAMBKIN_RETURN_IF_ERROR(del.Run());
    if (txn.Changes() == 0) {
      return NotFound(fmt::format("Statement {} is not found in resource policy.", sid));
    }
    return NewRevision(txn, scope, name, key);
  });
}

Result<FunctionPolicy> FunctionPolicies::Get(const Scope& scope, const std::string& name,
                                             const std::string& qualifier) {
  FunctionPolicy out;
  Status s = db_->Read([&](Txn& txn) -> Status {
    std::string key = qualifier == "$LATEST" ? "" : qualifier;
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<Target> target, FindTarget(txn, scope, name, key));
    if (!target) return NoSuchResource();
    LAMBKIN_ASSIGN_OR_RETURN(PolicyRows policy, Statements(txn, scope, name, key));
    if (policy.statements.empty()) return NoSuchResource();
    out.document = PolicyDocument(policy.statements);
    out.revision_id = policy.revision_id;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::optional<std::string>> FunctionPolicies::Document(const Scope& scope,
                                                              const std::string& name,
                                                              const std::string& qualifier) {
  PolicyRows policy;
  Status s = db_->ReadOne([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(policy,
                             Statements(txn, scope, name, qualifier == "$LATEST" ? "" : qualifier));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (policy.statements.empty()) return std::optional<std::string>();
  return std::optional<std::string>(PolicyDocument(policy.statements));
}

}  // namespace lambkin::functions
