#include "iam/directory.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"

namespace lambkin::iam {

namespace {
constexpr char kIamDdl[] = R"sql(
CREATE TABLE IF NOT EXISTS iam_organization (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  id TEXT NOT NULL,
  root_id TEXT NOT NULL,
  management_account TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS iam_units (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  parent TEXT NOT NULL,
  UNIQUE (parent, name)
);
CREATE TABLE IF NOT EXISTS iam_accounts (
  id TEXT PRIMARY KEY,
  parent TEXT  -- the root or an OU; NULL outside the organisation
);
CREATE TABLE IF NOT EXISTS iam_scps (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS iam_scp_targets (
  policy_id TEXT NOT NULL,
  target TEXT NOT NULL,
  PRIMARY KEY (policy_id, target)
);
CREATE TABLE IF NOT EXISTS iam_principals (
  arn TEXT PRIMARY KEY,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,  -- user | role
  name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS iam_identity_policies (
  principal TEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (principal, name)
);
CREATE TABLE IF NOT EXISTS iam_access_keys (
  id TEXT PRIMARY KEY,
  secret TEXT NOT NULL,
  principal TEXT NOT NULL,
  session TEXT  -- set for the keys of a role session
);
CREATE TABLE IF NOT EXISTS iam_server_secrets (
  name TEXT PRIMARY KEY,  -- what the secret is for: 'role-sessions'
  secret TEXT NOT NULL    -- random, made once; never leaves the server
);
)sql";
}  // namespace

const store::Migrations& Schema() {
  static const store::Migrations kMigrations = {
      {"iam", 1, kIamDdl, ""},
  };
  return kMigrations;
}

namespace {

using nlohmann::json;
using Txn = store::Database::Txn;

constexpr char kFullAwsAccessId[] = "p-FullAWSAccess";
constexpr char kFullAwsAccess[] =
    R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";

Status Invalid(std::string message) {
  return Status(StatusCode::kInvalidParameterValue, std::move(message));
}

bool IsAccountId(std::string_view id) {
  return id.size() == 12 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// IAM's name characters: alphanumerics and +=,.@_-
bool IsIamName(std::string_view name, size_t max) {
  return !name.empty() && name.size() <= max && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("+=,.@_-").find(c) != std::string_view::npos;
  });
}

Status CheckName(std::string_view what, std::string_view name, size_t max) {
  if (IsIamName(name, max)) return Status::Ok();
  return Invalid(fmt::format("{} name '{}' must be 1-{} characters of letters, digits and +=,.@_-",
                             what, name, max));
}

Status CheckKey(std::string_view where, const json& key) {
  if (!key.is_object() || !key.contains("id") || !key.contains("secret") ||
      !key["id"].is_string() || !key["secret"].is_string()) {
    return Invalid(fmt::format("{}: an access key is {{\"id\": ..., \"secret\": ...}}", where));
  }
  std::string id = key["id"];
  std::string secret = key["secret"];
  bool id_ok =
      id.size() >= 16 && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isupper(c) != 0 || std::isdigit(c) != 0;
      });
  if (!id_ok) {
    return Invalid(fmt::format(
        "{}: access key id '{}' must be 16-128 upper-case letters and digits", where, id));
  }
  bool secret_ok = !secret.empty() && secret.size() <= 128 &&
                   std::all_of(secret.begin(), secret.end(),
                               [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (!secret_ok) {
    return Invalid(
        fmt::format("{}: the secret of {} must be 1-128 visible ASCII characters", where, id));
  }
  return Status::Ok();
}

std::string RandomAlnum(size_t n, bool upper) {
  std::string out;
  while (out.size() < n) {
    for (char c : RandomUuid()) {
      if (c == '-' || out.size() == n) continue;
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    }
  }
  return out;
}

// The text of a policy document given as a JSON object or as its text, once it parses within
// `max_chars`; the error is prefixed with `where`.
Result<std::string> CheckedPolicyText(const json& document, size_t max_chars,
                                      std::string_view where) {
  std::string text = document.is_string() ? document.get<std::string>() : document.dump();
  Result<Policy> parsed = Policy::Parse(text, max_chars);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), fmt::format("{}: {}", where, parsed.status().message()));
  }
  return text;
}

Status Run(Txn& txn, std::string_view sql, std::initializer_list<std::string_view> args) {
  LAMBKIN_ASSIGN_OR_RETURN(store::Statement st, txn.Prepare(sql));
  int i = 1;
  for (std::string_view a : args) st.Bind(i++, a);
  return st.Run();
}

