#include "cli/operator_credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/credentials.h"
#include "common/crypto.h"

namespace lambkin::cli {

namespace {

using nlohmann::json;

// The ids of the operator user's keys; nullopt when the user does not exist.
Result<std::optional<std::vector<std::string>>> OperatorKeys(const iam::Directory& directory,
                                                             const std::string& account) {
  LAMBKIN_ASSIGN_OR_RETURN(json d, directory.Describe());
  const json* user = nullptr;
  if (d.contains("accounts") && d["accounts"].contains(account)) {
    const json& a = d["accounts"][account];
    if (a.contains("users") && a["users"].contains(kOperatorUser))
      user = &a["users"][kOperatorUser];
  }
  if (user == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> ids;
  if (user->contains("access_keys")) {
    for (const json& k : (*user)["access_keys"]) ids.push_back(k.value("id", ""));
  }
  return std::optional<std::vector<std::string>>(std::move(ids));
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  auto fail = [&path](const char* what) {
    return Internal(fmt::format("cannot {} {}: {}", what, path, std::strerror(errno)));
  };
  if (fd < 0) return fail("create");
  // An older file of that name may have had wider permissions.
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  Status s = ok ? Status::Ok() : fail("write");
  ::close(fd);
  return s;
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal(fmt::format("cannot open {}: {}", dir, std::strerror(errno)));
  ::fsync(fd);
  ::close(fd);
  return Status::Ok();
}

Status Rename(const std::string& from, const std::string& to, const std::string& dir) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return Internal(fmt::format("cannot rename {} to {}: {}", from, to, std::strerror(errno)));
  }
  return SyncDirectory(dir);
}

}  // namespace

Result<std::optional<std::string>> EnsureOperatorCredentials(iam::Directory* directory,
                                                             const std::string& account,
                                                             const std::string& data_dir) {
  const std::string path = fmt::format("{}/{}", data_dir, kOperatorCredentialsFile);
  const std::string pending = path + ".new";
  std::error_code ec;
  LAMBKIN_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> keys,
                           OperatorKeys(*directory, account));
  if (keys) {
    // A start that stopped between adding the key and the rename: finish it when the pending
    // file holds one of the user's keys.
    if (!std::filesystem::exists(path, ec) && std::filesystem::exists(pending, ec)) {
      std::optional<std::string> text = SystemCredentialSources().read_file(pending);
      IniFile ini = ParseIni(text.value_or(""));
      std::string id = ini[kOperatorProfile]["aws_access_key_id"];
      if (std::find(keys->begin(), keys->end(), id) != keys->end()) {
        LAMBKIN_RETURN_IF_ERROR(Rename(pending, path, data_dir));
        return std::optional<std::string>(path);
      }
      std::filesystem::remove(pending, ec);
    }
    return std::optional<std::string>();
  }
  if (std::filesystem::exists(path, ec)) return std::optional<std::string>();

  std::string id = "AKIA" + HexEncode(Sha256(RandomUuid())).substr(0, 16);
  for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string secret = HexEncode(Sha256(RandomUuid() + RandomUuid())).substr(0, 40);
  LAMBKIN_RETURN_IF_ERROR(
      WritePrivateFile(pending, CredentialsFileProfile(kOperatorProfile, id, secret)));
  json admin = {{"Version", "2012-10-17"},
                {"Statement", {{{"Effect", "Allow"}, {"Action", "*"}, {"Resource", "*"}}}}};
  json declaration = {{"accounts",
                       {{account,
                         {{"users",
                           {{kOperatorUser,
                             {{"policies", {{"AdministratorAccess", admin}}},
                              {"access_keys", {{{"id", id}, {"secret", secret}}}}}}}}}}}}};
  LAMBKIN_RETURN_IF_ERROR(directory->Apply(declaration));
  LAMBKIN_RETURN_IF_ERROR(Rename(pending, path, data_dir));
  return std::optional<std::string>(path);
}

}  // namespace lambkin::cli
