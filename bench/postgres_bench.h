// Helpers for the benchmarks that run on a PostgreSQL server: databases named in a server URL,
// and the CPU time a server on this machine uses (steadier than wall time on a busy machine).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "store/database.h"

namespace lambkin::bench {

// `url` with its database replaced by `db` (a libpq URI: postgres://authority[/db][?params]).
inline std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t authority = url.find("://") + 3;
  size_t end = url.find_first_of("/?", authority);
  std::string params;
  if (end != std::string::npos) {
    size_t q = url.find('?', end);
    if (q != std::string::npos) params = url.substr(q);
  }
  return url.substr(0, end == std::string::npos ? url.size() : end) + "/" + db + params;
}

// The fields of /proc/PID/stat after the command name, from field 3 (state) on.
inline std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields;
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 2));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields;
}

// CPU seconds used so far by a PostgreSQL server on this machine: the postmaster, the children
// it has reaped, and every live backend and worker. -1 if it is gone.
inline double ServerCpuSeconds(pid_t postmaster) {
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<std::string> pm = StatFields(postmaster);
  if (pm.size() < 15) return -1;
  // utime, stime, cutime, cstime are fields 14 to 17.
  double ticks = std::stod(pm[11]) + std::stod(pm[12]) + std::stod(pm[13]) + std::stod(pm[14]);
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/task", postmaster), ec)) {
    std::ifstream children(task.path() / "children");
    pid_t child;
    while (children >> child) {
      std::vector<std::string> c = StatFields(child);
      if (c.size() >= 13) ticks += std::stod(c[11]) + std::stod(c[12]);
    }
  }
  return ticks / tick;
}

// The postmaster of the PostgreSQL server at `url` when it runs on this machine, else -1.
inline pid_t FindPostmaster(const std::string& url) {
  auto conn = store::OpenPostgres(url);
  if (!conn.ok()) return -1;
  auto st = (*conn)->Prepare("SELECT pg_backend_pid()");
  if (!st.ok()) return -1;
  auto row = st->Step();
  if (!row.ok() || !*row) return -1;
  std::vector<std::string> backend = StatFields(static_cast<pid_t>(st->ColumnInt(0)));
  if (backend.size() < 2) return -1;
  pid_t parent = std::stoi(backend[1]);
  std::ifstream comm(fmt::format("/proc/{}/comm", parent));
  std::string name;
  comm >> name;
  return name == "postgres" ? parent : -1;
}

}  // namespace lambkin::bench