// Whether `sql` (with `args`) returns a row; its first column in `out` when given.
Result<bool> QueryText(Txn& txn, std::string_view sql, std::initializer_list<std::string_view> args,
                       std::string* out = nullptr) {
  LAMBKIN_ASSIGN_OR_RETURN(store::Statement st, txn.Prepare(sql));
  int i = 1;
  for (std::string_view a : args) st.Bind(i++, a);
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row && out != nullptr) *out = st.ColumnText(0);
  return row;
}

Status AttachFullAccess(Txn& txn, std::string_view target) {
  return Run(txn,
             "INSERT INTO iam_scp_targets (policy_id, target) VALUES (?, ?) ON CONFLICT DO NOTHING",
             {kFullAwsAccessId, target});
}

struct OrgRow {
  std::string id;
  std::string root;
  std::string management;
};

Result<std::optional<OrgRow>> ReadOrg(Txn& txn) {
  LAMBKIN_ASSIGN_OR_RETURN(
      store::Statement st,
      txn.Prepare("SELECT id, root_id, management_account FROM iam_organization"));
  LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<OrgRow>();
  return std::optional<OrgRow>(OrgRow{st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)});
}

// Places an account under `parent`, new accounts with FullAWSAccess attached as AWS does.
Status PlaceAccount(Txn& txn, const std::string& account, const std::string& parent) {
  if (!IsAccountId(account)) {
    return Invalid(fmt::format("'{}' is not an account id (12 digits)", account));
  }
  LAMBKIN_ASSIGN_OR_RETURN(bool member,
                           QueryText(txn,
                                     "SELECT 1 FROM iam_accounts WHERE id = ? AND parent IS NOT "
                                     "NULL",
                                     {account}));
  if (!member) LAMBKIN_RETURN_IF_ERROR(AttachFullAccess(txn, account));
  return Run(txn,
             "INSERT INTO iam_accounts (id, parent) VALUES (?, ?) "
             "ON CONFLICT (id) DO UPDATE SET parent = excluded.parent",
             {account, parent});
}

Status ApplyUnit(Txn& txn, const OrgRow& org, const std::string& parent, const std::string& path,
                 const json& unit);

Status ApplyChildren(Txn& txn, const OrgRow& org, const std::string& id, const std::string& path,
                     const json& unit) {
  if (!unit.is_object()) return Invalid(fmt::format("{} must be an object", path));
  for (const auto& [field, value] : unit.items()) {
    if (field == "accounts") {
      if (!value.is_array()) return Invalid(fmt::format("{}.accounts must be an array", path));
      for (const json& a : value) {
        if (!a.is_string()) return Invalid(fmt::format("{}.accounts holds account ids", path));
        LAMBKIN_RETURN_IF_ERROR(PlaceAccount(txn, a.get<std::string>(), id));
      }
    } else if (field == "units") {
      if (!value.is_object()) return Invalid(fmt::format("{}.units must be an object", path));
      for (const auto& [name, child] : value.items()) {
        LAMBKIN_RETURN_IF_ERROR(ApplyUnit(txn, org, id, fmt::format("{}/{}", path, name), child));
      }
    } else {
      return Invalid(fmt::format("{} has an unknown field {}", path, field));
    }
  }
  return Status::Ok();
}

Status ApplyUnit(Txn& txn, const OrgRow& org, const std::string& parent, const std::string& path,
                 const json& unit) {
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.empty() || name.size() > 128) {
    return Invalid(fmt::format("OU name '{}' must be 1-128 characters", name));
  }
  std::string id;
  LAMBKIN_ASSIGN_OR_RETURN(bool exists,
                           QueryText(txn, "SELECT id FROM iam_units WHERE parent = ? AND name = ?",
                                     {parent, name}, &id));
  if (unit.is_null()) {
    if (!exists) return Status::Ok();
    LAMBKIN_ASSIGN_OR_RETURN(bool busy,
                             QueryText(txn,
                                       "SELECT 1 FROM iam_units WHERE parent = ?1 UNION ALL "
                                       "SELECT 1 FROM iam_accounts WHERE parent = ?1",
                                       {id}));
    if (busy) {
      return Status(StatusCode::kResourceConflict,
                    fmt::format("The OU {} still holds accounts or OUs", path));
    }
    LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_units WHERE id = ?", {id}));
    return Run(txn, "DELETE FROM iam_scp_targets WHERE target = ?", {id});
  }
  if (!exists) {
    id = fmt::format("ou-{}-{}", org.root.substr(2), RandomAlnum(8, false));
    LAMBKIN_RETURN_IF_ERROR(
        Run(txn, "INSERT INTO iam_units (id, name, parent) VALUES (?, ?, ?)", {id, name, parent}));
    LAMBKIN_RETURN_IF_ERROR(AttachFullAccess(txn, id));
  }
  return ApplyChildren(txn, org, id, path, unit);
}

