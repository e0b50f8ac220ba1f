#include "store/database.h"

#include <sqlite3.h>

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

std::string Statement::ColumnText(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}
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

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const std::string& schema) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return Internal(fmt::format("store: cannot open {}: {}", path, msg));
  }
  std::unique_ptr<Database> db(new Database(raw));
  sqlite3_busy_timeout(raw, 5000);
  std::lock_guard lock(db->mu_);
  LAMBKIN_RETURN_IF_ERROR(
      db->ExecLocked("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  LAMBKIN_RETURN_IF_ERROR(db->ExecLocked("BEGIN IMMEDIATE"));
  Status s = db->ExecLocked(schema);
  if (!s.ok()) {
    (void)db->ExecLocked("ROLLBACK");
    return s;
  }
  LAMBKIN_RETURN_IF_ERROR(db->ExecLocked("COMMIT"));
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status Database::ExecLocked(std::string_view sql) {
  std::string copy(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Internal(fmt::format("store: {}", msg));
  }
  return Status::Ok();
}

Result<Statement> Database::PrepareLocked(std::string_view sql) {
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) return Statement(db_, it->second, true);
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, fmt::format("prepare '{}'", sql));
  }
  cache_.emplace(std::move(key), stmt);
  return Statement(db_, stmt, true);
}

Result<Statement> Database::Txn::Prepare(std::string_view sql) { return db_->PrepareLocked(sql); }
Status Database::Txn::Exec(std::string_view sql) { return db_->ExecLocked(sql); }
int64_t Database::Txn::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_->db_); }
int64_t Database::Txn::Changes() const { return sqlite3_changes(db_->db_); }

Status Database::Transact(const std::function<Status(Txn&)>& fn) {
  std::lock_guard lock(mu_);
  LAMBKIN_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  Txn txn(this);
  Status s = fn(txn);
  if (!s.ok()) {
    (void)ExecLocked("ROLLBACK");
    return s;
  }
  Status c = ExecLocked("COMMIT");
  if (!c.ok()) (void)ExecLocked("ROLLBACK");
  return c;
}

Status Database::Read(const std::function<Status(Txn&)>& fn) {
  std::lock_guard lock(mu_);
  LAMBKIN_RETURN_IF_ERROR(ExecLocked("BEGIN"));
  Txn txn(this);
  Status s = fn(txn);
  (void)ExecLocked("COMMIT");
  return s;
}

}  // namespace lambkin::store
