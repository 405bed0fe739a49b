#include "store/mysql/mysql_conn.h"

#include "store/sql/placeholders.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>

namespace lynx::store::my {
namespace {

// Server errors.
constexpr unsigned int kErDupEntry = 1062;
constexpr unsigned int kErServerShutdown = 1053;
constexpr unsigned int kErNetReadError = 1158;
constexpr unsigned int kErNetWriteInterrupted = 1161;
constexpr unsigned int kErLockWaitTimeout = 1205;
constexpr unsigned int kErLockDeadlock = 1213;
constexpr unsigned int kErConnectionKilled = 1927;          // MariaDB
constexpr unsigned int kErClientInteractionTimeout = 4031;  // MySQL 8: wait_timeout expired
// Client errors (CR_*) are 2000..2999; all of them leave the connection in doubt.
constexpr unsigned int kCrMin = 2000;
constexpr unsigned int kCrMax = 2999;

// Shortened for messages: the statements are long and the start names them well enough.
std::string Excerpt(const std::string& sql) {
  constexpr size_t kMax = 120;
  return sql.size() <= kMax ? sql : sql.substr(0, kMax) + "...";
}

void InitLibraryOnce() {
  // mysql_init initialises the library on first use, which is not thread-safe: do it once here.
  static std::once_flag once;
  std::call_once(once, [] { mysql_library_init(0, nullptr, nullptr); });
}

struct MetaCloser {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};

}  // namespace

MYSQL_TIME LocalDatetime(UnixMs ms) {
  int64_t secs = ms / 1000;
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  localtime_r(&t, &tm);
  MYSQL_TIME out{};
  out.year = static_cast<unsigned int>(tm.tm_year + 1900);
  out.month = static_cast<unsigned int>(tm.tm_mon + 1);
  out.day = static_cast<unsigned int>(tm.tm_mday);
  out.hour = static_cast<unsigned int>(tm.tm_hour);
  out.minute = static_cast<unsigned int>(tm.tm_min);
  out.second = static_cast<unsigned int>(tm.tm_sec);
  out.second_part = static_cast<unsigned long>(frac * 1000);  // microseconds
  out.time_type = MYSQL_TIMESTAMP_DATETIME;
  return out;
}

UnixMs FromLocalDatetime(const MYSQL_TIME& t) {
  struct tm tm {};
  tm.tm_year = static_cast<int>(t.year) - 1900;
  tm.tm_mon = static_cast<int>(t.month) - 1;
  tm.tm_mday = static_cast<int>(t.day);
  tm.tm_hour = static_cast<int>(t.hour);
  tm.tm_min = static_cast<int>(t.minute);
  tm.tm_sec = static_cast<int>(t.second);
  tm.tm_isdst = -1;  // let the zone rules decide, as the writer's localtime_r did
  return static_cast<UnixMs>(mktime(&tm)) * 1000 + static_cast<UnixMs>(t.second_part / 1000);
}

std::string MyResult::Text(int row, int col) const {
  const Value& v = Cell(row, col);
  if (v.null) return "";
  return v.kind == Kind::kBytes ? v.s : std::to_string(v.i);
}

StatusOr<std::unique_ptr<MyConn>> MyConn::Connect(const MyConnConfig& c) {
  InitLibraryOnce();
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr) return Status::Internal("mysql store: out of memory");
  unsigned int timeout = std::max(1u, c.connect_timeout_s);
  unsigned int protocol = MYSQL_PROTOCOL_TCP;  // "localhost" would otherwise mean the socket
  my_bool reconnect = 0;  // a silent reconnect would lose transactions and prepared statements
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(conn, MYSQL_OPT_PROTOCOL, &protocol);
  mysql_optionsv(conn, MYSQL_OPT_RECONNECT, &reconnect);
  // A server that stops answering (network partition, frozen host) must fail the call rather
  // than hold a store thread for ever; every store statement is short.
  unsigned int io_timeout = 30;
  mysql_optionsv(conn, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(conn, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_optionsv(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_ATTR_ADD, "program_name", "dtmd");
  const std::string where = c.host + ":" + std::to_string(c.port);
  // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, so a compare-and-set that writes
  // the values already stored still counts as done.
  if (mysql_real_connect(conn, c.host.c_str(), c.user.c_str(), c.password.c_str(),
                         c.db.empty() ? nullptr : c.db.c_str(), c.port, nullptr,
                         CLIENT_FOUND_ROWS) == nullptr) {
    Status st =
        Status::Unavailable("mysql store: cannot connect to " + where +
                            (c.db.empty() ? "" : " database " + c.db) + ": " + mysql_error(conn));
    mysql_close(conn);
    return st;
  }
  std::unique_ptr<MyConn> out(new MyConn(conn));
  // READ COMMITTED, as on PostgreSQL: locking reads and updates take record locks only, no gap
  // locks, so the lease and purge scans do not block inserts and status changes next to them.
  // Strict mode: an over-long value is an error, never silently truncated (a cut saga payload
  // would be replayed wrong).
  for (const char* sql :
       {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        "SET SESSION sql_mode = IF(FIND_IN_SET('STRICT_TRANS_TABLES', @@SESSION.sql_mode) > 0,"
        " @@SESSION.sql_mode,"
        " CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_TRANS_TABLES'))"}) {
    if (Status st = out->Exec(sql); !st.ok()) {
      return Status::Unavailable("mysql store: session setup on " + where + ": " + st.message());
    }
  }
  return out;
}

MyConn::~MyConn() {
  for (auto& [sql, prepared] : prepared_) mysql_stmt_close(prepared.stmt);
  mysql_close(conn_);
}

bool MyConn::Broken() const {
  if (broken_) return true;
  unsigned int status = 0;
  mariadb_get_infov(conn_, MARIADB_CONNECTION_SERVER_STATUS, &status);
  return (status & SERVER_STATUS_IN_TRANS) != 0;
}

bool MyConn::Alive() {
  if (mysql_ping(conn_) == 0) return true;
  broken_ = true;
  return false;
}

std::string MyConn::QuoteIdentifier(const std::string& name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  return out + "`";
}

// A lost connection is kUnavailable (the caller may retry elsewhere), and so are deadlocks and
// lock wait timeouts (retrying the whole operation succeeds); a duplicate key is
// kUniqueConflict; anything else kInternal.
Status MyConn::Fail(unsigned int code, const char* message, const std::string& sql) {
  last_errno_ = code;
  std::string text =
      "mysql store: Error " + std::to_string(code) + ": " + message + " in: " + Excerpt(sql);
  const bool gone = code == kErServerShutdown ||
                    (code >= kErNetReadError && code <= kErNetWriteInterrupted) ||
                    code == kErConnectionKilled || code == kErClientInteractionTimeout;
  const bool client_side = code >= kCrMin && code <= kCrMax;
  if (gone || client_side) broken_ = true;
  if (gone || client_side || code == kErLockDeadlock || code == kErLockWaitTimeout) {
    return Status::Unavailable(std::move(text));
  }
  if (code == kErDupEntry) return Status::UniqueConflict(std::move(text));
  return Status::Internal(std::move(text));
}

Status MyConn::Exec(const std::string& sql) {
  if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return ConnError(sql);
  std::unique_ptr<MYSQL_RES, MetaCloser> r(mysql_store_result(conn_));
  if (r == nullptr && mysql_field_count(conn_) != 0) return ConnError(sql);
  return Status::Ok();
}

StatusOr<MyResult> MyConn::Run(const char* sql, const MyParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    sql::PositionalSql positional = sql::ToPositional(sql);
    if (positional.text.empty()) {
      return Status::Internal("mysql store: bad placeholders in: " + Excerpt(sql));
    }
    MYSQL_STMT* stmt = mysql_stmt_init(conn_);
    if (stmt == nullptr) return ConnError(sql);
    if (mysql_stmt_prepare(stmt, positional.text.data(), positional.text.size()) != 0) {
      Status st = StmtError(stmt, sql);
      mysql_stmt_close(stmt);
      return st;
    }
    // Makes mysql_stmt_store_result compute each column's longest value, so Execute can size
    // its buffers before fetching.
    my_bool update_max_length = 1;
    mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max_length);
    it = prepared_.emplace(sql, Prepared{stmt, std::move(positional.order), positional.params})
             .first;
  }
  const Prepared& prepared = it->second;
  if (!prepared.order.empty() && static_cast<size_t>(prepared.params) != params.size()) {
    return Status::Internal("mysql store: " + std::to_string(params.size()) +
                            " parameters for $1..$" + std::to_string(prepared.params) +
                            " in: " + Excerpt(sql));
  }
  return Execute(prepared.stmt, params, sql, prepared.order);
}

