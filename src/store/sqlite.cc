// The SQLite engine: one file in WAL mode with synchronous=FULL.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unordered_map>

#include <fmt/format.h>

#include "store/database.h"

namespace lambkin::store {

namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  return Internal(fmt::format("store: {}: {}", what, sqlite3_errmsg(db)));
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void BindText(int index, std::string_view text) override {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int index, std::string_view bytes) override {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  }
  void BindBytes(int index, std::string_view bytes) override { BindText(index, bytes); }
  void BindInt(int index, int64_t value) override { sqlite3_bind_int64(stmt_, index, value); }
  void BindReal(int index, double value) override { sqlite3_bind_double(stmt_, index, value); }
  void BindNull(int index) override { sqlite3_bind_null(stmt_, index); }

  Result<bool> Step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, "step");
  }
  void Reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  std::string_view ColumnView(int col) const override {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  std::string ColumnBlob(int col) const override {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
  }
  int64_t ColumnInt(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double ColumnReal(int col) const override { return sqlite3_column_double(stmt_, col); }
  bool ColumnIsNull(int col) const override {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteConnection final : public Connection {
 public:
  SqliteConnection() = default;
  ~SqliteConnection() override {
    cache_.clear();
    sqlite3_close(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Status Open(const std::string& path) {
    // The store holds secrets (access keys): its owner's alone. SQLite gives its -wal and -shm
    // files the database file's mode.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
    int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      return Internal(fmt::format("store: cannot open {}: {}", path, msg));
    }
    sqlite3_busy_timeout(db_, 10000);
    return Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  }

  Result<Statement> Prepare(std::string_view sql) override {
    if (auto it = cache_.find(std::string(sql)); it != cache_.end()) {
      return Statement(it->second.get());
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      return SqliteError(db_, fmt::format("prepare '{}'", sql));
    }
    auto& slot = cache_[std::string(sql)];
    slot = std::make_unique<SqliteStatement>(db_, stmt);
    return Statement(slot.get());
  }

  Status Exec(std::string_view sql) override {
    std::string copy(sql);
    char* err = nullptr;
    if (sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Internal(fmt::format("store: {}", msg));
    }
    return Status::Ok();
  }

  int64_t Changes() const override { return sqlite3_changes(db_); }

  Status BeginTransaction(Begin kind) override {
    return RunCached(kind == Begin::kRead ? "BEGIN" : "BEGIN IMMEDIATE");
  }
  Status Commit() override { return RunCached("COMMIT"); }
  void Rollback() override { (void)RunCached("ROLLBACK"); }

 private:
  Status RunCached(std::string_view sql) {
    LAMBKIN_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
    return st.Run();
  }

  sqlite3* db_ = nullptr;
  // Prepared statements by SQL text, reused across transactions on this connection.
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenSqlite(const std::string& path) {
  auto conn = std::make_unique<SqliteConnection>();
  LAMBKIN_RETURN_IF_ERROR(conn->Open(path));
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace lambkin::store
