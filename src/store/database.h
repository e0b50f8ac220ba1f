// Database: Lambkin's transactional store. Two engines speak the same SQL through it: an
// embedded SQLite file (the default, one node) and PostgreSQL through libpq (one database
// shared by many nodes).
//
// Every change is made inside Transact(), which runs the given function in a write
// transaction, commits if it returns OK and rolls back otherwise, so a refused request changes
// nothing. Once Transact() returns OK the change survives a crash, a SIGKILL or (PostgreSQL) a
// restart of the database server.
//
// Write transactions are serialised, on both engines: SQLite has one writer (BEGIN
// IMMEDIATE); on PostgreSQL every write transaction first takes one transaction-scoped
// advisory lock, so writers on every node run one after another and each sees everything
// committed before it. A read-modify-write inside Transact() therefore never loses an update,
// under PostgreSQL's READ COMMITTED as under SQLite. Work that must scale past one writer
// (claiming queued work) uses TransactConcurrent() and row locks (`FOR UPDATE SKIP LOCKED`)
// instead. Read() runs in a consistent snapshot; ReadOne() runs a single statement.
//
// SQL is written once in the dialect both engines share: `?` / `?N` placeholders (sent to
// PostgreSQL as `$N`), `INSERT … ON CONFLICT … DO UPDATE/NOTHING`, `RETURNING`, `COALESCE`.
// Schema changes are numbered migrations per subsystem (Migration), recorded in the
// `schema_migrations` table.
//
// A lost connection (PostgreSQL restarted, network cut) fails the call with kUnavailable (a
// retryable 503 to clients); the next call reconnects.
//
// Thread-safety: a Database is safe to use from several threads. Statements belong to the
// transaction they were prepared in and must not outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lambkin::store {

enum class Engine { kSqlite, kPostgres };

// One prepared statement of one connection (engine-specific; see sqlite.cc, postgres.cc).
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void BindText(int index, std::string_view text) = 0;
  virtual void BindBlob(int index, std::string_view bytes) = 0;
  // Bytes compared bytewise that may not be UTF-8, in a column that is TEXT on SQLite and BYTEA
  // on PostgreSQL.
  virtual void BindBytes(int index, std::string_view bytes) = 0;
  virtual void BindInt(int index, int64_t value) = 0;
  virtual void BindReal(int index, double value) = 0;
  virtual void BindNull(int index) = 0;
  virtual Result<bool> Step() = 0;
  virtual void Reset() = 0;
  virtual std::string_view ColumnView(int col) const = 0;
  virtual std::string ColumnBlob(int col) const = 0;
  virtual int64_t ColumnInt(int col) const = 0;
  virtual double ColumnReal(int col) const = 0;
  virtual bool ColumnIsNull(int col) const = 0;
};

class Statement {
 public:
  // The statement is the connection's (cached); it is reset when the Statement goes away.
  explicit Statement(StatementImpl* impl) : impl_(impl) {}
  Statement(Statement&& other) noexcept : impl_(other.impl_) { other.impl_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() {
    if (impl_ != nullptr) impl_->Reset();
  }

  // Bind by 1-based index. Text and blobs are copied. Text must be valid UTF-8 without NUL
  // (PostgreSQL's text); arbitrary bytes go through BindBlob into a BLOB/BYTEA column.
  Statement& Bind(int index, std::string_view text) {
    impl_->BindText(index, text);
    return *this;
  }
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& Bind(int index, int64_t value) {
    impl_->BindInt(index, value);
    return *this;
  }
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& BindReal(int index, double value) {
    impl_->BindReal(index, value);
    return *this;
  }
  Statement& BindBlob(int index, std::string_view bytes) {
    impl_->BindBlob(index, bytes);
    return *this;
  }
  // Bytes for a column that is TEXT on SQLite and BYTEA on PostgreSQL (bytewise comparisons of
  // text that may not be UTF-8, such as a cut-off prefix).
  Statement& BindBytes(int index, std::string_view bytes) {
    impl_->BindBytes(index, bytes);
    return *this;
  }
  Statement& BindNull(int index) {
    impl_->BindNull(index);
    return *this;
  }
  Statement& Bind(int index, const std::optional<std::string>& text) {
    return text ? Bind(index, std::string_view(*text)) : BindNull(index);
  }
  Statement& Bind(int index, std::optional<int64_t> value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> Step() { return impl_->Step(); }
  // Runs a statement that returns no rows (or ignores them).
  Status Run() { return impl_->Step().status(); }
  // Resets the statement so it can run again with new bindings.
  Status Reset() {
    impl_->Reset();
    return Status::Ok();
  }

  std::string ColumnText(int col) const { return std::string(impl_->ColumnView(col)); }
  // The text in place, valid until the next Step/Reset (no copy, for scans).
  std::string_view ColumnView(int col) const { return impl_->ColumnView(col); }
  std::string ColumnBlob(int col) const { return impl_->ColumnBlob(col); }
  // Integers; a boolean expression reads as 0 or 1 on both engines.
  int64_t ColumnInt(int col) const { return impl_->ColumnInt(col); }
  double ColumnReal(int col) const { return impl_->ColumnReal(col); }
  bool ColumnIsNull(int col) const { return impl_->ColumnIsNull(col); }
  std::optional<std::string> ColumnOptionalText(int col) const {
    if (ColumnIsNull(col)) return std::nullopt;
    return ColumnText(col);
  }
  std::optional<int64_t> ColumnOptionalInt(int col) const {
    if (ColumnIsNull(col)) return std::nullopt;
    return ColumnInt(col);
  }

 private:
  StatementImpl* impl_;
};

// One connection of an engine, with its cache of prepared statements.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual Result<Statement> Prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters or results (DDL).
  virtual Status Exec(std::string_view sql) = 0;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  virtual int64_t Changes() const = 0;
  enum class Begin { kWrite, kConcurrentWrite, kRead };
  virtual Status BeginTransaction(Begin kind) = 0;
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // True when the connection is gone (the server restarted); the pool then reconnects.
  virtual bool Broken() const { return false; }
};

class Database;

// A numbered schema change of one subsystem. Migrations of a subsystem run in order, once per
// store, each in the transaction that records it. `sqlite` is the DDL as SQLite takes it;
// PostgreSQL runs `postgres` when given, else `sqlite` translated by PostgresDdl(). `upgrade`
// (optional) runs after the DDL in the same transaction, for data or engine-specific work.
struct Migration;
class Txn;
using Migrations = std::vector<Migration>;

class Txn {
 public:
  Txn(Connection* conn, Engine engine) : conn_(conn), engine_(engine) {}
  Result<Statement> Prepare(std::string_view sql) { return conn_->Prepare(sql); }
  Status Exec(std::string_view sql) { return conn_->Exec(sql); }
  int64_t Changes() const { return conn_->Changes(); }
  Engine engine() const { return engine_; }