StatusOr<MyResult> MyConn::RunOnce(const std::string& sql, const MyParams& params) {
  MYSQL_STMT* stmt = mysql_stmt_init(conn_);
  if (stmt == nullptr) return ConnError(sql);
  std::unique_ptr<MYSQL_STMT, my_bool (*)(MYSQL_STMT*)> closer(stmt, mysql_stmt_close);
  if (mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0) return StmtError(stmt, sql);
  my_bool update_max_length = 1;
  mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max_length);
  return Execute(stmt, params, sql);
}

StatusOr<MyResult> MyConn::Execute(MYSQL_STMT* stmt, const MyParams& params, const std::string& sql,
                                   const std::vector<int>& order) {
  const size_t n = order.empty() ? params.size() : order.size();
  if (mysql_stmt_param_count(stmt) != n) {
    return Status::Internal("mysql store: " + std::to_string(n) + " parameters for " +
                            std::to_string(mysql_stmt_param_count(stmt)) +
                            " placeholders in: " + Excerpt(sql));
  }
  // Sized once: the binds point into these vectors.
  std::vector<MYSQL_BIND> in(n);
  std::vector<MYSQL_TIME> times(n);
  std::vector<unsigned long> lengths(n);
  for (size_t i = 0; i < n; ++i) {
    const MyParams::Value& v = params.values_[order.empty() ? i : static_cast<size_t>(order[i])];
    MYSQL_BIND& b = in[i];
    switch (v.kind) {
      case MyParams::Kind::kText:
      case MyParams::Kind::kBytes:
        b.buffer_type = v.kind == MyParams::Kind::kText ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
        b.buffer = const_cast<char*>(v.s.data());
        lengths[i] = static_cast<unsigned long>(v.s.size());
        b.buffer_length = lengths[i];
        b.length = &lengths[i];
        break;
      case MyParams::Kind::kInt:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<int64_t*>(&v.i);
        break;
      case MyParams::Kind::kTime:
        times[i] = LocalDatetime(v.i);
        b.buffer_type = MYSQL_TYPE_DATETIME;
        b.buffer = &times[i];
        break;
      case MyParams::Kind::kNull:
        b.buffer_type = MYSQL_TYPE_NULL;
        break;
    }
  }
  if (n > 0 && mysql_stmt_bind_param(stmt, in.data()) != 0) return StmtError(stmt, sql);
  if (mysql_stmt_execute(stmt) != 0) return StmtError(stmt, sql);

  MyResult result;
  const unsigned int cols = mysql_stmt_field_count(stmt);
  if (cols == 0) {
    result.affected_ = static_cast<int64_t>(mysql_stmt_affected_rows(stmt));
    result.insert_id_ = static_cast<int64_t>(mysql_stmt_insert_id(stmt));
    return result;
  }
  // The rows are buffered on the client, then copied out; the statement is freed for reuse on
  // every path.
  std::unique_ptr<MYSQL_STMT, my_bool (*)(MYSQL_STMT*)> free_result(stmt, mysql_stmt_free_result);
  if (mysql_stmt_store_result(stmt) != 0) return StmtError(stmt, sql);
  std::unique_ptr<MYSQL_RES, MetaCloser> meta(mysql_stmt_result_metadata(stmt));
  if (meta == nullptr) return StmtError(stmt, sql);
  const MYSQL_FIELD* fields = mysql_fetch_fields(meta.get());

  for (unsigned int c = 0; c < cols; ++c) result.names_.emplace_back(fields[c].name);
  std::vector<MYSQL_BIND> out(cols);
  std::vector<MyResult::Kind> kinds(cols);
  std::vector<std::string> buffers(cols);
  std::vector<int64_t> ints(cols);
  std::vector<MYSQL_TIME> stamps(cols);
  std::vector<unsigned long> out_lengths(cols);
  std::vector<my_bool> nulls(cols);
  for (unsigned int c = 0; c < cols; ++c) {
    MYSQL_BIND& b = out[c];
    b.is_null = &nulls[c];
    b.length = &out_lengths[c];
    switch (fields[c].type) {
      case MYSQL_TYPE_TINY:
      case MYSQL_TYPE_SHORT:
      case MYSQL_TYPE_INT24:
      case MYSQL_TYPE_LONG:
      case MYSQL_TYPE_LONGLONG:
      case MYSQL_TYPE_YEAR:
        kinds[c] = MyResult::Kind::kInt;
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &ints[c];
        break;
      case MYSQL_TYPE_DATETIME:
      case MYSQL_TYPE_TIMESTAMP:
      case MYSQL_TYPE_DATE:
        kinds[c] = MyResult::Kind::kTime;
        b.buffer_type = MYSQL_TYPE_DATETIME;
        b.buffer = &stamps[c];
        break;
      default:  // text, blobs, decimals: bytes as the server sends them
        kinds[c] = MyResult::Kind::kBytes;
        buffers[c].resize(std::max<unsigned long>(1, fields[c].max_length));
        b.buffer_type = MYSQL_TYPE_BLOB;
        b.buffer = buffers[c].data();
        b.buffer_length = static_cast<unsigned long>(buffers[c].size());
        break;
    }
  }
  if (mysql_stmt_bind_result(stmt, out.data()) != 0) return StmtError(stmt, sql);
  for (;;) {
    int rc = mysql_stmt_fetch(stmt);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) return StmtError(stmt, sql);
    std::vector<MyResult::Value> row(cols);
    for (unsigned int c = 0; c < cols; ++c) {
      MyResult::Value& v = row[c];
      v.kind = kinds[c];
      v.null = nulls[c] != 0;
      if (v.null) continue;
      switch (kinds[c]) {
        case MyResult::Kind::kInt:
          v.i = ints[c];
          break;
        case MyResult::Kind::kTime:
          v.i = FromLocalDatetime(stamps[c]);
          break;
        case MyResult::Kind::kBytes:
          if (out_lengths[c] <= buffers[c].size()) {
            v.s.assign(buffers[c].data(), out_lengths[c]);
          } else {
            // Longer than max_length promised (MYSQL_DATA_TRUNCATED): fetch the whole value.
            v.s.resize(out_lengths[c]);
            MYSQL_BIND whole{};
            unsigned long length = 0;
            whole.buffer_type = MYSQL_TYPE_BLOB;
            whole.buffer = v.s.data();
            whole.buffer_length = out_lengths[c];
            whole.length = &length;
            if (mysql_stmt_fetch_column(stmt, &whole, c, 0) != 0) return StmtError(stmt, sql);
          }
          break;
      }
    }
    result.rows_.push_back(std::move(row));
  }
  return result;
}