// A policy target: "Root", an OU path ("Workloads/Prod"), an OU or root id, or an account.
Result<std::string> ResolveTarget(Txn& txn, const OrgRow& org, const std::string& target) {
  if (target == "Root" || target == org.root) return org.root;
  if (IsAccountId(target)) {
    LAMBKIN_ASSIGN_OR_RETURN(
        bool member,
        QueryText(txn, "SELECT 1 FROM iam_accounts WHERE id = ? AND parent IS NOT NULL", {target}));
    if (!member) return Invalid(fmt::format("Account {} is not in the organization", target));
    return target;
  }
  if (target.starts_with("ou-")) {
    LAMBKIN_ASSIGN_OR_RETURN(bool found,
                             QueryText(txn, "SELECT 1 FROM iam_units WHERE id = ?", {target}));
    if (found) return target;
  }
  std::string id = org.root;
  std::string_view rest = target;
  if (rest.starts_with("Root/")) rest.remove_prefix(5);  // as Describe writes paths
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string name(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    std::string child;
    LAMBKIN_ASSIGN_OR_RETURN(
        bool found, QueryText(txn, "SELECT id FROM iam_units WHERE parent = ? AND name = ?",
                              {id, name}, &child));
    if (!found) return Invalid(fmt::format("No OU or account '{}' to attach a policy to", target));
    id = child;
  }
  return id;
}

