#include "cli/iam_command.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/http_client.h"
#include "cli/json_file.h"

namespace lambkin::cli {

namespace {

using nlohmann::json;

// The member `key` of `j` (an empty object or array when absent), kept alive for the loop
// that walks it.
json Member(const json& j, const char* key, const json& fallback = json::object()) {
  return j.is_object() && j.contains(key) ? j[key] : fallback;
}

void PrintUnit(const json& unit, const std::string& indent) {
  for (const auto& a : Member(unit, "accounts", json::array())) {
    std::printf("%saccount %s\n", indent.c_str(), a.get<std::string>().c_str());
  }
  const json units = Member(unit, "units");
  for (const auto& [name, child] : units.items()) {
    std::printf("%sOU %s (%s)\n", indent.c_str(), name.c_str(), child.value("id", "").c_str());
    PrintUnit(child, indent + "  ");
  }
}

// The directory for a person: the organisation tree with its SCPs, then each account's
// principals with their policies and key ids.
void PrintDirectory(const json& d) {
  if (d.contains("organization")) {
    const json& o = d["organization"];
    std::printf("organization %s  management account %s\n", o.value("id", "").c_str(),
                o.value("management_account", "").c_str());
    std::printf("  Root (%s)\n", o.value("root_id", "").c_str());
    PrintUnit(Member(o, "root"), "    ");
    const json policies = Member(o, "policies");
    for (const auto& [name, p] : policies.items()) {
      std::string targets;
      for (const auto& t : Member(p, "targets", json::array())) {
        targets += (targets.empty() ? "" : ", ") + t.get<std::string>();
      }
      std::printf("  SCP %-28s %s  attached to: %s\n", name.c_str(), p.value("id", "").c_str(),
                  targets.empty() ? "(nothing)" : targets.c_str());
    }
  } else {
    std::printf("no organization (SCPs apply to no account)\n");
  }
  const json accounts = Member(d, "accounts");
  for (const auto& [account, a] : accounts.items()) {
    std::printf("account %s\n", account.c_str());
    for (const char* kind : {"users", "roles"}) {
      const json principals = Member(a, kind);
      for (const auto& [name, p] : principals.items()) {
        std::string policies;
        const json documents = Member(p, "policies");
        for (const auto& [pname, doc] : documents.items()) {
          policies += (policies.empty() ? "" : ", ") + pname;
        }
        std::printf("  %s  policies: %s\n", p.value("arn", "").c_str(),
                    policies.empty() ? "(none)" : policies.c_str());
        for (const auto& k : Member(p, "access_keys", json::array())) {
          std::printf("    key %s\n", k.value("id", "").c_str());
        }
        const json sessions = Member(p, "sessions");
        for (const auto& [session, k] : sessions.items()) {
          std::printf("    key %s  session %s\n", k.value("id", "").c_str(), session.c_str());
        }
      }
    }
  }
}

}  // namespace

int IamShow(const AdminOptions& o) {
  Result<json> r = AdminCall(o.client, "/lambkin/v1/iam");
  if (!r.ok()) return Fail("iam show", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    PrintDirectory(*r);
  }
  return 0;
}

int IamApply(const AdminOptions& o, const std::string& file) {
  Result<json> declaration = ReadJsonObject(file, "IAM declaration");
  if (!declaration.ok()) return Fail("iam apply", declaration.status());
  Result<json> r = AdminCall(o.client, "/lambkin/v1/iam/apply", *declaration);
  if (!r.ok()) return Fail("iam apply", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("applied %s\n", file.c_str());
    PrintDirectory(*r);
  }
  return 0;
}

int IamCreateAccessKey(const AdminOptions& o, const AccessKeyOptions& key) {
  if (key.user.empty() == key.role.empty()) {
    return Fail("iam create-access-key", InvalidParameter("give --user, or --role with --session"));
  }
  json body = key.user.empty() ? json{{"Role", key.role}, {"Session", key.session}}
                               : json{{"User", key.user}};
  if (!key.account.empty()) body["Account"] = key.account;
  Result<json> r = AdminCall(o.client, "/lambkin/v1/iam/access-keys", body);
  if (!r.ok()) return Fail("iam create-access-key", r.status());
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n# %s (the secret is shown once)\n",
                r->value("AccessKeyId", "").c_str(), r->value("SecretAccessKey", "").c_str(),
                r->value("Arn", "").c_str());
  }
  return 0;
}

int IamDeleteAccessKey(const AdminOptions& o, const std::string& id) {
  Status deleted =
      AdminDelete(o.client, fmt::format("/lambkin/v1/iam/access-keys/{}", UriEncode(id, false)));
  if (!deleted.ok()) return Fail("iam delete-access-key", deleted);
  if (o.json) {
    std::printf("%s\n", json{{"Deleted", id}}.dump(2).c_str());
  } else {
    std::printf("deleted access key %s\n", id.c_str());
  }
  return 0;
}

}  // namespace lambkin::cli
