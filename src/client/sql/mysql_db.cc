// SqlDb over one MySQL/MariaDB connection (MariaDB Connector/C). Parameters are interpolated on
// the client, each escaped by mysql_real_escape_string for the connection's character set and
// quoted, which is what Go's driver does with interpolateParams and keeps one round trip per
// statement.
#include <mysql.h>

#include <memory>
#include <mutex>
#include <utility>

#include "client/sql/sql_drivers.h"

namespace lynx::dtm::internal {
namespace {

constexpr unsigned int kErDupEntry = 1062;
constexpr unsigned int kErLockWaitTimeout = 1205;
constexpr unsigned int kErLockDeadlock = 1213;
constexpr unsigned int kCrServerGone = 2006;
constexpr unsigned int kCrServerLost = 2013;

struct ResultCloser {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};
using ResultPtr = std::unique_ptr<MYSQL_RES, ResultCloser>;

class MysqlDb final : public SqlDb {
 public:
  explicit MysqlDb(MYSQL* conn) : conn_(conn) {}
  ~MysqlDb() override { mysql_close(conn_); }

  SqlDriver driver() const override { return SqlDriver::kMysql; }

  Status Exec(const std::string& sql) override {
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Error(sql);
    // Drain every result of a multi-statement text; the first failing statement is the error.
    for (;;) {
      ResultPtr r(mysql_store_result(conn_));
      int next = mysql_next_result(conn_);
      if (next > 0) return Error(sql);
      if (next < 0) return Status::Ok();
    }
  }

  StatusOr<int64_t> Execute(const std::string& sql,
                            const std::vector<std::string>& params) override {
    auto text = Interpolate(sql, params);
    if (!text.ok()) return text.status();
    if (mysql_real_query(conn_, text->data(), text->size()) != 0) return Error(sql);
    ResultPtr r(mysql_store_result(conn_));
    my_ulonglong affected = mysql_affected_rows(conn_);
    return affected == static_cast<my_ulonglong>(-1) ? int64_t{0} : static_cast<int64_t>(affected);
  }

  StatusOr<SqlRows> Query(const std::string& sql, const std::vector<std::string>& params) override {
    auto text = Interpolate(sql, params);
    if (!text.ok()) return text.status();
    if (mysql_real_query(conn_, text->data(), text->size()) != 0) return Error(sql);
    ResultPtr r(mysql_store_result(conn_));
    SqlRows rows;
    if (!r) {
      if (mysql_field_count(conn_) != 0) return Error(sql);
      return rows;
    }
    const unsigned int cols = mysql_num_fields(r.get());
    while (MYSQL_ROW row = mysql_fetch_row(r.get())) {
      unsigned long* lengths = mysql_fetch_lengths(r.get());
      SqlRow out;
      out.reserve(cols);
      for (unsigned int c = 0; c < cols; ++c) {
        out.emplace_back(row[c] != nullptr ? std::string(row[c], lengths[c]) : std::string());
      }
      rows.push_back(std::move(out));
    }
    return rows;
  }

  bool InTransaction() const override {
    unsigned int status = 0;
    mariadb_get_infov(conn_, MARIADB_CONNECTION_SERVER_STATUS, &status);
    return (status & SERVER_STATUS_IN_TRANS) != 0;
  }

 private:
  StatusOr<std::string> Interpolate(const std::string& sql,
                                    const std::vector<std::string>& params) {
    size_t count = 0;
    std::string text = RewritePlaceholders(
        sql,
        [&](size_t i) {
          if (i >= params.size()) return std::string("?");
          const std::string& p = params[i];
          std::string escaped(p.size() * 2 + 1, '\0');
          unsigned long n = mysql_real_escape_string(conn_, escaped.data(), p.data(), p.size());
          escaped.resize(n);
          return "'" + escaped + "'";
        },
        &count, true);
    if (Status st = CheckParamCount(sql, count, params.size()); !st.ok()) return st;
    return text;
  }

  // The server's error with its number: a lost connection, a deadlock or a lock wait timeout is
  // Unavailable (retrying succeeds: InnoDB picks a victim when two inserts-ignore of the same
  // barrier race), a duplicate key UniqueConflict, anything else Internal. The text keeps
  // MySQL's wording (XAER_NOTA, ...).
  Status Error(const std::string& sql) const {
    const unsigned int code = mysql_errno(conn_);
    std::string text =
        "mysql: Error " + std::to_string(code) + ": " + mysql_error(conn_) + " in: " + sql;
    if (code == kCrServerGone || code == kCrServerLost || code == kErLockDeadlock ||
        code == kErLockWaitTimeout) {
      return Status::Unavailable(std::move(text));
    }
    if (code == kErDupEntry) return Status(StatusCode::kUniqueConflict, std::move(text));
    return Status::Internal(std::move(text));
  }

  MYSQL* conn_;
};

}  // namespace

StatusOr<std::unique_ptr<SqlDb>> OpenMysql(const DBConf& conf) {
  // mysql_init initialises the library on first use, which is not thread-safe: do it once here.
  static std::once_flag library_once;
  std::call_once(library_once, [] { mysql_library_init(0, nullptr, nullptr); });
  MYSQL* conn = mysql_init(nullptr);
  if (conn == nullptr) return Status::Internal("mysql: out of memory");
  unsigned int timeout = 10;
  mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  const unsigned int port = static_cast<unsigned int>(conf.port != 0 ? conf.port : 3306);
  if (mysql_real_connect(conn, conf.host.c_str(), conf.user.c_str(), conf.password.c_str(),
                         conf.db.empty() ? nullptr : conf.db.c_str(), port, nullptr,
                         CLIENT_MULTI_STATEMENTS) == nullptr) {
    Status st = Status::Unavailable("mysql: cannot connect to " + conf.host + ":" +
                                    std::to_string(port) + ": " + mysql_error(conn));
    mysql_close(conn);
    return st;
  }
  return std::unique_ptr<SqlDb>(new MysqlDb(conn));
}

}  // namespace lynx::dtm::internal