Status ApplyScps(Txn& txn, const OrgRow& org, const json& policies) {
  if (!policies.is_object()) return Invalid("organization.policies must be an object");
  for (const auto& [name, p] : policies.items()) {
    std::string where = fmt::format("SCP {}", name);
    LAMBKIN_RETURN_IF_ERROR(CheckName("Policy", name, 128));
    std::string id;
    LAMBKIN_ASSIGN_OR_RETURN(bool exists,
                             QueryText(txn, "SELECT id FROM iam_scps WHERE name = ?", {name}, &id));
    if (p.is_null()) {
      if (id == kFullAwsAccessId)
        return Invalid("FullAWSAccess is AWS managed: it cannot be deleted");
      LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_scps WHERE id = ?", {id}));
      LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_scp_targets WHERE policy_id = ?", {id}));
      continue;
    }
    if (!p.is_object()) return Invalid(fmt::format("{} must be an object or null", where));
    for (const auto& [field, value] : p.items()) {
      if (field != "document" && field != "targets") {
        return Invalid(fmt::format("{} has an unknown field {}", where, field));
      }
    }
    if (p.contains("document")) {
      if (id == kFullAwsAccessId) return Invalid("FullAWSAccess is AWS managed: it cannot change");
      LAMBKIN_ASSIGN_OR_RETURN(std::string text,
                               CheckedPolicyText(p["document"], kMaxScpChars, where));
      if (!exists) id = "p-" + RandomAlnum(8, false);
      LAMBKIN_RETURN_IF_ERROR(Run(txn,
                                  "INSERT INTO iam_scps (id, name, document) VALUES (?, ?, ?) "
                                  "ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                                  {id, name, text}));
    } else if (!exists) {
      return Invalid(fmt::format("{} does not exist: give its document", where));
    }
    if (p.contains("targets")) {
      const json& targets = p["targets"];
      if (!targets.is_array()) return Invalid(fmt::format("{}.targets must be an array", where));
      LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_scp_targets WHERE policy_id = ?", {id}));
      for (const json& t : targets) {
        if (!t.is_string()) return Invalid(fmt::format("{}.targets holds names", where));
        LAMBKIN_ASSIGN_OR_RETURN(std::string target, ResolveTarget(txn, org, t.get<std::string>()));
        LAMBKIN_RETURN_IF_ERROR(Run(
            txn,
            "INSERT INTO iam_scp_targets (policy_id, target) VALUES (?, ?) ON CONFLICT DO NOTHING",
            {id, target}));
      }
    }
  }
  return Status::Ok();
}

Status ApplyOrganization(Txn& txn, const json& decl) {
  if (!decl.is_object()) return Invalid("organization must be an object");
  for (const auto& [field, value] : decl.items()) {
    if (field != "management_account" && field != "root" && field != "policies") {
      return Invalid(fmt::format("organization has an unknown field {}", field));
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<OrgRow> org, ReadOrg(txn));
  std::string management = decl.value("management_account", std::string());
  if (!org) {
    if (!IsAccountId(management)) {
      return Invalid("organization.management_account (an account id) creates the organization");
    }
    org = OrgRow{"o-" + RandomAlnum(10, false), "r-" + RandomAlnum(4, false), management};
    LAMBKIN_RETURN_IF_ERROR(Run(txn,
                                "INSERT INTO iam_organization (singleton, id, root_id, "
                                "management_account) VALUES (1, ?, ?, ?)",
                                {org->id, org->root, management}));
    LAMBKIN_RETURN_IF_ERROR(
        Run(txn, "INSERT INTO iam_scps (id, name, document) VALUES (?, 'FullAWSAccess', ?)",
            {kFullAwsAccessId, kFullAwsAccess}));
    LAMBKIN_RETURN_IF_ERROR(AttachFullAccess(txn, org->root));
    LAMBKIN_RETURN_IF_ERROR(PlaceAccount(txn, management, org->root));
  } else if (!management.empty() && management != org->management) {
    return Invalid(fmt::format("The organization's management account is {}; it cannot change",
                               org->management));
  }
  if (decl.contains("root")) {
    LAMBKIN_RETURN_IF_ERROR(ApplyChildren(txn, *org, org->root, "Root", decl["root"]));
  }
  if (decl.contains("policies")) LAMBKIN_RETURN_IF_ERROR(ApplyScps(txn, *org, decl["policies"]));
  return Status::Ok();
}

Status DeletePrincipal(Txn& txn, const std::string& arn) {
  LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_principals WHERE arn = ?", {arn}));
  LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_identity_policies WHERE principal = ?", {arn}));
  return Run(txn, "DELETE FROM iam_access_keys WHERE principal = ?", {arn});
}

Status PutKey(Txn& txn, const std::string& where, const json& key, const std::string& principal,
              const std::optional<std::string>& session) {
  LAMBKIN_RETURN_IF_ERROR(CheckKey(where, key));
  std::string id = key["id"];
  std::string owner;
  LAMBKIN_ASSIGN_OR_RETURN(
      bool exists,
      QueryText(txn,
                "SELECT principal || '/' || COALESCE(session, '') FROM iam_access_keys WHERE "
                "id = ?",
                {id}, &owner));
  if (exists && owner != principal + "/" + session.value_or("")) {
    return Status(StatusCode::kResourceConflict,
                  fmt::format("{}: access key {} belongs to another principal", where, id));
  }
  LAMBKIN_ASSIGN_OR_RETURN(store::Statement st,
                           txn.Prepare("INSERT INTO iam_access_keys (id, secret, principal, "
                                       "session) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                                       "SET secret = excluded.secret"));
  st.Bind(1, id).Bind(2, key["secret"].get<std::string>()).Bind(3, principal).Bind(4, session);
  return st.Run();
}

Status ApplyPrincipal(Txn& txn, const std::string& account, const std::string& kind,
                      const std::string& name, const json& decl) {
  const std::string what = kind == "user" ? "User" : "Role";
  LAMBKIN_RETURN_IF_ERROR(CheckName(what, name, 64));
  std::string arn = PrincipalArn(account, kind, name);
  std::string where = fmt::format("{} {}", what, arn);
  if (decl.is_null()) return DeletePrincipal(txn, arn);
  if (!decl.is_object()) return Invalid(fmt::format("{} must be an object or null", where));
  LAMBKIN_RETURN_IF_ERROR(Run(txn,
                              "INSERT INTO iam_principals (arn, account, kind, name) "
                              "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                              {arn, account, kind, name}));
  const char* keys_field = kind == "user" ? "access_keys" : "sessions";
  for (const auto& [field, value] : decl.items()) {
    if (field == "policies") {
      if (!value.is_object()) return Invalid(fmt::format("{}: policies must be an object", where));
      for (const auto& [pname, doc] : value.items()) {
        LAMBKIN_RETURN_IF_ERROR(CheckName("Policy", pname, 128));
        if (doc.is_null()) {
          LAMBKIN_RETURN_IF_ERROR(
              Run(txn, "DELETE FROM iam_identity_policies WHERE principal = ? AND name = ?",
                  {arn, pname}));
          continue;
        }
        LAMBKIN_ASSIGN_OR_RETURN(
            std::string text,
            CheckedPolicyText(doc, kind == "user" ? kMaxUserPolicyChars : kMaxRolePolicyChars,
                              fmt::format("{} policy {}", where, pname)));
        LAMBKIN_RETURN_IF_ERROR(Run(txn,
                                    "INSERT INTO iam_identity_policies (principal, name, document) "
                                    "VALUES (?, ?, ?) ON CONFLICT (principal, name) DO UPDATE SET "
                                    "document = excluded.document",
                                    {arn, pname, text}));
      }
    } else if (field == keys_field && kind == "user") {
      if (!value.is_array()) return Invalid(fmt::format("{}: access_keys must be an array", where));
      for (const json& key : value) {
        LAMBKIN_RETURN_IF_ERROR(PutKey(txn, where, key, arn, std::nullopt));
      }
    } else if (field == keys_field) {
      if (!value.is_object()) return Invalid(fmt::format("{}: sessions must be an object", where));
      for (const auto& [session, key] : value.items()) {
        LAMBKIN_RETURN_IF_ERROR(CheckName("Session", session, 64));
        if (key.is_null()) {
          LAMBKIN_RETURN_IF_ERROR(
              Run(txn, "DELETE FROM iam_access_keys WHERE principal = ? AND session = ?",
                  {arn, session}));
          continue;
        }
        LAMBKIN_RETURN_IF_ERROR(PutKey(txn, where, key, arn, session));
      }
    } else {
      return Invalid(fmt::format("{} has an unknown field {}", where, field));
    }
  }
  return Status::Ok();
}

Status ApplyAccounts(Txn& txn, const json& accounts) {
  if (!accounts.is_object()) return Invalid("accounts must be an object keyed by account id");
  for (const auto& [account, decl] : accounts.items()) {
    if (!IsAccountId(account)) {
      return Invalid(fmt::format("'{}' is not an account id (12 digits)", account));
    }
    if (!decl.is_object()) return Invalid(fmt::format("account {} must be an object", account));
    LAMBKIN_RETURN_IF_ERROR(
        Run(txn, "INSERT INTO iam_accounts (id, parent) VALUES (?, NULL) ON CONFLICT DO NOTHING",
            {account}));
    for (const auto& [field, value] : decl.items()) {
      if (field != "users" && field != "roles") {
        return Invalid(fmt::format("account {} has an unknown field {}", account, field));
      }
      if (!value.is_object()) {
        return Invalid(fmt::format("account {}: {} must be an object", account, field));
      }
      std::string kind = field == "users" ? "user" : "role";
      for (const auto& [name, principal] : value.items()) {
        LAMBKIN_RETURN_IF_ERROR(ApplyPrincipal(txn, account, kind, name, principal));
      }
    }
  }
  return Status::Ok();
}

Status ForEachRow(Txn& txn, std::string_view sql,
                  const std::function<Status(const store::Statement&)>& fn) {
  LAMBKIN_ASSIGN_OR_RETURN(store::Statement st, txn.Prepare(sql));
  while (true) {
    LAMBKIN_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Status::Ok();
    LAMBKIN_RETURN_IF_ERROR(fn(st));
  }
}

Caller CallerOf(const std::string& account, const std::string& kind, const std::string& name,
                const std::optional<std::string>& session) {
  Caller c;
  c.account = account;
  c.principal_arn = PrincipalArn(account, kind, name);
  c.arn = session ? AssumedRoleArn(account, name, *session) : c.principal_arn;
  return c;
}

constexpr char kRoleSessionSecret[] = "role-sessions";

// The server secret named `name`, created (random) if the store has none yet.
Result<std::string> ServerSecret(store::Database* db, std::string_view name) {
  std::string secret;
  bool found = false;
  auto read = [&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(
        found,
        QueryText(txn, "SELECT secret FROM iam_server_secrets WHERE name = ?", {name}, &secret));
    return Status::Ok();
  };
  LAMBKIN_RETURN_IF_ERROR(db->Read(read));
  if (found) return secret;
  LAMBKIN_RETURN_IF_ERROR(db->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(Run(txn,
                                "INSERT INTO iam_server_secrets (name, secret) VALUES (?, ?) "
                                "ON CONFLICT DO NOTHING",
                                {name, HexEncode(RandomBytes(32))}));
    return read(txn);
  }));
  if (!found) return Internal("the IAM server secret could not be created");
  return secret;
}

}  // namespace

std::string PrincipalArn(std::string_view account, std::string_view kind, std::string_view name) {
  return fmt::format("arn:aws:iam::{}:{}/{}", account, kind, name);
}

std::string AssumedRoleArn(std::string_view account, std::string_view role,
                           std::string_view session) {
  return fmt::format("arn:aws:sts::{}:assumed-role/{}/{}", account, role, session);
}

const Snapshot::Key* Snapshot::FindKey(std::string_view id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

const Snapshot::Role* Snapshot::FindRole(std::string_view arn) const {
  auto it = roles_.find(arn);
  return it == roles_.end() ? nullptr : &it->second;
}

const Snapshot::Account* Snapshot::FindAccount(std::string_view id) const {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : &it->second;
}

const std::vector<Policy>* Snapshot::IdentityPolicies(std::string_view principal_arn) const {
  auto it = identity_.find(principal_arn);
  return it == identity_.end() ? nullptr : &it->second;
}

std::shared_ptr<const Snapshot> Directory::snapshot() const { return snapshot_.load(); }

Status Directory::Apply(const json& declaration) {
  if (!declaration.is_object()) return Invalid("An IAM declaration is a JSON object");
  for (const auto& [field, value] : declaration.items()) {
    if (field != "organization" && field != "accounts") {
      return Invalid(fmt::format("The declaration has an unknown field {}", field));
    }
  }
  LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "iam"));
    if (declaration.contains("organization")) {
      LAMBKIN_RETURN_IF_ERROR(ApplyOrganization(txn, declaration["organization"]));
    }
    if (declaration.contains("accounts")) {
      LAMBKIN_RETURN_IF_ERROR(ApplyAccounts(txn, declaration["accounts"]));
    }
    return Status::Ok();
  }));
  return Load();
}

