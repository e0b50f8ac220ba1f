// The PostgreSQL engine (libpq). Statements are prepared once per connection with `?`/`?N`
// rewritten to `$N`; parameters go as text (blobs as binary bytea), results come back as text.
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

#include <charconv>
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>

#include "store/database.h"

namespace lambkin::store {

namespace {

// The advisory lock every serialised write transaction takes ("lambkin" in ASCII).
constexpr std::string_view kBeginWrite = "BEGIN; SELECT pg_advisory_xact_lock(120259660)";

bool ConnectionLost(const char* sqlstate) {
  if (sqlstate == nullptr) return false;
  std::string_view s(sqlstate);
  // 08: connection exception; 57P01-03: shutdown / cannot connect now; 40001/40P01: a
  // serialization failure or deadlock (the transaction may be retried).
  return s.starts_with("08") || s == "57P01" || s == "57P02" || s == "57P03" || s == "40001" ||
         s == "40P01";
}

// Rewrites SQLite-style placeholders (`?`, `?N`) to PostgreSQL's `$N`, leaving string literals,
// quoted identifiers and comments alone. Returns the number of parameters.
int TranslatePlaceholders(std::string_view sql, std::string& out) {
  out.clear();
  out.reserve(sql.size() + 16);
  int highest = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      size_t end = sql.find(c, i + 1);
      while (end != std::string_view::npos && end + 1 < sql.size() && sql[end + 1] == c) {
        end = sql.find(c, end + 2);
      }
      if (end == std::string_view::npos) end = sql.size() - 1;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size() - 1;
      out.append(sql.substr(i, end - i + 1));
      i = end;
    } else if (c == '?') {
      size_t j = i + 1;
      int n = 0;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') n = n * 10 + (sql[j++] - '0');
      if (j == i + 1) n = highest + 1;
      highest = std::max(highest, n);
      out += fmt::format("${}", n);
      i = j - 1;
    } else {
      out += c;
    }
  }
  return highest;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

class PgConnection;

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgConnection* conn, std::string name, int params)
      : conn_(conn),
        name_(std::move(name)),
        values_(static_cast<size_t>(params)),
        set_(static_cast<size_t>(params), 0),
        formats_(static_cast<size_t>(params), 0) {}
  ~PgStatement() override { Clear(); }
  PgStatement(const PgStatement&) = delete;
  PgStatement& operator=(const PgStatement&) = delete;

  void BindText(int index, std::string_view text) override { Set(index, text, 0); }
  void BindBlob(int index, std::string_view bytes) override { Set(index, bytes, 1); }
  void BindBytes(int index, std::string_view bytes) override { Set(index, bytes, 1); }
  void BindInt(int index, int64_t value) override { Set(index, fmt::format("{}", value), 0); }
  void BindReal(int index, double value) override { Set(index, fmt::format("{}", value), 0); }
  void BindNull(int index) override {
    if (index >= 1 && static_cast<size_t>(index) <= set_.size()) set_[index - 1] = 0;
  }

  Result<bool> Step() override;
  void Reset() override {
    Clear();
    std::fill(set_.begin(), set_.end(), 0);
    std::fill(formats_.begin(), formats_.end(), 0);
  }

  std::string_view ColumnView(int col) const override {
    return {PQgetvalue(result_, row_, col), static_cast<size_t>(PQgetlength(result_, row_, col))};
  }
  std::string ColumnBlob(int col) const override {
    std::string_view text = ColumnView(col);
    if (!text.starts_with("\\x")) return std::string(text);
    std::string out;
    out.reserve((text.size() - 2) / 2);
    for (size_t i = 2; i + 1 < text.size(); i += 2) {
      out += static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1]));
    }
    return out;
  }
  int64_t ColumnInt(int col) const override {
    std::string_view text = ColumnView(col);
    if (text == "t") return 1;
    if (text == "f") return 0;
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      // numeric results (SUM of bigint) may carry a fraction.
      return static_cast<int64_t>(std::strtod(std::string(text).c_str(), nullptr));
    }
    return v;
  }
  double ColumnReal(int col) const override {
    return std::strtod(PQgetvalue(result_, row_, col), nullptr);
  }
  bool ColumnIsNull(int col) const override { return PQgetisnull(result_, row_, col) != 0; }

 private:
  void Set(int index, std::string_view value, int format) {
    if (index < 1 || static_cast<size_t>(index) > set_.size()) return;
    values_[index - 1].assign(value.data(), value.size());
    set_[index - 1] = 1;
    formats_[index - 1] = format;
  }
  void Clear() {
    if (result_ != nullptr) PQclear(result_);
    result_ = nullptr;
    row_ = -1;
  }

  PgConnection* conn_;
  std::string name_;
  std::vector<std::string> values_;
  std::vector<char> set_;
  std::vector<int> formats_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

