// Database: Lambkin's transactional store, an embedded SQLite file by default.
//
// One Database owns one connection. Every change is made inside Transact(), which runs the
// given function in a write transaction (BEGIN IMMEDIATE), commits if it returns OK and rolls
// back otherwise, so a refused request changes nothing. The file runs in WAL mode with
// synchronous=FULL: once Transact() returns OK the change survives a crash or SIGKILL.
//
// Thread-safety: a Database is safe to use from several threads. Transact() callers are
// serialised on the one writer connection (SQLite has one writer anyway); Read() callers each
// take a reader connection from a small pool and see the last committed state (WAL), so reads
// neither wait for each other nor for a writer. Statements belong to the transaction they
// were prepared in and must not outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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
  Statement& BindReal(int index, double value);
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<std::string>& text);
  Statement& Bind(int index, std::optional<int64_t> value);

  // Advances to the next row. Returns true when a row is available, false when done, and an
  // error Status (through `status`) on failure.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();
  // Resets the statement so it can run again with new bindings.
  Status Reset();

  std::string ColumnText(int col) const;
  // The text in place, valid until the next Step/Reset (no copy, for scans).
  std::string_view ColumnView(int col) const;
  int64_t ColumnInt(int col) const;
  double ColumnReal(int col) const;
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

  // One SQLite connection with its cache of prepared statements.
  struct Connection;

  // A handle valid only inside Transact()/Read().
  class Txn {
   public:
    explicit Txn(Connection* conn) : conn_(conn) {}
    Result<Statement> Prepare(std::string_view sql);
    Status Exec(std::string_view sql);
    int64_t LastInsertRowId() const;
    int64_t Changes() const;

   private:
    Connection* conn_;
  };

  // Runs `fn` in a write transaction; commits on OK, rolls back otherwise.
  Status Transact(const std::function<Status(Txn&)>& fn);
  // Runs `fn` in a read transaction (a consistent snapshot).
  Status Read(const std::function<Status(Txn&)>& fn);
  // Runs `fn`, which executes exactly one statement, without an explicit transaction (the
  // statement is its own snapshot); cheaper for the hot single-row reads.
  Status ReadOne(const std::function<Status(Txn&)>& fn);

 private:
  Database(std::string path, std::unique_ptr<Connection> writer);
  Result<Connection*> AcquireReader();
  void ReleaseReader(Connection* conn);

  std::string path_;
  std::unique_ptr<Connection> writer_;
  std::mutex writer_mu_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> readers_;  // every reader ever opened
  std::vector<Connection*> free_readers_;
};

}  // namespace lambkin::store