Result<NewAccessKey> Directory::CreateAccessKey(const std::string& account, const std::string& kind,
                                                const std::string& name,
                                                const std::string& session) {
  if (kind != "user" && kind != "role") return Invalid("An access key is for a user or a role");
  if (kind == "role" && session.empty()) return Invalid("A role's access key needs a session name");
  if (kind == "user" && !session.empty()) return Invalid("A user's access key has no session");
  if (!session.empty()) LAMBKIN_RETURN_IF_ERROR(CheckName("Session", session, 64));
  std::string arn = PrincipalArn(account, kind, name);
  std::optional<std::string> role_session = session.empty() ? std::nullopt : std::optional(session);
  NewAccessKey key{(role_session ? "ASIA" : "AKIA") + RandomAlnum(16, true), RandomAlnum(40, false),
                   CallerOf(account, kind, name, role_session)};
  LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "iam"));
    LAMBKIN_ASSIGN_OR_RETURN(bool exists,
                             QueryText(txn, "SELECT 1 FROM iam_principals WHERE arn = ?", {arn}));
    if (!exists) return NotFound(fmt::format("No {} {} exists", kind, arn));
    return PutKey(txn, arn, json{{"id", key.id}, {"secret", key.secret}}, arn, role_session);
  }));
  LAMBKIN_RETURN_IF_ERROR(Load());
  return key;
}