class PgConnection final : public Connection {
 public:
  PgConnection() = default;
  ~PgConnection() override {
    cache_.clear();
    if (conn_ != nullptr) PQfinish(conn_);
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  Status Open(const std::string& url) {
    // Defaults first: what the URL says wins.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "lambkin", url.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (conn_ == nullptr) return Unavailable("store: cannot connect to PostgreSQL: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Unavailable(
          fmt::format("store: cannot connect to PostgreSQL: {}", Trim(PQerrorMessage(conn_))));
    }
    // Quiet NOTICEs (CREATE … IF NOT EXISTS on an existing table says so).
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return Status::Ok();
  }

  // Turns a failed result into a Status (and frees it).
  Status Fail(PGresult* res, std::string_view what) {
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string msg = Trim(res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
    if (msg.empty()) msg = Trim(PQerrorMessage(conn_));
    bool lost = PQstatus(conn_) != CONNECTION_OK || ConnectionLost(state);
    if (res != nullptr) PQclear(res);
    std::string text = fmt::format("store: {}: {}", what, msg);
    return lost ? Unavailable(std::move(text)) : Internal(std::move(text));
  }

  Result<Statement> Prepare(std::string_view sql) override {
    if (auto it = cache_.find(std::string(sql)); it != cache_.end()) {
      return Statement(it->second.get());
    }
    std::string translated;
    int params = TranslatePlaceholders(sql, translated);
    std::string name = fmt::format("s{}", cache_.size());
    PGresult* res = PQprepare(conn_, name.c_str(), translated.c_str(), params, nullptr);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      return Fail(res, fmt::format("prepare '{}'", sql));
    }
    PQclear(res);
    auto& slot = cache_[std::string(sql)];
    slot = std::make_unique<PgStatement>(this, std::move(name), params);
    return Statement(slot.get());
  }

  Status Exec(std::string_view sql) override {
    PGresult* res = PQexec(conn_, std::string(sql).c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(res, "exec");
    PQclear(res);
    return Status::Ok();
  }

  int64_t Changes() const override { return changes_; }

  Status BeginTransaction(Begin kind) override {
    switch (kind) {
      case Begin::kWrite:
        return Exec(kBeginWrite);
      case Begin::kConcurrentWrite:
        return Exec("BEGIN");
      case Begin::kRead:
        return Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    }
    return Status::Ok();
  }
  Status Commit() override {
    PGresult* res = PQexec(conn_, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return Fail(res, "commit");
    // COMMIT of a transaction that failed answers ROLLBACK.
    bool rolled_back = std::string_view(PQcmdStatus(res)) == "ROLLBACK";
    PQclear(res);
    if (rolled_back) return Internal("store: the transaction failed and was rolled back");
    return Status::Ok();
  }
  void Rollback() override {
    if (PQstatus(conn_) != CONNECTION_OK) return;
    PGresult* res = PQexec(conn_, "ROLLBACK");
    PQclear(res);
  }
  bool Broken() const override { return PQstatus(conn_) != CONNECTION_OK; }
  PGconn* raw() const { return conn_; }

  // Runs a prepared statement; stores the row count it changed.
  Result<PGresult*> Execute(const std::string& name, const std::vector<std::string>& values,
                            const std::vector<char>& set, const std::vector<int>& formats) {
    std::vector<const char*> ptrs(values.size());
    std::vector<int> lengths(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      ptrs[i] = set[i] != 0 ? values[i].c_str() : nullptr;
      lengths[i] = static_cast<int>(values[i].size());
    }
    PGresult* res = PQexecPrepared(conn_, name.c_str(), static_cast<int>(values.size()),
                                   ptrs.data(), lengths.data(), formats.data(), 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(res, "execute");
    const char* n = PQcmdTuples(res);
    changes_ = (n != nullptr && *n != '\0') ? std::strtoll(n, nullptr, 10) : 0;
    return res;
  }

 private:
  static std::string Trim(const char* text) {
    std::string s = text != nullptr ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  PGconn* conn_ = nullptr;
  int64_t changes_ = 0;
  std::unordered_map<std::string, std::unique_ptr<PgStatement>> cache_;
};

Result<bool> PgStatement::Step() {
  if (result_ == nullptr) {
    LAMBKIN_ASSIGN_OR_RETURN(result_, conn_->Execute(name_, values_, set_, formats_));
    row_ = -1;
  }
  ++row_;
  return row_ < PQntuples(result_);
}

class PgListener final : public Listener {
 public:
  explicit PgListener(std::unique_ptr<PgConnection> conn)
      : conn_(std::move(conn)), raw_(conn_->raw()) {}

  Result<std::vector<std::string>> Wait(std::chrono::milliseconds timeout) override {
    std::vector<std::string> out;
    Drain(out);
    if (!out.empty()) return out;
    int fd = PQsocket(raw_);
    if (fd < 0 || PQstatus(raw_) != CONNECTION_OK) {
      return Unavailable("store: the LISTEN connection is lost");
    }
    pollfd pfd{fd, POLLIN, 0};
    int n = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno != EINTR) return Unavailable("store: poll on the LISTEN connection failed");
    if (n > 0 && PQconsumeInput(raw_) == 0) {
      return Unavailable(
          fmt::format("store: the LISTEN connection is lost: {}", PQerrorMessage(raw_)));
    }
    Drain(out);
    return out;
  }

 private:
  void Drain(std::vector<std::string>& out) {
    while (PGnotify* note = PQnotifies(raw_)) {
      out.emplace_back(note->extra != nullptr ? note->extra : "");
      PQfreemem(note);
    }
  }

  std::unique_ptr<PgConnection> conn_;
  PGconn* raw_;
};

}  // namespace

Result<std::unique_ptr<Listener>> ListenPostgres(const std::string& url,
                                                 const std::string& channel) {
  auto conn = std::make_unique<PgConnection>();
  LAMBKIN_RETURN_IF_ERROR(conn->Open(url));
  LAMBKIN_RETURN_IF_ERROR(conn->Exec(fmt::format("LISTEN {}", channel)));
  return std::unique_ptr<Listener>(std::make_unique<PgListener>(std::move(conn)));
}

Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& url) {
  auto conn = std::make_unique<PgConnection>();
  LAMBKIN_RETURN_IF_ERROR(conn->Open(url));
  return std::unique_ptr<Connection>(std::move(conn));
}

}  // namespace lambkin::store