MyPool::MyPool(MyConnConfig config, size_t max_conns, std::chrono::seconds max_life)
    : config_(std::move(config)), max_conns_(max_conns < 1 ? 1 : max_conns), max_life_(max_life) {}

StatusOr<MyPool::Lease> MyPool::Acquire() {
  for (;;) {
    Idle idle;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_conns_; });
      if (idle_.empty()) {
        ++open_;  // reserved while connecting, outside the lock
        break;
      }
      idle = std::move(idle_.back());
      idle_.pop_back();
    }
    if (std::chrono::steady_clock::now() - idle.since < kIdleCheck || idle.conn->Alive()) {
      return Lease(this, std::move(idle.conn));
    }
    // Closed by the server while idle: Release discards it (and the other idle ones).
    Lease discard(this, std::move(idle.conn));
  }
  auto conn = MyConn::Connect(config_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void MyPool::Release(std::unique_ptr<MyConn> conn) {
  std::vector<std::unique_ptr<MyConn>> closing;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    if (conn->Broken()) {
      closing.push_back(std::move(conn));
      for (auto& idle : idle_) closing.push_back(std::move(idle.conn));
      open_ -= closing.size();
      idle_.clear();
      cv_.notify_all();
    } else if (max_life_.count() > 0 &&
               std::chrono::steady_clock::now() - conn->opened() >= max_life_) {
      closing.push_back(std::move(conn));
      --open_;
      cv_.notify_one();
    } else {
      idle_.push_back(Idle{std::move(conn), std::chrono::steady_clock::now()});
      cv_.notify_one();
    }
  }
}

}  // namespace lynx::store::my