Status Directory::DeleteAccessKey(const std::string& id) {
  LAMBKIN_RETURN_IF_ERROR(db_->Transact([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(store::Touch(txn, "iam"));
    LAMBKIN_RETURN_IF_ERROR(Run(txn, "DELETE FROM iam_access_keys WHERE id = ?", {id}));
    if (txn.Changes() == 0) return NotFound(fmt::format("No access key {} exists", id));
    return Status::Ok();
  }));
  return Load();
}

std::string Directory::DeriveServerKey(std::string_view purpose) const {
  return HmacSha256(server_secret_, purpose);
}

Result<RoleCredentials> Directory::MintRoleSession(const std::string& role_arn,
                                                   const std::string& session_name, int64_t now_ms,
                                                   int64_t duration_ms) const {
  std::shared_ptr<const Snapshot> snap = snapshot();
  const Snapshot::Role* role = snap->FindRole(role_arn);
  if (role == nullptr) {
    return NotFound(fmt::format("The role {} is not in the IAM directory", role_arn));
  }
  // STS wants 2-64 characters; 1 is allowed here, as for declared sessions, so that every
  // function name (1-64 characters of letters, digits, - and _) can name its session.
  LAMBKIN_RETURN_IF_ERROR(CheckName("Role session", session_name, 64));
  if (duration_ms < kMinRoleSessionMs || duration_ms > kMaxRoleSessionMs) {
    return Invalid(fmt::format("A role session lasts {} to {} ms, not {}", kMinRoleSessionMs,
                               kMaxRoleSessionMs, duration_ms));
  }
  return snap->session_tokens().Seal(
      SessionClaims{NewSessionAccessKeyId(), role_arn, session_name, now_ms + duration_ms});
}