 private:
  Connection* conn_;
  Engine engine_;
};

struct Migration {
  std::string subsystem;
  int number = 0;
  std::string sqlite;
  std::string postgres;  // empty: PostgresDdl(sqlite)
  std::function<Status(Txn&)> upgrade;
};

// Concatenates the migrations of several subsystems (applied in this order).
Migrations operator+(Migrations a, const Migrations& b);

// SQLite DDL as PostgreSQL takes it: INTEGER → BIGINT (identity when it is the rowid alias),
// REAL → DOUBLE PRECISION, BLOB → BYTEA, no WITHOUT ROWID.
std::string PostgresDdl(std::string_view sqlite_ddl);

// Adds a column that stores from an earlier release lack (a no-op when it is there).
Status AddColumnIfMissing(Txn& txn, std::string_view table, std::string_view column,
                          std::string_view type);

// Records that something other nodes cache changed (`topic`: "iam", "catalog", …): bumps the
// topic's generation in `store_topics` and, on PostgreSQL, notifies channel kChangesChannel
// with the topic, delivered when the transaction commits. Call it inside the write transaction
// that makes the change. Nodes reload what they cache when the generation moves (Cluster).
Status Touch(Txn& txn, std::string_view topic);
inline constexpr char kChangesChannel[] = "lambkin_changes";

// A PostgreSQL connection that LISTENs on a channel.
class Listener {
 public:
  virtual ~Listener() = default;
  // Waits up to `timeout` for notifications; returns the payloads that arrived (empty on a
  // timeout). kUnavailable when the connection is lost (make a new Listener).
  virtual Result<std::vector<std::string>> Wait(std::chrono::milliseconds timeout) = 0;
};
Result<std::unique_ptr<Listener>> ListenPostgres(const std::string& url,
                                                 const std::string& channel);

// `postgres://…` or `postgresql://…` (a libpq connection URI) names a PostgreSQL database.
bool IsPostgresUrl(std::string_view location);

class Database {
 public:
  // Opens the store at `location` — a SQLite file path (created if needed) or a PostgreSQL
  // URI — and applies the migrations it has not seen yet.
  static Result<std::unique_ptr<Database>> Open(const std::string& location,
                                                const Migrations& migrations = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  using Txn = store::Txn;

  Engine engine() const { return engine_; }
  // The location with any password removed, for messages.
  const std::string& display_name() const { return display_; }

  // Applies the migrations not yet recorded (safe against other nodes doing the same).
  Status Migrate(const Migrations& migrations);

  // Runs `fn` in a serialised write transaction; commits on OK, rolls back otherwise.
  Status Transact(const std::function<Status(Txn&)>& fn);
  // Runs `fn` in a write transaction that other writers may run beside (PostgreSQL); `fn`
  // takes the row locks it needs. The same as Transact() on SQLite.
  Status TransactConcurrent(const std::function<Status(Txn&)>& fn);
  // Runs `fn` in a read transaction (a consistent snapshot).
  Status Read(const std::function<Status(Txn&)>& fn);
  // Runs `fn`, which executes exactly one statement, without an explicit transaction (the
  // statement is its own snapshot); cheaper for the hot single-row reads.
  Status ReadOne(const std::function<Status(Txn&)>& fn);

  // A connection listening on `channel` (PostgreSQL only).
  Result<std::unique_ptr<Listener>> Listen(const std::string& channel) const;

  using Connector = std::function<Result<std::unique_ptr<Connection>>()>;

 private:
  Database(Engine engine, std::string location, Connector connect);
  Result<Connection*> Acquire();
  void Release(Connection* conn);
  Status Run(Connection::Begin kind, const std::function<Status(Txn&)>& fn);

  Engine engine_;
  std::string location_;
  std::string display_;
  Connector connect_;
  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;  // SQLite: the one writer
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> pool_;  // every pooled connection ever opened
  std::vector<Connection*> free_;
};

// Engine constructors (sqlite.cc, postgres.cc).
Result<std::unique_ptr<Connection>> OpenSqlite(const std::string& path);
Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& url);

}  // namespace lambkin::store
