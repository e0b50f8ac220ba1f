// Test helper: a fresh PostgreSQL database in the server LAMBKIN_TEST_POSTGRES names (a base
// URL such as postgres://postgres@127.0.0.1:55432), dropped when the helper goes. Tests that
// need PostgreSQL skip when the variable is unset.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/status.h"
#include "store/database.h"

namespace lambkin::store::testing {

class TestPostgresDatabase {
 public:
  // Null when LAMBKIN_TEST_POSTGRES is unset; an error when the database cannot be created.
  static Result<std::unique_ptr<TestPostgresDatabase>> Create() {
    const char* base = std::getenv("LAMBKIN_TEST_POSTGRES");
    if (base == nullptr || *base == '\0') return std::unique_ptr<TestPostgresDatabase>();
    std::string name = "lambkin_test_" + RandomUuid();
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    std::unique_ptr<TestPostgresDatabase> db(new TestPostgresDatabase(base, name));
    Status s = db->Admin(fmt::format("CREATE DATABASE {}", name));
    if (!s.ok()) {
      db->created_ = false;
      return s;
    }
    return db;
  }
  ~TestPostgresDatabase() {
    // FORCE: connections a test left open do not keep the database.
    if (created_) (void)Admin(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
  }
  TestPostgresDatabase(const TestPostgresDatabase&) = delete;
  TestPostgresDatabase& operator=(const TestPostgresDatabase&) = delete;

  // The database's URL: the base URL with its path replaced by the database name.
  const std::string& url() const { return url_; }

 private:
  TestPostgresDatabase(std::string base, std::string name)
      : base_(std::move(base)), name_(std::move(name)) {
    size_t scheme = base_.find("://");
    size_t host = scheme == std::string::npos ? 0 : scheme + 3;
    size_t query = base_.find('?', host);
    size_t path = base_.find('/', host);
    if (path == std::string::npos || (query != std::string::npos && path > query)) path = query;
    std::string prefix = base_.substr(0, path == std::string::npos ? base_.size() : path);
    std::string suffix = query == std::string::npos ? "" : base_.substr(query);
    url_ = fmt::format("{}/{}{}", prefix, name_, suffix);
  }

  // Runs one statement on the server's default database.
  Status Admin(const std::string& sql) const {
    PGconn* conn = PQconnectdb(base_.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string error = PQerrorMessage(conn);
      PQfinish(conn);
      return Unavailable(fmt::format("cannot connect to {}: {}", base_, error));
    }
    PGresult* res = PQexec(conn, sql.c_str());
    Status s = PQresultStatus(res) == PGRES_COMMAND_OK
                   ? Status::Ok()
                   : Internal(fmt::format("{}: {}", sql, PQresultErrorMessage(res)));
    PQclear(res);
    PQfinish(conn);
    return s;
  }

  std::string base_;
  std::string name_;
  std::string url_;
  bool created_ = true;
};

// Where a test run on `engine` keeps its store: `sqlite_path` on SQLite; on PostgreSQL a fresh
// database, held in `*pg` for the test's life. Empty when the test must skip (PostgreSQL without
// LAMBKIN_TEST_POSTGRES).
inline Result<std::string> StoreLocation(Engine engine, std::string sqlite_path,
                                         std::unique_ptr<TestPostgresDatabase>* pg) {
  if (engine == Engine::kSqlite) return sqlite_path;
  LAMBKIN_ASSIGN_OR_RETURN(*pg, TestPostgresDatabase::Create());
  return *pg == nullptr ? std::string() : (*pg)->url();
}

// Names a test instance after its engine parameter ("Sqlite", "Postgres").
template <typename ParamInfo>
std::string EngineName(const ParamInfo& info) {
  return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
}

}  // namespace lambkin::store::testing