Result<json> Directory::Describe() const {
  json out = json::object();
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<OrgRow> org, ReadOrg(txn));
    std::map<std::string, std::string> path_of;  // unit or root id -> "Root/…"
    if (org) {
      json& o = out["organization"];
      o = {{"id", org->id}, {"root_id", org->root}, {"management_account", org->management}};
      path_of[org->root] = "Root";
      json units = json::object();
      std::map<std::string, json*> node_of{{org->root, &o["root"]}};
      o["root"] = json::object();
      struct Unit {
        std::string id, name, parent;
      };
      std::vector<Unit> pending;
      LAMBKIN_RETURN_IF_ERROR(
          ForEachRow(txn, "SELECT id, name, parent FROM iam_units ORDER BY id",
                     [&](const store::Statement& st) -> Status {
                       pending.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnText(2)});
                       return Status::Ok();
                     }));
      // Parents before children: each pass places the units whose parent is placed.
      while (!pending.empty()) {
        size_t before = pending.size();
        std::erase_if(pending, [&](const Unit& u) {
          auto parent = node_of.find(u.parent);
          if (parent == node_of.end()) return false;
          json& unit = (*parent->second)["units"][u.name];
          unit = {{"id", u.id}};
          node_of[u.id] = &unit;
          path_of[u.id] = path_of[u.parent] + "/" + u.name;
          return true;
        });
        if (pending.size() == before) return Internal("an OU without a parent");
      }
      LAMBKIN_RETURN_IF_ERROR(ForEachRow(
          txn, "SELECT id, parent FROM iam_accounts WHERE parent IS NOT NULL ORDER BY id",
          [&](const store::Statement& st) -> Status {
            auto parent = node_of.find(st.ColumnText(1));
            if (parent != node_of.end()) (*parent->second)["accounts"].push_back(st.ColumnText(0));
            return Status::Ok();
          }));
      LAMBKIN_RETURN_IF_ERROR(ForEachRow(
          txn,
          "SELECT s.id, s.name, s.document, t.target FROM iam_scps s LEFT JOIN iam_scp_targets t "
          "ON t.policy_id = s.id ORDER BY s.name, t.target",
          [&](const store::Statement& st) -> Status {
            json& p = o["policies"][st.ColumnText(1)];
            if (p.is_null()) {
              p = {{"id", st.ColumnText(0)},
                   {"document", json::parse(st.ColumnText(2), nullptr, false)},
                   {"targets", json::array()}};
            }
            if (auto t = st.ColumnOptionalText(3)) {
              auto path = path_of.find(*t);
              p["targets"].push_back(path == path_of.end() ? *t : path->second);
            }
            return Status::Ok();
          }));
    }
    LAMBKIN_RETURN_IF_ERROR(ForEachRow(txn, "SELECT id FROM iam_accounts ORDER BY id",
                                       [&](const store::Statement& st) -> Status {
                                         out["accounts"][st.ColumnText(0)] = json::object();
                                         return Status::Ok();
                                       }));
    LAMBKIN_RETURN_IF_ERROR(ForEachRow(
        txn,
        "SELECT p.account, p.kind, p.name, p.arn, k.id, k.session FROM iam_principals p LEFT JOIN "
        "iam_access_keys k ON k.principal = p.arn ORDER BY p.account, p.kind, p.name, k.id",
        [&](const store::Statement& st) -> Status {
          bool user = st.ColumnText(1) == "user";
          json& p = out["accounts"][st.ColumnText(0)][user ? "users" : "roles"][st.ColumnText(2)];
          if (p.is_null()) p = {{"arn", st.ColumnText(3)}, {"policies", json::object()}};
          if (auto id = st.ColumnOptionalText(4)) {
            if (user) {
              p["access_keys"].push_back({{"id", *id}});
            } else {
              p["sessions"][st.ColumnText(5)] = {{"id", *id}};
            }
          }
          return Status::Ok();
        }));
    return ForEachRow(
        txn,
        "SELECT p.account, p.kind, p.name, i.name, i.document FROM iam_identity_policies i JOIN "
        "iam_principals p ON p.arn = i.principal ORDER BY i.name",
        [&](const store::Statement& st) -> Status {
          out["accounts"][st.ColumnText(0)][st.ColumnText(1) == "user" ? "users" : "roles"]
             [st.ColumnText(2)]["policies"][st.ColumnText(3)] =
                 json::parse(st.ColumnText(4), nullptr, false);
          return Status::Ok();
        });
  }));
  return out;
}

