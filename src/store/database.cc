#include "store/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace lambkin::store {

namespace {

Status SqliteError(sqlite3* db, std::string_view what) {
  return Internal(fmt::format("store: {}: {}", what, sqlite3_errmsg(db)));
}

}  // namespace

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), cached_(other.cached_) {
  other.stmt_ = nullptr;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cached_) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::BindReal(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}
Statement& Statement::Bind(int index, const std::optional<std::string>& text) {
  return text ? Bind(index, std::string_view(*text)) : BindNull(index);
}
Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  return value ? Bind(index, *value) : BindNull(index);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, "step");
}

Status Statement::Run() {
  Result<bool> r = Step();
  return r.status();
}

Status Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return Status::Ok();
}

std::string Statement::ColumnText(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}
std::string_view Statement::ColumnView(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}
double Statement::ColumnReal(int col) const { return sqlite3_column_double(stmt_, col); }
int64_t Statement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
std::optional<std::string> Statement::ColumnOptionalText(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnText(col);
}
std::optional<int64_t> Statement::ColumnOptionalInt(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnInt(col);
}

struct Database::Connection {
  sqlite3* db = nullptr;
  // Prepared statements by SQL text, reused across transactions on this connection.
  std::unordered_map<std::string, sqlite3_stmt*> cache;

  ~Connection() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  static Result<std::unique_ptr<Connection>> Open(const std::string& path) {
    // The store holds secrets (access keys): its owner's alone. SQLite gives its -wal and -shm
    // files the database file's mode.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
    auto conn = std::make_unique<Connection>();
    int rc =
        sqlite3_open_v2(path.c_str(), &conn->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = conn->db != nullptr ? sqlite3_errmsg(conn->db) : "out of memory";
      return Internal(fmt::format("store: cannot open {}: {}", path, msg));
    }
    sqlite3_busy_timeout(conn->db, 10000);
    LAMBKIN_RETURN_IF_ERROR(
        conn->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
    return conn;
  }

  Status Exec(std::string_view sql) {
    std::string copy(sql);
    char* err = nullptr;
    if (sqlite3_exec(db, copy.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Internal(fmt::format("store: {}", msg));
    }
    return Status::Ok();
  }

  Result<Statement> Prepare(std::string_view sql) {
    if (auto it = cache.find(std::string(sql)); it != cache.end()) {
      return Statement(db, it->second, true);
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      return SqliteError(db, fmt::format("prepare '{}'", sql));
    }
    cache.emplace(std::string(sql), stmt);
    return Statement(db, stmt, true);
  }

  // Runs a cached one-statement command (BEGIN, COMMIT, ROLLBACK).
  Status Run(std::string_view sql) {
    LAMBKIN_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
    return st.Run();
  }

  // Runs `fn` between `begin` and COMMIT, rolling back when it fails.
  Status InTransaction(std::string_view begin, const std::function<Status(Txn&)>& fn) {
    LAMBKIN_RETURN_IF_ERROR(Run(begin));
    Txn txn(this);
    Status s = fn(txn);
    if (!s.ok()) {
      (void)Run("ROLLBACK");
      return s;
    }
    Status c = Run("COMMIT");
    if (!c.ok()) (void)Run("ROLLBACK");
    return c;
  }
};

Database::Database(std::string path, std::unique_ptr<Connection> writer)
    : path_(std::move(path)), writer_(std::move(writer)) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const std::string& schema) {
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer, Connection::Open(path));
  LAMBKIN_RETURN_IF_ERROR(writer->InTransaction(
      "BEGIN IMMEDIATE", [&](Txn& txn) -> Status { return txn.Exec(schema); }));
  return std::unique_ptr<Database>(new Database(path, std::move(writer)));
}

Result<Statement> Database::Txn::Prepare(std::string_view sql) { return conn_->Prepare(sql); }
Status Database::Txn::Exec(std::string_view sql) { return conn_->Exec(sql); }
int64_t Database::Txn::LastInsertRowId() const { return sqlite3_last_insert_rowid(conn_->db); }
int64_t Database::Txn::Changes() const { return sqlite3_changes(conn_->db); }

Status Database::Transact(const std::function<Status(Txn&)>& fn) {
  std::lock_guard lock(writer_mu_);
  return writer_->InTransaction("BEGIN IMMEDIATE", fn);
}

Result<Database::Connection*> Database::AcquireReader() {
  {
    std::lock_guard lock(pool_mu_);
    if (!free_readers_.empty()) {
      Connection* c = free_readers_.back();
      free_readers_.pop_back();
      return c;
    }
  }
  LAMBKIN_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path_));
  std::lock_guard lock(pool_mu_);
  readers_.push_back(std::move(conn));
  return readers_.back().get();
}

void Database::ReleaseReader(Connection* conn) {
  std::lock_guard lock(pool_mu_);
  free_readers_.push_back(conn);
}

Status Database::ReadOne(const std::function<Status(Txn&)>& fn) {
  LAMBKIN_ASSIGN_OR_RETURN(Connection * conn, AcquireReader());
  Txn txn(conn);
  Status s = fn(txn);
  ReleaseReader(conn);
  return s;
}

Status Database::Read(const std::function<Status(Txn&)>& fn) {
  LAMBKIN_ASSIGN_OR_RETURN(Connection * conn, AcquireReader());
  Status s = conn->InTransaction("BEGIN", fn);
  ReleaseReader(conn);
  return s;
}

}  // namespace lambkin::store
