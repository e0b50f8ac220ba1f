// Database: Lambkin's transactional store, an embedded SQLite file by default.
//
// One Database owns one connection. Every change is made inside Transact(), which runs the
// given function in a write transaction (BEGIN IMMEDIATE), commits if it returns OK and rolls
// back otherwise, so a refused request changes nothing. The file runs in WAL mode with
// synchronous=FULL: once Transact() returns OK the change survives a crash or SIGKILL.
//
// Thread-safety: a Database is safe to use from several threads; Transact() and Read()
// serialise callers on an internal mutex (SQLite has one writer anyway). Statements belong to
// the transaction they were prepared in and must not outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace lambkin::store {

class Statement {
 public:
  // A cached statement is reset (not finalised) when the Statement goes away.
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool cached) : db_(db), stmt_(stmt), cached_(cached) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Bind by 1-based index. Text and blobs are copied.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<std::string>& text);
  Statement& Bind(int index, std::optional<int64_t> value);

  // Advances to the next row. Returns true when a row is available, false when done, and an
  // error Status (through `status`) on failure.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();

  std::string ColumnText(int col) const;
  int64_t ColumnInt(int col) const;
  bool ColumnIsNull(int col) const;
  std::optional<std::string> ColumnOptionalText(int col) const;
  std::optional<int64_t> ColumnOptionalInt(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool cached_;
};

class Database {
 public:
  // Opens (creating if needed) the SQLite file at `path` and applies `schema` (idempotent DDL).
  static Result<std::unique_ptr<Database>> Open(const std::string& path, const std::string& schema);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A handle valid only inside Transact()/Read().
  class Txn {
   public:
    explicit Txn(Database* db) : db_(db) {}
    Result<Statement> Prepare(std::string_view sql);
    Status Exec(std::string_view sql);
    int64_t LastInsertRowId() const;
    int64_t Changes() const;

   private:
    Database* db_;
  };

  // Runs `fn` in a write transaction; commits on OK, rolls back otherwise.
  Status Transact(const std::function<Status(Txn&)>& fn);
  // Runs `fn` in a read transaction (a consistent snapshot).
  Status Read(const std::function<Status(Txn&)>& fn);

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  Status ExecLocked(std::string_view sql);
  Result<Statement> PrepareLocked(std::string_view sql);

  sqlite3* db_;
  std::mutex mu_;
  // Prepared statements by SQL text, reused across transactions (guarded by mu_).
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace lambkin::store