Status Directory::Load() {
  std::lock_guard lock(load_mu_);
  if (session_tokens_ == nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(std::string secret, ServerSecret(db_, kRoleSessionSecret));
    session_tokens_ = std::make_shared<const SessionTokens>(secret);
    server_secret_ = std::move(secret);
  }
  auto snap = std::make_shared<Snapshot>();
  snap->session_tokens_ = session_tokens_;
  LAMBKIN_RETURN_IF_ERROR(db_->Read([&](Txn& txn) -> Status {
    LAMBKIN_RETURN_IF_ERROR(ForEachRow(
        txn, "SELECT arn, account, name FROM iam_principals WHERE kind = 'role'",
        [&](const store::Statement& st) -> Status {
          snap->roles_[st.ColumnText(0)] = Snapshot::Role{st.ColumnText(1), st.ColumnText(2)};
          return Status::Ok();
        }));
    LAMBKIN_RETURN_IF_ERROR(ForEachRow(
        txn,
        "SELECT k.id, k.secret, k.session, p.account, p.kind, p.name FROM iam_access_keys k JOIN "
        "iam_principals p ON p.arn = k.principal",
        [&](const store::Statement& st) -> Status {
          snap->keys_[st.ColumnText(0)] =
              Snapshot::Key{st.ColumnText(1), CallerOf(st.ColumnText(3), st.ColumnText(4),
                                                       st.ColumnText(5), st.ColumnOptionalText(2))};
          return Status::Ok();
        }));
    LAMBKIN_RETURN_IF_ERROR(ForEachRow(
        txn, "SELECT principal, document FROM iam_identity_policies ORDER BY principal, name",
        [&](const store::Statement& st) -> Status {
          LAMBKIN_ASSIGN_OR_RETURN(Policy p, Policy::Parse(st.ColumnText(1), SIZE_MAX));
          snap->identity_[st.ColumnText(0)].push_back(std::move(p));
          return Status::Ok();
        }));
    LAMBKIN_ASSIGN_OR_RETURN(std::optional<OrgRow> org, ReadOrg(txn));
    std::map<std::string, std::vector<const Policy*>> attached;  // target -> SCPs
    std::map<std::string, std::string> parent_of;
    if (org) {
      std::map<std::string, const Policy*> by_id;
      LAMBKIN_RETURN_IF_ERROR(ForEachRow(
          txn, "SELECT id, document FROM iam_scps", [&](const store::Statement& st) -> Status {
            LAMBKIN_ASSIGN_OR_RETURN(Policy p, Policy::Parse(st.ColumnText(1), SIZE_MAX));
            by_id[st.ColumnText(0)] = &snap->scps_.emplace_back(std::move(p));
            return Status::Ok();
          }));
      LAMBKIN_RETURN_IF_ERROR(ForEachRow(txn, "SELECT policy_id, target FROM iam_scp_targets",
                                         [&](const store::Statement& st) -> Status {
                                           auto scp = by_id.find(st.ColumnText(0));
                                           if (scp != by_id.end())
                                             attached[st.ColumnText(1)].push_back(scp->second);
                                           return Status::Ok();
                                         }));
      LAMBKIN_RETURN_IF_ERROR(ForEachRow(txn, "SELECT id, parent FROM iam_units",
                                         [&](const store::Statement& st) -> Status {
                                           parent_of[st.ColumnText(0)] = st.ColumnText(1);
                                           return Status::Ok();
                                         }));
    }
    return ForEachRow(txn, "SELECT id, parent FROM iam_accounts",
                      [&](const store::Statement& st) -> Status {
                        Snapshot::Account& a = snap->accounts_[st.ColumnText(0)];
                        std::optional<std::string> parent = st.ColumnOptionalText(1);
                        if (!org || !parent) return Status::Ok();
                        a.in_organization = true;
                        a.organization_id = org->id;
                        a.management = st.ColumnText(0) == org->management;
                        // Account first, then up to the root; reversed below.
                        std::vector<std::string> path{st.ColumnText(0)};
                        for (std::string at = *parent; !at.empty();) {
                          path.push_back(at);
                          auto up = parent_of.find(at);
                          at = up == parent_of.end() ? std::string() : up->second;
                        }
                        std::reverse(path.begin(), path.end());
                        for (const std::string& level : path) {
                          a.scp_levels.push_back(attached[level]);
                        }
                        return Status::Ok();
                      });
  }));
  snapshot_.store(std::move(snap));
  return Status::Ok();
}

}  // namespace lambkin::iam
